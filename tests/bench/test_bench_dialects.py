"""The leave-one-dialect-out protocol splits, scores and reports as documented."""

from bench import dialects, summary
from bench.dialects import Example


def examples():
    rows = [("a", "msa", "arabic"), ("b", "msa", "arabic"), ("a", "gulf", "arabic"), ("b", "gulf", "arabizi"), ("a", "maghrebi", "mixed")]
    return [Example(f"text {i}", intent, dialect, script) for i, (intent, dialect, script) in enumerate(rows)]


def test_every_dialect_and_present_script_is_left_out_once():
    folds = dialects.folds(examples())
    assert [(kind, value) for kind, value, _, _ in folds] == [
        ("dialect", "gulf"), ("dialect", "maghrebi"), ("dialect", "msa"), ("script", "arabizi"), ("script", "mixed"),
    ]
    for kind, value, train, test in folds:
        key = (lambda e: e.dialect) if kind == "dialect" else (lambda e: e.script)
        assert all(key(e) == value for e in test) and all(key(e) != value for e in train)


def test_macro_f1_counts_only_intents_present_in_the_gold_labels():
    assert dialects.macro_f1(["a", "a"], ["a", "b"]) == 2 / 3


def test_matching_threshold_keeps_the_reference_fallback_rate():
    reference = ([0.1, 0.2, 0.5, 0.9], [False, True, True, True])
    candidate = ([0.5, 0.7, 0.95, 0.99], [False, True, True, True])
    result = dialects.matching_threshold(reference, candidate, 0.3)
    assert result["fallback_rate"] == 0.5
    assert 0.7 <= result["threshold"] <= 0.95
    assert result["same_accuracy_threshold"] <= result["threshold"]


def test_summary_renders_the_dialect_table():
    section = {
        "status": "ok",
        "variants": {"baseline": None, "shipped": {}},
        "leave_one_out": {
            "folds": {"gulf": {"kind": "dialect", "test": 3, "baseline": 0.5, "shipped": 0.75}},
            "mean_dialect": {"baseline": 0.5, "shipped": 0.75},
        },
    }
    text = summary.render({"dialects": section})
    assert "| dialect gulf | 3 | 0.5000 | 0.7500 |" in text
    assert "| mean of dialects | – | 0.5000 | 0.7500 |" in text
    assert "mean of all folds" not in text  # a run from before the second mean
    section["leave_one_out"]["folds"]["arabizi"] = {"kind": "script", "test": 2, "baseline": 0.25, "shipped": 0.75}
    section["leave_one_out"]["mean_all"] = {"baseline": 0.375, "shipped": 0.75}
    text = summary.render({"dialects": section})
    assert "| mean of all folds (dialects, Arabizi, code-switching) | – | 0.3750 | 0.7500 |" in text


def test_leave_one_out_means_the_dialects_and_every_fold(monkeypatch):
    fixed = {"gulf": 0.5, "msa": 0.7, "arabizi": 0.9}

    def fake_trainer(variant, base):
        def fit(texts, intents):
            return lambda test: test  # predictions are scored by the patched macro_f1
        return fit

    examples = [Example(name, "greet", name, "arabic") for name in fixed]  # each text names its fold
    monkeypatch.setattr(dialects, "folds", lambda given: [
        ("script" if e.text == "arabizi" else "dialect", e.text, [x for x in given if x is not e], [e]) for e in given
    ])
    monkeypatch.setattr(dialects, "trainer", fake_trainer)
    monkeypatch.setattr(dialects, "macro_f1", lambda truth, predicted: fixed[predicted[0]])
    result = dialects.leave_one_out(examples, ["shipped"], {}, log=lambda line: None)
    assert result["mean_dialect"] == {"shipped": 0.6}
    assert result["mean_all"] == {"shipped": 0.7}
