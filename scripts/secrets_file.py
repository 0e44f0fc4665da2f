"""Local secrets of ``make run``: generated once into ``.env.local``, reused afterwards.

The file holds ``NAME=value`` lines, is created with mode 0600 and is ignored by git.
A value already in the environment wins over the file; a name missing from the file
is generated and added, so the file only ever grows. Production sets these secrets
itself (see SECURITY.md) and never relies on this file.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Callable, Dict, Iterable, Mapping, Optional, Tuple

# every secret the local stack needs
SECRET_NAMES = ("RASA_TOKEN", "HANDOFF_SERVICE_TOKEN", "WEBCHAT_SECRET", "ACTION_SERVER_TOKEN", "REDIS_PASSWORD")
LINE = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.*?)\s*$")


def parse(text: str) -> Dict[str, str]:
    """``NAME=value`` lines; blank lines, comments and anything else are skipped."""
    values: Dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = LINE.match(line)
        if match and match.group(2):
            values[match.group(1)] = match.group(2)
    return values


def render(values: Mapping[str, str]) -> str:
    header = "# Local secrets of `make run` (scripts/secrets_file.py). Never commit this file.\n"
    return header + "".join(f"{name}={value}\n" for name, value in values.items())


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600), also when the file existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def load_or_create(
    path: Path,
    names: Iterable[str] = SECRET_NAMES,
    environ: Optional[Mapping[str, str]] = None,
    generate: Callable[[], str] = lambda: secrets.token_urlsafe(32),
) -> Tuple[Dict[str, str], bool]:
    """The secrets to use, generating into ``path`` those the file lacks.

    Args:
        path: the secrets file (``.env.local`` in the repository root).
        names: the secrets needed.
        environ: the environment (default ``os.environ``); its non-empty values win.
        generate: makes one new secret.

    Returns:
        ``(values, written)``: name -> value for every name, and whether the file was
        (re)written because a name was missing from it.
    """
    environ = os.environ if environ is None else environ
    path = Path(path)
    stored = parse(path.read_text(encoding="utf-8")) if path.exists() else {}
    missing = [name for name in names if not stored.get(name)]
    for name in missing:
        stored[name] = generate()
    if missing:
        _write_private(path, render(stored))
    elif path.exists() and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # someone loosened it: tighten again
    values = {name: environ.get(name) or stored[name] for name in names}
    return values, bool(missing)
