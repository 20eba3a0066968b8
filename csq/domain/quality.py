"""Service-quality complaints (服务质量投诉): a customer's complaint about an agent.

The design, and why:

- **A field, not a category or a tag.** A complaint is about an agent when
  its `about_agent` names one. The category says *what* went wrong (服务态度,
  流程规范, …) and stays free; a bare tag could not say *who*, and who is what
  the rules below need: the lead follows up on that agent, the agent may not
  handle the complaint about themselves, and a withdrawal clears that agent's
  record. The field is set when the complaint is opened (the customer names
  the agent on the call) and never changes.
- **The lead is told by a tag.** Opening one adds `QUALITY_TAG`, so it shows
  in every queue filter and badge the TUI already has, with no new screen.
- **The follow-up is a lead's internal note.** 第二天17:00前: a lead must follow
  up by 17:00 the next day (`SlaPolicy.lead_follow_up_due`). The first note a
  lead writes on the complaint is the verdict and ends the clock; the engine
  marks that note (`data.follow_up`), so "followed up" is derived from the
  timeline, never stored twice. Overdue follow-ups count on the wall.
- **Withdrawal is a terminal status.** When the customer is soothed, a lead
  moves the complaint to `withdrawn` (a plain transition with a reason that
  only a lead is offered, only on these complaints). A withdrawn complaint is
  left out of every KPI (csq.domain.kpi), which is what clearing the agent's
  record means: it counts neither against the agent it named nor in the
  handling figures of whoever worked it. Otherwise the complaint simply
  carries on as a normal complaint to `closed`.

Pure: no I/O; imports only the domain's own modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csq.domain.kinds import Kind
from csq.domain.records import Item
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy

QUALITY_TAG = "service-quality"
WITHDRAWN = "withdrawn"


def is_quality_complaint(item: Item) -> bool:
    return item.kind == Kind.COMPLAINT and item.about_agent is not None


def followed_up_at(item: Item) -> datetime | None:
    """When a lead recorded the verdict: the first note the engine marked."""
    for entry in item.timeline:
        if entry.type == "note" and entry.data.get("follow_up"):
            return entry.at
    return None


@dataclass(frozen=True)
class FollowUp:
    """Where a quality complaint's lead follow-up stands."""

    due_at: datetime
    done_at: datetime | None
    overdue: bool

    @property
    def late(self) -> bool:
        """Done, but after the deadline."""
        return self.done_at is not None and self.done_at > self.due_at


def follow_up(item: Item, now: datetime, policy: SlaPolicy = DEFAULT_POLICY) -> FollowUp:
    """Due by 17:00 the day after the complaint came in. A withdrawn complaint
    was decided by a lead, so its withdrawal counts as the follow-up."""
    due_at = policy.lead_follow_up_due(item.created_at)
    done = followed_up_at(item)
    if done is None and item.status == WITHDRAWN:
        done = next((e.at for e in item.timeline
                     if e.type == "transition" and e.data.get("to") == WITHDRAWN), None)
    return FollowUp(due_at=due_at, done_at=done, overdue=done is None and now > due_at)
