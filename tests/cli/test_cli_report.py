"""`csq report` as a supervisor runs it: a file written whole, a report on the
terminal, and clear refusals (exit 2 for bad arguments, 1 for an agent)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.cli.conftest import Machine, clean
from tests.support.client import LiveServer

pytestmark = pytest.mark.process


def test_csq_report_writes_files_and_refuses_bad_arguments_clearly(
        shared: LiveServer, machine: Machine, tmp_path: Path) -> None:
    shared.item("alice", kind="complaint", category="service", subject="服务态度差")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    csv_file, md_file = tmp_path / "complaints.csv", tmp_path / "weekly.md"
    md_file.write_text("an older report")
    runs = machine(shared, "sue").run_many(
        ["report", "complaints", "--period", today, "--out", str(csv_file)],
        ["report", "weekly", "--period", today, "--out", str(md_file)],
        ["report", "callbacks", "--period", today],
        ["report", "weekly", "--period", "2026-W99"],
        ["report", "yearly"],
        ["report", "monthly", "--format", "pdf"],
        ["report", "monthly", "--out", str(tmp_path / "no-such-dir" / "m.md")],
    )
    for run in runs[:3]:
        clean(run)
    raw = csv_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "wrote" in runs[0].err
    text = raw.decode("utf-8-sig")
    assert text.startswith("投诉分析 Complaint analysis") and "服务态度 service" in text
    assert "138****5678" in text and "13812345678" not in text
    assert md_file.read_text().startswith("# 每周服务报告 Weekly service report")
    assert runs[2].out.startswith("# 回访汇总 Callback summary")
    bad_period, bad_name, bad_format, bad_out = (clean(r, 2) for r in runs[3:])
    assert "bad --period" in bad_period.err and "2026-W99" in bad_period.err
    assert "invalid choice: 'yearly'" in bad_name.err
    assert "invalid choice: 'pdf'" in bad_format.err
    assert "not a file in an existing directory" in bad_out.err
    assert not list(tmp_path.glob("**/.*.tmp"))  # nothing half-written left behind

    [agent] = machine(shared, "alice").run_many(["report", "weekly"])
    assert "may not read reports" in clean(agent, 1).err
