"""Cities and districts: the CRF, the rules, and both, out of fold on ``nlu_data/``.

Five folds (stratified by intent, seed 0). Each fold trains the entity part of
``config.yml`` (normaliser, tokenizer, lookup and regex features, the CRF with its
features, the service-type and number/date extractors) on four fifths of the
examples and parses the fifth; every variant below is then scored on the same
parses, exact span, the way ``scripts.evaluate_nlu`` scores entities:

- ``crf``: the CRF's city and district spans as they are (config.yml before E20);
- ``rules``: :class:`bot.nlu.components.PlaceExtractor` with ``keep_statistical: false``;
- ``rules+crf``: the same with ``keep_statistical: true`` (CRF spans no rule contradicts stay).

Every name of ``nlu_data/`` is in the gazetteer (``lexicons/places.yml``), so the
rules find every place of a test fold by name. The ``unlisted`` columns remove the
names of the test fold's places from the gazetteer first: how the variants do on
names nobody listed, where only a place word (حي، مدينة) or the CRF can find them.

Usage:
    python -m bench.places [--folds 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
NLU_DATA = ROOT / "nlu_data"
CONFIG = ROOT / "config.yml"
PLACES = ("city", "district")
# The config.yml components that decide entities before PlaceExtractor.
ENTITY_COMPONENTS = (
    "bot.nlu.components.ArabicNormalizer",
    "bot.nlu.components.ArabicTokenizer",
    "RegexFeaturizer",
    "CRFEntityExtractor",
    "bot.nlu.components.ServiceTypeExtractor",
    "bot.nlu.components.NumberAndDateExtractor",
)
Span = Tuple[str, int, int]


def entity_config() -> Dict[str, Any]:
    """config.yml's pipeline cut down to the components that decide entities."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    pipeline = [c for c in config["pipeline"] if c["name"] in ENTITY_COMPONENTS]
    return {"recipe": "default.v1", "language": config["language"], "pipeline": pipeline, "policies": []}


def load_nlu() -> Any:
    """Every example, lookup table and regex of ``nlu_data/`` (one TrainingData)."""
    from rasa.shared.nlu.training_data.loading import load_data

    files = sorted(p for p in NLU_DATA.glob("*.yml"))
    data = load_data(str(files[0]))
    for path in files[1:]:
        data = data.merge(load_data(str(path)))
    return data


def _gold(message: Any) -> List[Span]:
    return [(e["entity"], int(e["start"]), int(e["end"])) for e in message.get("entities") or [] if e["entity"] in PLACES]


async def _parse(model: str, texts: Sequence[str]) -> List[List[Dict[str, Any]]]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # one debug line per parsed message otherwise
    agent = Agent.load(model)
    return [(await agent.parse_message(text)).get("entities") or [] for text in texts]


def crf_fold(train: Any, test_texts: Sequence[str], workdir: Path) -> List[List[Dict[str, Any]]]:
    """Train the entity pipeline on ``train`` and parse ``test_texts``."""
    from rasa.model_training import train_nlu

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nlu.yml").write_text(train.nlu_as_yaml(), encoding="utf-8")
    (workdir / "config.yml").write_text(yaml.safe_dump(entity_config(), allow_unicode=True), encoding="utf-8")
    model = train_nlu(str(workdir / "config.yml"), str(workdir / "nlu.yml"), str(workdir / "models"))
    if not model:
        raise RuntimeError(f"training failed in {workdir}")
    return asyncio.run(_parse(model, test_texts))


def _name_key(text: str) -> Tuple[str, ...]:
    """The gazetteer key of a place as annotated (a separate Latin article dropped)."""
    from bot.nlu.arabic_text import tokenize

    words = tuple(t.norm for t in tokenize(text))
    return words[1:] if len(words) > 1 and words[0] in ("al", "el", "il", "l") else words


def without_names(lexicon: Any, texts: Sequence[str]) -> Any:
    """The lexicon less the names typed in ``texts`` (and their spellings without a final hamza)."""
    from bot.nlu.place_mentions import _spellings

    removed = {spelling for text in texts for spelling in _spellings(_name_key(text))}
    return dataclasses.replace(lexicon, names={k: v for k, v in lexicon.names.items() if k not in removed})


