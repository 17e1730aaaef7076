"""Catalog files: clear errors (file, line, field) on bad input, overrides, extends, fuzzing."""

from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmatlas.catalog import load_catalog
from llmatlas.catalog.loader import load_text
from llmatlas.core.errors import InputError, UnknownModelError

GOOD = textwrap.dedent(
    """\
    developer: {id: acme, name: ACME}
    references:
      - {id: card, title: ACME model card, url: "https://acme.example/card", as_of: 2024-01-01}
    models:
      - id: acme-1
        name: ACME 1
        family: acme
        parameters: {total_b: 1.5, source: card}
        architecture:
          source: card
          layers: 24
          hidden_size: 2048
          attention_heads: 16
          kv_heads: 4
        license: {name: MIT, commercial_use: "yes", source: card}
        pricing:
          - {source: card, input_per_m: 1.0, output_per_m: 2.0}
      - id: acme-1-chat
        extends: acme-1
        name: ACME 1 Chat
    """
)


def load(text: str):  # type: ignore[no-untyped-def]
    return load_text(text, "acme.yaml")


def test_good_file_loads_and_inherits() -> None:
    f = load(GOOD)
    base, chat = f.models
    assert chat.variant_of == "acme-1"
    assert chat.architecture is not None and chat.architecture.layers == 24
    assert base.parameters is not None and str(base.parameters.as_of) == "2024-01-01"  # from the reference
    assert chat.developer == "acme"


@pytest.mark.parametrize(
    ("mutate", "line", "field", "message"),
    [
        (lambda s: s.replace("layers: 24", "layers: many"), 11, "models[0].architecture.layers", "integer"),
        (
            lambda s: s.replace("layers: 24", "layerz: 24"),
            11,
            "models[0].architecture.layerz",
            "unknown field",
        ),
        (
            lambda s: s.replace("kv_heads: 4", "kv_heads: 5"),
            9,
            "models[0].architecture",
            "multiple of kv_heads",
        ),
        (
            lambda s: s.replace("total_b: 1.5", "total_b: -1"),
            8,
            "models[0].parameters.total_b",
            "greater than",
        ),
        (lambda s: s.replace('"yes"', "maybe"), 15, "models[0].license.commercial_use", "Input should be"),
        (
            lambda s: s.replace("source: card}\n    architecture", "source: nowhere}\n    architecture"),
            8,
            "models[0].parameters.source",
            "neither a declared reference",
        ),
        (lambda s: s.replace("extends: acme-1", "extends: acme-9"), 19, "models[1].extends", "unknown model"),
        (
            lambda s: s.replace(
                "output_per_m: 2.0}",
                "output_per_m: 2.0, effective_from: 2024-02-01, effective_to: 2024-01-01}",
            ),
            17,
            "models[0].pricing[0]",
            "before effective_from",
        ),
    ],
)
def test_errors_name_file_line_and_field(mutate, line, field, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        load(mutate(GOOD))
    err = info.value
    assert err.path == "acme.yaml"
    assert err.line == line
    assert err.field == field
    assert message in err.message
    assert str(err).startswith(f"acme.yaml:{line}")


def test_missing_as_of_without_reference() -> None:
    text = GOOD.replace("{total_b: 1.5, source: card}", '{total_b: 1.5, source: "https://x.example"}')
    with pytest.raises(InputError, match="as_of") as info:
        load(text)
    assert info.value.line == 8


def test_yaml_syntax_error_has_line() -> None:
    with pytest.raises(InputError, match="invalid YAML") as info:
        load(GOOD.replace("family: acme", "family: [acme"))
    assert info.value.line is not None


def test_duplicate_key_is_an_error() -> None:
    with pytest.raises(InputError, match="duplicate key") as info:
        load(GOOD.replace("family: acme\n", "family: acme\n    family: other\n", 1))
    assert info.value.line == 8


def test_circular_extends() -> None:
    text = GOOD.replace("    parameters: {total_b", "    extends: acme-1-chat\n    parameters: {total_b", 1)
    with pytest.raises(InputError, match="circular"):
        load(text)


def test_top_level_must_be_mapping() -> None:
    with pytest.raises(InputError, match="mapping"):
        load("- just\n- a list\n")


def test_user_dir_overrides_and_extends_builtin(isolated_home: Path) -> None:
    models = isolated_home / "models"
    models.mkdir(parents=True)
    (models / "mine.yaml").write_text(
        textwrap.dedent(
            """\
            developer: {id: me, name: Me}
            models:
              - id: mixtral-8x7b
                extends: mixtral-8x7b
                name: Mixtral 8x7B (our negotiated price)
                pricing:
                  - {source: "file:contract.pdf", as_of: 2024-05-01, input_per_m: 0.3, output_per_m: 0.3}
              - id: my-mixtral
                extends: mixtral-8x7b-instruct
                name: My Mixtral
            """
        )
    )
    cat = load_catalog()
    m = cat.get("mixtral-8x7b")
    assert m.name.endswith("negotiated price)")
    assert m.current_price() is not None and m.current_price().input_per_m == 0.3  # type: ignore[union-attr]
    assert m.architecture is not None and m.architecture.experts == 8  # inherited from the built-in
    assert "mixtral-8x7b" in cat.overridden
    assert cat.get("my-mixtral").parameters.active_b == 12.9  # type: ignore[union-attr]


def test_catalog_dir_errors_name_the_file(tmp_path: Path) -> None:
    d = tmp_path / "cat"
    d.mkdir()
    (d / "bad.yaml").write_text("developer: {id: x, name: X}\nmodels:\n  - id: Bad Id\n    name: n\n    family: f\n")
    with pytest.raises(InputError) as info:
        load_catalog([d])
    assert info.value.path == str(d / "bad.yaml") and info.value.line == 3 and info.value.field == "models[0].id"
    with pytest.raises(InputError, match="does not exist"):
        load_catalog([tmp_path / "missing"])


def test_unknown_id_suggests_near_matches(cat) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownModelError) as info:
        cat.get("mixtrl-8x7b")
    assert "mixtral-8x7b" in info.value.suggestions
    assert cat.get("MIXTRAL-8x7B-v0.1").id == "mixtral-8x7b"  # aliases, case-insensitive


# ---- fuzzing: whatever the bytes, the loader raises InputError or returns a valid catalog file


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_fuzz_arbitrary_text(text: str) -> None:
    with contextlib.suppress(InputError):
        load(text)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(GOOD) - 1),
    st.integers(min_value=0, max_value=40),
    st.text(alphabet=" :-[]{}'\"#\n\tabc019.!&*|>", max_size=6),
)
def test_fuzz_mutated_good_file(pos: int, cut: int, insert: str) -> None:
    text = GOOD[:pos] + insert + GOOD[pos + cut :]
    try:
        f = load(text)
    except InputError as exc:
        assert exc.path == "acme.yaml"
    else:
        for m in f.models:
            assert m.id and m.family
