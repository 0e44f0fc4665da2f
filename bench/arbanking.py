"""ArBanking77: find the dataset, read its CSV files, write them as Rasa NLU YAML.

The dataset (CC BY-SA 4.0, Sina Lab, Birzeit University) lives outside the
repository and is never copied into it: the YAML files are written to a
temporary folder for the duration of a run.

Its labels are Arabic phrases (``وصول البطاقة``). Rasa intent names end up in
model files, logs and TensorFlow label tables, so every label is mapped to an
ASCII identifier (from ``intents.csv``'s English name when available) and the
mapping is kept so that reports can show the original label.
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
# Published reference: AraBERT fine-tuned on train.csv (../shared/datasets/README.md).
PUBLISHED_ARABERT_F1 = {"test_msa": 0.92, "test_pal": 0.90}
ATTRIBUTION = "ArBanking77 (CC BY-SA 4.0, Sina Lab, Birzeit University)"

_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Example:
    """One labelled query.

    Attributes:
        label: the dataset's label, as written in the CSV (Arabic).
        text: the query, unchanged.
    """

    label: str
    text: str


def default_folder(environ: Optional[Mapping[str, str]] = None) -> Path:
    """Where ArBanking77 is expected when ``--arbanking`` is not given.

    ``$SHARED_DATASETS/arbanking77`` when the variable is set, otherwise
    ``../shared/datasets/arbanking77`` next to the repository.
    """
    environ = os.environ if environ is None else environ
    shared = environ.get("SHARED_DATASETS")
    base = Path(shared) if shared else ROOT.parent / "shared" / "datasets"
    return base / "arbanking77"


def missing_reason(folder: Path) -> Optional[str]:
    """Why the folder cannot be used, or None when train.csv and a test file exist."""
    if not folder.is_dir():
        return f"ArBanking77 folder not found: {folder} (pass --arbanking DIR or set SHARED_DATASETS)"
    if not (folder / "train.csv").is_file():
        return f"ArBanking77 folder has no train.csv: {folder}"
    if not test_files(folder):
        return f"ArBanking77 folder has no test_*.csv: {folder}"
    return None


def test_files(folder: Path) -> Dict[str, Path]:
    """Every ``test_*.csv`` in the folder, by name without extension (``test_msa``)."""
    return {path.stem: path for path in sorted(folder.glob("test_*.csv"))}


def read_csv(path: Path) -> List[Example]:
    """Examples of a ``label,text`` CSV file; blank texts are skipped."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle)
        return [Example(row["label"].strip(), row["text"].strip()) for row in rows if (row.get("text") or "").strip()]


def read_english_names(folder: Path) -> Dict[str, str]:
    """Arabic label → English label from ``intents.csv`` (empty when absent)."""
    path = folder / "intents.csv"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["label_ar"].strip(): row["label_en"].strip() for row in csv.DictReader(handle)}


def label_map(labels: Iterable[str], english: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """A unique ASCII identifier for every label.

    Args:
        labels: the dataset's labels (any order, repeats allowed).
        english: optional Arabic → English names; ``card arrival`` becomes
            ``card_arrival``. Labels without one become ``intent_00``, ``intent_01``…
            in sorted order, so the mapping is the same on every run.

    Returns:
        label → identifier (``[a-z][a-z0-9_]*``), distinct for distinct labels.
    """
    english = english or {}
    mapping: Dict[str, str] = {}
    used: set = set()
    for index, label in enumerate(sorted(set(labels))):
        base = _NOT_IDENTIFIER.sub("_", english.get(label, "").lower()).strip("_")
        if not base or not base[0].isalpha():
            base = f"intent_{index:02d}"
        name, suffix = base, 2
        while name in used:
            name, suffix = f"{base}_{suffix}", suffix + 1
        used.add(name)
        mapping[label] = name
    return mapping


def stratified_sample(examples: Sequence[Example], per_label: int, seed: int = 13) -> List[Example]:
    """At most ``per_label`` examples of every label, chosen with a fixed seed.

    Keeps every label present (what a quick run needs for a fair macro-F1) and the
    original order of the kept examples.
    """
    by_label: Dict[str, List[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        by_label[example.label].append(i)
    rng = random.Random(seed)
    keep = set()
    for indices in by_label.values():
        keep.update(indices if len(indices) <= per_label else rng.sample(indices, per_label))
    return [examples[i] for i in sorted(keep)]


def to_rasa_yaml(examples: Sequence[Example], mapping: Mapping[str, str]) -> str:
    """Rasa 3.x NLU YAML with one intent block per label.

    Texts are written inside a literal block (``examples: |``), so Arabic,
    quotes and colons stay exactly as in the CSV; only line breaks, which the
    format cannot carry inside one example, are folded to spaces.
    """
    grouped: Dict[str, List[str]] = defaultdict(list)
    for example in examples:
        grouped[mapping[example.label]].append(" ".join(example.text.split()))
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(grouped):
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {text}" for text in grouped[intent])
    return "\n".join(lines) + "\n"


def write_rasa_yaml(examples: Sequence[Example], mapping: Mapping[str, str], path: Path) -> Path:
    """Write :func:`to_rasa_yaml` to ``path`` (UTF-8) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_rasa_yaml(examples, mapping), encoding="utf-8")
    return path


@dataclass
class PreparedData:
    """ArBanking77 converted for one run.

    Attributes:
        folder: the dataset folder read.
        train_yaml: Rasa NLU YAML of the (possibly subsampled) training set.
        tests: test name → (YAML path, number of examples).
        mapping: Arabic label → intent identifier.
        train_examples: how many training examples were written.
    """

    folder: Path
    train_yaml: Path
    tests: Dict[str, Tuple[Path, int]]
    mapping: Dict[str, str]
    train_examples: int


def prepare(folder: Path, work_dir: Path, train_per_label: Optional[int] = None, test_per_label: Optional[int] = None) -> PreparedData:
    """Convert train.csv and every test_*.csv to Rasa YAML under ``work_dir``.

    Args:
        folder: the ArBanking77 folder (checked with :func:`missing_reason` first).
        work_dir: a temporary folder; nothing is written into the repository.
        train_per_label / test_per_label: stratified subsample sizes (quick runs);
            None keeps every example.
    """
    train = read_csv(folder / "train.csv")
    tests = {name: read_csv(path) for name, path in test_files(folder).items()}
    mapping = label_map([e.label for e in train], read_english_names(folder))
    unknown = {e.label for examples in tests.values() for e in examples} - set(mapping)
    if unknown:
        raise ValueError(f"test labels missing from train.csv: {sorted(unknown)[:5]}")
    if train_per_label:
        train = stratified_sample(train, train_per_label)
    written = {}
    for name, examples in tests.items():
        if test_per_label:
            examples = stratified_sample(examples, test_per_label)
        written[name] = (write_rasa_yaml(examples, mapping, work_dir / f"{name}.yml"), len(examples))
    train_yaml = write_rasa_yaml(train, mapping, work_dir / "train.yml")
    return PreparedData(folder, train_yaml, written, mapping, len(train))
