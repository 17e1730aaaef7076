"""Flat rows for tables, ``--where`` expressions and ``--sort`` over the catalog.

``--where`` takes a small, safe expression language parsed with :mod:`ast` (never ``eval``):
comparisons, ``and``/``or``/``not``, ``in``, numbers, strings, ``None``/``True``/``False``, and the
field names of :func:`row`. A comparison with an undisclosed (``None``) value is false, so
``params_b < 10`` never matches a model whose size is unknown.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import operator
from collections.abc import Callable, Iterable
from typing import Any, get_args

from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.catalog.loader import iter_blocks
from llmatlas.catalog.offers import offers_for, provider_name
from llmatlas.catalog.schema import Benchmark, Model, Price, Sourced
from llmatlas.core.errors import InputError, option

BENCHMARK_FIELDS: tuple[str, ...] = get_args(Benchmark)


def row(m: Model, on: dt.date | None = None) -> dict[str, Any]:
    """The flat view of a model used by ``models`` tables, filters and sorting (as on ``on``)."""
    state = lifecycle_on(m, on)
    price = m.current_price(on) if state.usable else None  # a retired API has no price today
    arch = m.architecture
    access = m.access.modes if m.access else []
    r: dict[str, Any] = {
        "id": m.id,
        "name": m.name,
        "developer": m.developer,
        "family": m.family,
        "kind": m.kind,
        "variant_of": m.variant_of,
        "params_b": m.total_params_b,
        "active_params_b": m.active_params_b,
        "moe": bool(arch and arch.experts and arch.experts > 1),
        "context": m.context_tokens,
        "layers": arch.layers if arch else None,
        "kv_heads": arch.resolved_kv_heads if arch else None,
        "license": m.license.name if m.license else None,
        "commercial": m.license.commercial_use if m.license else None,
        "access": access,
        "api": "api" in access,
        "open_weights": "open_weights" in access,
        "self_hostable": m.access.self_hostable if m.access else None,
        "currency": price.currency if price else None,
        "input_price": price.input_per_m if price else None,
        "output_price": price.output_per_m if price else None,
        "cached_input_price": price.cached_input_per_m if price else None,
        # the same prices in USD (a CNY price at the catalog's sourced rate, filled by select())
        "input_price_usd": price.input_per_m if price and price.currency == "USD" else None,
        "output_price_usd": price.output_per_m if price and price.currency == "USD" else None,
        "status": state.status,  # None = undisclosed
        "retired": state.retired,  # the developer's API is shut down
        # still usable: an API that answers, or released weights (which never retire)
        "available": state.usable or ("open_weights" in access),
        "shutdown": state.shutdown.isoformat() if state.shutdown else None,
        "replacement": state.replacement,
        "release": m.release.date if m.release else None,
        "knowledge_cutoff": m.knowledge_cutoff.date if m.knowledge_cutoff else None,
        "languages": m.languages.names if m.languages else [],
        "chinese": m.languages.chinese if m.languages else None,
        "multilingual": m.languages.multilingual if m.languages else None,
        "fine_tuning": m.fine_tuning.available if m.fine_tuning else None,
        "modalities": m.modalities.input if m.modalities else [],
        # API offers usable on the date (the developer's own and hosted providers'), and the
        # cheapest hosted one, filled by select() from the catalog (a bare model knows none)
        "offers": 0,
        "hosted_input_price": None,
        "hosted_output_price": None,
        "hosted_provider": None,
    }
    for b in BENCHMARK_FIELDS:
        score = m.benchmark(b)
        r[b] = score.value if score else None
    return r


FIELDS = tuple(row(Model(id="x", name="x", family="x")).keys())

_CMP: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: b is not None and a in b,
    ast.NotIn: lambda a, b: b is not None and a not in b,
}


def _bad(msg: str, expr: str) -> InputError:
    return InputError(f"{msg} in {option('where')} '{expr}'", field="where")


MAX_WHERE_CHARS = 2000
MAX_WHERE_DEPTH = 40


def _depth(node: ast.AST) -> int:
    """Nesting depth of an expression tree (iterative: a hostile one must not exhaust the stack)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(n))
    return deepest


