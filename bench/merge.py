"""Merge benchmark runs that measured different steps into one results folder.

On a shared 2-core machine a full run may not fit in the time there is; its
steps can then run as separate ``bench.run --steps ...`` processes (side by
side or one after the other) and be merged here into one ``results.json``,
``summary.md`` and the plots. Each step comes from the run that measured it,
training times from every run, and the summary lists the parts with their own
wall time and load.

Usage:
    python -m bench.merge --out bench/results/<name> RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import summary

STEPS = ("arbanking", "heldout", "latency", "e2e", "handoff")
# Settings that belong to one step: taken from the run that measured that step.
STEP_SETTINGS = {"arbanking": ("diet_epochs_arbanking", "train_per_label", "test_per_label"), "heldout": ("diet_epochs_project",)}


def _source(parts: Sequence[Dict[str, Any]], step: str) -> Optional[int]:
    """Index of the run a step is taken from: the first that measured it
    successfully, else the first that has it at all, else the first that was
    asked for it (and ended before it); None when no run was."""
    asked = [i for i, p in enumerate(parts) if step in ((p.get("run") or {}).get("steps") or [])]
    have = [i for i in asked if step in parts[i]]
    ok = [i for i in have if (parts[i][step] or {}).get("status") == "ok"]
    candidates = ok or have or asked
    return candidates[0] if candidates else None


def merge(parts: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """One results dict from several runs' results (earlier parts win ties).

    Args:
        parts: ``results.json`` contents of each run.

    Returns:
        A results dict ``summary.render`` accepts, with ``run["parts"]``
        describing where each step came from.
    """
    if not parts:
        raise ValueError("nothing to merge")
    merged: Dict[str, Any] = {"training": {}, "settings": {}}
    source: Dict[str, int] = {}
    for step in STEPS:
        chosen = _source(parts, step)
        if chosen is None:
            continue
        source[step] = chosen
        part = parts[chosen]
        run_id = (part.get("run") or {}).get("id")
        merged[step] = part[step] if step in part else {"status": "failed", "reason": f"run {run_id} ended before this step"}
        for key in STEP_SETTINGS.get(step, ()):
            if key in (part.get("settings") or {}):
                merged["settings"][key] = part["settings"][key]
    described = []
    for index, part in enumerate(parts):
        run = part.get("run") or {}
        steps = [s for s in STEPS if source.get(s) == index]
        for name, figures in (part.get("training") or {}).items():
            merged["training"].setdefault(name, {**figures, "run": run.get("id")})
        for key, value in (part.get("settings") or {}).items():
            merged["settings"].setdefault(key, value)
        machine = part.get("machine") or {}
        described.append(
            {"id": run.get("id"), "steps": steps, "wall_seconds": run.get("wall_seconds"), "load_start": machine.get("load_start"), "load_end": machine.get("load_end"), "started": run.get("started"), "finished": run.get("finished")}
        )
    first, machines = parts[0], [p.get("machine") or {} for p in parts]
    merged["run"] = {
        "id": "+".join(str(d["id"]) for d in described),
        "quick": any((p.get("run") or {}).get("quick") for p in parts),
        "steps": [s for s in STEPS if s in merged],
        "started": min(str(d["started"]) for d in described if d["started"]) if any(d["started"] for d in described) else None,
        "finished": max(str(d["finished"]) for d in described if d["finished"]) if any(d["finished"] for d in described) else None,
        "parts": described,
    }
    merged["machine"] = {**(first.get("machine") or {}), "load_start": machines[0].get("load_start"), "load_end": machines[-1].get("load_end")}
    merged["verdict"] = summary.verdict(merged)
    return merged


def main(argv: Optional[List[str]] = None) -> int:
    """Write the merged results.json, summary.md and plots into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (with results.json), in order of preference")
    args = parser.parse_args(argv)
    parts = [json.loads((run / "results.json").read_text(encoding="utf-8")) for run in args.runs]
    merged = merge(parts)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        from bench import plots

        merged["plots"] = plots.draw_all(merged, args.out)
    except Exception as error:  # noqa: BLE001 - a plot must not lose the figures
        print(f"plots failed: {error}")
    (args.out / "results.json").write_text(json.dumps(merged, ensure_ascii=False, indent=2), encoding="utf-8")
    (args.out / "summary.md").write_text(summary.render(merged), encoding="utf-8")
    print(f"merged {len(parts)} runs → {args.out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
