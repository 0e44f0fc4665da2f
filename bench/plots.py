"""PNG plots of a run's results (matplotlib, no display needed).

Labels are ASCII on purpose: matplotlib does not shape Arabic script, so
Arabic labels would be drawn as disconnected, reversed letters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"ours": "#1b7f5f", "default": "#7a7a7a", "published": "#c78a00"}


def _bars(ax: Any, groups: List[str], series: Dict[str, List[float]], colors: List[str], fmt: str = "{:.3f}") -> None:
    width = 0.8 / max(1, len(series))
    for i, ((name, values), color) in enumerate(zip(series.items(), colors, strict=False)):
        xs = [g + i * width for g in range(len(groups))]
        bars = ax.bar(xs, [v or 0 for v in values], width, label=name, color=color)
        ax.bar_label(bars, labels=[fmt.format(v) if v else "" for v in values], fontsize=7)
    ax.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], groups)
    ax.legend(fontsize=8)


def arbanking(results: Dict[str, Any], path: Path) -> bool:
    """Macro-F1 per test file: ours, Rasa default, published AraBERT."""
    section = results.get("arbanking") or {}
    models = section.get("models") or {}
    tests = sorted(set(models.get("ours", {})) | set(models.get("default", {})))
    if not tests:
        return False
    series = {
        "ours": [models.get("ours", {}).get(t, {}).get("intent", {}).get("macro_f1") for t in tests],
        "Rasa default": [models.get("default", {}).get(t, {}).get("intent", {}).get("macro_f1") for t in tests],
        "AraBERT (published)": [(section.get("published") or {}).get(t) for t in tests],
    }
    fig, ax = plt.subplots(figsize=(7, 4))
    _bars(ax, tests, series, [COLORS["ours"], COLORS["default"], COLORS["published"]])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("macro-F1")
    ax.set_title("ArBanking77 intent macro-F1")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def latency(results: Dict[str, Any], path: Path) -> bool:
    """p50/p95/p99 parse latency of every model measured."""
    models = (results.get("latency") or {}).get("models") or {}
    if not models:
        return False
    names = list(models)
    series = {q: [models[n].get("latency_ms", {}).get(q) for n in names] for q in ("p50", "p95", "p99")}
    fig, ax = plt.subplots(figsize=(8, 4))
    _bars(ax, names, series, ["#9ecae1", "#3182bd", "#08519c"], fmt="{:.1f}")
    ax.set_ylabel("ms per message")
    ax.set_title("NLU parse latency (one message, same process)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def e2e(results: Dict[str, Any], path: Path) -> bool:
    """Throughput and reply latency against concurrent conversations, per channel."""
    levels = (results.get("e2e") or {}).get("levels") or []
    if not levels:
        return False
    by_channel: Dict[str, List[Dict[str, Any]]] = {}
    for level in levels:
        by_channel.setdefault(level.get("channel", "rest"), []).append(level)
    colors = {"webchat": COLORS["ours"], "rest": "#888888"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    for channel, rows in by_channel.items():
        xs = [row["conversations"] for row in rows]
        color = colors.get(channel, "#444444")
        left.plot(xs, [row.get("messages_per_second") or 0 for row in rows], marker="o", color=color, label=channel)
        for q, style in (("p50", "-"), ("p95", "--")):
            right.plot(xs, [row.get("latency_ms", {}).get(q) or 0 for row in rows], style, marker="o", label=f"{channel} {q}", color=color)
    for ax, label in ((left, "messages / s"), (right, "reply latency, ms")):
        ax.set_xlabel("concurrent conversations")
        ax.set_ylabel(label)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.suptitle("Web chat and REST channels, Redis stores and action server included")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def heldout(results: Dict[str, Any], path: Path) -> bool:
    """Held-out macro-F1 per dialect, ours against the default."""
    models = (results.get("heldout") or {}).get("models") or {}
    dialects = sorted({d for m in models.values() for d in (m.get("per_dialect") or {})})
    if not dialects:
        return False
    series = {name: [(m.get("per_dialect") or {}).get(d, {}).get("macro_f1") for d in dialects] for name, m in models.items()}
    fig, ax = plt.subplots(figsize=(8, 4))
    _bars(ax, dialects, series, [COLORS.get(n, "#444") for n in series])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("macro-F1")
    ax.set_title("Held-out file, per dialect")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def training(results: Dict[str, Any], path: Path) -> bool:
    """Training wall time of every model."""
    runs = {n: t.get("seconds") for n, t in (results.get("training") or {}).items() if t.get("seconds")}
    if not runs:
        return False
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.5 * len(runs)))
    bars = ax.barh(list(runs), [s / 60 for s in runs.values()], color=COLORS["ours"])
    ax.bar_label(bars, labels=[f"{s / 60:.1f}" for s in runs.values()], fontsize=8)
    ax.set_xlabel("minutes (wall, incl. start-up)")
    ax.set_title("Training time")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


PLOTS: Dict[str, Callable[[Dict[str, Any], Path], bool]] = {
    "arbanking_macro_f1.png": arbanking,
    "heldout_dialects.png": heldout,
    "parse_latency.png": latency,
    "e2e.png": e2e,
    "training_time.png": training,
}


def draw_all(results: Dict[str, Any], out_dir: Path) -> List[str]:
    """Draw every plot the results have data for; return the file names written."""
    written = []
    for name, draw in PLOTS.items():
        if draw(results, out_dir / name):
            written.append(name)
    return written
