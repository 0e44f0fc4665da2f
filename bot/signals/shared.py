"""Optional public datasets in ``../shared/datasets`` (ASTD, ArSarcasm-v2, ArBanking77).

They are read in place and never copied into the repository. Every loader returns
an empty result when its files are absent, so training and evaluation run without
them. Splits:

* ASTD: the published ``4class-unbalanced-{train,validation,test}`` index files.
* ArSarcasm-v2: only its training file is present, so it is split here by a hash
  of the tweet text: bucket 0 (about 10 %) is a test part that training never sees,
  bucket 1 validation, the rest training. Equal tweets share a bucket.
* ArBanking77: ``train.csv`` and ``val.csv`` texts, as unlabelled pretraining text only.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bot.signals.data import REPO_ROOT, stable_bucket

ASTD_LABELS = {"NEG": "negative", "POS": "positive", "OBJ": "neutral", "NEUTRAL": "neutral"}
ARSARCASM_LABELS = {"NEG": "negative", "POS": "positive", "NEU": "neutral"}
LICENCES = {
    "astd": ("ASTD: Arabic Sentiment Tweets Dataset (Nabil, Aly and Atiya, 2015)", "GPL-2.0"),
    "arsarcasm-v2": ("ArSarcasm-v2 (Abu Farha, Zaghouani and Magdy, 2021)", "MIT"),
    "arbanking77": ("ArBanking77 (Sina Lab, Birzeit University)", "CC BY-SA 4.0"),
}
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")


def datasets_dir(explicit: Optional[str] = None) -> Optional[Path]:
    """The shared datasets folder, or None when it is absent or switched off.

    Order: the explicit argument (``"none"`` switches them off), the
    ``SHARED_DATASETS`` environment variable, ``../shared/datasets`` from the repo root.
    """
    value = explicit if explicit is not None else os.environ.get("SHARED_DATASETS")
    if value is not None and value.strip().lower() in {"", "none", "off"}:
        return None
    folder = Path(value) if value else REPO_ROOT.parent / "shared" / "datasets"
    return folder if folder.is_dir() else None


def clean_tweet(text: str) -> str:
    """Tweets without URLs and @mentions, hashtags as words (``#كلمة_اخرى`` → ``كلمة اخرى``)."""
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    text = re.sub(r"#(\w+)", lambda m: m.group(1).replace("_", " "), text)
    return " ".join(text.split())


@dataclass
class SentimentData:
    """Sentiment examples (text, label) by split and by source, plus the sources used."""

    train: List[Tuple[str, str]] = field(default_factory=list)
    validation: List[Tuple[str, str]] = field(default_factory=list)
    test: Dict[str, List[Tuple[str, str]]] = field(default_factory=dict)
    sources: List[str] = field(default_factory=list)


def _astd(folder: Path, data: SentimentData) -> None:
    tweets_file = folder / "astd" / "Tweets.txt"
    if not tweets_file.is_file():
        return
    rows: List[Tuple[str, str]] = []
    for line in tweets_file.read_text(encoding="utf-8").splitlines():
        text, _, label = line.rpartition("\t")
        rows.append((clean_tweet(text), ASTD_LABELS.get(label.strip(), "")))

    def split(name: str) -> List[Tuple[str, str]]:
        path = folder / "astd" / f"4class-unbalanced-{name}.txt"
        indices = [int(x) for x in path.read_text().split()] if path.is_file() else []
        return [rows[i] for i in indices if i < len(rows) and rows[i][1] and rows[i][0]]

    data.train += split("train")
    data.validation += split("validation")
    data.test["astd"] = split("test")
    data.sources.append("astd")


def _arsarcasm(folder: Path, data: SentimentData) -> None:
    path = folder / "arsarcasm-v2" / "training_data.csv"
    if not path.is_file():
        return
    test: List[Tuple[str, str]] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            # the file wraps tweets in literal quotes ("""text""")
            text = clean_tweet((row.get("tweet") or "").strip().strip('"'))
            label = ARSARCASM_LABELS.get((row.get("sentiment") or "").strip())
            if not text or not label:
                continue
            bucket = stable_bucket(text, 10)
            target = test if bucket == 0 else data.validation if bucket == 1 else data.train
            target.append((text, label))
    data.test["arsarcasm-v2"] = test
    data.sources.append("arsarcasm-v2")


def load_sentiment(folder: Optional[Path]) -> SentimentData:
    """ASTD and ArSarcasm-v2 sentiment splits; empty when ``folder`` is None."""
    data = SentimentData()
    if folder is not None:
        _astd(folder, data)
        _arsarcasm(folder, data)
    return data


def load_arbanking_texts(folder: Optional[Path]) -> List[str]:
    """ArBanking77 train and validation queries (unlabelled use), or nothing."""
    texts: List[str] = []
    if folder is None:
        return texts
    for name in ("train.csv", "val.csv"):
        path = folder / "arbanking77" / name
        if path.is_file():
            with open(path, encoding="utf-8", newline="") as handle:
                texts += [row["text"].strip() for row in csv.DictReader(handle) if row.get("text")]
    return texts
