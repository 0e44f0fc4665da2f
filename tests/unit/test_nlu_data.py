"""The training data keeps the contract in nlu_data/README.md."""

import collections
from pathlib import Path

import pytest
import yaml

from bot.nlu.arabic_text import normalize
from scripts.nlu_check import DIALECTS, SCRIPTS, iter_examples, plain_text

ROOT = Path(__file__).resolve().parents[2]
TRAINING_FILES = sorted(p for p in (ROOT / "nlu_data").glob("*.yml") if p.name != "lookups.yml")
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"


def _examples(paths):
    return [ex for path in paths for ex in iter_examples(path)]


def _domain_intents():
    core = yaml.safe_load((ROOT / "bot" / "domain" / "core.yml").read_text(encoding="utf-8"))
    return set(core["intents"])


def test_every_domain_intent_has_at_least_40_training_examples():
    counts = collections.Counter(intent for intent, _, _ in _examples(TRAINING_FILES))
    assert set(counts) == _domain_intents()
    assert len(counts) >= 25
    thin = {i: c for i, c in counts.items() if c < 40}
    assert not thin, f"intents with fewer than 40 examples: {thin}"


def test_heldout_has_at_least_8_examples_per_intent():
    counts = collections.Counter(intent for intent, _, _ in _examples([HELDOUT]))
    assert set(counts) == _domain_intents()
    assert min(counts.values()) >= 8


@pytest.mark.parametrize("path", TRAINING_FILES + [HELDOUT], ids=lambda p: p.name)
def test_every_example_is_tagged_with_dialect_and_script(path):
    for intent, text, meta in iter_examples(path):
        assert meta.get("dialect") in DIALECTS, (intent, text)
        assert meta.get("script") in SCRIPTS, (intent, text)


def test_all_five_dialects_and_arabizi_and_code_switching_are_present():
    examples = _examples(TRAINING_FILES)
    assert {m["dialect"] for _, _, m in examples} == DIALECTS
    scripts = collections.Counter(m["script"] for _, _, m in examples)
    assert scripts["arabizi"] >= 100 and scripts["mixed"] >= 80


def test_heldout_never_overlaps_training_after_normalisation():
    training = {normalize(plain_text(t)).text for _, t, _ in _examples(TRAINING_FILES)}
    leaked = [t for _, t, _ in _examples([HELDOUT]) if normalize(plain_text(t)).text in training]
    assert not leaked, f"held-out sentences also in training data: {leaked}"


def test_no_sentence_appears_under_two_intents():
    seen = {}
    conflicts = []
    for intent, text, _ in _examples(TRAINING_FILES):
        key = normalize(plain_text(text)).text
        if key in seen and seen[key] != intent:
            conflicts.append((text, seen[key], intent))
        seen[key] = intent
    assert not conflicts
