"""Percentiles, latency summaries and the small helpers the steps share."""

import pytest

from bench import stats
from bench.e2e import Level, scripts_for
from bench.latency import rotation
from bench.run import cycle
from bench.training import last_epoch


def test_percentile_interpolates_like_numpy():
    values = [15, 20, 35, 40, 50]
    assert stats.percentile(values, 0) == 15
    assert stats.percentile(values, 50) == 35
    assert stats.percentile(values, 100) == 50
    assert stats.percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile(values, 40)
    assert stats.percentile(list(reversed(values)), 95) == pytest.approx(48.0)


def test_percentile_rejects_empty_and_out_of_range():
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_summary_of_latencies():
    summary = stats.summarize([float(i) for i in range(1, 101)])
    assert summary["count"] == 100
    assert summary["p50"] == 50.5
    assert summary["p95"] == pytest.approx(95.05)
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["max"] == 100
    assert stats.summarize([]) == {"count": 0}


def test_ratio_handles_missing_values():
    assert stats.ratio(3.0, 2.0) == 1.5
    assert stats.ratio(None, 2.0) is None
    assert stats.ratio(1.0, 0) is None


def test_models_take_turns_going_first():
    assert rotation(["a", "b"], 0) == ["a", "b"]
    assert rotation(["a", "b"], 1) == ["b", "a"]
    assert rotation(["a", "b", "c"], 4) == ["b", "c", "a"]


def test_conversation_scripts_are_bounded_and_start_apart():
    scripts = scripts_for(["m0", "m1", "m2", "m3"], Level(2, 3))
    assert scripts == [["m0", "m1", "m2"], ["m2", "m3", "m0"]]
    assert Level(10, 20).requests == 200


def test_cycle_repeats_messages():
    assert cycle(["a", "b"], 5) == ["a", "b", "a", "b", "a"]
    assert cycle([], 3) == []


def test_epoch_progress_is_read_from_a_training_log():
    log = "Epochs:   7%|▋         | 1/15 [01:05<15:10]\rEpochs:  13%|█▎        | 2/15 [02:10<14:05, t_loss=3.1]"
    assert last_epoch(log) == "2/15"
    assert last_epoch("no epochs yet") is None
