"""Canned replies from an editable Arabic YAML file, re-read when it changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import yaml


class CannedReplies:
    """The replies in ``path``, reloaded whenever the file's modification time changes.

    The file is a list of ``{id, title, text}`` (see ``handoff/canned_replies.yml``).
    A broken edit keeps the last good list instead of emptying the console.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        self._replies: List[Dict[str, str]] = []
        self.error = ""

    def all(self) -> List[Dict[str, str]]:
        try:
            mtime = self.path.stat().st_mtime
        except OSError as error:
            self.error = f"cannot read {self.path}: {error}"
            return self._replies
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self._replies = self._parse(yaml.safe_load(self.path.read_text(encoding="utf-8")))
                self.error = ""
            except (yaml.YAMLError, ValueError) as error:
                self.error = f"{self.path}: {error}"
        return self._replies

    @staticmethod
    def _parse(data: Any) -> List[Dict[str, str]]:
        items = data.get("replies") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError("expected a list of replies")
        replies = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError(f"reply {index + 1} needs a text")
            replies.append(
                {
                    "id": str(item.get("id") or index + 1),
                    "title": str(item.get("title") or item["text"][:30]),
                    "text": item["text"].strip(),
                }
            )
        return replies
