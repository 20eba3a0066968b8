"""Reports as files people paste and open: Markdown and CSV.

Markdown reads well pasted into a chat, a wiki or a Word document: bilingual
headings, one table per section, numbers right-aligned. CSV is UTF-8 with a
byte-order mark, so Excel opens Chinese text intact on a double click, and
CRLF line ends. Both neutralise customer text (no control characters), and
CSV defuses cells a spreadsheet would run as a formula (=, +, -, @).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import timedelta

from csq.api.reports import Cell, Report, ReportTable
from csq.domain.text import neutralise

NONE = "—"
BOM = "\ufeff"
_NUMERIC = frozenset({"int", "rate", "score", "seconds", "number"})
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def format_cell(value: Cell, type_: str = "text") -> str:
    if value is None:
        return NONE
    if isinstance(value, int | float) and not isinstance(value, bool):
        if type_ == "rate":
            return f"{value * 100:.1f}%"
        if type_ == "score":
            return f"{value:.2f}"
        if type_ == "seconds":
            return f"{value / 3600:.1f}"  # the column's title says (h)
        if type_ == "number":
            return f"{value:.2f}"
        if type_ == "int":
            return str(int(value))
    return neutralise(str(value))


def _span(report: Report) -> str:
    zone = report.start.tzinfo
    last = report.end.astimezone(zone) - timedelta(days=1)
    return f"{report.start:%Y-%m-%d} – {last:%Y-%m-%d}, {report.timezone}"


def _generated(report: Report) -> str:
    return f"{report.generated_at.astimezone(report.start.tzinfo):%Y-%m-%d %H:%M}"


# -- Markdown -----------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def _md_table(table: ReportTable) -> list[str]:
    lines = [f"## {table.title}", ""]
    if table.note:
        lines += [f"> {_md_cell(table.note)}", ""]
    if not table.rows:
        return [*lines, "_无数据 No data_", ""]
    lines.append("| " + " | ".join(_md_cell(c.title) for c in table.columns) + " |")
    lines.append("|" + "|".join("---:" if c.type in _NUMERIC else "---"
                                for c in table.columns) + "|")
    for row in table.rows:
        cells = (format_cell(v, c.type) for v, c in zip(row, table.columns, strict=True))
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return [*lines, ""]


def markdown(report: Report) -> str:
    lines = [f"# {report.title}", "",
             f"- 周期 Period: **{report.period}** ({_span(report)})",
             f"- 生成时间 Generated: {_generated(report)}",
             "- 客户联系方式已脱敏 Contact details are masked.", ""]
    for table in report.tables:
        lines += _md_table(table)
    return "\n".join(lines).rstrip("\n") + "\n"


# -- CSV ----------------------------------------------------------------------------------


def _csv_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def _csv_rows(table: ReportTable) -> list[Sequence[str]]:
    rows: list[Sequence[str]] = [[table.title]]
    if table.note:
        rows.append([_csv_text(neutralise(table.note))])
    rows.append([_csv_text(c.title) for c in table.columns])
    for row in table.rows:
        rows.append([format_cell(v, c.type) if c.type in _NUMERIC
                     else _csv_text(format_cell(v, c.type))
                     for v, c in zip(row, table.columns, strict=True)])
    return [*rows, []]


def csv_bytes(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([report.title])
    writer.writerow(["周期 Period", report.period, _span(report)])
    writer.writerow(["生成时间 Generated", _generated(report)])
    writer.writerow([])
    for table in report.tables:
        writer.writerows(_csv_rows(table))
    return (BOM + out.getvalue()).encode("utf-8")
