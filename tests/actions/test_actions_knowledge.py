"""The knowledge base: look-ups, wording helpers, replaceability and import hygiene."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa_sdk.executor import ActionExecutor

from actions import settings
from actions.knowledge_base import KnowledgeBase, KnowledgeError, get_knowledge_base, match_key

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ROOT / "actions"
RIYADH = ZoneInfo("Asia/Riyadh")


@pytest.mark.parametrize(
    "typed, on_file",
    [("حي النرجس", "النرجس"), ("نرجس", "النرجس"), ("العليّا", "العليا"), ("جدة", "جده"), ("الواي فاي", "وايفاي"), ("El Narjes", "narjes")],
)
def test_match_key_folds_what_customers_vary(typed: str, on_file: str) -> None:
    assert match_key(typed) == match_key(on_file)


@pytest.mark.parametrize(
    "word, service",
    [("electricity", "electricity"), ("الكهربا", "electricity"), ("الكهربـــا", "electricity"), ("الموية", "water"),
     ("المية", "water"), ("النت", "internet"), ("الواي فاي", "internet"), ("el net", "internet"), ("fiber", "internet")],
)
def test_service_aliases(word: str, service: str) -> None:
    assert get_knowledge_base().service(word).id == service


@pytest.mark.parametrize("word", ["الغاز", "gas", "", None])
def test_unknown_service(word) -> None:
    assert get_knowledge_base().service(word) is None


def test_branches_by_district_city_and_alias() -> None:
    kb = get_knowledge_base()
    assert [b.id for b in kb.branches_matching(district="العليا")] == ["riyadh-olaya"]
    assert [b.id for b in kb.branches_matching(district="al3olaya")] == ["riyadh-olaya"]
    # the same district name in two cities: the city decides
    assert {b.id for b in kb.branches_matching(district="الشاطئ")} == {"jeddah-shati", "dammam-shati"}
    assert [b.id for b in kb.branches_matching(district="الشاطئ", city="الدمام")] == ["dammam-shati"]
    assert {b.city for b in kb.branches_matching(city="جده")} == {"jeddah"}
    assert kb.branches_matching(district="الياسمين") == []
    assert kb.branches_matching(city="مكة") == []
    assert kb.branches_matching() == []


def test_known_outage_needs_the_same_service_and_district() -> None:
    kb = get_knowledge_base()
    assert kb.known_outage("electricity", "حي النرجس").ticket == "T-310001"
    assert kb.known_outage("electricity", "el narjes").ticket == "T-310001"
    assert kb.known_outage("water", "النرجس") is None
    assert kb.known_outage("electricity", "الملقا") is None
    assert kb.known_outage("electricity", "النرجس", city="جدة") is None


@pytest.mark.parametrize(
    "moment, is_open",
    [
        (datetime(2026, 11, 22, 10, 0, tzinfo=RIYADH), True),  # Sunday morning
        (datetime(2026, 11, 22, 7, 59, tzinfo=RIYADH), False),
        (datetime(2026, 11, 22, 22, 0, tzinfo=RIYADH), False),
        (datetime(2026, 11, 27, 10, 0, tzinfo=RIYADH), False),  # Friday morning
        (datetime(2026, 11, 27, 17, 0, tzinfo=RIYADH), True),  # Friday afternoon
    ],
)
def test_call_centre_hours_decide_the_handoff_promise(moment: datetime, is_open: bool) -> None:
    kb = get_knowledge_base()
    assert kb.call_centre_open(moment) is is_open
    expected = kb.handoff["within_hours_eta"] if is_open else kb.handoff["outside_hours_eta"]
    assert kb.handoff_eta(moment) == expected


@pytest.mark.parametrize("amount, text", [(199, "199 ريال"), (104.5, "104.50 ريال"), (412.75, "412.75 ريال"), (0, "مجاناً")])
def test_money(amount, text: str) -> None:
    assert get_knowledge_base().money(amount) == text


@pytest.mark.parametrize(
    "words, window", [("بكرة الصبح", "morning"), ("الخميس العصر", "afternoon"), ("bokra bel leil", "evening"), ("بكرة", "morning")]
)
def test_appointment_window_from_the_customers_words(words: str, window: str) -> None:
    assert get_knowledge_base().appointment_window(words)["id"] == window


def test_outage_master_tickets_are_demo_tickets() -> None:
    kb = get_knowledge_base()
    ids = {t["id"] for t in kb.demo_tickets}
    assert {o.ticket for o in kb.outages} <= ids
    assert "T-482913" in ids


def test_knowledge_is_loaded_once_per_process() -> None:
    assert get_knowledge_base() is get_knowledge_base()


def test_another_organisation_only_replaces_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "knowledge"
    shutil.copytree(ACTIONS / "knowledge", other)
    org_file = other / "organisation.yml"
    data = yaml.safe_load(org_file.read_text(encoding="utf-8"))
    data["organisation"]["name"] = "ضياء للمرافق"
    data["contact"]["phone"] = "8001234567"
    data["contact"]["emergency"] = "8001234567 (24/7)"
    org_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("KNOWLEDGE_DIR", str(other))

    kb = get_knowledge_base()
    assert kb.directory == other.resolve()
    text = kb.replies.render("faq_contact_channels", kb.faq_context("contact_channels")).text
    assert "8001234567" in text and "920000000" not in text
    assert kb.context()["org_name"] == "ضياء للمرافق"


def test_inconsistent_files_are_rejected(tmp_path: Path) -> None:
    other = tmp_path / "knowledge"
    shutil.copytree(ACTIONS / "knowledge", other)
    branches = other / "branches.yml"
    branches.write_text(branches.read_text(encoding="utf-8").replace("city: riyadh", "city: cairo", 1), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="cairo"):
        KnowledgeBase.load(other)
    (other / "faq.yml").unlink()
    with pytest.raises(KnowledgeError, match="faq.yml"):
        KnowledgeBase.load(other)


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KNOWLEDGE_DIR", "REDIS_URL", "TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    config = settings.get_settings()
    assert config.knowledge_dir == ACTIONS / "knowledge"
    assert config.redis_url == "redis://localhost:6379/0"
    assert config.timezone == "Asia/Riyadh"
    monkeypatch.setenv("TIMEZONE", "UTC")
    assert settings.get_settings().timezone == "UTC"
    assert settings.now().utcoffset().total_seconds() == 0
    monkeypatch.setenv("TIMEZONE", "Asia/Riyadh")
    assert settings.now().utcoffset().total_seconds() == 3 * 3600


def test_no_organisation_facts_in_python() -> None:
    kb = get_knowledge_base()
    facts = [kb.organisation["name"], kb.contact["phone"], kb.contact["email"]]
    facts += [b.name for b in kb.branches] + [b.address for b in kb.branches]
    for path in ACTIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        leaked = [fact for fact in facts if fact in source]
        assert leaked == [], f"{path.name} hard-codes {leaked}"


def test_actions_import_only_what_the_action_server_has() -> None:
    allowed = {"rasa_sdk", "yaml", "redis", "actions", "bot", "handoff", "__future__"} | set(sys.stdlib_module_names)
    for path in ACTIONS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in ("bot", "handoff"):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
                if name.startswith(("bot", "handoff")):
                    # only the pure modules shared with the Rasa side (no Rasa import)
                    assert name in PURE_BOT_MODULES, f"{path.name} imports {name}"


PURE_BOT_MODULES = {
    "bot.nlu.arabic_text", "bot.nlu.cues", "bot.escalation", "bot.masking", "bot.log_privacy",
    "bot.untrusted", "bot.rate_limit", "bot.channels.outbox", "bot.channels.whatsapp_payloads",
    "bot.channels.redis_client", "bot.nlu.date_vocabulary", "bot.followups", "handoff.contract",
}


def test_the_shared_bot_modules_do_not_load_rasa() -> None:
    code = "import sys\n" + "".join(f"import {m}\n" for m in sorted(PURE_BOT_MODULES)) + "print('rasa' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_action_server_registers_exactly_the_domain_actions(domain) -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    registered = {name for name in executor.actions if name.startswith(("action_", "validate_"))}
    assert registered == set(domain["actions"])



def test_the_action_server_reads_its_environment_once(monkeypatch) -> None:
    import importlib

    fresh = importlib.reload(settings)  # the real get_settings, not the tests' stand-in
    try:
        monkeypatch.setenv("TIMEZONE", "Asia/Dubai")
        first = fresh.get_settings()
        monkeypatch.setenv("TIMEZONE", "UTC")
        assert fresh.get_settings() is first and first.timezone == "Asia/Dubai"
    finally:
        fresh.get_settings.cache_clear()
        monkeypatch.setattr(fresh, "get_settings", fresh.read_settings)
