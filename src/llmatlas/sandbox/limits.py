"""Data that crosses the sandbox boundary: the limits a caller asks for and the verdict it gets back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SandboxStatus = Literal["passed", "failed", "error", "timeout", "killed"]
"""passed: the judge saw every check succeed. failed: an exception (AssertionError, MemoryError...), an exit
before the verdict or a tampered verdict channel. error: the code or the test could not be compiled, or the sandbox
could not start. timeout: wall clock or CPU limit. killed: a signal (crash, SIGKILL) ended the program."""


class SandboxLimits(BaseModel):
    """Kernel limits for one sandboxed check; small enough that a hostile program cannot hurt the host."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_seconds: int = Field(10, ge=1, description="RLIMIT_CPU: CPU seconds per process (SIGXCPU, then SIGKILL).")
    wall_seconds: float = Field(15.0, gt=0, description="Wall-clock limit for the whole process tree.")
    memory_bytes: int = Field(1 << 30, ge=64 << 20, description="RLIMIT_AS: address space per process.")
    max_processes: int = Field(32, ge=1, description="RLIMIT_NPROC: processes and threads beyond judge and worker.")
    max_file_bytes: int = Field(10 << 20, ge=0, description="RLIMIT_FSIZE: largest file the program may write.")
    max_open_files: int = Field(64, ge=16, description="RLIMIT_NOFILE: open file descriptors.")
    max_output_bytes: int = Field(
        1 << 20, ge=0, description="Bytes kept per output stream (the last ones); the rest is read and discarded."
    )
    allow_subprocess: bool = Field(
        False, description="Let the program fork/exec (the audit hook refuses it by default; rlimits still apply)."
    )


class SandboxResult(BaseModel):
    """The verdict of one check; `passed` is only ever true when the judge itself saw the checks succeed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    status: SandboxStatus
    detail: str = Field("", description="Short reason: 'AssertionError', 'timeout after 5.0s (wall clock)', ...")
    seconds: float = Field(0.0, ge=0, description="Wall time of the whole check, sandbox setup included.")
    stdout_tail: str = Field("", description="The last max_output_bytes of stdout, decoded leniently.")
    stderr_tail: str = Field("", description="The last max_output_bytes of stderr, decoded leniently.")
    stdout_bytes: int = Field(0, ge=0, description="Total bytes the program wrote to stdout.")
    stderr_bytes: int = Field(0, ge=0, description="Total bytes the program wrote to stderr.")
    returncode: int | None = Field(None, description="Exit code of the program, or -signal; None if unknown.")
    isolation: list[str] = Field(
        default_factory=list, description="Isolation actually in force, e.g. 'uid', 'pidns', 'netns', 'audit'."
    )

    @model_validator(mode="after")
    def _passed_matches_status(self) -> SandboxResult:
        if self.passed != (self.status == "passed"):
            raise ValueError("passed must be true exactly when status is 'passed'")
        return self
