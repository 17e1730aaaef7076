"""A model's lifecycle on a given date: released yet? active, preview, deprecated or retired?

One function answers for everyone (catalog table, cost, advisor, web), so a date replays the
market as it stood: a model released later did not exist, a shutdown already passed means the API
no longer answers. Undisclosed stays undisclosed: a missing block is never read as "active".
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from llmatlas.catalog.loader import iter_blocks
from llmatlas.catalog.schema import Model, Offer

State = Literal["unreleased", "active", "preview", "deprecated", "retired"]
SOON_DAYS = 365  # a shutdown announced within this many days is warned about


class LifecycleOn(BaseModel):
    """The state of one model's hosted API on ``on``; ``status`` None means undisclosed."""

    model: str
    on: dt.date
    status: State | None
    shutdown: dt.date | None = None
    announced: dt.date | None = None
    replacement: str | None = None
    source: str | None = None
    as_of: dt.date | None = None
    note: str | None = None

    @property
    def retired(self) -> bool:
        return self.status == "retired"

    @property
    def usable(self) -> bool:
        """The API can be called on that date (released, not shut down)."""
        return self.status not in ("retired", "unreleased")

    def days_left(self) -> int | None:
        """Days from ``on`` to an announced shutdown still ahead."""
        if self.shutdown is None or self.shutdown <= self.on:
            return None
        return (self.shutdown - self.on).days

    def shutdown_soon(self, days: int = SOON_DAYS) -> bool:
        left = self.days_left()
        return left is not None and left <= days

    def text(self) -> str:
        """A short human reason, e.g. 'retired 2025-07-21, replaced by claude-sonnet-4'."""
        if self.status is None:
            return "lifecycle undisclosed"
        if self.status == "unreleased":
            return f"not released until {self.note or 'later'}"
        out: str = self.status
        if self.status == "retired":
            out += f" {self.shutdown}" if self.shutdown else " (shutdown date undisclosed)"
        elif self.shutdown:
            out += f", shutdown {self.shutdown}"
        if self.replacement:
            out += f", replaced by {self.replacement}"
        return out


def lifecycle_on(model: Model, on: dt.date | None = None, offer: Offer | None = None) -> LifecycleOn:
    """The model's state on ``on`` (today by default) from its release date and lifecycle block.

    With a hosted ``offer`` the lifecycle block is the provider's (Groq retiring a model says
    nothing of the developer's API); the model's release date still bounds it.
    """
    when = on or dt.date.today()
    released = model.released_on()
    lc = offer.lifecycle if offer is not None and not offer.first_party else model.lifecycle
    base = {
        "model": model.id,
        "on": when,
        "source": lc.source if lc else None,
        "as_of": lc.as_of if lc else None,
    }
    if released is not None and released > when:
        return LifecycleOn(**base, status="unreleased", note=str(model.release.date if model.release else released))
    if released is None:
        # release date undisclosed: the model is known from its earliest dated fact on
        known = min((b.as_of for _, b in iter_blocks(model) if b.as_of is not None), default=None)
        if known is not None and known > when:
            return LifecycleOn(**base, status="unreleased", note=f"{known} (release undisclosed; first documented)")
    if lc is None:
        return LifecycleOn(**base, status=None)
    facts = {"shutdown": lc.shutdown, "announced": lc.announced, "replacement": lc.replacement, "note": lc.note}
    status: State | None
    if lc.shutdown is not None and when >= lc.shutdown:
        status = "retired"
    elif lc.status == "retired" and lc.shutdown is None:
        # retired on an undisclosed date: known retired from the fact's date on, unknown before
        status = "retired" if lc.as_of is None or when >= lc.as_of else None
    elif lc.status in ("deprecated", "retired"):
        if lc.announced is not None:
            status = "deprecated" if when >= lc.announced else "active"
        else:
            status = "deprecated" if lc.as_of is None or when >= lc.as_of else "active"
    else:
        status = lc.status
    if status == "active" and lc.status in ("deprecated", "retired"):
        facts = {"shutdown": None, "announced": None, "replacement": None, "note": None}
    return LifecycleOn(**base, status=status, **facts)
