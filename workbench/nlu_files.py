"""Writing trainer-approved examples into ``nlu_data/`` without disturbing the files.

Examples are inserted as text at the end of their intent's block, so the order of
intents and examples and every comment stay exactly as the authors left them. The
new file content is parsed with Rasa's own YAML reader before it replaces the old
one (atomically). Duplicates after Arabic normalisation are refused, and so is a
sentence another intent already has (a conflict) or one of the held-out file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from bot.nlu.arabic_text import looks_like_arabizi, normalize
from scripts.nlu_check import DIALECTS, ENTITIES, SCRIPTS, iter_examples, plain_text

_INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_INTENT_LINE = re.compile(r"^(?P<indent>\s*)- intent:\s*(?P<name>\S+)\s*$")
_LATIN = re.compile(r"[A-Za-z]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
FRUSTRATION_LEVELS = {"calm", "annoyed", "angry"}
# one writer at a time per process: read, check, write must not interleave
_WRITE_LOCK = threading.Lock()


class ExampleRefused(ValueError):
    """The example was not written; ``code`` says why, the message says it in words.

    Attributes:
        code: ``invalid``, ``duplicate``, ``conflict`` or ``heldout``.
        details: what it collided with (file, intent, text), for the page to show.
    """

    def __init__(self, code: str, message: str, details: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class EntitySpan:
    """An entity a trainer marked: offsets on the raw (masked) text."""

    start: int
    end: int
    entity: str


@dataclass
class NewExample:
    """What the trainer decided about one message.

    Attributes:
        text: the customer's text as displayed (personal data already masked).
        intent: an existing intent or a new one (then ``file`` is required).
        entities: spans on ``text``.
        dialect: msa, gulf, egyptian, levantine or maghrebi.
        script: arabic, arabizi or mixed; guessed from the text when None.
        frustration: calm, annoyed or angry, when the trainer set it.
        source: where it came from (``inbox``, ``cli``); date: ISO day it was seen.
        file: the ``nlu_data`` file name for a new intent (``billing.yml``).
    """

    text: str
    intent: str
    dialect: str
    entities: Sequence[EntitySpan] = field(default_factory=list)
    script: Optional[str] = None
    frustration: Optional[str] = None
    source: str = "inbox"
    date: str = ""
    file: Optional[str] = None


@dataclass(frozen=True)
class Written:
    """Where an example went, enough to undo it.

    Attributes:
        file: path of the file written.
        snippet: the exact text inserted (intent header included for a new intent).
        annotated: the example in Rasa's inline entity markup.
        new_intent: the intent did not exist before.
        warnings: things the trainer should know (e.g. metadata not stored).
    """

    file: str
    snippet: str
    annotated: str
    new_intent: bool = False
    warnings: Tuple[str, ...] = ()


def normalized_key(annotated_or_plain: str) -> str:
    """The duplicate-detection key: entity markup removed, Arabic normalised."""
    return normalize(plain_text(annotated_or_plain)).text


def guess_script(text: str) -> str:
    """arabizi, mixed (Arabic with Latin words) or arabic."""
    if looks_like_arabizi(text):
        return "arabizi"
    if _LATIN.search(text) and _ARABIC.search(text):
        return "mixed"
    return "arabic"


def training_files(nlu_dir: Path) -> List[Path]:
    return sorted(p for p in Path(nlu_dir).glob("*.yml") if p.is_file())


@dataclass
class ExampleIndex:
    """Every training example's normalised text, and the held-out texts.

    Attributes:
        by_key: normalised text to (intent, file name, annotated text) of its first occurrence.
        intent_files: intent to the file that holds it.
        heldout: normalised held-out texts.
    """

    by_key: Dict[str, Tuple[str, str, str]]
    intent_files: Dict[str, str]
    heldout: set

    @classmethod
    def load(cls, nlu_dir: Path, heldout: Optional[Path] = None) -> ExampleIndex:
        by_key: Dict[str, Tuple[str, str, str]] = {}
        intent_files: Dict[str, str] = {}
        for path in training_files(nlu_dir):
            for intent, text, _ in iter_examples(path):
                intent_files.setdefault(intent, path.name)
                by_key.setdefault(normalized_key(text), (intent, path.name, text))
        held = set()
        if heldout and Path(heldout).exists():
            held = {normalized_key(text) for _, text, _ in iter_examples(Path(heldout))}
        return cls(by_key, intent_files, held)

    def check(self, intent: str, text: str) -> None:
        """Raise :class:`ExampleRefused` for a duplicate, a conflict or a held-out sentence."""
        key = normalized_key(text)
        if key in self.heldout:
            raise ExampleRefused("heldout", "هذه الجملة موجودة في ملف التقييم المحجوز، ولا تُضاف إلى بيانات التدريب. "
                                 "(This sentence is in the held-out evaluation file.)")
        found = self.by_key.get(key)
        if found is None:
            return
        other_intent, file_name, existing = found
        details = {"intent": other_intent, "file": file_name, "text": existing}
        if other_intent == intent:
            raise ExampleRefused("duplicate", f"المثال موجود مسبقاً في {file_name} تحت النية {other_intent} (بعد التطبيع). "
                                 f"(Duplicate after Arabic normalisation: already in {file_name}.)", details)
        raise ExampleRefused("conflict", f"تعارض: الجملة نفسها بعد التطبيع مسجّلة تحت النية {other_intent} في {file_name}، "
                             f"ولم يُكتب شيء. (Conflict: the same normalised text is labelled {other_intent}; nothing written.)", details)


def clean_text(text: str, spans: Sequence[EntitySpan]) -> Tuple[str, List[EntitySpan]]:
    """One line of text with the spans moved to match.

    Line breaks and tabs become spaces (one for one, so offsets hold), then the
    ends are trimmed and every span shifted by what was trimmed at the start.

    Raises:
        ExampleRefused: empty text, square brackets, or a bad span.
    """
    one_line = re.sub(r"\s", " ", text or "")
    stripped = one_line.strip()
    if not stripped:
        raise ExampleRefused("invalid", "النص فارغ. (The text is empty.)")
    if "[" in stripped or "]" in stripped:
        raise ExampleRefused("invalid", "الأقواس المربعة [ ] محجوزة لتعليم الكيانات؛ احذفها من النص. "
                             "(Square brackets are reserved for entity marks.)")
    shift = len(one_line) - len(one_line.lstrip())
    moved: List[EntitySpan] = []
    for span in sorted(spans, key=lambda s: s.start):
        if span.entity not in ENTITIES:
            raise ExampleRefused("invalid", f"كيان غير معروف: {span.entity}. (Unknown entity; use one of {', '.join(sorted(ENTITIES))}.)")
        start, end = span.start - shift, span.end - shift
        if not 0 <= start < end <= len(stripped):
            raise ExampleRefused("invalid", f"حدود الكيان {span.entity} خارج النص. (Entity span outside the text.)")
        piece = stripped[start:end]
        if piece != piece.strip():
            raise ExampleRefused("invalid", "حدود الكيان تبدأ أو تنتهي بمسافة. (An entity span starts or ends with a space.)")
        if moved and start < moved[-1].end:
            raise ExampleRefused("invalid", "كيانان متداخلان. (Two entity spans overlap.)")
        moved.append(EntitySpan(start, end, span.entity))
    return stripped, moved


def annotate(text: str, spans: Sequence[EntitySpan]) -> str:
    """Rasa's inline markup: ``[span](entity)`` around each span, rest as typed."""
    out, last = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        out.append(text[last : span.start])
        out.append(f"[{text[span.start:span.end]}]({span.entity})")
        last = span.end
    out.append(text[last:])
    return "".join(out)


