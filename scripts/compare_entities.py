"""Entity extraction with and without the rule-based number and date extractor.

Usage:
    python -m scripts.compare_entities --model models/crf-baseline.tar.gz \
        --data tests/data/nlu_heldout.yml [--data other.yml] [--errors]

The model must be trained WITHOUT ``NumberAndDateExtractor`` (config.yml before
issue 16; ``rasa train nlu --config <that config> ...``): column (a) is its
parse as is (CRF), column (b) the same parse passed through
``NumberAndDateExtractor`` the way the pipeline runs it after the CRF, so both
columns come from one model and differ only by the extractor. Scores are the
exact-span precision, recall and F1 of :func:`scripts.evaluate_nlu.entity_scores`
(the figures ``make eval`` prints).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ENTITIES = ("account_number", "phone_number", "ticket_number", "date", "district", "city", "service_type")


def compare(model: Path, data: Path) -> Tuple[Dict[str, Any], Dict[str, Any], List[Dict[str, Any]]]:
    """Scores of (a) the model as trained and (b) the model plus the extractor.

    Returns:
        (a) scores, (b) scores, and the (b) errors on the four entity types.
    """
    from bot.nlu.components import NumberAndDateExtractor
    from scripts.evaluate_nlu import _parse_all, entity_scores, latest_model, load_examples

    examples = load_examples(data)
    texts = [m.get("text") for m in examples]
    parsed, _ = asyncio.run(_parse_all(latest_model(model), texts))
    crf = [r.get("entities") or [] for r in parsed]
    if any(e.get("extractor") == NumberAndDateExtractor.__name__ for entities in crf for e in entities):
        raise SystemExit("this model already runs NumberAndDateExtractor: give one trained without it")
    extractor = NumberAndDateExtractor(NumberAndDateExtractor.get_default_config())
    combined = [
        extractor.resolve(text, entities, (result.get("intent") or {}).get("name"))
        for text, entities, result in zip(texts, crf, parsed, strict=True)
    ]
    gold = [m.get("entities") or [] for m in examples]
    errors = []
    ours = {"account_number", "phone_number", "ticket_number", "date"}
    for text, g, p in zip(texts, gold, combined, strict=True):
        gold_spans = {(e["entity"], e["start"], e["end"]) for e in g if e["entity"] in ours}
        pred_spans = {(e["entity"], e["start"], e["end"]) for e in p if e["entity"] in ours}
        for kind, spans in (("missed", gold_spans - pred_spans), ("extra", pred_spans - gold_spans)):
            errors += [{"kind": kind, "entity": s[0], "span": text[s[1] : s[2]], "text": text} for s in sorted(spans)]
    return entity_scores(gold, crf), entity_scores(gold, combined), errors


def print_comparison(name: str, before: Dict[str, Any], after: Dict[str, Any]) -> None:
    print(f"{name}: exact-span entity scores, (a) CRF only  vs  (b) NumberAndDateExtractor + CRF")
    print(f"  {'entity':15s} {'n':>4s} | {'P':>6s} {'R':>6s} {'F1':>6s} | {'P':>6s} {'R':>6s} {'F1':>6s}")
    for entity in [e for e in ENTITIES if e in before or e in after]:
        a, b = before.get(entity, {}), after.get(entity, {})
        n = b.get("support", a.get("support", 0))
        print(
            f"  {entity:15s} {n:4d} | {a.get('precision', 0):6.3f} {a.get('recall', 0):6.3f} {a.get('f1', 0):6.3f}"
            f" | {b.get('precision', 0):6.3f} {b.get('recall', 0):6.3f} {b.get('f1', 0):6.3f}"
        )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a model trained without NumberAndDateExtractor")
    parser.add_argument("--data", type=Path, action="append", required=True, help="Rasa NLU YAML; repeatable")
    parser.add_argument("--errors", action="store_true", help="list (b)'s misses and extras on the four entities")
    args = parser.parse_args(argv)
    for data in args.data:
        before, after, errors = compare(args.model, data)
        print_comparison(str(data), before, after)
        if args.errors:
            for e in errors:
                print(f"    {e['kind']:6s} {e['entity']:15s} {e['span']!r:25s} | {e['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
