"""Per-head choice between transformer, linear baseline and their average."""

import numpy as np
import pytest

from bot.signals.combine import CHOICES, choose, combine, selection_score

LABELS = ["calm", "annoyed", "angry"]
TRUTH = [0, 1, 2, 0]
PERFECT = np.eye(3)[TRUTH]
WRONG = np.eye(3)[[1, 2, 0, 1]]


def test_combine():
    assert combine("linear", None, PERFECT) is PERFECT
    assert combine("transformer", WRONG, PERFECT) is WRONG
    np.testing.assert_allclose(combine("average", WRONG, PERFECT), (WRONG + PERFECT) / 2)
    with pytest.raises(ValueError):
        combine("transformer", None, PERFECT)
    with pytest.raises(ValueError):
        combine("vote", WRONG, PERFECT)


def test_the_better_model_wins():
    assert choose(TRUTH, PERFECT, WRONG, LABELS).choice == "transformer"
    assert choose(TRUTH, WRONG, PERFECT, LABELS).choice == "linear"


def test_average_wins_when_it_beats_both():
    # each model alone gets one row wrong; their average gets every row right
    transformer = np.array([[0.6, 0.4, 0], [0.1, 0.9, 0], [0, 0.45, 0.55], [0.4, 0.6, 0]])
    linear = np.array([[0.45, 0.55, 0], [0.1, 0.9, 0], [0, 0.1, 0.9], [0.9, 0.1, 0]])
    selection = choose(TRUTH, transformer, linear, LABELS)
    assert selection.choice == "average"
    assert selection.scores["average"] == 1.0 > max(selection.scores["transformer"], selection.scores["linear"])


def test_ties_prefer_average_then_linear():
    assert choose(TRUTH, PERFECT, PERFECT, LABELS).choice == "average"
    assert CHOICES == ("average", "linear", "transformer")


def test_without_a_transformer_only_linear_is_possible():
    selection = choose(TRUTH, None, WRONG, LABELS)
    assert selection.choice == "linear" and set(selection.scores) == {"linear"}


def test_critical_decision_counts_half():
    # calm and annoyed swapped everywhere, angry always right: macro-F1 1/3, angry-vs-rest F1 1
    swapped = np.eye(3)[[1, 0, 2, 1]]
    assert selection_score(TRUTH, swapped, LABELS) == pytest.approx(1 / 3)
    assert selection_score(TRUTH, swapped, LABELS, ("angry",)) == pytest.approx((1 / 3 + 1) / 2)
