"""The view model of ``nfldeploy report``'s page: the report's data plus the drawings, computed here as SVG
geometry (the template only prints it). One self-contained HTML file: inline CSS and SVG, no script, no
network."""

from __future__ import annotations

from typing import Any

from nfldeploy.render.environment import render_template

FIELD_LENGTH, FIELD_WIDTH = 120.0, 53.3  # yards, end zones included
PLOT_WIDTH, PLOT_HEIGHT, MARGIN = 640.0, 300.0, 48.0
LEVEL_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
SIDE_COLOURS = {0: "#c0392b", 1: "#1f5fbf", 2: "#555555"}  # defense, offense, unknown


def _points(path: list[list[float]] | list[Any]) -> str:
    """An SVG polyline's points (field yards are the drawing's units)."""
    return " ".join(f"{x:.2f},{y:.2f}" for x, y in path if x is not None and y is not None)


def field_view(play: dict[str, Any]) -> dict[str, Any]:
    """One golden play drawn on the field: yard lines, and per player the history (grey), the most likely
    predicted path (the side's colour) and the other modes faintly."""
    players = []
    for player in play["players"]:
        modes = player["modes"]
        best = modes[0] if modes else {"path": [], "probability": None}
        players.append(
            {
                "id": player["id"],
                "x": f"{player['x']:.2f}",
                "y": f"{player['y']:.2f}",
                "colour": SIDE_COLOURS.get(int(player["side"]), SIDE_COLOURS[2]),
                "history": _points([[player["x"], player["y"]], *reversed(player["history"])]),
                "best": _points([[player["x"], player["y"]], *best["path"]]),
                "best_probability": f"{best['probability']:.2f}" if best["probability"] is not None else "",
                "others": [_points([[player["x"], player["y"]], *mode["path"]]) for mode in modes[1:]],
            }
        )
    return {
        "index": play["index"],
        "direction": play["direction"] or "?",
        "players": players,
        "yard_lines": [10.0 + 5.0 * i for i in range(21)],
        "numbers": [{"x": 10.0 + 10.0 * i, "label": str(min(10 * i, 100 - 10 * i))} for i in range(1, 10)],
        "width": FIELD_LENGTH,
        "height": FIELD_WIDTH,
    }


def latency_view(bench: dict[str, Any] | None) -> dict[str, Any] | None:
    """The bench's latency distribution per concurrency level, as cumulative curves (latency -> share of
    requests answered within it) on a shared axis."""
    if not bench:
        return None
    levels = [level for level in bench["levels"] if level.get("quantiles_ms")]
    if not levels:
        return None
    top = max(max(level["quantiles_ms"]) for level in levels) or 1.0
    inner_w, inner_h = PLOT_WIDTH - 2 * MARGIN, PLOT_HEIGHT - 2 * MARGIN

    def x(ms: float) -> float:
        return MARGIN + inner_w * ms / top

    def y(share: float) -> float:
        return PLOT_HEIGHT - MARGIN - inner_h * share

    curves = []
    for index, level in enumerate(levels):
        quantiles = level["quantiles_ms"]
        points = " ".join(f"{x(ms):.1f},{y(q / (len(quantiles) - 1)):.1f}" for q, ms in enumerate(quantiles))
        curves.append(
            {
                "concurrency": level["concurrency"],
                "points": points,
                "colour": LEVEL_COLOURS[index % len(LEVEL_COLOURS)],
                "label": f"c={level['concurrency']}: p50 {level['p50_ms']:.1f} ms, p95 {level['p95_ms']:.1f} ms, "
                f"p99 {level['p99_ms']:.1f} ms, {level['throughput_rps']:.0f} req/s",
            }
        )
    ticks = [top * i / 4 for i in range(5)]
    return {
        "width": PLOT_WIDTH,
        "height": PLOT_HEIGHT,
        "curves": curves,
        "x_ticks": [{"x": f"{x(ms):.1f}", "label": f"{ms:.0f}"} for ms in ticks],
        "y_ticks": [
            {"y": f"{y(share):.1f}", "label": f"{share * 100:.0f} %"} for share in (0, 0.25, 0.5, 0.75, 1)
        ],
        "axis": {"left": MARGIN, "right": PLOT_WIDTH - MARGIN, "top": MARGIN, "bottom": PLOT_HEIGHT - MARGIN},
        "at": bench["at"],
        "url": bench["url"],
    }


def page_view(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the template prints."""
    smoke = [
        {**run, "failed": sum(not c["passed"] for c in run["checks"]), "total": len(run["checks"])}
        for run in report["smoke"]
    ]
    return {
        **report,
        "title": f"nfldeploy report: {report['experiment'] or 'no export'}"
        + (f" on {report['target']}" if report["target"] else ""),
        "smoke": smoke,
        "latency": latency_view(report["bench"]),
        "fields": [field_view(play) for play in report["plays"]],
        "required_missing": [
            i["title"] for i in report["checklist"] if i["required"] and i["state"] == "missing"
        ],
    }


def render_page(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    return render_template("report/report.html.j2", page_view(report))
