"""GET /v1/reports/{name}: the service reports, as JSON, Markdown or CSV.

Read by supervisors, leads and admins (the `read_reports` verb); agents get
403. Reading changes nothing, so a read-only supervisor token reads them all.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from csq.api.reports import Report, ReportName
from csq.domain.period import HELP, Period, PeriodError, parse_period, previous_month, previous_week
from csq.domain.roles import may
from csq.domain.sla import SlaPolicy
from csq.server import reports
from csq.server.deps import Svc, Who
from csq.server.problems import ApiProblem
from csq.server.reports import dataset, render
from csq.server.routes._responses import problems

router = APIRouter(prefix="/v1/reports", tags=["reports"])

_TEXT: dict[str, Any] = {"schema": {"type": "string"}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problems(400, 403),
    200: {"description": "the report; Markdown or CSV (UTF-8 with BOM) with ?format=",
          "content": {"text/markdown": _TEXT, "text/csv": _TEXT}},
}


def report_period(name: str, text: str | None, now: datetime, policy: SlaPolicy) -> Period:
    """The period asked for; by default the last whole week (weekly) or month (the rest)."""
    zone = policy.quiet.zone
    if text is None:
        return previous_week(now, zone) if name == "weekly" else previous_month(now, zone)
    try:
        return parse_period(text, zone)
    except PeriodError as exc:
        raise ApiProblem(422, "bad-period", str(exc), field="period") from None


@router.get("/{name}", response_model=Report, responses=_RESPONSES)
async def get_report(
    name: Annotated[ReportName, Path(description="weekly, monthly, complaints or callbacks")],
    who: Who, svc: Svc,
    period: Annotated[str | None, Query(max_length=60, description=HELP)] = None,
    format: Annotated[Literal["json", "md", "csv"], Query()] = "json",
) -> Response:
    if not may(who.role, "read_reports"):
        raise ApiProblem(403, "forbidden", f"{who.role.value}s may not read reports")
    now = svc.clock()
    chosen = report_period(name, period, now, svc.policy)
    async with svc.sessions() as session:
        data = await dataset.load(session, chosen, now, reports.NEEDS[name])
    # The arithmetic is CPU work: off the event loop, so streams keep flowing.
    report = await asyncio.to_thread(reports.build, name, data, chosen, now, svc.policy)
    if format == "json":
        return JSONResponse(report.model_dump(mode="json"))
    filename = f"csq-{name}-{chosen.label.replace('..', '_')}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "md":
        return Response(render.markdown(report), headers=headers,
                        media_type="text/markdown; charset=utf-8")
    return Response(render.csv_bytes(report), headers=headers,
                    media_type="text/csv; charset=utf-8")
