"""``python -m llmatlas.catalog.validate [FILE...]``: check catalog and offers files, print a summary.

Without arguments it checks the built-in files; offers files are checked against the built-in
catalog plus the model files given before them (an offer must name a known model).
"""

from __future__ import annotations

import sys

from llmatlas.catalog.catalog import load_catalog
from llmatlas.catalog.loader import LoadedOffers, builtin_files, builtin_offer_files, load_any
from llmatlas.core.errors import InputError, UnknownModelError


def main(argv: list[str]) -> int:
    paths = argv or [str(p) for p in builtin_files() + builtin_offer_files()]
    failed = 0
    known: dict[str, dict[str, object]] = {}
    catalog = load_catalog(include_user=False)
    for path in paths:
        try:
            loaded = load_any(path, known)
            if isinstance(loaded, LoadedOffers):
                for i, offer in enumerate(loaded.offers):
                    if offer.model not in known:
                        try:
                            catalog.get(offer.model)
                        except UnknownModelError as exc:
                            raise InputError(
                                str(exc), path=path, line=loaded.lines.get(i), field=f"offers[{i}].model"
                            ) from None
                print(f"ok  {path}: {len(loaded.offers)} offers by {', '.join(p.name for p in loaded.providers)}")
                continue
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        for m in loaded.models:
            known[m.id] = m.model_dump(exclude={"origin", "developer"})
        print(f"ok  {path}: {len(loaded.models)} models ({', '.join(m.id for m in loaded.models)})")
    return 2 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
