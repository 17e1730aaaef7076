"""The hardware table (``data/hardware.yaml``): memory, bandwidth and peak FLOPs, and the on-demand
prices clouds charge for each accelerator, each sourced and dated."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmatlas.core.errors import InputError

GIB = 1024**3


class GpuPrice(BaseModel):
    """One cloud's on-demand price for the accelerator, per GPU-hour, and where it was read."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    offer: str  # the instance type or SKU as the provider names it
    gpus: int = Field(ge=1)  # GPUs in that instance: the smallest amount this price rents
    usd_per_hour: float = Field(gt=0, allow_inf_nan=False)  # per GPU
    instance_usd_per_hour: float | None = Field(default=None, gt=0, allow_inf_nan=False)  # as listed
    region: str | None = None
    source: str  # the provider's pricing page
    as_of: dt.date  # when the figure was read
    seen_in: str | None = None  # a third-party copy the figure was read from, when not the page itself
    note: str | None = None

    @model_validator(mode="after")
    def _per_gpu(self) -> GpuPrice:
        """The per-GPU figure is the instance price over its GPUs: a typo in either shows here."""
        if self.instance_usd_per_hour is not None:
            per_gpu = self.instance_usd_per_hour / self.gpus
            if abs(per_gpu - self.usd_per_hour) > max(0.005, 0.001 * per_gpu):
                raise ValueError(
                    f"usd_per_hour {self.usd_per_hour} is not instance_usd_per_hour / gpus = {per_gpu:.4f}"
                )
        return self

    def describe(self) -> str:
        """'$2.79/GPU-hour, Lambda on-demand 8x A100, 8-GPU instance at $22.32/h, as of 2026-09-25'."""
        parts = [f"${self.usd_per_hour:g}/GPU-hour", f"{self.provider} on-demand {self.offer}"]
        if self.gpus > 1:
            listed = f" at ${self.instance_usd_per_hour:g}/h" if self.instance_usd_per_hour is not None else ""
            parts.append(f"{self.gpus}-GPU instance{listed}")
        if self.region:
            parts.append(self.region)
        return ", ".join([*parts, f"as of {self.as_of}"])


@dataclass(frozen=True)
class PriceChoice:
    """The price a plan uses, and what it was chosen from."""

    price: GpuPrice
    considered: int  # listed prices the rule chose among
    max_gpus: int | None = None  # only instances of at most this many GPUs were considered

    @property
    def usd_per_hour(self) -> float:
        return self.price.usd_per_hour

    @property
    def basis(self) -> str:
        """What a plan prints: the figure, whose offer it is, its date, and the rule that chose it."""
        among = f" for instances of at most {self.max_gpus} GPUs" if self.max_gpus is not None else ""
        if self.considered == 1:
            return f"{self.price.describe()}; the only on-demand price{among} in the hardware table"
        return f"{self.price.describe()}; the lowest of {self.considered} on-demand prices{among} in the hardware table"


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
    prices: list[GpuPrice] = Field(default_factory=list)
    price_note: str | None = None  # why fewer than two clouds' prices are listed (or none at all)

    def offers_on(self, on: dt.date | None = None) -> list[GpuPrice]:
        """Each offer's latest price read on or before ``on`` (any date when None).

        A price is a dated reading: a decision replayed on a past date sees the prices of then,
        and an older reading of the same offer stays as history, never beside the newer one."""
        latest: dict[tuple[str, str], GpuPrice] = {}
        for p in self.prices:
            if on is not None and p.as_of > on:
                continue
            key = (p.provider, p.offer)
            if key not in latest or p.as_of > latest[key].as_of:
                latest[key] = p
        return list(latest.values())

    def rental_price(self, gpus: int | None = None, on: dt.date | None = None) -> PriceChoice | None:
        """The on-demand price a plan pays per GPU-hour, or None when no cloud rents this hardware.

        Rule: the lowest listed on-demand price, each offer at its latest reading on or before the
        decision date ``on``. The advisor prices an API at its cheapest offer, so renting is priced
        the same way, not at a hyperscaler's list price beside it. With ``gpus`` (what the plan
        rents), only offers sold in instances of at most that many GPUs count when any exist: a
        2-GPU plan is not priced from an 8-GPU-only instance it could not rent. Ties go to the most
        recently read price. Every table price is on-demand (no spot, no commitment).
        """
        offers, limit = self.offers_on(on), None
        if gpus is not None:
            fitting = [p for p in offers if p.gpus <= gpus]
            if fitting and len(fitting) < len(offers):
                offers, limit = fitting, gpus
        if not offers:
            return None
        best = min(offers, key=lambda p: (p.usd_per_hour, -p.as_of.toordinal(), p.provider, p.offer))
        return PriceChoice(best, len(offers), limit)

    @property
    def price_per_hour_usd(self) -> float | None:
        """The rule's price for one GPU (kept for readers of the old single-price field)."""
        choice = self.rental_price()
        return None if choice is None else choice.usd_per_hour

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
