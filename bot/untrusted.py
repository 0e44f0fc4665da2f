"""Checks on untrusted input shared by the Rasa channels and the handoff service.

Three things every door into the system must do the same way, so they live in
one dependency-free module (``handoff/`` and ``bot/channels/`` both import it):

- parse JSON with a bound on nesting: ``json.loads`` recurses once per ``[`` or
  ``{``, so ``"[" * 20000`` ends in ``RecursionError`` (a 500) instead of a 400;
- compare a header or token with a secret without ever raising:
  ``hmac.compare_digest`` refuses ``str`` values with non-ASCII characters
  (``TypeError``), and a header like ``Authorization: Bearer تجربة`` is exactly that;
- remove the invisible bidirectional and zero-width controls a customer can hide
  in a message to reorder what an agent or trainer reads (a reversed IBAN, a
  phone number that is not the one shown).
"""

from __future__ import annotations

import bisect
import hmac
import json
import re
from typing import Any, Callable, Dict, Tuple, Union

# Deep enough for every payload we accept (tickets nest four levels), shallow
# enough that json.loads never comes near the recursion limit.
MAX_JSON_DEPTH = 32
# Strings (skipped whole, escapes included; an unterminated one runs to the end)
# and the brackets outside them. The regex engine walks strings in C (the
# "unrolled loop" form, about 4x faster than an alternation): a 512 kB body
# costs about 10 ms, not a Python step per character.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)
# Zero-width space/joiners, LRM/RLM, the bidi embeddings/overrides (LRE..RLO),
# the isolates (LRI..PDI), the BOM / zero-width no-break space and the Arabic
# letter mark. None of them is needed to write Arabic or English correctly.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u061c]")


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than allowed (refused before parsing)."""


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` opens more than ``limit`` arrays/objects inside each other.

    Brackets inside strings do not count. The scan does not validate JSON; it
    only makes sure :func:`json.loads` will not recurse deeper than ``limit``.
    """
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def loads_limited(raw: Union[bytes, str], max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` of a UTF-8 body, refusing deep nesting before it is parsed.

    Raises:
        UnicodeDecodeError: the bytes are not UTF-8.
        JsonTooDeep: nested deeper than ``max_depth``.
        ValueError: not JSON (``json.JSONDecodeError``) or a number too long to convert.
    """
    text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    if json_depth_exceeds(text, max_depth):
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)


class RefusedBody(ValueError):
    """A request body refused before use, with the HTTP status, a code and the Arabic reason."""

    def __init__(self, status: int, code: str, message_ar: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message_ar = message_ar


def json_object(raw: Union[bytes, str], max_bytes: int) -> Dict[str, Any]:
    """The JSON object of a request body (a webhook, a WebSocket frame, an API call).

    One reading for the channels and the handoff service: size first, then the
    nesting (``"[" * 20000`` would otherwise end in a RecursionError, a 500), then
    UTF-8, JSON and the object shape.

    Raises:
        RefusedBody: too large (413), not UTF-8, too deep, not JSON or not an object (400).
    """
    if len(raw) > max_bytes:
        raise RefusedBody(413, "body_too_large", "الطلب أكبر من المسموح.")
    try:
        payload = loads_limited(raw) if raw.strip() else None
    except UnicodeDecodeError:
        raise RefusedBody(400, "invalid_utf8", "تعذّرت قراءة الطلب: الترميز ليس UTF-8.") from None
    except JsonTooDeep:
        raise RefusedBody(400, "json_too_deep", f"الطلب متداخل بأكثر من {MAX_JSON_DEPTH} مستوى.") from None
    except ValueError:  # JSONDecodeError, or a number too long to convert
        raise RefusedBody(400, "invalid_json", "تعذّرت قراءة الطلب: صيغة JSON غير صحيحة.") from None
    if not isinstance(payload, dict):
        raise RefusedBody(400, "invalid_payload", "الطلب يجب أن يكون كائن JSON.")
    return payload


def _as_bytes(value: str) -> bytes:
    # surrogatepass: a header decoded with surrogateescape (Sanic) still encodes,
    # and distinct strings stay distinct bytes, so nothing new compares equal
    return value.encode("utf-8", "surrogatepass")


def safe_equal(given: Any, expected: str) -> bool:
    """Constant-time ``given == expected`` for a secret; False, never an exception.

    Args:
        given: what the request sent (a header value, a token); any type.
        expected: the secret; an empty secret matches nothing.
    """
    if not isinstance(given, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(_as_bytes(given), _as_bytes(expected))


def strip_invisible(text: str) -> str:
    """``text`` without bidi and zero-width controls; Arabic letters and marks untouched."""
    return INVISIBLE.sub("", text)


def strip_invisible_mapped(text: str) -> Tuple[str, Callable[[int], int]]:
    """:func:`strip_invisible` plus a map from offsets in ``text`` to offsets in the result.

    Entity spans (Rasa's ``start``/``end``) keep pointing at the same characters.
    """
    if not INVISIBLE.search(text):
        return text, lambda offset: offset
    kept = [index for index, char in enumerate(text) if not INVISIBLE.match(char)]
    return "".join(text[index] for index in kept), lambda offset: bisect.bisect_left(kept, offset)