def score(golds: Sequence[Sequence[Span]], preds: Sequence[Sequence[Span]]) -> Dict[str, Dict[str, float]]:
    """Exact-span precision, recall and F1 per place type."""
    counts: Dict[str, Dict[str, int]] = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0})
    for gold, pred in zip(golds, preds, strict=True):
        g, p = set(gold), set(pred)
        for key in g | p:
            counts[key[0]]["tp" if key in g and key in p else "fp" if key in p else "fn"] += 1
    out = {}
    for kind in PLACES:
        c = counts[kind]
        prec = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        rec = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[kind] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4), **c}
    return out


def run(folds: int = 5, seed: int = 0) -> Dict[str, Any]:
    """Out-of-fold CRF parses, then every variant scored on them."""
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    from bot.nlu.components import PlaceExtractor
    from bot.nlu.place_mentions import load_lexicon

    data = load_nlu()
    examples = [m for m in data.training_examples if m.get("text") and m.get("intent")]
    intents = [m.get("intent") for m in examples]
    parses: List[Optional[List[Dict[str, Any]]]] = [None] * len(examples)
    fold_of = [0] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with tempfile.TemporaryDirectory(prefix="bench-places-") as tmp:
        os.environ.setdefault("RASA_CACHE_DIRECTORY", str(Path(tmp) / "cache"))
        for fold, (train_idx, test_idx) in enumerate(splitter.split(examples, intents)):
            train = TrainingData(
                training_examples=[examples[i] for i in train_idx],
                lookup_tables=data.lookup_tables,
                regex_features=data.regex_features,
            )
            got = crf_fold(train, [examples[i].get("text") for i in test_idx], Path(tmp) / f"fold{fold}")
            for i, entities in zip(test_idx, got, strict=True):
                parses[i], fold_of[i] = entities, fold
            print(f"fold {fold + 1}/{folds} parsed", file=sys.stderr)
    golds = [_gold(m) for m in examples]
    texts = [m.get("text") for m in examples]
    full = load_lexicon()
    unlisted = {
        fold: without_names(full, [t[s:e] for i, t in enumerate(texts) if fold_of[i] == fold for _, s, e in golds[i]])
        for fold in range(folds)
    }
    variants = {"crf": None, "rules": False, "rules+crf": True}
    report: Dict[str, Any] = {"examples": len(examples), "folds": folds, "seed": seed, "scores": {}, "errors": {}}
    for name, keep in variants.items():
        for lexicon_name in ("listed", "unlisted"):
            preds, errors = [], []
            for i, (text, parsed) in enumerate(zip(texts, parses, strict=True)):
                entities = parsed or []
                if keep is not None:
                    lexicon = full if lexicon_name == "listed" else unlisted[fold_of[i]]
                    entities = PlaceExtractor({"keep_statistical": keep}).resolve(text, entities, lexicon)
                pred = [(e["entity"], int(e["start"]), int(e["end"])) for e in entities if e["entity"] in PLACES]
                preds.append(pred)
                for kind, s, e in set(pred) ^ set(golds[i]):
                    errors.append({"text": text, "entity": kind, "span": text[s:e], "error": "fp" if (kind, s, e) in pred else "fn"})
            key = name if keep is None else f"{name}/{lexicon_name}"
            report["scores"][key] = score(golds, preds)
            report["errors"][key] = errors
            if keep is None:
                break
    return report


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    report = run(args.folds)
    print(f"{report['examples']} examples, {report['folds']} folds, exact span")
    print(f"{'variant':22s} {'city P':>7s} {'R':>6s} {'F1':>6s}   {'district P':>10s} {'R':>6s} {'F1':>6s}")
    for name, s in report["scores"].items():
        c, d = s["city"], s["district"]
        print(f"{name:22s} {c['precision']:7.3f} {c['recall']:6.3f} {c['f1']:6.3f}   {d['precision']:10.3f} {d['recall']:6.3f} {d['f1']:6.3f}")
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
