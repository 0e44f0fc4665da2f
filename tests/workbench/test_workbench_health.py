"""The health report's figures on a small data set whose answers are known."""

from __future__ import annotations

from pathlib import Path

from workbench.health import chart_png, health_report

SMALL = '''# a comment the report must not mind
version: "3.1"
nlu:
- intent: greet
  examples:
  - text: |
      السلام عليكم
    metadata: {dialect: msa, script: arabic}
  - text: |
      هلا والله
    metadata: {dialect: gulf, script: arabic}
  - text: |
      ازيك عامل ايه
    metadata: {dialect: egyptian, script: arabic}
  - text: |
      مرحبا كيفك
    metadata: {dialect: levantine, script: arabic}
  - text: |
      سلام لاباس
    metadata: {dialect: maghrebi, script: arabic}
- intent: bill_inquiry
  examples:
  - text: |
      كم فاتورة الكهرباء هذا الشهر
    metadata: {dialect: msa, script: arabic}
  - text: |
      كم فاتورة الكهرباء هذا الشهر؟؟
    metadata: {dialect: msa, script: arabic}
  - text: |
      كم فاتورتي
    metadata: {dialect: gulf, script: arabic}
- intent: complaint
  examples:
  - text: |
      كم فاتورتي
    metadata: {dialect: gulf, script: arabic}
  - text: |
      الخدمة سيئة جدا جدا
    metadata: {dialect: msa, script: arabic}
'''


def test_figures_of_a_known_small_data_set(tmp_path: Path):
    (tmp_path / "small.yml").write_text(SMALL, encoding="utf-8")
    report = health_report(tmp_path, min_examples=4, near_threshold=0.9)
    assert report["examples"] == 10
    assert report["per_intent"] == {"bill_inquiry": 3, "complaint": 2, "greet": 5}
    assert report["per_dialect"] == {"msa": 4, "gulf": 3, "egyptian": 1, "levantine": 1, "maghrebi": 1}
    assert report["table"]["bill_inquiry"] == {"msa": 2, "gulf": 1, "egyptian": 0, "levantine": 0, "maghrebi": 0}
    assert report["too_few"] == ["bill_inquiry", "complaint"]
    assert report["missing_dialects"] == {
        "bill_inquiry": ["egyptian", "levantine", "maghrebi"],
        "complaint": ["egyptian", "levantine", "maghrebi"],
    }
    assert report["conflicts"] == [{"text": "كم فاتورتي", "intents": ["bill_inquiry", "complaint"], "files": ["small.yml"]}]
    # punctuation differs, so not an exact duplicate, but nearly the same sentence
    assert [(n["a"], n["b"]) for n in report["near_duplicates"]] == [("كم فاتورة الكهرباء هذا الشهر", "كم فاتورة الكهرباء هذا الشهر؟؟")]
    assert report["duplicates"] == []
    png = chart_png(report)
    assert png.startswith(b"\x89PNG") and len(png) > 2000


def test_the_shipped_data_is_healthy():
    from workbench.settings import ROOT

    report = health_report(ROOT / "nlu_data")
    assert report["examples"] > 1000 and not report["too_few"] and not report["conflicts"]
