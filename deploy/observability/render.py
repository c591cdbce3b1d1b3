"""Draws the Grafana dashboards from real Prometheus data, one PNG per dashboard (Grafana itself is not
available here; the JSON in deploy/helm/observability/dashboards stays what a cluster's Grafana loads).

    python -m deploy.observability.render [--prometheus URL] [--minutes 30] [--out DIR] [--var name=value]

Every panel of every dashboard is queried with query_range over the last N minutes, its template
variables expanded as Grafana would (a variable with "All" becomes its allValue, `.*`; one without
becomes the values its label_values() query finds), and drawn where its gridPos puts it on the
24-column grid: title, unit on the axis, one line per series named by the legendFormat, and the
thresholds of fieldConfig as dashed lines (timeseries) or colours (stat). Prints one line per
dashboard; `render()` returns what every panel drew, for the tests.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "deploy" / "helm" / "observability" / "dashboards"

COLUMNS = 24
UNIT_W_IN = 0.78   # inches per grid column
UNIT_H_IN = 0.36   # inches per grid row (Grafana: 30 px)
PALETTE = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0",
           "#508642", "#cca300", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62", "#584477"]
THRESHOLD_COLOURS = {"green": "#73bf69", "yellow": "#fade2a", "orange": "#ff9830", "red": "#f2495c",
                     "blue": "#5794f2", "purple": "#b877d9"}
MAX_LEGEND = 8


@dataclass
class Series:
    name: str
    times: list[float]
    values: list[float]


@dataclass
class PanelResult:
    title: str
    type: str
    series: list[Series] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def drew(self) -> bool:
        """At least one series with at least one finite point."""
        return any(any(math.isfinite(v) for v in s.values) for s in self.series)


class Prometheus:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=60) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:  # 400/422 carry the error as JSON
            return json.loads(e.read())

    def query_range(self, expr: str, start: float, end: float, step: float) -> dict:
        return self.get("/api/v1/query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=f"{step:g}")


# -- template variables --------------------------------------------------------------------------
def variables(dash: dict, prom: Prometheus, given: dict[str, str]) -> dict[str, str]:
    """The value of every query variable, in order (a later variable's query may use an earlier one)."""
    out: dict[str, str] = {}
    for var in dash.get("templating", {}).get("list", []):
        name = var["name"]
        if var.get("type") != "query":
            continue
        if name in given:
            out[name] = given[name]
        elif var.get("includeAll"):
            out[name] = var.get("allValue") or ".*"
        else:
            out[name] = "|".join(re.escape(v) for v in label_values(prom, expand(var.get("definition", ""), out))) or ".*"
    return out


def label_values(prom: Prometheus, definition: str) -> list[str]:
    m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", definition, re.S)
    if not m:
        return []
    found = prom.get(f"/api/v1/label/{m.group(2)}/values", **{"match[]": m.group(1)})
    return sorted(found.get("data") or [])


def expand(expr: str, values: dict[str, str]) -> str:
    """$name and ${name}; Grafana's $__rate_interval as the 5m the dashboards use elsewhere."""
    expr = expr.replace("$__rate_interval", "5m")
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return expr


def legend(fmt: str, metric: dict, expr: str) -> str:
    if not fmt:
        return ", ".join(f"{k}={v}" for k, v in sorted(metric.items()) if k != "__name__") or expr[:40]
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt).strip() or "value"


# -- querying ------------------------------------------------------------------------------------
def query_panel(panel: dict, prom: Prometheus, values: dict[str, str], start: float, end: float,
                step: float) -> PanelResult:
    result = PanelResult(panel.get("title", ""), panel.get("type", ""))
    for target in panel.get("targets", []):
        expr = expand(target.get("expr", ""), values)
        answer = prom.query_range(expr, start, end, step)
        if answer.get("status") != "success":
            result.errors.append(f"{expr}: {answer.get('error')}")
            continue
        for s in answer["data"]["result"]:
            points = [(float(t), float(v)) for t, v in s["values"]]
            result.series.append(Series(legend(target.get("legendFormat", ""), s["metric"], expr),
                                        [p[0] for p in points], [p[1] for p in points]))
    return result