def _entry(annotated: str, metadata: Dict[str, str], indent: str) -> str:
    lines = [f"{indent}- text: |", f"{indent}    {annotated}", f"{indent}  metadata:"]
    # JSON strings are valid double-quoted YAML scalars: no quoting surprises
    lines += [f"{indent}    {key}: {value if re.fullmatch(r'[a-z_]+', value) else json.dumps(value, ensure_ascii=False)}"
              for key, value in metadata.items()]
    return "\n".join(lines) + "\n"


def _block_end(lines: List[str], start: int, indent: int) -> int:
    """Index after the last content line of the intent block starting at ``start``.

    The block ends at the next line indented no deeper than ``- intent:`` that is not
    blank or a comment; blank lines and comments just before it belong to what follows.
    """
    end = len(lines)
    for i in range(start + 1, len(lines)):
        body = lines[i].strip()
        if body and not body.startswith("#") and len(lines[i]) - len(lines[i].lstrip()) <= indent:
            end = i
            break
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].strip().startswith("#")):
        end -= 1
    return end


def insert_example(content: str, intent: str, annotated: str, metadata: Dict[str, str]) -> Tuple[str, str, bool, Tuple[str, ...]]:
    """File content with the example appended to ``intent``'s block (pure).

    Returns:
        (new content, inserted snippet, whether the intent block was created, warnings)
    """
    lines = content.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    intent_indents = []
    for i, line in enumerate(lines):
        match = _INTENT_LINE.match(line.rstrip("\n"))
        if not match:
            continue
        intent_indents.append(match.group("indent"))
        if match.group("name") != intent:
            continue
        indent = len(match.group("indent"))
        end = _block_end(lines, i, indent)
        examples_line = next((ln for ln in lines[i + 1 : end] if ln.strip().startswith("examples:")), "")
        if examples_line.rstrip().endswith("|"):
            # an `examples: |` block: one "- text" line, no room for metadata
            item_indent = next((ln[: len(ln) - len(ln.lstrip())] for ln in lines[i + 1 : end] if ln.strip().startswith("- ")), " " * (indent + 4))
            snippet = f"{item_indent}- {annotated}\n"
            warnings: Tuple[str, ...] = ("metadata not stored: this intent uses an `examples: |` block",)
        else:
            item_indent = next((ln[: len(ln) - len(ln.lstrip())] for ln in lines[i + 1 : end] if ln.strip().startswith("- text:")), " " * (indent + 2))
            snippet = _entry(annotated, metadata, item_indent)
            warnings = ()
        return "".join(lines[:end] + [snippet] + lines[end:]), snippet, False, warnings
    top = intent_indents[0] if intent_indents else ""
    if not any(line.strip().startswith("nlu:") for line in lines):
        raise ExampleRefused("invalid", "الملف ليس ملف بيانات NLU. (Not an NLU data file: no `nlu:` key.)")
    header = f"\n{top}- intent: {intent}\n{top}  examples:\n"
    snippet = header + _entry(annotated, metadata, top + "  ")
    return "".join(lines) + snippet, snippet, True, ()


