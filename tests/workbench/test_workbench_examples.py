"""Writing examples into a copy of nlu_data: valid YAML, comments and order kept, refusals, audit and undo."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from scripts.nlu_check import iter_examples
from workbench.nlu_files import EntitySpan, ExampleRefused, NewExample, add_example, insert_example
from workbench.service import Workbench, WorkbenchError

TEXT = "الكهربا طافية عندنا في حي الملقا من الصبح يا جماعة"


def spans(text: str, *marks: tuple) -> list:
    return [EntitySpan(text.index(piece), text.index(piece) + len(piece), entity) for piece, entity in marks]


def comments(path: Path) -> list:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.lstrip().startswith("#")]


def intent_order(path: Path) -> list:
    return [b.get("intent") for b in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]]


def test_written_example_reads_back_with_rasa_and_keeps_comments_and_order(nlu_copy):
    from rasa.shared.nlu.training_data.loading import load_data

    path = nlu_copy / "outages.yml"
    before_text = path.read_text(encoding="utf-8")
    before_examples = list(iter_examples(path))
    example = NewExample(TEXT, "report_outage", "gulf", spans(TEXT, ("الكهربا", "service_type"), ("الملقا", "district")),
                         frustration="annoyed", date="2026-11-22")
    written = add_example(nlu_copy, example)
    assert written.annotated == "[الكهربا](service_type) طافية عندنا في حي [الملقا](district) من الصبح يا جماعة"
    after_text = path.read_text(encoding="utf-8")
    assert comments(path) == [ln for ln in before_text.splitlines() if ln.lstrip().startswith("#")]
    assert comments(path), "the file has a header comment to keep"
    assert after_text.replace(written.snippet, "", 1) == before_text, "nothing else changed"
    after_examples = list(iter_examples(path))
    assert len(after_examples) == len(before_examples) + 1
    # the new example sits at the end of its intent's block, before the next intent
    report = [i for i, (intent, _, _) in enumerate(after_examples) if intent == "report_outage"]
    assert after_examples[report[-1]][1] == written.annotated
    assert after_examples[report[-1]][2] == {"dialect": "gulf", "script": "arabic", "source": "inbox",
                                              "date": "2026-11-22", "frustration": "annoyed"}
    assert intent_order(path) == ["report_outage", "slow_internet"]
    # Rasa's own loader reads the whole folder, entities on the raw text
    data = load_data(str(nlu_copy))
    message = next(m for m in data.training_examples if m.get("text") == TEXT)
    assert message.get("intent") == "report_outage"
    assert [(e["entity"], TEXT[e["start"]:e["end"]]) for e in message.get("entities")] == [
        ("service_type", "الكهربا"), ("district", "الملقا")]


def test_duplicate_after_normalisation_is_refused(nlu_copy):
    existing = next(text for intent, text, _ in iter_examples(nlu_copy / "billing.yml") if intent == "bill_inquiry" and "[" not in text)
    variant = "ـ" + existing.replace("ا", "أ", 1) + "ـ"  # tatweel and an alef variant: same after normalisation
    before = (nlu_copy / "billing.yml").read_text(encoding="utf-8")
    with pytest.raises(ExampleRefused) as refused:
        add_example(nlu_copy, NewExample(variant, "bill_inquiry", "msa"))
    assert refused.value.code == "duplicate" and "billing.yml" in refused.value.message
    assert (nlu_copy / "billing.yml").read_text(encoding="utf-8") == before


def test_conflict_is_shown_and_nothing_written(nlu_copy):
    existing = next(text for intent, text, _ in iter_examples(nlu_copy / "billing.yml") if intent == "bill_inquiry" and "[" not in text)
    snapshot = {p.name: p.read_text(encoding="utf-8") for p in nlu_copy.glob("*.yml")}
    with pytest.raises(ExampleRefused) as refused:
        add_example(nlu_copy, NewExample(existing.replace("ي", "ى"), "complaint", "msa"))
    assert refused.value.code == "conflict"
    assert refused.value.details == {"intent": "bill_inquiry", "file": "billing.yml", "text": existing}
    assert {p.name: p.read_text(encoding="utf-8") for p in nlu_copy.glob("*.yml")} == snapshot


def test_heldout_sentence_is_refused(nlu_copy):
    from workbench.settings import ROOT

    heldout = ROOT / "tests" / "data" / "nlu_heldout.yml"
    intent, text, _ = next(e for e in iter_examples(heldout) if "[" not in e[1])
    with pytest.raises(ExampleRefused) as refused:
        add_example(nlu_copy, NewExample(text, intent, "msa"), heldout)
    assert refused.value.code == "heldout"


@pytest.mark.parametrize("example, message", [
    (NewExample("   ", "complaint", "gulf"), "empty"),
    (NewExample("نص [غريب]", "complaint", "gulf"), "Square brackets"),
    (NewExample(TEXT, "Report Outage!", "gulf"), "Intent names"),
    (NewExample(TEXT, "report_outage", "klingon"), "Dialect"),
    (NewExample(TEXT, "report_outage", "gulf", [EntitySpan(0, 500, "district")]), "outside"),
    (NewExample(TEXT, "report_outage", "gulf", [EntitySpan(0, 8, "district")]), "space"),
    (NewExample(TEXT, "report_outage", "gulf", [EntitySpan(0, 7, "password")]), "Unknown entity"),
    (NewExample(TEXT, "brand_new_intent", "gulf"), "new intent needs a file"),
])
def test_bad_input_gets_a_clear_error_and_writes_nothing(nlu_copy, example, message):
    snapshot = {p.name: p.read_text(encoding="utf-8") for p in nlu_copy.glob("*.yml")}
    with pytest.raises(ExampleRefused, match=message):
        add_example(nlu_copy, example)
    assert {p.name: p.read_text(encoding="utf-8") for p in nlu_copy.glob("*.yml")} == snapshot


def test_new_intent_goes_to_the_chosen_file(nlu_copy):
    written = add_example(nlu_copy, NewExample("ابغى اشترك في باقة الالعاب الجديدة", "gaming_package", "gulf", file="services.yml"))
    assert written.new_intent
    found = [(i, t) for i, t, _ in iter_examples(nlu_copy / "services.yml") if i == "gaming_package"]
    assert found == [("gaming_package", "ابغى اشترك في باقة الالعاب الجديدة")]


def test_examples_block_style_is_supported():
    content = "version: \"3.1\"\nnlu:\n# greetings\n- intent: greet\n  examples: |\n    - hi\n    - hello\n# next\n- intent: bye\n  examples: |\n    - bye\n"
    new, snippet, created, warnings = insert_example(content, "greet", "salam", {"dialect": "msa"})
    assert not created and warnings and snippet == "    - salam\n"
    assert yaml.safe_load(new)["nlu"][0]["examples"] == "- hi\n- hello\n- salam\n"
    assert "# next\n- intent: bye" in new


def run(coro):
    return asyncio.run(coro)


def test_annotating_from_the_inbox_is_recorded_and_undone(settings, conversations):
    async def scenario():
        bench = Workbench(settings)
        try:
            from workbench.inbox import InboxFilter

            item = next(i for i in await bench.inbox(InboxFilter(flags=("handed_off",))))
            path = settings.nlu_data / "outages.yml"
            before = path.read_text(encoding="utf-8")
            text = item.text
            example = NewExample(text, "report_outage", "gulf",
                                 spans(text, ("النت", "service_type"), ("0000000000", "phone_number")), frustration="angry")
            result = await bench.add_example("trainer1", example, item.id)
            assert "0551234567" not in path.read_text(encoding="utf-8"), "personal data never reaches the file"
            assert result["file"] == "outages.yml"
            assert item.id not in [i.id for i in await bench.inbox(InboxFilter())], "labelled messages leave the inbox"
            entry = (await bench.history())[0]
            assert entry["who"] == "trainer1" and entry["action"] == "add_example" and entry["file"] == "outages.yml"
            assert entry["example"] == result["annotated"] and entry["after"] in path.read_text(encoding="utf-8")
            assert entry["when"] > 0 and entry["before"] is None

            undone = await bench.undo("trainer2", result["audit_id"])
            assert path.read_text(encoding="utf-8") == before
            assert item.id in [i.id for i in await bench.inbox(InboxFilter())], "back in the inbox"
            with pytest.raises(WorkbenchError) as again:
                await bench.undo("trainer2", result["audit_id"])
            assert again.value.code == "already_undone"
            entries = await bench.history()
            assert entries[0]["action"] == "undo" and entries[0]["who"] == "trainer2" and entries[0]["undoes"] == result["audit_id"]
            assert entries[1]["undone_by"] == undone["audit_id"]

            # a text that does not match the message is refused
            with pytest.raises(WorkbenchError):
                await bench.add_example("trainer1", NewExample("نص آخر", "report_outage", "gulf"), item.id)
        finally:
            await bench.close()

    run(scenario())


def test_undo_refuses_when_the_file_changed_since(settings):
    async def scenario():
        bench = Workbench(settings)
        try:
            result = await bench.add_example("t", NewExample("متى يجي الفني عندي بالضبط اليوم", "book_appointment", "gulf", source="cli"))
            path = settings.nlu_data / result["file"]
            path.write_text(path.read_text(encoding="utf-8").replace("متى يجي الفني عندي بالضبط اليوم", "متى يجي الفني"), encoding="utf-8")
            with pytest.raises(WorkbenchError) as refused:
                await bench.undo("t", result["audit_id"])
            assert refused.value.code == "conflict"
            # after a failed undo it can be tried again (nothing claimed)
            assert (await bench.history())[0]["undone_by"] is None
        finally:
            await bench.close()

    run(scenario())
