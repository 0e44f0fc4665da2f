"""The labelled signals CSVs and the train/validation split used for model selection."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

from bot.signals.labels import SIGNAL_HEADS

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / "nlu_data" / "signals"
HELDOUT_FILE = REPO_ROOT / "tests" / "data" / "signals_heldout.csv"
COLUMNS = ("text", "frustration", "urgency", "dialect", "script")


@dataclass(frozen=True)
class Example:
    """One labelled message.

    Attributes:
        text: the raw message.
        labels: head name to label (frustration, urgency, dialect).
        script: arabic, arabizi or mixed.
        source: the file it came from.
    """

    text: str
    labels: Dict[str, str]
    script: str = "arabic"
    source: str = ""


def read_csv(path: Path) -> List[Example]:
    """Read one signals CSV, checking its header and every label.

    Raises:
        ValueError: on a missing column or a label outside the README's sets.
    """
    examples = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS[:4]) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            text = (row["text"] or "").strip()
            if not text:
                continue
            labels = {head: (row[head] or "").strip() for head in SIGNAL_HEADS}
            for head, label in labels.items():
                if label not in SIGNAL_HEADS[head]:
                    raise ValueError(f"{path}:{line}: {head}={label!r} is not one of {SIGNAL_HEADS[head]}")
            examples.append(Example(text, labels, (row.get("script") or "arabic").strip(), path.name))
    return examples


def read_dir(folder: Path = DEFAULT_DATA_DIR) -> List[Example]:
    """All ``*.csv`` files of a folder, in file-name order (deterministic)."""
    files = sorted(Path(folder).glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no signals CSV files in {folder}")
    return [example for path in files for example in read_csv(path)]


def stable_bucket(text: str, buckets: int = 100) -> int:
    """A bucket that depends only on the text (not on file order or seeds)."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % buckets


def split_validation(
    examples: Sequence[Example], fraction: float = 0.1, seed: int = 13
) -> Tuple[List[Example], List[Example]]:
    """Hold out about ``fraction`` of the rows, stratified by dialect and urgency.

    Stratification keeps every dialect and every service in the validation split,
    which is small (~180 rows) and drives model selection.
    """
    import numpy as np

    groups: Dict[Tuple[str, str], List[int]] = {}
    for index, example in enumerate(examples):
        groups.setdefault((example.labels["dialect"], example.labels["urgency"]), []).append(index)
    rng = np.random.default_rng(seed)
    validation = set()
    for key in sorted(groups):
        members = groups[key]
        count = int(round(len(members) * fraction))
        if count and len(members) > 1:
            validation.update(rng.choice(members, size=min(count, len(members) - 1), replace=False).tolist())
    train = [e for i, e in enumerate(examples) if i not in validation]
    valid = [e for i, e in enumerate(examples) if i in validation]
    return train, valid


def drop_overlap(examples: Iterable[Example], forbidden: set, key) -> Tuple[List[Example], int]:
    """Examples whose ``key(text)`` is not in ``forbidden``, and how many were dropped."""
    kept, dropped = [], 0
    for example in examples:
        if key(example.text) in forbidden:
            dropped += 1
        else:
            kept.append(example)
    return kept, dropped
