"""The callback summary's figures (回访汇总, DOMAIN.md §6): how many calls the
centre owed and made in a period, on time or not, and what customers said.

- **scheduled**: callbacks created in the period.
- **completed** / **waived**: finished that way in the period (by the time of
  the move), whenever they were created; their scores make the distribution.
- **on time**: of those finished in the period, finished by their `due_at`.
- **overdue**: created in the period, still open, past due now.
- **attempts**: the unanswered tries on the callbacks finished in the period.

Member coverage (三个必保) is a complaint figure: csq.domain.kpi. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from csq.domain.kinds import Kind
from csq.domain.kpi import answer, ratio
from csq.domain.period import Period
from csq.domain.records import Item


@dataclass(frozen=True)
class CallbackFigures:
    """The callback summary's figures for callbacks touched in a period."""

    scheduled: int = 0  # created in the period
    completed: int = 0  # completed in the period
    waived: int = 0  # waived in the period
    satisfied: int = 0
    unsatisfied: int = 0
    on_time: int = 0  # of those completed or waived in the period, by their due time
    overdue: int = 0  # created in the period, still open and past due now
    attempts: int = 0  # failed tries on the callbacks finished in the period
    distribution: Mapping[int, int] = field(default_factory=dict)  # score -> count

    @property
    def finished(self) -> int:
        return self.completed + self.waived

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.on_time, self.finished)

    @property
    def satisfaction(self) -> float | None:
        total = sum(score * n for score, n in self.distribution.items())
        return ratio(total, sum(self.distribution.values()), 2)

    def figures(self) -> dict[str, int | float | None]:
        return {
            "scheduled": self.scheduled, "completed": self.completed, "waived": self.waived,
            "satisfied": self.satisfied, "unsatisfied": self.unsatisfied,
            "on_time": self.on_time, "on_time_rate": self.on_time_rate,
            "overdue": self.overdue, "attempts": self.attempts,
            "satisfaction": self.satisfaction,
            **{f"score_{n}": self.distribution.get(n, 0) for n in range(1, 6)},
        }


def callback_figures(items: Iterable[Item], period: Period, now: datetime) -> CallbackFigures:
    scheduled = completed = waived = satisfied = unsatisfied = on_time = overdue = tries = 0
    scores: Counter[int] = Counter()
    for cb in items:
        if cb.kind != Kind.CALLBACK:
            continue
        if period.contains(cb.created_at):
            scheduled += 1
            if cb.status in ("scheduled", "attempted") and cb.due_at is not None \
                    and now > cb.due_at:
                overdue += 1
        done = answer(cb)
        if done is None or not period.contains(done.at):
            continue
        tries += cb.attempts
        on_time += cb.due_at is None or done.at <= cb.due_at
        if cb.status == "waived":
            waived += 1
        elif cb.result is not None:
            completed += 1
            satisfied += cb.result.outcome == "satisfied"
            unsatisfied += cb.result.outcome == "unsatisfied"
            scores[cb.result.satisfaction] += 1
    return CallbackFigures(scheduled, completed, waived, satisfied, unsatisfied, on_time,
                           overdue, tries, dict(scores))
