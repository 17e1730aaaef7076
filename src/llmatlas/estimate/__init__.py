"""Pure estimators: workload cost, memory to run a model, speed bounds, self-host vs API break-even."""

from llmatlas.estimate.breakeven import BreakEven, break_even
from llmatlas.estimate.cost import CostEstimate, workload_cost
from llmatlas.estimate.memory import MemoryEstimate, estimate_memory, kv_cache_bytes, weights_bytes
from llmatlas.estimate.speed import SpeedBound, speed_bounds

__all__ = [
    "BreakEven",
    "CostEstimate",
    "MemoryEstimate",
    "SpeedBound",
    "break_even",
    "estimate_memory",
    "kv_cache_bytes",
    "speed_bounds",
    "weights_bytes",
    "workload_cost",
]
