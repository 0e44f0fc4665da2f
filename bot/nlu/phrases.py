"""Finding lexicon phrases in a token sequence: longest first, left to right, no overlaps.

The cue lexicon (``cues.py``) and the dialect→MSA lexicon (``dialect_msa.py``) both read
multi-word phrases this way; only how a phrase is looked up differs.
"""

from __future__ import annotations

from typing import Callable, List, Optional, TypeVar

T = TypeVar("T")


def longest_first(count: int, longest: int, match_at: Callable[[int, int], Optional[T]]) -> List[T]:
    """Scan ``count`` tokens greedily for phrases of at most ``longest`` tokens.

    Args:
        count: how many tokens there are.
        longest: the longest phrase, in tokens.
        match_at: ``match_at(start, size)`` returns the match of the phrase of ``size``
            tokens from ``start``, or None.

    Returns:
        The matches, left to right; after a match the scan goes on after its last token.
    """
    found: List[T] = []
    i = 0
    while i < count:
        for size in range(min(longest, count - i), 0, -1):
            hit = match_at(i, size)
            if hit is not None:
                found.append(hit)
                i += size
                break
        else:
            i += 1
    return found
