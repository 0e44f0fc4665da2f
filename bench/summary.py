"""Render a run's results dict as Markdown (``summary.md``) and judge the headline.

Pure functions of the results dict, so they are tested on a small fake one
without training anything.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

HANDOFF_NOT_MEASURED = "bench/relay.py (the handoff service's relay benchmark) is not in this checkout yet"
# The handoff service's target for relay latency (PROTOCOL.md, issue of the relay).
RELAY_P95_TARGET_MS = 100.0
# The maximum ratio of our p95 parse latency to the default pipeline's that
# still counts as "as fast" (the project's acceptance threshold).
P95_RATIO_LIMIT = 1.5
PIPELINE_LABELS = {"ours": "Ours (config.yml)", "default": "Rasa default (DIET)"}


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> List[str]:
    """A Markdown table as lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return lines


def _section_status(section: Optional[Dict[str, Any]]) -> Optional[str]:
    """A line explaining a skipped or failed section, or None when it ran."""
    if not section:
        return "not run"
    if section.get("status") not in (None, "ok"):
        return f"{section.get('status')}: {section.get('reason', '')}".rstrip(": ")
    return None


def verdict(results: Dict[str, Any]) -> Dict[str, Any]:
    """Whether ours beats the default on every ArBanking77 test file and parses fast enough.

    Returns:
        ``beats_default_everywhere`` (True/False/None when not measured), the
        per-file comparisons, ``p95_ratio`` of the headline latency pair and
        ``latency_ok`` (ratio ≤ :data:`P95_RATIO_LIMIT`).
    """
    comparisons = []
    arbanking = results.get("arbanking") or {}
    models = arbanking.get("models") or {}
    ours, default = models.get("ours") or {}, models.get("default") or {}
    for test in sorted(set(ours) & set(default)):
        a, b = ours[test].get("intent", {}), default[test].get("intent", {})
        if not a or not b:
            continue
        comparisons.append(
            {
                "test": test,
                "accuracy": [a.get("accuracy"), b.get("accuracy")],
                "macro_f1": [a.get("macro_f1"), b.get("macro_f1")],
                "ours_better": a.get("accuracy", 0) > b.get("accuracy", 0) and a.get("macro_f1", 0) > b.get("macro_f1", 0),
            }
        )
    headline = ((results.get("latency") or {}).get("pairs") or {}).get("headline") or {}
    ratio = headline.get("p95_ratio")
    return {
        "beats_default_everywhere": all(c["ours_better"] for c in comparisons) if comparisons else None,
        "comparisons": comparisons,
        "p95_ratio": ratio,
        "p95_ratio_limit": P95_RATIO_LIMIT,
        "latency_ok": None if ratio is None else ratio <= P95_RATIO_LIMIT,
    }


def _ms(value: Any) -> str:
    return _fmt(float(value), 1) if isinstance(value, (int, float)) else _fmt(value)


def _errors(errors: Optional[Dict[str, int]]) -> str:
    return ", ".join(f"{code}: {n}" for code, n in sorted(errors.items())) if errors else "0"


def _yes_no(value: Optional[bool]) -> str:
    return {True: "**yes**", False: "**no**", None: "not measured"}[value]


def headline(results: Dict[str, Any]) -> List[str]:
    """The headline section's lines (also printed at the end of a run)."""
    v = verdict(results)
    lines = ["## Headline", ""]
    lines.append(f"- Ours beats Rasa's default on every ArBanking77 test file (accuracy and macro-F1): {_yes_no(v['beats_default_everywhere'])}")
    for c in v["comparisons"]:
        lines.append(
            f"  - {c['test']}: accuracy {_fmt(c['accuracy'][0])} vs {_fmt(c['accuracy'][1])}, "
            f"macro-F1 {_fmt(c['macro_f1'][0])} vs {_fmt(c['macro_f1'][1])}"
        )
    ratio = v["p95_ratio"]
    lines.append(
        f"- p95 parse latency, ours ÷ default: {_fmt(ratio, 2)}× (limit {P95_RATIO_LIMIT}×): {_yes_no(v['latency_ok'])}"
    )
    return lines + [""]


