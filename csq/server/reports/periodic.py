"""The weekly service report (每周服务报告) and the monthly service supervision
report (服务监督报告): the centre's KPIs, over time and per agent, department,
kind and category, and the month's complaints about agents."""

from __future__ import annotations

from csq.api.reports import Cell, Report, ReportColumn, ReportTable
from csq.domain import kpi
from csq.domain.quality import follow_up, is_quality_complaint
from csq.server.reports import labels
from csq.server.reports.tables import (
    SUMMARY_KEYS,
    ReportContext,
    by_agent,
    by_time,
    category_table,
    department_table,
    kind_table,
    summary_table,
)


def weekly(ctx: ReportContext) -> Report:
    figures = kpi.summarise(ctx.facts, ctx.data.customer_count).figures()
    return ctx.report("weekly", figures, [
        summary_table(figures, SUMMARY_KEYS),
        by_time(ctx, ctx.period.days(), "by_day", "按日 By day", "日期 Day"),
        by_agent(ctx, ctx.facts),
        kind_table(ctx),
    ])


def monthly(ctx: ReportContext) -> Report:
    figures = kpi.summarise(ctx.facts, ctx.data.customer_count).figures()
    return ctx.report("monthly", figures, [
        summary_table(figures, SUMMARY_KEYS),
        by_time(ctx, ctx.period.weeks(), "by_week", "按周 By week", "周 Week"),
        by_agent(ctx, ctx.facts),
        department_table(ctx, ctx.facts),
        category_table(ctx, ctx.facts),
        kind_table(ctx),
        quality_table(ctx),
    ])


def quality_table(ctx: ReportContext) -> ReportTable:
    """服务质量投诉: each complaint about an agent received in the period, and
    whether the lead followed up by 17:00 the next day."""
    rows: list[list[Cell]] = []
    for i in ctx.data.items:
        if not (is_quality_complaint(i) and ctx.period.contains(i.created_at)):
            continue
        state = follow_up(i, ctx.now, ctx.policy)
        if state.done_at is not None:
            on_time = "否 late" if state.late else "是 yes"
        else:
            on_time = "逾期 overdue" if state.overdue else "待跟进 pending"
        rows.append([i.id, ctx.local(i.created_at), i.about_agent, i.owner,
                     labels.status(i.status), ctx.local(state.due_at), ctx.local(state.done_at),
                     on_time])
    return ReportTable(
        id="quality", title="服务质量投诉 Complaints about agents", rows=rows,
        note="撤诉的投诉不计入客服考核 Withdrawn complaints are cleared from the agent's record.",
        columns=[ReportColumn(key="id", title="编号 ID", type="int"),
                 ReportColumn(key="received", title="受理时间 Received", type="time"),
                 ReportColumn(key="about_agent", title="被投诉客服 About agent"),
                 ReportColumn(key="owner", title="处理人 Owner"),
                 ReportColumn(key="status", title="状态 Status"),
                 ReportColumn(key="follow_up_due", title="跟进时限 Follow-up due", type="time"),
                 ReportColumn(key="followed_up", title="跟进时间 Followed up", type="time"),
                 ReportColumn(key="on_time", title="按时 On time")])
