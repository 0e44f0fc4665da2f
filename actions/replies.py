"""The reply catalogue and the picker that avoids robotic repetition.

Every sentence the action server says comes from ``replies.yml`` in the
knowledge folder. A reply has several variants; :func:`pick_variant` chooses
one the customer has not just read, so a re-asked question or a second
fallback never comes back word for word.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Sequence

# How many of the assistant's latest messages a new one should try not to
# repeat. The latest one is never repeated when another variant exists; older
# ones are avoided only when there are variants to spare.
RECENT_WINDOW = 3


class CatalogueError(KeyError):
    """A reply or a placeholder is missing from the catalogue."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Reply:
    """One rendered message.

    Attributes:
        text: the text to send.
        buttons: Rasa buttons (``title`` and ``payload``), possibly empty.
    """

    text: str
    buttons: List[Dict[str, str]] = field(default_factory=list)


class _Strict(dict):
    """Format mapping that names the reply when a placeholder is missing."""

    def __init__(self, values: Mapping[str, Any], key: str) -> None:
        super().__init__(values)
        self.key = key

    def __missing__(self, name: str) -> Any:
        raise CatalogueError(f"reply {self.key!r} needs {{{name}}}, which was not given")


def placeholders(template: str) -> List[str]:
    """The placeholder names a template uses, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def fill(template: str, values: Mapping[str, Any], key: str = "?") -> str:
    """Fill a template's placeholders.

    Raises:
        CatalogueError: a placeholder has no value (a catalogue/code mismatch
            that should fail loudly in tests, not reach a customer half-filled).
    """
    return template.format_map(_Strict(values, key))


def pick_variant(
    candidates: Sequence[str],
    recent: Sequence[str] = (),
    rng: random.Random | None = None,
) -> str:
    """Pick a rendered variant the customer has not just read.

    Args:
        candidates: the rendered variants of one reply.
        recent: the assistant's latest messages, newest first.
        rng: random source (tests pass a seeded one).

    Returns:
        A random candidate that is none of the recent messages if possible;
        else one that at least differs from the latest message; else (all
        variants identical) any candidate.
    """
    if not candidates:
        raise ValueError("a reply needs at least one variant")
    choose = (rng or random).choice
    recent_set = {text.strip() for text in recent}
    fresh = [c for c in candidates if c.strip() not in recent_set]
    if not fresh and recent:
        fresh = [c for c in candidates if c.strip() != recent[0].strip()]
    return choose(fresh or list(candidates))


def recent_bot_texts(events: Iterable[Mapping[str, Any]], limit: int = RECENT_WINDOW) -> List[str]:
    """The texts of the assistant's latest messages, newest first.

    Args:
        events: tracker events (dicts), oldest first.
        limit: how many to return at most.
    """
    texts: List[str] = []
    for event in reversed(list(events)):
        if event.get("event") == "bot" and event.get("text"):
            texts.append(event["text"])
            if len(texts) >= limit:
                break
    return texts


class ReplyCatalogue:
    """The replies, fragments and labels of ``replies.yml``.

    Args:
        data: the parsed YAML (``replies``, ``fragments``, ``labels``).
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._replies: Dict[str, Dict[str, Any]] = {}
        for key, entry in (data.get("replies") or {}).items():
            variants = entry.get("variants") if isinstance(entry, Mapping) else entry
            if not variants or not all(isinstance(v, str) for v in variants):
                raise CatalogueError(f"reply {key!r} needs a list of text variants")
            buttons = list(entry.get("buttons") or []) if isinstance(entry, Mapping) else []
            self._replies[key] = {"variants": list(variants), "buttons": buttons}
        self._fragments: Dict[str, str] = dict(data.get("fragments") or {})
        self._labels: Dict[str, Any] = dict(data.get("labels") or {})

    def keys(self) -> List[str]:
        """All reply keys."""
        return list(self._replies)

    def __contains__(self, key: object) -> bool:
        return key in self._replies

    def variants(self, key: str) -> List[str]:
        """The raw (unfilled) variants of a reply."""
        try:
            return list(self._replies[key]["variants"])
        except KeyError:
            raise CatalogueError(f"no reply {key!r} in the catalogue") from None

    def buttons(self, key: str) -> List[Dict[str, str]]:
        """The buttons of a reply (copies, so callers may not alter the catalogue)."""
        return [dict(b) for b in self._replies[key]["buttons"]] if key in self else []

    def fragment(self, key: str, **values: Any) -> str:
        """A one-line building block, filled."""
        try:
            template = self._fragments[key]
        except KeyError:
            raise CatalogueError(f"no fragment {key!r} in the catalogue") from None
        return fill(template, values, key)

    def label(self, group: str, key: str, default: str | None = None) -> str:
        """A display label (ticket kinds and statuses, weekday names)."""
        labels = self._labels.get(group) or {}
        if key in labels:
            return labels[key]
        if default is not None:
            return default
        raise CatalogueError(f"no label {group}.{key} in the catalogue")

    def month_name(self, month: int) -> str:
        """The name of month 1..12."""
        return self._labels["months"][month - 1]

    def render(
        self,
        key: str,
        values: Mapping[str, Any],
        recent: Sequence[str] = (),
        rng: random.Random | None = None,
    ) -> Reply:
        """Fill every variant of a reply and pick one that is not a repeat.

        Variants are compared after filling: two variants can only be told
        apart by what the customer would actually read.
        """
        rendered = [fill(v, values, key) for v in self.variants(key)]
        return Reply(pick_variant(rendered, recent, rng), self.buttons(key))
