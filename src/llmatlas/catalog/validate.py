"""``python -m llmatlas.catalog.validate [FILE...]``: check catalog files, print a coverage summary."""

from __future__ import annotations

import sys

from llmatlas.catalog.loader import builtin_files, load_file
from llmatlas.errors import InputError


def main(argv: list[str]) -> int:
    paths = argv or [str(p) for p in builtin_files()]
    failed = 0
    known: dict[str, dict[str, object]] = {}
    for path in paths:
        try:
            loaded = load_file(path, known)
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