def compile_where(expr: str) -> Callable[[dict[str, Any]], bool]:
    """Parse ``expr`` once; the returned predicate evaluates it against a row."""
    if len(expr) > MAX_WHERE_CHARS:
        raise _bad(f"expression longer than {MAX_WHERE_CHARS} characters", expr[:40] + "…")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise _bad(f"syntax error ({exc.msg})", expr) from None
    except (RecursionError, MemoryError, ValueError):
        raise _bad("expression nested too deeply", expr[:40] + "…") from None
    if _depth(tree) > MAX_WHERE_DEPTH:
        raise _bad(f"expression nested more than {MAX_WHERE_DEPTH} levels", expr[:40] + "…")

    def ev(node: ast.AST, r: dict[str, Any]) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body, r)
        if isinstance(node, ast.BoolOp):
            vals = (ev(v, r) for v in node.values)
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not ev(node.operand, r)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = ev(node.operand, r)
            if value is None:
                return None
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise _bad("'-' needs a number", expr)
            return -value
        if isinstance(node, ast.Compare):
            left = ev(node.left, r)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = ev(comp, r)
                fn = _CMP.get(type(op))
                if fn is None:
                    raise _bad("unsupported comparison", expr)
                if type(op) not in (ast.Eq, ast.NotEq, ast.In, ast.NotIn) and (left is None or right is None):
                    return False
                try:
                    if not fn(left, right):
                        return False
                except TypeError:
                    return False
                left = right
            return True
        if isinstance(node, ast.Name):
            if node.id not in r:
                close = difflib.get_close_matches(node.id, list(r), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else f"; fields: {', '.join(r)}"
                raise _bad(f"unknown field '{node.id}'{hint}", expr)
            return r[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [ev(e, r) for e in node.elts]
        raise _bad(f"unsupported expression '{ast.unparse(node)}'", expr)

    # Validate names once against an empty row so a typo fails even on an empty catalog.
    probe = dict.fromkeys(FIELDS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in probe and node.id not in ("True", "False", "None"):
            ev(node, probe)
        if isinstance(node, ast.Call | ast.Attribute | ast.Subscript | ast.Lambda | ast.BinOp):
            raise _bad(f"unsupported expression '{ast.unparse(node)}'", expr)
    return lambda r: bool(ev(tree, r))


def sort_rows(rows: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """Sort by ``field`` (``-field`` for descending); undisclosed values always go last."""
    desc = field.startswith("-")
    key = field.lstrip("-+")
    if key not in FIELDS:
        close = difflib.get_close_matches(key, FIELDS, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise InputError(f"cannot sort by unknown field '{key}'.{hint}", field="sort")
    key = USD_SORT.get(key, key)  # a price sorts by its USD equivalent: ¥12 is not dearer than $10
    known = [r for r in rows if r.get(key) is not None]
    unknown = [r for r in rows if r.get(key) is None]
    known.sort(key=lambda r: r[key] if not isinstance(r[key], list) else len(r[key]), reverse=desc)
    return known + unknown


USD_SORT = {"input_price": "input_price_usd", "output_price": "output_price_usd"}


def usd_fields(cat: Catalog, r: dict[str, Any], on: dt.date | None = None) -> dict[str, Any]:
    """A non-USD row's prices in USD at the catalog's exchange rate on the date (None without one)."""
    cur = r.get("currency")
    if cur in (None, "USD"):
        return {}
    rate = cat.usd_per(cur, on)
    k = rate.usd_per_unit if rate else None
    return {
        "input_price_usd": r["input_price"] * k if k is not None and r["input_price"] is not None else None,
        "output_price_usd": r["output_price"] * k if k is not None and r["output_price"] is not None else None,
    }


def offer_fields(cat: Catalog, m: Model, on: dt.date | None = None) -> dict[str, Any]:
    """How many API offers answer on the date, and the cheapest hosted one priced in USD."""
    usable = [o for o in offers_for(cat, m) if lifecycle_on(m, on, offer=o).usable]
    best: tuple[float, float | None, str] | None = None
    for o in usable:
        p = o.current_price(on)
        if o.first_party or p is None or p.input_per_m is None or p.currency != "USD":
            continue
        if p.input_per_m == 0 and p.output_per_m == 0:
            continue  # a free tier is not a price
        if best is None or p.input_per_m < best[0]:
            best = (p.input_per_m, p.output_per_m, provider_name(cat, o))
    return {
        "offers": len(usable),
        "hosted_input_price": best[0] if best else None,
        "hosted_output_price": best[1] if best else None,
        "hosted_provider": best[2] if best else None,
    }


def select(
    models: Iterable[Model],
    where: str | None = None,
    sort: str | None = None,
    *,
    on: dt.date | None = None,
    include_retired: bool = True,
) -> list[dict[str, Any]]:
    """Rows of the models matching ``where``, sorted; as on ``on``, retired ones only if asked."""
    rows = [row(m, on) for m in models]
    if isinstance(models, Catalog):
        for r in rows:
            r.update(offer_fields(models, models.models[r["id"]], on))
            r.update(usd_fields(models, r, on))
    rows = [r for r in rows if r["status"] != "unreleased"]
    if not include_retired:
        rows = [r for r in rows if r["available"]]
    if where:
        pred = compile_where(where)
        rows = [r for r in rows if pred(r)]
    return sort_rows(rows, sort) if sort else rows


# Facts that change after publication and so go stale: the prices in force, the API's lifecycle,
# what access an API offers and whether its developer offers fine-tuning. A paper's architecture,
# a release date, a benchmark score, a released checkpoint's license (and that its weights can be
# fine-tuned) were true when published and stay true.
MUTABLE_BLOCKS = ("pricing", "lifecycle", "access", "fine_tuning")


def _mutable(m: Model, name: str, block: Sourced) -> bool:
    base = name.split(".")[0]
    if base not in MUTABLE_BLOCKS:
        return False
    if isinstance(block, Price) and block.effective_to is not None:
        return False  # a closed price entry is history, not a claim about today
    return base in ("pricing", "lifecycle") or "api" in (m.access.modes if m.access else [])


def stale_facts(
    models: Iterable[Model], days: int, today: dt.date | None = None, catalog: Catalog | None = None
) -> list[dict[str, Any]]:
    """Facts that can change (prices, lifecycle, API access, fine-tuning) not re-checked in ``days``;
    with the ``catalog``, the prices and states of the models' hosted offers too."""
    now = today or dt.date.today()
    limit = now - dt.timedelta(days=days)
    out: list[dict[str, Any]] = []
    for m in models:
        for name, block in iter_blocks(m):
            if block.as_of and block.as_of < limit and _mutable(m, name, block):
                out.append(
                    {
                        "model": m.id,
                        "fact": name,
                        "as_of": block.as_of.isoformat(),
                        "age_days": (now - block.as_of).days,
                        "source": block.source,
                    }
                )
        if catalog is not None:  # hosted offers' prices and states go stale the same way
            for o in catalog.hosted.get(m.id, []):
                if lifecycle_on(m, now, offer=o).retired:
                    continue  # a retired offer's facts are history
                for name, block in iter_blocks(o):
                    if not (block.as_of and block.as_of < limit and name.split(".")[0] in ("pricing", "lifecycle")):
                        continue
                    if isinstance(block, Price) and block.effective_to is not None:
                        continue  # a closed price is history
                    out.append(
                        {
                            "model": m.id,
                            "fact": f"offer {o.provider}/{o.provider_model_id}: {name}",
                            "as_of": block.as_of.isoformat(),
                            "age_days": (now - block.as_of).days,
                            "source": catalog.source_url(o, block.source),
                        }
                    )
    return out


def lifecycle_unchecked(models: Iterable[Model]) -> list[str]:
    """API models with no lifecycle block: whether they still answer was never checked."""
    return [m.id for m in models if m.lifecycle is None and m.access is not None and "api" in m.access.modes]