# -- drawing -------------------------------------------------------------------------------------
def fmt_value(v: float, unit: str) -> str:
    if not math.isfinite(v):
        return "–"
    if unit == "percentunit":
        return f"{v * 100:.3g}%"
    if unit == "percent":
        return f"{v:.3g}%"
    if unit == "s":
        if abs(v) >= 3600:
            return f"{v / 3600:.3g} h"
        if abs(v) >= 60:
            return f"{v / 60:.3g} min"
        if abs(v) >= 1 or v == 0:
            return f"{v:.3g} s"
        return f"{v * 1000:.3g} ms"
    if unit == "bytes":
        for suffix, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(v) >= size:
                return f"{v / size:.3g} {suffix}"
        return f"{v:.3g} B"
    suffix = {"reqps": " req/s", "ops": " ops/s", "cps": " /s"}.get(unit, "")
    for big, letter in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= big:
            return f"{v / big:.3g}{letter}{suffix}"
    return f"{v:.3g}{suffix}"


def thresholds(panel: dict) -> list[tuple[float | None, str]]:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    return [(s.get("value"), THRESHOLD_COLOURS.get(s.get("color", ""), s.get("color", "#888"))) for s in steps]


def colour_for(value: float, steps: list[tuple[float | None, str]], default: str) -> str:
    colour = default
    for limit, c in steps:
        if limit is None or value >= limit:
            colour = c
    return colour


def draw_timeseries(ax, panel: dict, result: PanelResult, start: float, end: float) -> None:
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter
    import datetime as dt
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    to_dt = lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc)  # noqa: E731
    for i, s in enumerate(result.series):
        ax.plot([to_dt(t) for t in s.times], s.values, color=PALETTE[i % len(PALETTE)], linewidth=1.4, label=s.name)
    for limit, colour in thresholds(panel):
        if limit is not None:
            ax.axhline(limit, color=colour, linestyle="--", linewidth=1.1, alpha=0.9)
    ax.set_xlim(to_dt(start), to_dt(end))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if end - start > 600 else "%H:%M:%S", tz=dt.timezone.utc))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_value(v, unit)))
    if all(v >= 0 for s in result.series for v in s.values if math.isfinite(v)):
        ax.set_ylim(bottom=0)
    ax.grid(True, color="#2c3235", linewidth=0.6)
    ax.tick_params(colors="#c7d0d9", labelsize=7)


def place_legend(fig, ax, anchor: tuple[float, float]) -> None:
    """Grafana's list legend under the plot: at most MAX_LEGEND names, in two columns when many."""
    handles, labels = ax.get_legend_handles_labels()
    if not labels:
        return
    more = len(labels) - MAX_LEGEND
    if more > 0:
        handles, labels = handles[:MAX_LEGEND], labels[:MAX_LEGEND - 1] + [f"… and {more + 1} more"]
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=anchor, bbox_transform=fig.transFigure,
               fontsize=7, ncol=2 if len(labels) > 4 else 1, frameon=False, labelcolor="#c7d0d9",
               handlelength=1.5, columnspacing=1.2, borderaxespad=0, labelspacing=0.25)


def draw_stat(ax, panel: dict, result: PanelResult) -> None:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    steps = thresholds(panel)
    ax.set_axis_off()
    shown = result.series[:12]
    for i, s in enumerate(shown):
        last = next((v for v in reversed(s.values) if math.isfinite(v)), float("nan"))
        x = (i + 0.5) / len(shown)
        colour = colour_for(last, steps, "#73bf69") if math.isfinite(last) else "#888"
        ax.text(x, 0.55, fmt_value(last, unit), ha="center", va="center", fontsize=22 if len(shown) < 7 else 16,
                color=colour, weight="bold", transform=ax.transAxes)
        ax.text(x, 0.2, s.name, ha="center", va="center", fontsize=8, color="#c7d0d9", transform=ax.transAxes)


