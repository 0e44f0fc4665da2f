"""SignalsPredictor on a tiny model trained in seconds: output contract and robustness."""

import json
import shutil

import numpy as np
import pytest

from bot.signals.labels import DIALECT, FRUSTRATION, URGENCY
from bot.signals.layout import LINEAR_FILE, SELECTION_FILE
from bot.signals.predict import SignalsPredictor

MESSAGES = [
    "الكهرباء مقطوعة عندنا من امس!!!",
    "el net m2to3 men embare7",
    "متى آخر موعد لسداد الفاتورة؟",
    "حرااااام عليكم، ثلاث أيام بدون موية 😡😡",
    "",
    "🙂",
    "الـ internet فاصل WHY",
]


def _check(result):
    assert set(result) == {"frustration", "urgency", "dialect", "elongated"}
    frustration, urgency, dialect = result["frustration"], result["urgency"], result["dialect"]
    assert set(frustration) == {"level", "score", "probabilities"}
    assert set(urgency) == {"service", "score", "probabilities"}
    assert set(dialect) == {"label", "score"}
    assert frustration["level"] in FRUSTRATION and list(frustration["probabilities"]) == FRUSTRATION
    assert urgency["service"] in URGENCY and list(urgency["probabilities"]) == URGENCY
    assert dialect["label"] in DIALECT
    assert isinstance(result["elongated"], bool)
    for head in (frustration, urgency):
        probabilities = head["probabilities"]
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in probabilities.values())
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    p = frustration["probabilities"]
    assert frustration["score"] == pytest.approx(p["annoyed"] * 0.5 + p["angry"], abs=1e-6)
    assert urgency["score"] == pytest.approx(1.0 - urgency["probabilities"]["none"], abs=1e-6)
    assert frustration["level"] == max(p, key=p.get)
    for score in (frustration["score"], urgency["score"], dialect["score"]):
        assert isinstance(score, float) and 0.0 <= score <= 1.0


def test_output_contract(predictor):
    results = predictor.predict(MESSAGES)
    assert len(results) == len(MESSAGES)
    for result in results:
        _check(result)
    assert results[3]["elongated"] is True and results[0]["elongated"] is False


def test_empty_and_emoji_only_and_empty_batch(predictor):
    for text in ("", "   ", "🙂", "😡😡😡", "!!!"):
        _check(predictor.predict_one(text))
    assert predictor.predict([]) == []


def test_a_5000_character_message_is_truncated_not_rejected(predictor):
    long = ("الانترنت فاصل من اسبوع ولا احد يرد علي " * 200)[:5000]
    assert len(long) == 5000
    _check(predictor.predict_one(long))


def test_the_torch_model_truncates_at_max_length(tiny_model_dir):
    torch_predictor = SignalsPredictor.load(str(tiny_model_dir), num_threads=None, engine="torch")
    encoded = torch_predictor.model.batch(["الانترنت فاصل " * 2000])
    assert encoded["input_ids"].shape[1] == torch_predictor.model.max_length


def test_batch_equals_one_at_a_time(predictor):
    texts = MESSAGES + ["مرحبا " * 300, "ok"]
    batch = predictor.predict(texts)
    for text, result in zip(texts, batch, strict=True):
        single = predictor.predict_one(text)
        assert single["frustration"]["level"] == result["frustration"]["level"]
        assert single["urgency"]["service"] == result["urgency"]["service"]
        assert single["dialect"]["label"] == result["dialect"]["label"]
        for head in ("frustration", "urgency"):
            for label, value in single[head]["probabilities"].items():
                assert result[head]["probabilities"][label] == pytest.approx(value, abs=1e-5)


def test_every_source_gives_probabilities(predictor):
    for source in ("chosen", "transformer", "linear"):
        probabilities = predictor.probabilities(MESSAGES, source)
        assert probabilities["urgency"].shape == (len(MESSAGES), len(URGENCY))
        np.testing.assert_allclose(probabilities["dialect"].sum(1), 1.0, atol=1e-4)
    with pytest.raises(ValueError):
        predictor.probabilities(MESSAGES, "vote")


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_save_load_round_trip_gives_identical_outputs(tiny_model_dir, tmp_path, engine):
    from bot.signals.model import SignalsModel

    copy = tmp_path / "copy"
    SignalsModel.load(str(tiny_model_dir)).save(copy)
    for name in (f"{LINEAR_FILE}.json", f"{LINEAR_FILE}.npz", SELECTION_FILE):
        shutil.copy(tiny_model_dir / name, copy / name)
    original = SignalsPredictor.load(str(tiny_model_dir), num_threads=None, engine=engine)
    reloaded = SignalsPredictor.load(str(copy), num_threads=None, engine=engine)
    for source in ("transformer", "chosen"):
        a, b = original.probabilities(MESSAGES, source), reloaded.probabilities(MESSAGES, source)
        for head in a:
            np.testing.assert_array_equal(a[head], b[head])
    assert reloaded.predict(MESSAGES) == original.predict(MESSAGES)


def test_numpy_runtime_matches_torch(tiny_model_dir):
    texts = MESSAGES + ["الكهرباء " * 400]
    numpy_side = SignalsPredictor.load(str(tiny_model_dir), num_threads=None, engine="numpy")
    torch_side = SignalsPredictor.load(str(tiny_model_dir), num_threads=None, engine="torch")
    assert type(numpy_side.model).__name__ == "NumpySignalsModel"
    a, b = numpy_side.probabilities(texts, "transformer"), torch_side.probabilities(texts, "transformer")
    for head in a:
        np.testing.assert_allclose(a[head], b[head], atol=1e-5)
        assert (a[head].argmax(1) == b[head].argmax(1)).all()


def test_linear_only_selection_never_loads_the_transformer(tiny_model_dir, tmp_path):
    folder = tmp_path / "linear_only"
    shutil.copytree(tiny_model_dir, folder)
    selection = json.loads((folder / SELECTION_FILE).read_text())
    for spec in selection.values():
        spec["choice"] = "linear"
    (folder / SELECTION_FILE).write_text(json.dumps(selection))
    linear_only = SignalsPredictor.load(str(folder))
    _check(linear_only.predict_one("الكهرباء مقطوعة"))
    assert linear_only._model is None


def test_missing_model_names_the_make_target(tmp_path):
    with pytest.raises(FileNotFoundError, match="make train-signals"):
        SignalsPredictor.load(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="make train-signals"):
        SignalsPredictor.load(str(tmp_path / "empty"))


def test_stored_choice_is_used(tiny_model_dir, predictor):
    stored = json.loads((tiny_model_dir / SELECTION_FILE).read_text())
    assert set(stored) == {"frustration", "urgency", "dialect"}  # --tiny trains without public data
    assert predictor.selection == {head: spec["choice"] for head, spec in stored.items()}
    for spec in stored.values():
        assert spec["choice"] in ("transformer", "linear", "average")
        assert spec["scores"][spec["choice"]] == max(spec["scores"].values())


def test_one_message_at_a_time_matches_torch(tiny_model_dir):
    # one message takes the column-wise pass (NumpySignalsModel.pooled_one), batches the padded one
    numpy_side = SignalsPredictor.load(str(tiny_model_dir), num_threads=None, engine="numpy")
    torch_side = SignalsPredictor.load(str(tiny_model_dir), num_threads=None, engine="torch")
    for text in MESSAGES + ["الكهرباء " * 400, "ok"]:
        a, b = numpy_side.probabilities([text], "transformer"), torch_side.probabilities([text], "transformer")
        for head in a:
            np.testing.assert_allclose(a[head], b[head], atol=1e-5)
