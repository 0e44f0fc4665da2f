"""The command-line equivalent: inbox, label, history, undo, health, refusals."""

from __future__ import annotations

import json

import pytest

from tests.workbench.conftest import RASA_TOKEN
from workbench.cli import main


@pytest.fixture
def env(monkeypatch, redis_url, nlu_copy, tmp_path, rasa_api):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TRAINER_NLU_DATA", str(nlu_copy))
    monkeypatch.setenv("TRAINER_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("RASA_URL", rasa_api.url)
    monkeypatch.setenv("RASA_TOKEN", RASA_TOKEN)
    return nlu_copy


def test_label_from_the_inbox_then_undo(env, conversations, capsys):
    assert main(["inbox", "--flags", "fallback"]) == 0
    line = capsys.readouterr().out.strip()
    item_id, flags = line.split("\t")[:2]
    # an opaque reference, not the sender id (a WhatsApp sender id is a phone number)
    assert item_id.endswith("|0") and "conv-fallback" not in item_id and "fallback" in flags and "عايز اغير الباقة" in line
    before = (env / "services.yml").read_text(encoding="utf-8")
    assert main(["--who", "noura", "label", item_id, "--intent", "change_plan", "--entity", "الباقة=plan"]) == 2
    assert "Unknown entity" in capsys.readouterr().err
    assert (env / "services.yml").read_text(encoding="utf-8") == before
    assert main(["--who", "noura", "label", item_id, "--intent", "change_plan"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["file"] == "services.yml" and written["annotated"] == "عايز اغير الباقة بتاعتي لو سمحت"
    assert "metadata:\n      dialect: egyptian" in (env / "services.yml").read_text(encoding="utf-8")
    assert main(["history"]) == 0
    assert f"{written['audit_id']}\tnoura\tadd_example\tservices.yml" in capsys.readouterr().out
    assert main(["undo", written["audit_id"]]) == 0
    assert (env / "services.yml").read_text(encoding="utf-8") == before


def test_refusals_exit_2_with_the_reason(env, conversations, capsys):
    assert main(["add", "--text", "نص", "--intent", "greet", "--dialect", "gulf", "--entity", "غير موجود=district"]) == 2
    assert "PIECE=entity" in capsys.readouterr().err
    assert main(["inbox", "--flags", "nonsense"]) == 2
    assert "unknown filter" in capsys.readouterr().err


def test_health_writes_the_chart(env, tmp_path, capsys):
    chart = tmp_path / "chart.png"
    assert main(["health", "--chart", str(chart)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] > 1000 and chart.read_bytes().startswith(b"\x89PNG")
