"""Wire bodies for the lead's work: shift handovers, quality follow-ups, agents' load.

The records themselves (domain.handover.Handover) are the domain's; these are
what a client sends and the summaries the server derives.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from csq.api.schemas import AgentLoad
from csq.domain.records import Body, RequiredBody, Username


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HandoverRequest(_Wire):
    """POST /v1/handovers. The item list is computed by the server, never sent."""

    note: RequiredBody
    to: Username | None = Field(None, description="the next shift's agent, if known")
    shift: str | None = Field(None, max_length=20,
                              description="the shift that ends, e.g. 08:00-20:00 "
                                          "(default: the running shift that ends soonest)")


class AcknowledgeRequest(_Wire):
    note: Body = ""


class AgentLoads(_Wire):
    """GET /v1/agents/load: for balanced assignment (按照负责客户数量均衡)."""

    agents: list[AgentLoad]
    suggested: str | None = Field(
        None, description="the online agent or lead with the fewest open items")


class QualityFollowUp(_Wire):
    """An open complaint about an agent, and where the lead's follow-up stands."""

    item_id: int
    subject: str
    status: str
    about_agent: str
    owner: str | None
    created_at: AwareDatetime
    due_at: AwareDatetime
    followed_up_at: AwareDatetime | None
    overdue: bool