def render_dashboard(dash: dict, prom: Prometheus, out: Path, minutes: float, given: dict[str, str],
                     end: float | None = None) -> dict[int, PanelResult]:
    import warnings

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    warnings.filterwarnings("ignore", message="AutoDateLocator was unable")  # it falls back sensibly

    end = end or time.time()
    start = end - minutes * 60
    step = max(1.0, round(minutes * 60 / 240))  # ~240 points per series
    values = variables(dash, prom, given)
    panels = dash["panels"]
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    header = 1.6  # grid rows for the dashboard title and the time range
    fig = plt.figure(figsize=(COLUMNS * UNIT_W_IN, (bottom + header) * UNIT_H_IN), facecolor="#111217")
    total_h = bottom + header
    span = f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(start))}–{time.strftime('%H:%M UTC', time.gmtime(end))}"
    chosen = ", ".join(f"{k}={'All' if v == '.*' else v}" for k, v in values.items())
    fig.text(0.01, 1 - 0.6 / total_h, dash["title"], fontsize=16, color="#e0e6ed", weight="bold", va="center")
    fig.text(0.99, 1 - 0.6 / total_h, f"{span}   {chosen}   step {step:g}s", fontsize=9, color="#9fa7b3",
             ha="right", va="center")
    results: dict[int, PanelResult] = {}
    for panel in panels:
        g = panel["gridPos"]
        left, width = g["x"] / COLUMNS, g["w"] / COLUMNS
        top = 1 - (g["y"] + header) / total_h
        height = g["h"] / total_h
        if panel.get("type") == "row":  # titles show the chosen values, as in Grafana ("All" for all)
            title = expand(panel["title"], {k: "All" if v == ".*" else v for k, v in values.items()})
            fig.text(left + 0.005, top - height / 2, title, fontsize=12, color="#e0e6ed",
                     weight="bold", va="center")
            continue
        result = query_panel(panel, prom, values, start, end, step)
        results[panel["id"]] = result
        # the panel's frame, then its plot area inside (room for the title above, the legend below)
        frame = fig.add_axes((left + 0.002, top - height + 0.002, width - 0.004, height - 0.004))
        frame.set_facecolor("#181b1f")
        frame.set_xticks([]), frame.set_yticks([])
        for spine in frame.spines.values():
            spine.set_color("#2c3235")
        frame.text(0.01, 0.985, panel["title"], fontsize=10, color="#e0e6ed", weight="bold",
                   va="top", transform=frame.transAxes)
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        if unit:
            frame.text(0.99, 0.985, unit, fontsize=7, color="#9fa7b3", va="top", ha="right", transform=frame.transAxes)
        row_h = UNIT_H_IN / (total_h * UNIT_H_IN)
        if panel.get("type") == "stat":
            ax = fig.add_axes((left + 0.01, top - height + 0.01, width - 0.02, height - 1.0 * row_h))
            draw_stat(ax, panel, result)
        else:
            legend_rows = min(len(result.series), MAX_LEGEND)
            legend_rows = math.ceil(legend_rows / 2) if legend_rows > 4 else legend_rows
            legend_h = (0.6 + 0.4 * legend_rows) * row_h
            plot_h = max(height - 1.3 * row_h - legend_h, 2 * row_h)
            fig_w = COLUMNS * UNIT_W_IN
            margin_l, margin_r = 0.9 / fig_w, 0.15 / fig_w
            plot_bottom = top - 0.9 * row_h - plot_h
            ax = fig.add_axes((left + margin_l, plot_bottom, width - margin_l - margin_r, plot_h))
            ax.set_facecolor("#181b1f")
            for spine in ax.spines.values():
                spine.set_color("#2c3235")
            draw_timeseries(ax, panel, result, start, end)
            place_legend(fig, ax, (left + margin_l, plot_bottom - 0.5 * row_h))
        if not result.drew:
            frame.text(0.5, 0.5, "No data" if not result.errors else "Query error", fontsize=12, color="#9fa7b3",
                       ha="center", va="center", transform=frame.transAxes)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80, facecolor=fig.get_facecolor())
    plt.close(fig)
    return results


def render(prom_url: str, out_dir: Path, minutes: float = 30, given: dict[str, str] | None = None,
           dashboards: Path = DASHBOARDS) -> dict[str, dict[int, PanelResult]]:
    """Renders every dashboard into out_dir/<uid>.png; returns {dashboard file: {panel id: result}}."""
    prom = Prometheus(prom_url)
    end = time.time()
    return {f.name: render_dashboard(json.loads(f.read_text()), prom, out_dir / f"{f.stem}.png", minutes,
                                     given or {}, end)
            for f in sorted(dashboards.glob("*.json"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--minutes", type=float, default=30, help="time range: the last N minutes")
    parser.add_argument("--out", type=Path, default=Path(".run/dashboards"))
    parser.add_argument("--var", action="append", default=[], help="name=value of a template variable")
    args = parser.parse_args()
    given = dict(v.split("=", 1) for v in args.var)
    try:
        results = render(args.prometheus, args.out, args.minutes, given)
    except urllib.error.URLError as exc:
        raise SystemExit(f"no Prometheus at {args.prometheus} ({exc.reason}); start it with `make observe`")
    for name, panels in results.items():
        empty = [p.title for p in panels.values() if not p.drew]
        print(f"{args.out / name.replace('.json', '.png')}: {len(panels)} panels, "
              f"{len(panels) - len(empty)} with data" + (f" (no data: {', '.join(empty)})" if empty else ""))


if __name__ == "__main__":
    main()
