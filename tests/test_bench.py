"""The benchmark itself: it runs from one call and shows costs that do not grow with N."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casework.bench import run


@pytest.mark.slow
def test_the_benchmark_runs_and_pages_cost_the_same_statements_at_any_scale(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    table = run([60, 240], runs=3, json_path=tmp_path / "bench.json", say=said.append,
                import_rows=40)  # fmt: skip
    small, large = json.loads((tmp_path / "bench.json").read_text())
    assert (small["households"], large["households"]) == (60, 240)
    assert large["work_logs"] == 240 * 40
    # the list and detail pages run the same number of statements for 60 and 240 households
    assert small["list_queries"] == large["list_queries"] > 0
    assert small["detail_queries"] == large["detail_queries"] > 0
    assert large["balance_checked"] == 240 and large["import_rows"] == 40
    assert large["list_page"]["median_ms"] > 0 and large["list_floor"]["median_ms"] > 0
    assert large["export_csv_peak_mb"] > 0
    assert not [n for n in large["notes"] if "refused" in n]
    assert "| list page SQL statements |" in table and any("generating" in s for s in said)