def _arbanking(results: Dict[str, Any]) -> List[str]:
    section = results.get("arbanking") or {}
    lines = ["## 1. ArBanking77 intent classification", ""]
    status = _section_status(section)
    if status:
        return lines + [f"_Skipped — {status}_", ""]
    training = results.get("training") or {}
    epochs = (results.get("settings") or {}).get("diet_epochs_arbanking")
    lines.append(
        f"Both pipelines trained on `train.csv` ({section.get('train_examples')} examples"
        f"{', stratified subsample' if section.get('subsampled') else ''}), DIET for {epochs} epochs "
        "(Rasa's default is 100; fixed budget so the run fits in 40 minutes). Scores count the "
        "classifier's top intent even when the FallbackClassifier fired."
    )
    lines.append("")
    rows = []
    for key, name in (("ours", "ours_arbanking"), ("default", "default_arbanking")):
        for test, report in sorted((section.get("models") or {}).get(key, {}).items()):
            intent = report.get("intent", {})
            rows.append([PIPELINE_LABELS[key], test, report.get("examples"), intent.get("accuracy"), intent.get("macro_f1"), intent.get("fallback_rate"), _fmt((training.get(name) or {}).get("seconds"), 0)])
    for test, f1 in sorted((section.get("published") or {}).items()):
        rows.append(["AraBERT (published, not re-run)", test, "–", None, f1, None, "–"])
    lines += table(["pipeline", "test file", "examples", "accuracy", "macro-F1", "fallback rate", "training s"], rows)
    return lines + ["", "The published AraBERT figure is the F1 its authors report on the same split.", ""]


def _heldout(results: Dict[str, Any]) -> List[str]:
    section = results.get("heldout") or {}
    lines = ["## 2. Held-out file (`tests/data/nlu_heldout.yml`)", ""]
    status = _section_status(section)
    if status:
        return lines + [f"_Skipped — {status}_", ""]
    models = section.get("models") or {}
    epochs = (results.get("settings") or {}).get("diet_epochs_project")
    lines.append(
        "Scored with `scripts.evaluate_nlu` (what `make eval` runs). Ours: the assistant model trained as `make train` "
        f"does; Rasa default: NLU only on the same `nlu_data/`, DIET {epochs} epochs."
    )
    lines.append("")
    rows = [[PIPELINE_LABELS[k], r.get("examples"), r["intent"].get("accuracy"), r["intent"].get("macro_f1"), r["intent"].get("fallback_rate")] for k, r in models.items() if r.get("intent")]
    lines += table(["pipeline", "examples", "accuracy", "macro-F1", "fallback rate"], rows) + [""]
    keys = list(models)
    for group in ("per_dialect", "per_script"):
        names = sorted({g for k in keys for g in (models[k].get(group) or {})})
        if names:
            lines.append(f"**{group.replace('per_', 'Per ')} macro-F1**")
            lines.append("")
            rows = [[g, (models[keys[0]].get(group) or {}).get(g, {}).get("examples")] + [(models[k].get(group) or {}).get(g, {}).get("macro_f1") for k in keys] for g in names]
            lines += table([group[4:], "examples"] + [PIPELINE_LABELS[k] for k in keys], rows) + [""]
    intents = sorted({i for k in keys for i in (models[k].get("per_intent_f1") or {})})
    if intents:
        lines.append("**Per-intent F1**")
        lines.append("")
        rows = [[i] + [(models[k].get("per_intent_f1") or {}).get(i) for k in keys] for i in intents]
        lines += table(["intent"] + [PIPELINE_LABELS[k] for k in keys], rows) + [""]
    entities = (models.get("ours") or {}).get("entities") or {}
    if entities:
        lines.append("**Entities, ours (exact span)**")
        lines.append("")
        lines += table(["entity", "precision", "recall", "F1", "support"], [[n, s["precision"], s["recall"], s["f1"], s["support"]] for n, s in entities.items()]) + [""]
    return lines


def _dialects(results: Dict[str, Any]) -> List[str]:
    section = results.get("dialects") or {}
    lines = ["## Dialect transfer (leave one dialect of `nlu_data/` out)", ""]
    status = _section_status(section)
    if status:
        return lines + [f"_Skipped — {status}_", ""]
    result = section.get("leave_one_out") or {}
    variants = list(section.get("variants") or {})
    if not result or not variants:
        return lines + ["_No figures._", ""]
    lines.append(
        "`python -m bench.dialects`: the intent classifier trained without one dialect (or script) and scored on it; "
        "`baseline` is TF-IDF char 2–5 + word 1–2 n-grams with a LinearSVC on the same normalised text. Macro-F1."
    )
    lines.append("")
    rows = [[f"{row['kind']} {name}", row["test"]] + [row.get(v) for v in variants] for name, row in (result.get("folds") or {}).items()]
    rows.append(["mean of dialects", None] + [(result.get("mean_dialect") or {}).get(v) for v in variants])
    if result.get("mean_all"):  # runs before it existed have only the dialect mean
        rows.append(["mean of all folds (dialects, Arabizi, code-switching)", None] + [result["mean_all"].get(v) for v in variants])
    return lines + table(["held out", "examples"] + variants, rows) + [""]


