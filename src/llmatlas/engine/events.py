"""Progress of a run, reported as events: the CLI renders them with rich, the web and tests subscribe.

The engine never draws anything itself; whoever runs it passes ``on_event`` and decides what to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llmatlas.engine.results import RunResult


@dataclass(frozen=True)
class RunStarted:
    """A run began (or resumed): ``done`` of ``total`` samples are already in the journal."""

    task: str
    run_id: str
    model: str
    total: int
    done: int
    resumed: bool


@dataclass(frozen=True)
class SamplesScored:
    """``n`` more samples were scored (backends report as they go, inside a step)."""

    task: str
    run_id: str
    n: int


@dataclass(frozen=True)
class StepSaved:
    """A step's samples are committed to the journal: ``done`` of this session's ``todo``."""

    task: str
    run_id: str
    done: int
    todo: int


@dataclass(frozen=True)
class RunFinished:
    task: str
    run_id: str
    result: RunResult


RunEvent = RunStarted | SamplesScored | StepSaved | RunFinished
OnEvent = Callable[[RunEvent], None]


def ignore(event: RunEvent) -> None:
    """The default subscriber: a library call shows nothing."""
