"""Evaluate a trained model's NLU on a held-out file, overall and per dialect.

Usage:
    python -m scripts.evaluate_nlu --model models/ --data tests/data/nlu_heldout.yml \
        [--report reports/nlu_heldout.json]

Prints intent accuracy and macro-F1 overall, per dialect and per script, the
per-intent F1, entity precision/recall/F1 per entity type (exact span and
value), and the parse latency. With --report also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple


def load_examples(path: Path) -> List[Any]:
    """Messages with text, intent, entities and metadata from a Rasa NLU YAML file."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(str(path))
    return [m for m in data.training_examples if m.get("text") and m.get("intent")]


def _macro_f1(gold: List[str], pred: List[str]) -> Tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return float(accuracy_score(gold, pred)), float(f1_score(gold, pred, average="macro", labels=sorted(set(gold)), zero_division=0))


def _entity_key(entity: Dict[str, Any]) -> Tuple[str, int, int]:
    return entity["entity"], int(entity["start"]), int(entity["end"])


def entity_scores(golds: List[List[Dict[str, Any]]], preds: List[List[Dict[str, Any]]]) -> Dict[str, Dict[str, float]]:
    """Exact-span precision, recall and F1 per entity type.

    ``service_type`` is compared on its canonical value as well, since the value
    (electricity / water / internet) is what the dialogue uses.
    """
    counts: Dict[str, Dict[str, int]] = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0})
    for gold, pred in zip(golds, preds, strict=True):
        gold_keys = {_entity_key(e) for e in gold}
        pred_keys = {_entity_key(e) for e in pred}
        for key in gold_keys | pred_keys:
            c = counts[key[0]]
            if key in gold_keys and key in pred_keys:
                c["tp"] += 1
            elif key in pred_keys:
                c["fp"] += 1
            else:
                c["fn"] += 1
    scores = {}
    for name, c in sorted(counts.items()):
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        scores[name] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": c["tp"] + c["fn"]}
    return scores


def entity_errors(
    texts: List[str], golds: List[List[Dict[str, Any]]], preds: List[List[Dict[str, Any]]]
) -> List[Dict[str, Any]]:
    """The messages whose entity spans differ, with each side's spans as typed."""

    def spans(text: str, entities: List[Dict[str, Any]]) -> List[str]:
        return sorted(f"{e['entity']}: {text[int(e['start']):int(e['end'])]}" for e in entities)

    return [
        {"text": text, "gold": spans(text, gold), "predicted": spans(text, pred)}
        for text, gold, pred in zip(texts, golds, preds, strict=True)
        if {_entity_key(e) for e in gold} != {_entity_key(e) for e in pred}
    ]


async def _parse_all(model: Path, texts: List[str]) -> Tuple[List[Dict[str, Any]], List[float]]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    # one debug line per parsed message would drown the report
    configure_structlog(logging.WARNING)

    agent = Agent.load(str(model))
    results, latencies = [], []
    for text in texts:
        start = time.perf_counter()
        results.append(await agent.parse_message(text))
        latencies.append((time.perf_counter() - start) * 1000)
    return results, latencies


def evaluate(model: Path, data: Path) -> Dict[str, Any]:
    """Parse every held-out example with the model and score the predictions."""
    from sklearn.metrics import f1_score

    examples = load_examples(data)
    texts = [m.get("text") for m in examples]
    parsed, latencies = asyncio.run(_parse_all(model, texts))
    gold = [m.get("intent") for m in examples]
    # The fallback classifier renames low-confidence intents; score the classifier's
    # own top intent, and report how often the fallback fired separately.
    pred = []
    fallbacks = 0
    for result in parsed:
        name = (result.get("intent") or {}).get("name")
        if name == "nlu_fallback":
            fallbacks += 1
            ranking = [r for r in result.get("intent_ranking", []) if r.get("name") != "nlu_fallback"]
            name = ranking[0]["name"] if ranking else "nlu_fallback"
        pred.append(name or "none")
    accuracy, macro = _macro_f1(gold, pred)
    report: Dict[str, Any] = {
        "model": str(model),
        "data": str(data),
        "examples": len(examples),
        "intent": {"accuracy": round(accuracy, 4), "macro_f1": round(macro, 4), "fallback_rate": round(fallbacks / len(examples), 4)},
        "per_dialect": {},
        "per_script": {},
    }
    for key in ("dialect", "script"):
        groups: Dict[str, List[int]] = defaultdict(list)
        for i, m in enumerate(examples):
            groups[(m.get("metadata") or {}).get("example", {}).get(key) or (m.get("metadata") or {}).get(key, "unknown")].append(i)
        for group, idx in sorted(groups.items()):
            acc, f1 = _macro_f1([gold[i] for i in idx], [pred[i] for i in idx])
            report[f"per_{key}"][group] = {"examples": len(idx), "accuracy": round(acc, 4), "macro_f1": round(f1, 4)}
    labels = sorted(set(gold))
    per_intent = f1_score(gold, pred, average=None, labels=labels, zero_division=0)
    report["per_intent_f1"] = {label: round(float(v), 4) for label, v in zip(labels, per_intent, strict=True)}
    report["errors"] = [
        {"text": texts[i], "gold": gold[i], "predicted": pred[i]} for i in range(len(gold)) if gold[i] != pred[i]
    ]
    gold_entities = [m.get("entities") or [] for m in examples]
    predicted_entities = [r.get("entities") or [] for r in parsed]
    report["entities"] = entity_scores(gold_entities, predicted_entities)
    report["entity_errors"] = entity_errors(texts, gold_entities, predicted_entities)
    ordered = sorted(latencies)
    report["parse_latency_ms"] = {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max": round(ordered[-1], 2),
    }
    return report


def print_report(report: Dict[str, Any]) -> None:
    i = report["intent"]
    print(f"held-out examples: {report['examples']}")
    print(f"intent accuracy {i['accuracy']:.4f}  macro-F1 {i['macro_f1']:.4f}  fallback rate {i['fallback_rate']:.4f}")
    for key in ("per_dialect", "per_script"):
        for group, s in report[key].items():
            print(f"  {key[4:]:8s} {group:10s} n={s['examples']:4d}  accuracy {s['accuracy']:.4f}  macro-F1 {s['macro_f1']:.4f}")
    print("entities (exact span):")
    for name, s in report["entities"].items():
        print(f"  {name:15s} P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}  (n={s['support']})")
    weakest = sorted(report["per_intent_f1"].items(), key=lambda kv: kv[1])[:5]
    print("weakest intents:", ", ".join(f"{k} {v:.2f}" for k, v in weakest))
    print(f"parse latency ms: {report['parse_latency_ms']}")


def latest_model(path: Path) -> Path:
    if path.is_file():
        return path
    models = sorted(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise FileNotFoundError(f"no trained model in {path}: run `make train` first")
    return models[-1]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models"))
    parser.add_argument("--data", type=Path, default=Path("tests/data/nlu_heldout.yml"))
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    report = evaluate(latest_model(args.model), args.data)
    print_report(report)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
