"""Run untrusted, model-generated Python (HumanEval-style checks) in a sandbox whose verdict cannot be faked.

    from llmatlas.sandbox import SandboxLimits, run_check
    res = run_check(prompt + completion, test, entry_point, SandboxLimits(cpu_seconds=5))
    res.passed, res.status, res.detail

See docs/sandbox.md for the threat model and what each layer defends against.
"""

from llmatlas.sandbox.limits import SandboxLimits, SandboxResult, SandboxStatus
from llmatlas.sandbox.supervisor import run_check, run_many

__all__ = ["SandboxLimits", "SandboxResult", "SandboxStatus", "run_check", "run_many"]
