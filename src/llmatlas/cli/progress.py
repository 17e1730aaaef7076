"""The run's progress bar: the engine's events drawn with rich (items done of total, items/s, ETA)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.text import Text

from llmatlas.engine.events import RunEvent, RunFinished, RunStarted, SamplesScored


class ItemsPerSecond(TextColumn):
    """Progress column: items/s over the run so far; once the run ends, the result's own figure
    (a reused or resumed run reports the rate its items were scored at, not this session's)."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Any) -> Text:
        final = task.fields.get("items_per_s")
        speed = final if final is not None else task.finished_speed or task.speed
        return Text(f"{speed:.1f} items/s" if speed else "… items/s", style="cyan")


class ProgressView:
    """Subscribe it to a run (``on_event=view``) inside ``with``; silent without a console (``--json``)."""

    def __init__(self, console: Console | None, *, with_model: bool = False) -> None:
        self.with_model = with_model  # a campaign's bars name the model too
        self.progress = Progress(
            TextColumn("[bold]{task.description}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            ItemsPerSecond(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=console is None,
            transient=False,
        )
        self.bars: dict[str, TaskID] = {}
        self.live = False

    def __enter__(self) -> ProgressView:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.live:
            self.progress.__exit__(kind, exc, tb)
            self.live = False

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):
            if not self.live:  # drawn from the first run on: an error before it prints nothing else
                self.progress.__enter__()
                self.live = True
            model = event.model.split(" (", 1)[0]  # "smollm2", not its file's description
            label = f"{model} · {event.task}" if self.with_model else event.task
            self.bars[event.run_id] = self.progress.add_task(label, total=event.total, completed=event.done)
        elif isinstance(event, SamplesScored) and event.run_id in self.bars:
            self.progress.advance(self.bars[event.run_id], event.n)
        elif isinstance(event, RunFinished) and event.run_id in self.bars:
            bar = self.bars[event.run_id]
            self.progress.update(bar, items_per_s=event.result.timing.items_per_s)
            self.progress.stop_task(bar)
