"""What the reports share: the context they are built in (dataset, period,
clock, policy, the gathered KPI facts) and the tables several of them show.

Pure; rendering is render.py's job. Every customer shown is the masked record
the dataset holds, so no table can carry a full phone number or e-mail address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from csq.api.reports import Cell, Report, ReportColumn, ReportTable
from csq.domain import kpi
from csq.domain.period import Period
from csq.domain.records import Item
from csq.domain.sla import SlaPolicy
from csq.server.reports import labels
from csq.server.reports.dataset import Dataset
from csq.server.reports.render import format_cell

GROUP_KPIS = ("contacts", "resolved", "resolution_rate", "complaints", "first_contact_rate",
              "avg_handling_s", "sla_met_rate", "satisfaction", "callback_coverage", "withdrawn")


class ReportContext:
    def __init__(self, data: Dataset, period: Period, now: datetime, policy: SlaPolicy) -> None:
        self.data = data
        self.period = period
        self.now = now
        self.policy = policy
        self.zone: ZoneInfo = policy.quiet.zone
        self.facts = data.facts

    def local(self, at: datetime | None) -> str | None:
        return None if at is None else f"{at.astimezone(self.zone):%Y-%m-%d %H:%M}"

    def customer(self, item: Item) -> tuple[str, str | None]:
        c = self.data.customers.get(item.customer_id)
        return (c.name, c.phone) if c else (str(item.customer_id), None)

    def report(self, name: str, figures: dict[str, int | float | None],
               tables: list[ReportTable]) -> Report:
        return Report(name=name, title=labels.REPORT_TITLES[name], period=self.period.label,
                      start=self.period.start, end=self.period.end, timezone=self.zone.key,
                      generated_at=self.now, kpis=figures, tables=tables)


# -- tables shared by the reports --------------------------------------------------------


def summary_table(figures: dict[str, int | float | None], keys: Iterable[str],
                  columns: dict[str, ReportColumn] = labels.KPI_COLUMNS) -> ReportTable:
    rows: list[list[Cell]] = [[columns[k].title, format_cell(figures.get(k), columns[k].type)]
                              for k in keys]
    return ReportTable(id="summary", title="关键指标 Key figures", rows=rows, columns=[
        ReportColumn(key="kpi", title="指标 KPI"), ReportColumn(key="value", title="数值 Value")])


def group_table(id: str, title: str, key_column: ReportColumn,
                groups: Iterable[tuple[str, kpi.Kpis]], show: Callable[[str], str] = str,
                extra: dict[str, Callable[[str], Cell]] | None = None) -> ReportTable:
    extra = extra or {}
    columns = [key_column, *(labels.KPI_COLUMNS[k] for k in GROUP_KPIS),
               *(labels.KPI_COLUMNS[k] for k in extra)]
    rows: list[list[Cell]] = []
    for key, figures in groups:
        values = figures.figures()
        rows.append([show(key), *(values[k] for k in GROUP_KPIS),
                     *(fn(key) for fn in extra.values())])
    return ReportTable(id=id, title=title, columns=columns, rows=rows)


def by_agent(ctx: ReportContext, facts: kpi.Facts) -> ReportTable:
    """Per agent (the item's owner), with the complaints that named them."""
    groups = kpi.by_group(facts, "agent", ctx.data.customer_count)
    about = kpi.summarise(facts).complaints_about
    for agent in about:
        groups.setdefault(agent, kpi.Kpis())
    names = ctx.data.names

    def show(key: str) -> str:
        return labels.NONE if key == kpi.NONE_KEY else f"{names.get(key, key)} ({key})"

    return group_table("by_agent", "按客服 By agent", ReportColumn(key="agent",
                       title="客服 Agent"), sorted(groups.items()), show,
                       {"complaints_about": lambda key: about.get(key, 0)})


def by_key(ctx: ReportContext, facts: kpi.Facts, by: kpi.Grouping, title: str,
           key_title: str, show: Callable[[str], str]) -> ReportTable:
    groups = kpi.by_group(facts, by, ctx.data.customer_count)
    return group_table(f"by_{by}", title, ReportColumn(key=by, title=key_title),
                       groups.items(), show)


def by_time(ctx: ReportContext, buckets: list[Period], id: str, title: str,
            key_title: str) -> ReportTable:
    rows = kpi.by_time(ctx.facts, buckets, ctx.data.customer_count)
    return group_table(id, title, ReportColumn(key="period", title=key_title),
                       ((p.label, k) for p, k in rows))


def kind_table(ctx: ReportContext) -> ReportTable:
    return by_key(ctx, ctx.facts, "kind", "按类型 By kind", "类型 Kind", labels.kind)


def category_table(ctx: ReportContext, facts: kpi.Facts) -> ReportTable:
    return by_key(ctx, facts, "category", "按类别 By category", "类别 Category",
                  labels.category)


def department_table(ctx: ReportContext, facts: kpi.Facts) -> ReportTable:
    return by_key(ctx, facts, "department", "按部门 By department", "部门 Department",
                  labels.key_or_none)


SUMMARY_KEYS = ("contacts", "resolved", "resolution_rate", "complaints", "complaint_rate",
                "first_contact_rate", "avg_handling_s", "sla_met_rate", "satisfaction",
                "callback_coverage", "complaints_per_10k", "withdrawn")
