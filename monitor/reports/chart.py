"""A report's chart as PNG bytes: the success rate per day (a line) and the failures per task type (bars).

Drawn with matplotlib's Agg canvas on a Figure of its own (no pyplot: no global state, safe in a thread),
imported when the first chart is drawn.
The numbers drawn are also written into the PNG as a text chunk (`DATA_KEY`, JSON), so a test, or anyone,
can check the picture against the store without reading pixels.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["DATA_KEY", "chart_data", "render_chart"]

DATA_KEY = "workspace-monitor:report"
_SIZE = (10.0, 4.0)  # inches; at 100 dpi a 1000 x 400 image, readable inline in Slack


def chart_data(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the chart draws: (day, success rate %) and (task type, failures incl. skips)."""
    daily = report.get("daily") or []
    by_type = report.get("failures_by_type") or []
    return {
        "days": [item["day"] for item in daily],
        "success_rate": [None if item["rate"] is None else round(item["rate"] * 100, 2) for item in daily],
        "runs": [item["runs"] for item in daily],
        "task_types": [item["task_type"] for item in by_type],
        "failures": [item["fails"] + item["skips"] for item in by_type],
    }


def render_chart(report: Mapping[str, Any]) -> bytes:
    # matplotlib only when a chart is drawn: importing it takes about a second, which `check`, the chat app
    # and a daemon without reports should not pay.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = chart_data(report)
    figure = Figure(figsize=_SIZE, dpi=100)
    FigureCanvasAgg(figure)
    rates, kinds = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    labels = [day[5:] for day in data["days"]]  # mm-dd
    # Every day has its place; a day without runs is a gap in the line, not a point at 0 or a skipped day.
    rates_or_gaps = [math.nan if value is None else value for value in data["success_rate"]]
    rates.plot(range(len(labels)), rates_or_gaps, marker="o", color="#2e7d32")
    rates.set_ylim(0, 105)
    rates.set_ylabel("success rate %")
    rates.set_title("Success rate per day")
    rates.grid(True, alpha=0.3)
    step = max(1, len(labels) // 12)
    rates.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, fontsize=8)
    kinds.bar(data["task_types"] or ["none"], data["failures"] or [0], color="#c62828")
    kinds.set_title("Failures per task type")
    kinds.tick_params(axis="x", labelrotation=45, labelsize=8)
    figure.suptitle(f"{report.get('report', '')}: {report.get('first', '')} to {report.get('last', '')}")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={DATA_KEY: json.dumps(data, sort_keys=True)})
    return out.getvalue()
