"""Service reports (DOMAIN.md §8): the weekly service report, the monthly
服务监督报告, complaint analysis and the callback summary.

`dataset` reads a period from the database, the report modules turn it into
figures and tables with csq.domain.kpi, `render` writes Markdown or CSV.
Reports only read: they never write, and they never hold a contact detail
that is not masked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from csq.api.reports import Report
from csq.domain.period import Period
from csq.domain.sla import SlaPolicy
from csq.server.reports.callbacks import callbacks
from csq.server.reports.complaints import complaints
from csq.server.reports.dataset import Dataset, Needs
from csq.server.reports.periodic import monthly, weekly
from csq.server.reports.tables import ReportContext

BUILDERS: dict[str, Callable[[ReportContext], Report]] = {
    "weekly": weekly, "monthly": monthly, "complaints": complaints, "callbacks": callbacks,
}
# The records each report lists besides its KPI facts (what dataset.load reads).
NEEDS: dict[str, tuple[Needs, ...]] = {
    "weekly": (), "monthly": (Needs.QUALITY,), "complaints": (Needs.COMPLAINTS,),
    "callbacks": (Needs.CALLBACKS,),
}


def build(name: str, data: Dataset, period: Period, now: datetime,
          policy: SlaPolicy) -> Report:
    return BUILDERS[name](ReportContext(data, period, now, policy))
