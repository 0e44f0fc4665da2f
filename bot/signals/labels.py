"""Label sets of the heads, in the order the models' outputs use."""

from __future__ import annotations

from typing import Dict, List

FRUSTRATION = ["calm", "annoyed", "angry"]
URGENCY = ["none", "electricity", "water", "internet"]
DIALECT = ["msa", "gulf", "egyptian", "levantine", "maghrebi"]
# Optional fourth head, trained only when the public sentiment datasets are present.
SENTIMENT = ["negative", "neutral", "positive"]

# The three heads every signals model has, in a fixed order.
SIGNAL_HEADS: Dict[str, List[str]] = {
    "frustration": FRUSTRATION,
    "urgency": URGENCY,
    "dialect": DIALECT,
}
