"""ArBanking77 CSV → Rasa NLU YAML: label mapping, Arabic text intact, sampling."""

import csv
from pathlib import Path

from bench import arbanking

ROWS = [
    ("وصول البطاقة", "ما زلت أنتظر بطاقتي؟"),
    ("وصول البطاقة", 'قال: "وصلت"، لكن لا'),
    ("سعر الصرف", "أين حوالاتي من [الدولة]؟"),
    ("سعر الصرف", "#1 سؤال: كم السعر - اليوم؟"),
    ("حد السن", "كم   عمري\nلازم يكون"),
]


def write_csv(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(["label", "text"])
        writer.writerows(rows)
    return path


def make_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "arbanking77"
    folder.mkdir()
    write_csv(folder / "train.csv", ROWS)
    write_csv(folder / "test_msa.csv", ROWS[:3])
    write_csv(folder / "test_pal.csv", ROWS[2:])
    with open(folder / "intents.csv", "w", encoding="utf-8", newline="") as handle:
        handle.write('label_en,label_ar\n"card arrival","وصول البطاقة"\n"exchange rate","سعر الصرف"\n')
    return folder


def test_labels_map_to_unique_identifiers_with_english_names_when_known():
    mapping = arbanking.label_map(["وصول البطاقة", "سعر الصرف", "حد السن", "وصول البطاقة"], {"وصول البطاقة": "card arrival", "سعر الصرف": "reverted card payment?"})
    assert mapping["وصول البطاقة"] == "card_arrival"
    assert mapping["سعر الصرف"] == "reverted_card_payment"
    assert mapping["حد السن"].startswith("intent_")
    assert len(set(mapping.values())) == 3
    assert all(name.isidentifier() and name.isascii() for name in mapping.values())


def test_colliding_english_names_stay_distinct():
    mapping = arbanking.label_map(["أ", "ب"], {"أ": "Top up!", "ب": "top-up"})
    assert sorted(mapping.values()) == ["top_up", "top_up_2"]


def test_yaml_round_trip_keeps_arabic_text_and_maps_labels(tmp_path):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    folder = make_folder(tmp_path)
    examples = arbanking.read_csv(folder / "train.csv")
    mapping = arbanking.label_map([e.label for e in examples], arbanking.read_english_names(folder))
    path = arbanking.write_rasa_yaml(examples, mapping, tmp_path / "out" / "train.yml")
    data = RasaYAMLReader().read(str(path))
    parsed = sorted((m.get("intent"), m.get("text")) for m in data.training_examples)
    expected = sorted((mapping[e.label], " ".join(e.text.split())) for e in examples)
    assert parsed == expected
    assert ("exchange_rate", "أين حوالاتي من [الدولة]؟") in parsed
    assert not any(m.get("entities") for m in data.training_examples)


def test_prepare_writes_only_into_the_work_folder(tmp_path):
    folder = make_folder(tmp_path)
    prepared = arbanking.prepare(folder, tmp_path / "work")
    assert prepared.train_examples == len(ROWS)
    assert set(prepared.tests) == {"test_msa", "test_pal"}
    assert all(path.parent == tmp_path / "work" for path, _ in prepared.tests.values())
    assert prepared.mapping["وصول البطاقة"] == "card_arrival"


def test_stratified_sample_keeps_every_label_and_is_repeatable():
    examples = [arbanking.Example(f"l{i % 3}", f"t{i}") for i in range(30)]
    sample = arbanking.stratified_sample(examples, 2)
    assert len(sample) == 6
    assert {e.label for e in sample} == {"l0", "l1", "l2"}
    assert sample == arbanking.stratified_sample(examples, 2)


def test_missing_folder_is_reported_not_raised(tmp_path):
    assert "not found" in arbanking.missing_reason(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "train.csv" in arbanking.missing_reason(empty)
    assert arbanking.missing_reason(make_folder(tmp_path)) is None


def test_default_folder_follows_shared_datasets(tmp_path):
    assert arbanking.default_folder({"SHARED_DATASETS": str(tmp_path)}) == tmp_path / "arbanking77"
    assert arbanking.default_folder({}).parts[-3:] == ("shared", "datasets", "arbanking77")


def test_temperature_scaled_svc_survives_a_class_rarer_than_the_folds():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bench.experiments import TemperatureScaledSVC

    texts = ["الكهرباء مقطوعة", "ما في كهرباء", "انقطعت الكهرباء عندنا", "الكهرباء طافية"] * 3
    texts += ["كم الفاتورة", "ابي اعرف فاتورتي", "فاتورة هالشهر غالية", "سددت الفاتورة"] * 3
    texts += ["شكرا"]  # one example only: CalibratedClassifierCV refuses this
    labels = ["outage"] * 12 + ["bill"] * 12 + ["thank"]
    features = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(texts)
    model = TemperatureScaledSVC(C=1.0).fit(features.transform(texts), labels)

    probabilities = model.predict_proba(features.transform(["الكهرباء مقطوعة من الصبح", "الفاتورة"]))
    assert model.temperature_ > 0
    assert probabilities.shape == (2, 3)
    assert abs(probabilities.sum(axis=1) - 1).max() < 1e-9
    # confidences are a monotone rescaling of the SVC's scores: same winner
    assert list(model.classes_[probabilities.argmax(axis=1)]) == list(model.predict(features.transform(["الكهرباء مقطوعة من الصبح", "الفاتورة"])))
    assert list(model.classes_[probabilities.argmax(axis=1)]) == ["outage", "bill"]
