"""Self-host vs API: at what monthly volume does renting GPUs beat paying per token?

Self-hosting costs GPUs × $/GPU-hour × 730 h a month whatever the load, up to the deployment's
capacity (sustained output tokens/s × seconds in a month). The API costs a fixed amount per request.
Break-even volume = monthly self-host cost / API cost per request.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


class BreakEven(BaseModel):
    requests_per_month: float
    api_cost_per_request_usd: float
    api_monthly_usd: float
    gpus_needed: int
    selfhost_monthly_usd: float
    capacity_requests_per_month_per_gpu: float
    breakeven_requests_per_month: float | None  # with the minimum deployment (``min_gpus``)
    cheaper: str  # "api", "self-host" or "equal"
    notes: list[str] = Field(default_factory=list)


def break_even(
    api_cost_per_request_usd: float,
    requests_per_month: float,
    gpu_hour_usd: float,
    output_tokens_per_request: float,
    throughput_tokens_per_s: float,
    min_gpus: int = 1,
    utilization: float = 0.6,
) -> BreakEven:
    """Compare API and self-host monthly cost; ``throughput`` is one GPU's sustained output tokens/s.

    ``min_gpus`` is the size of one replica (GPUs needed to hold the model); memory-bound decode
    scales with the replica's bandwidth, so per-GPU throughput is the same for any replica size.

    ``utilization`` discounts the throughput for uneven traffic (peaks, idle nights).
    """
    if throughput_tokens_per_s <= 0 or output_tokens_per_request <= 0:
        raise ValueError("throughput and output tokens per request must be positive")
    if not 0 < utilization <= 1:
        raise ValueError("utilization must be in (0, 1]")
    per_gpu = throughput_tokens_per_s * utilization * SECONDS_PER_MONTH / output_tokens_per_request
    # A replica needs ``min_gpus`` GPUs (the model's memory); capacity grows by whole replicas.
    replicas = max(1, math.ceil(requests_per_month / (per_gpu * min_gpus)))
    gpus = replicas * min_gpus
    selfhost = gpus * gpu_hour_usd * HOURS_PER_MONTH
    api = api_cost_per_request_usd * requests_per_month
    notes = [f"{utilization:.0%} average utilization of {throughput_tokens_per_s:.0f} tok/s per GPU"]
    fixed = min_gpus * gpu_hour_usd * HOURS_PER_MONTH
    be = fixed / api_cost_per_request_usd if api_cost_per_request_usd > 0 else None
    if be is not None and be > per_gpu * min_gpus:
        notes.append("API stays cheaper even at the deployment's full capacity")
        be = None
    cheaper = "equal" if math.isclose(api, selfhost) else ("api" if api < selfhost else "self-host")
    return BreakEven(
        requests_per_month=requests_per_month,
        api_cost_per_request_usd=api_cost_per_request_usd,
        api_monthly_usd=api,
        gpus_needed=gpus,
        selfhost_monthly_usd=selfhost,
        capacity_requests_per_month_per_gpu=per_gpu,
        breakeven_requests_per_month=be,
        cheaper=cheaper,
        notes=notes,
    )
