"""Complaint analysis (投诉分析): the period's complaints by category and by
department, the two crossed, and the list of complaints received."""

from __future__ import annotations

from csq.api.reports import Cell, Report, ReportColumn, ReportTable
from csq.domain import kpi
from csq.domain.kinds import Kind
from csq.domain.records import Item
from csq.server.reports import labels
from csq.server.reports.tables import (
    ReportContext,
    category_table,
    department_table,
    summary_table,
)

SUMMARY_KEYS = ("complaints", "resolved", "resolution_rate", "first_contact_rate",
                "avg_handling_s", "sla_met_rate", "satisfaction", "callback_coverage",
                "complaints_per_10k", "withdrawn")


def complaints(ctx: ReportContext) -> Report:
    facts = ctx.facts.split(kpi.group_key("kind")).get(Kind.COMPLAINT.value, kpi.Facts())
    figures = kpi.summarise(facts, ctx.data.customer_count).figures()
    received = [i for i in ctx.data.items
                if i.kind == Kind.COMPLAINT and ctx.period.contains(i.created_at)]
    return ctx.report("complaints", figures, [
        summary_table(figures, SUMMARY_KEYS),
        category_table(ctx, facts),
        department_table(ctx, facts),
        matrix(received),
        complaint_list(ctx, received),
    ])


def matrix(received: list[Item]) -> ReportTable:
    """Complaints received, category by department (withdrawn ones included)."""
    departments = sorted({i.department or kpi.NONE_KEY for i in received})
    rows: list[list[Cell]] = []
    for category in sorted({i.category for i in received}):
        counts = [sum(1 for i in received if i.category == category
                      and (i.department or kpi.NONE_KEY) == d) for d in departments]
        rows.append([labels.category(category), *counts, sum(counts)])
    return ReportTable(
        id="category_by_department", title="类别×部门 Category by department", rows=rows,
        columns=[ReportColumn(key="category", title="类别 Category"),
                 *(ReportColumn(key=d, title=labels.key_or_none(d), type="int")
                   for d in departments),
                 ReportColumn(key="total", title="合计 Total", type="int")])


def complaint_list(ctx: ReportContext, received: list[Item]) -> ReportTable:
    rows: list[list[Cell]] = []
    for i in received:
        name, phone = ctx.customer(i)
        rows.append([i.id, ctx.local(i.created_at), labels.category(i.category),
                     labels.key_or_none(i.department or kpi.NONE_KEY), name, phone,
                     labels.status(i.status), i.owner, i.about_agent, i.subject])
    return ReportTable(
        id="complaints", title="投诉明细 Complaints received", rows=rows, columns=[
            ReportColumn(key="id", title="编号 ID", type="int"),
            ReportColumn(key="received", title="受理时间 Received", type="time"),
            ReportColumn(key="category", title="类别 Category"),
            ReportColumn(key="department", title="部门 Department"),
            ReportColumn(key="customer", title="客户 Customer"),
            ReportColumn(key="phone", title="电话 Phone (masked)"),
            ReportColumn(key="status", title="状态 Status"),
            ReportColumn(key="owner", title="处理人 Owner"),
            ReportColumn(key="about_agent", title="被投诉客服 About agent"),
            ReportColumn(key="subject", title="主题 Subject")])
