"""Unlabelled Arabic text for the tokenizer and masked-LM pretraining."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, List

import yaml

from bot.signals.data import REPO_ROOT

NLU_DIR = REPO_ROOT / "nlu_data"
# Rasa inline entity markup: [text](entity) or [text]{"entity": ...}
_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def nlu_texts(folder: Path = NLU_DIR) -> List[str]:
    """Example texts of the Rasa NLU YAML files, entity markup removed."""
    texts = []
    for path in sorted(Path(folder).glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in document.get("nlu") or []:
            examples = block.get("examples")
            if isinstance(examples, str):  # "- text\n- text" block form
                items = [line[2:] for line in examples.splitlines() if line.startswith("- ")]
            elif isinstance(examples, list):
                items = [item.get("text", "") if isinstance(item, dict) else str(item) for item in examples]
            else:
                continue
            # lookup tables are lists of names, not sentences: skip them
            if "lookup" in block or "regex" in block:
                continue
            texts += [_ENTITY.sub(r"\1", item).strip() for item in items if item and item.strip()]
    return texts


def unique(texts: Iterable[str]) -> List[str]:
    """Drop empty and repeated texts, keeping the first occurrence's order."""
    seen, out = set(), []
    for text in texts:
        if text and text not in seen:
            seen.add(text)
            out.append(text)
    return out
