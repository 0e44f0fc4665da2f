"""Check Rasa NLU YAML files against the contract in ``nlu_data/README.md``.

Usage:
    python scripts/nlu_check.py nlu_data/billing.yml [more files] [--min 40]

Prints examples per intent, dialect and script, and every problem found
(missing metadata, unknown entity or dialect, duplicates). Exits 1 on problems.
Runs with any Python that has PyYAML; it does not import Rasa.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import yaml

DIALECTS = {"msa", "gulf", "egyptian", "levantine", "maghrebi"}
SCRIPTS = {"arabic", "arabizi", "mixed"}
ENTITIES = {
    "service_type",
    "account_number",
    "phone_number",
    "district",
    "city",
    "ticket_number",
    "date",
}
# [text](entity) or [text]{"entity": ...}
ENTITY_RE = re.compile(r"\[([^\]]+)\](\(([^)]+)\)|\{([^}]+)\})")


def plain_text(annotated: str) -> str:
    """Remove Rasa's inline entity markup, keeping the annotated words."""
    return ENTITY_RE.sub(lambda m: m.group(1), annotated).strip()


def entity_names(annotated: str) -> List[str]:
    names = []
    for m in ENTITY_RE.finditer(annotated):
        if m.group(3):
            names.append(m.group(3).split(":")[0].strip())
        else:
            match = re.search(r'"entity"\s*:\s*"([^"]+)"', m.group(4))
            names.append(match.group(1) if match else "?")
    return names


def iter_examples(path: Path) -> Iterator[Tuple[str, str, Dict[str, Any]]]:
    """Yield (intent, annotated text, metadata) for each example of a file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for block in doc.get("nlu", []) or []:
        intent = block.get("intent")
        if not intent:
            continue
        examples = block.get("examples")
        if isinstance(examples, str):
            for line in examples.splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield intent, line[2:].strip(), {}
        else:
            for item in examples or []:
                yield intent, str(item.get("text", "")).strip(), item.get("metadata") or {}


def check(paths: List[Path], minimum: int) -> int:
    per_intent: Dict[str, int] = collections.Counter()
    per_dialect: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    per_script: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    seen: Dict[str, str] = {}
    problems: List[str] = []
    for path in paths:
        for intent, text, meta in iter_examples(path):
            per_intent[intent] += 1
            dialect, script = meta.get("dialect"), meta.get("script")
            if dialect not in DIALECTS:
                problems.append(f"{path}: {intent}: bad dialect {dialect!r}: {text}")
            if script not in SCRIPTS:
                problems.append(f"{path}: {intent}: bad script {script!r}: {text}")
            per_dialect[intent][dialect] += 1
            per_script[intent][script] += 1
            for name in entity_names(text):
                if name not in ENTITIES:
                    problems.append(f"{path}: {intent}: unknown entity {name!r}: {text}")
            key = re.sub(r"\s+", " ", plain_text(text))
            if key in seen:
                problems.append(f"{path}: duplicate of {seen[key]}: {text}")
            seen[key] = intent
    for intent, count in sorted(per_intent.items()):
        d = " ".join(f"{k}={v}" for k, v in sorted(per_dialect[intent].items(), key=str))
        s = " ".join(f"{k}={v}" for k, v in sorted(per_script[intent].items(), key=str))
        flag = "" if count >= minimum else f"   <-- fewer than {minimum}"
        print(f"{intent:26s} {count:4d}  {d} | {s}{flag}")
        if count < minimum:
            problems.append(f"{intent}: only {count} examples")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--min", type=int, default=40, help="examples required per intent")
    args = parser.parse_args(argv)
    return check(args.files, args.min)


if __name__ == "__main__":
    sys.exit(main())