def _latency(results: Dict[str, Any]) -> List[str]:
    section = results.get("latency") or {}
    lines = ["## 3. NLU parse latency and memory", ""]
    status = _section_status(section)
    if status:
        return lines + [f"_Skipped — {status}_", ""]
    lines.append(
        f"{section.get('messages')} real messages ({section.get('sources_text', '')}) parsed one at a time by every "
        f"model, all loaded in one process, interleaved; {section.get('warmup')} warm-up parses per model not counted. "
        "Memory: growth of the resident set when the model is loaded (and after warm-up) into a fresh process that "
        "had already imported TensorFlow, scikit-learn and camel-tools, one process per model."
    )
    lines.append("")
    rows = []
    for name, m in (section.get("models") or {}).items():
        lat = m.get("latency_ms", {})
        rows.append([name] + [_ms(lat.get(q)) for q in ("p50", "p95", "p99", "mean")] + [_ms(m.get("rss_load_mb")), _ms(m.get("rss_warm_mb"))])
    lines += table(["model", "p50 ms", "p95 ms", "p99 ms", "mean ms", "RSS +MiB loaded", "RSS +MiB warm"], rows) + [""]
    breakdown = {n: m.get("components_ms") for n, m in (section.get("models") or {}).items() if m.get("components_ms")}
    if breakdown:
        count = (results.get("settings") or {}).get("latency_breakdown", 200)
        lines += [f"Mean ms per message in each pipeline component (separate pass over {count} messages):", ""]
        for name, parts in breakdown.items():
            top = ", ".join(f"{c} {v:.2f}" for c, v in list(parts.items())[:6])
            lines.append(f"- {name}: {top}")
        lines.append("")
    for key, pair in (section.get("pairs") or {}).items():
        lines.append(f"- p95 ratio {pair['ours']} ÷ {pair['default']}: **{_fmt(pair.get('p95_ratio'), 2)}×**{' (headline)' if key == 'headline' else ''}")
    return lines + [""]


CHANNEL_ROUTES = {"webchat": "web chat (WebSocket `/webhooks/webchat/socket`)", "rest": "REST (`POST /webhooks/rest/webhook`)"}


def _e2e(results: Dict[str, Any]) -> List[str]:
    section = results.get("e2e") or {}
    lines = ["## 4. End-to-end through the channels", ""]
    status = _section_status(section)
    if status:
        return lines + [f"_Skipped — {status}_", ""]
    channels = section.get("channels") or ["rest"]
    lines.append(
        "Redis tracker and lock stores, action server and Rasa server started by `scripts.stack.Stack` on free "
        "loopback ports; each conversation sends its messages one after another and waits for the whole reply. "
        f"Channels: {'; '.join(CHANNEL_ROUTES.get(c, c) for c in channels)}. The web chat's per-address limits are "
        "lifted because every client comes from 127.0.0.1. The load generator shares the CPU with the servers. "
        f"Stack start-up: {section.get('startup_seconds')} s; resident memory after the run (MiB): {section.get('rss_mb')}."
    )
    lines.append("")
    rows = []
    for level in section.get("levels", []):
        lat = level.get("latency_ms", {})
        rows.append(
            [level.get("channel", "rest"), level["conversations"], level["requests"], level["ok"], _errors(level.get("errors")), _ms(level.get("messages_per_second"))]
            + [_ms(lat.get(q)) for q in ("p50", "p95", "p99")]
        )
    lines += table(["channel", "conversations", "requests", "ok", "errors", "msg/s", "p50 ms", "p95 ms", "p99 ms"], rows)
    return lines + [""]


