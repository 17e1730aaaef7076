"""The hardware table (``data/hardware.yaml``): memory, bandwidth and peak FLOPs, each sourced."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field

from llmatlas.core.errors import InputError

GIB = 1024**3


class Hardware(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    memory_gib: float = Field(gt=0)
    bandwidth_gb_s: float | None = Field(default=None, gt=0)
    peak_tflops_bf16: float | None = None
    peak_tflops_fp16: float | None = None
    peak_tflops_fp32: float | None = None
    source: str
    as_of: dt.date
    note: str | None = None
    price_per_hour_usd: float | None = None
    price_source: str | None = None
    price_as_of: dt.date | None = None

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)

    @property
    def peak_tflops(self) -> float | None:
        """Best known dense matrix peak (bf16, else fp16, else fp32)."""
        return self.peak_tflops_bf16 or self.peak_tflops_fp16 or self.peak_tflops_fp32


@lru_cache(maxsize=1)
def hardware_table() -> dict[str, Hardware]:
    text = (resources.files("llmatlas.estimate") / "data" / "hardware.yaml").read_text(encoding="utf-8")
    items = [Hardware.model_validate(h) for h in yaml.safe_load(text)["hardware"]]
    return {h.id: h for h in items}


def get_hardware(name: str) -> Hardware:
    """Look up by id or alias; an unknown name suggests close ones."""
    key = name.strip().lower()
    table = hardware_table()
    for hw in table.values():
        if key == hw.id or key in hw.aliases:
            return hw
    names = list(table) + [a for h in table.values() for a in h.aliases]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else f" Known: {', '.join(table)}."
    raise InputError(f"unknown GPU/hardware '{name}'.{hint}", field="gpu")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib|k|m|g|t)?\s*$", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "kb": 2**10,
    "mb": 2**20,
    "gb": 2**30,
    "tb": 2**40,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
    "t": 2**40,
}


def parse_size(text: str) -> int:
    """'24GB', '24GiB', '24G' or '24' → bytes.

    Memory is sold in binary units: a "24 GB" card holds 24 GiB, so GB and GiB both mean 2^30 here.
    """
    m = _SIZE.match(text)
    if not m:
        raise InputError(f"cannot read memory size '{text}' (examples: 24GB, 16GiB, 80G)", field="memory")
    value, unit = float(m.group(1)), (m.group(2) or "gib").lower()
    return int(value * _UNITS[unit])