def validate_content(content: str, intent: str, plain: str) -> None:
    """Parse ``content`` with Rasa's reader and make sure the example is in it.

    Raises:
        ExampleRefused: the YAML does not parse, or the example is not found.
    """
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    try:
        data = RasaYAMLReader().reads(content)
    except Exception as error:  # Rasa raises several kinds; all mean "not written"
        raise ExampleRefused("invalid", f"لم يُكتب شيء: الملف الناتج غير صالح. (Nothing written: the result does not parse: {error})") from error
    if not any(m.get("intent") == intent and (m.get("text") or "").strip() == plain for m in data.training_examples):
        raise ExampleRefused("invalid", "لم يُكتب شيء: لم يظهر المثال بعد القراءة. (Nothing written: the example did not read back.)")


def _atomic_write(path: Path, content: str) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def add_example(nlu_dir: Path, example: NewExample, heldout: Optional[Path] = None) -> Written:
    """Check and write one example into the right ``nlu_data`` file.

    Args:
        nlu_dir: the training data folder.
        example: the trainer's decision.
        heldout: the held-out file, whose sentences are refused.

    Raises:
        ExampleRefused: invalid input, duplicate, conflict or held-out sentence;
            nothing is written.
    """
    if not _INTENT_NAME.match(example.intent or ""):
        raise ExampleRefused("invalid", "اسم النية غير صالح (حروف لاتينية صغيرة وأرقام و _). (Intent names are lower-case a-z, digits, _.)")
    if example.dialect not in DIALECTS:
        raise ExampleRefused("invalid", f"اللهجة غير معروفة: {example.dialect}. (Dialect must be one of {', '.join(sorted(DIALECTS))}.)")
    if example.frustration and example.frustration not in FRUSTRATION_LEVELS:
        raise ExampleRefused("invalid", "مستوى الانزعاج غير معروف. (Frustration must be calm, annoyed or angry.)")
    text, spans = clean_text(example.text, example.entities)
    script = example.script or guess_script(text)
    if script not in SCRIPTS:
        raise ExampleRefused("invalid", f"نوع الكتابة غير معروف: {script}. (Script must be one of {', '.join(sorted(SCRIPTS))}.)")
    annotated = annotate(text, spans)
    metadata = {"dialect": example.dialect, "script": script, "source": example.source}
    if example.date:
        metadata["date"] = example.date
    if example.frustration:
        metadata["frustration"] = example.frustration
    with _WRITE_LOCK:
        index = ExampleIndex.load(nlu_dir, heldout)
        index.check(example.intent, text)
        file_name = index.intent_files.get(example.intent) or example.file
        if not file_name:
            raise ExampleRefused("invalid", "نية جديدة: اختر الملف الذي تُكتب فيه. (A new intent needs a file.)")
        path = Path(nlu_dir) / Path(file_name).name
        if path.suffix != ".yml" or not path.exists():
            raise ExampleRefused("invalid", f"الملف غير موجود: {file_name}. (No such nlu_data file.)")
        before = path.read_text(encoding="utf-8")
        after, snippet, created, warnings = insert_example(before, example.intent, annotated, metadata)
        validate_content(after, example.intent, text)
        _atomic_write(path, after)
    return Written(str(path), snippet, annotated, created, warnings)


def remove_snippet(path: Path, snippet: str) -> None:
    """Undo :func:`add_example`: take the inserted snippet out again.

    Raises:
        ExampleRefused: the snippet is no longer in the file exactly once (edited since).
    """
    with _WRITE_LOCK:
        content = Path(path).read_text(encoding="utf-8")
        if content.count(snippet) != 1:
            raise ExampleRefused("invalid", "تعذّر التراجع: تغيّر الملف منذ ذلك الحين. (Cannot undo: the file changed since.)")
        _atomic_write(Path(path), content.replace(snippet, "", 1))


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