def relay_rows(figures: Any, path: str = "") -> List[List[Any]]:
    """[where, count, p50, p95] for every object with ``p50`` and ``p95`` in the relay's JSON.

    ``bench/relay.py`` is another part's code; reading any nesting of its JSON
    keeps this summary working whatever shape its files take.
    """
    if not isinstance(figures, dict):
        return []
    if "p50" in figures and "p95" in figures:
        count = next((figures[k] for k in ("count", "n", "messages", "samples") if k in figures), None)
        return [[path or "relay", count, figures["p50"], figures["p95"]]]
    rows: List[List[Any]] = []
    for key, value in figures.items():
        rows += relay_rows(value, f"{path}/{key}" if path else str(key))
    return rows


def _handoff(results: Dict[str, Any]) -> List[str]:
    section = results.get("handoff") or {}
    lines = ["## 5. Handoff relay latency", ""]
    if not section:  # the step was not asked for
        return lines + ["_Skipped — not run_", ""]
    if section.get("status") == "not measured":
        return lines + [f"_Not measured: {section.get('reason') or HANDOFF_NOT_MEASURED}._", ""]
    status = _section_status(section)
    if status:
        return lines + [f"_Failed — {status}_", ""]
    rows = relay_rows(section.get("figures") or {})
    if not rows:
        return lines + ["`bench.relay` wrote no p50/p95 figures; see `relay/` in this folder.", ""]
    lines.append(f"From `python -m bench.relay` (the handoff service's benchmark; JSON in `relay/`). Target p95 ≤ {RELAY_P95_TARGET_MS:g} ms.")
    lines.append("")
    lines += table(["measurement", "messages", "p50 ms", "p95 ms"], [[w, n, _ms(p50), _ms(p95)] for w, n, p50, p95 in rows])
    return lines + [""]


def _scale(results: Dict[str, Any]) -> List[str]:
    from bench.scale import table as scale_table

    section = results.get("scale") or {}
    lines = ["## 5b. Scale-out: several Rasa processes on one Redis", ""]
    if not section:
        return lines + ["_Not measured in this run._", ""]
    status = _section_status(section)
    if status:
        return lines + [f"_Failed — {status}_", ""]
    lines.append("From `python -m bench.scale` (REST, FAQ questions; read back from the trackers; JSON in `scale/`).")
    if section.get("clean") is False:
        lines.append("**Messages were lost, doubled or interleaved in this run (see the table).**")
    lines.append("")
    return lines + scale_table(section.get("results") or []) + [""]


def _training(results: Dict[str, Any]) -> List[str]:
    lines = ["## 6. Training time", ""]
    rows = [[name, t.get("what", ""), _fmt(t.get("seconds"), 0), t.get("epochs") or "–", t.get("error") or "ok"] for name, t in (results.get("training") or {}).items()]
    if not rows:
        return lines + ["_No model trained._", ""]
    lines += table(["model", "what", "wall s (incl. start-up)", "DIET epochs", "status"], rows)
    if (results.get("settings") or {}).get("parallel_training"):
        lines += ["", "_Quick run: the models trained side by side on the same cores, so these times overlap and overstate each one._"]
    return lines + [""]


def render(results: Dict[str, Any]) -> str:
    """The whole ``summary.md``."""
    run = results.get("run") or {}
    machine = results.get("machine") or {}
    lines = [
        f"# Benchmark {run.get('id', '')}{' (quick)' if run.get('quick') else ''}",
        "",
        (f"Merged from {len(run['parts'])} runs (`python -m bench.merge`)" if run.get("parts") else f"Wall time {_fmt(run.get('wall_seconds'), 0)} s")
        + f" on {machine.get('cpus')} CPU cores; load average "
        f"at start {machine.get('load_start')}, at end {machine.get('load_end')} (other work on a shared machine slows every figure).",
        "",
    ]
    for part in run.get("parts") or []:
        lines.append(
            f"- part {part.get('id')}: {', '.join(part.get('steps') or []) or 'training only'}; wall time "
            f"{_fmt(part.get('wall_seconds'), 0)} s; load average at start {part.get('load_start')}, at end {part.get('load_end')}"
        )
    if run.get("parts"):
        lines.append("")
    lines += headline(results)
    lines += _arbanking(results)
    lines += _heldout(results)
    lines += _dialects(results)
    lines += _latency(results)
    lines += _e2e(results)
    lines += _handoff(results)
    lines += _scale(results)
    lines += _training(results)
    plots = results.get("plots") or []
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    lines += ["## Data", "", "ArBanking77: CC BY-SA 4.0, Sina Lab, Birzeit University; read from outside the repository, never copied into it.", ""]
    return "\n".join(lines)
