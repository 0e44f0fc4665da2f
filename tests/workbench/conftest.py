"""Fixtures of the workbench tests: a temporary copy of nlu_data, real Rasa trackers in
Redis, a stand-in for the Rasa server's HTTP API that serves them (fake_rasa.py), and
the workbench's own process (``python -m workbench``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from scripts import redis_server
from scripts.stack import wait_http
from tests.workbench.fake_rasa import FakeRasa
from workbench.settings import ROOT, WorkbenchSettings

RASA_TOKEN = "test-rasa-token"


@pytest.fixture
def nlu_copy(tmp_path: Path) -> Path:
    """A temporary copy of the real ``nlu_data/`` the test may write into."""
    target = tmp_path / "nlu_data"
    shutil.copytree(ROOT / "nlu_data", target, ignore=shutil.ignore_patterns("signals", "README.md"))
    return target


@pytest.fixture
def rasa_api(redis_url: str):
    """The Rasa server's tracker API over the session's Redis (no model, no /status, no PUT /model)."""
    fake = FakeRasa(redis_url, RASA_TOKEN).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def settings(redis_url: str, nlu_copy: Path, tmp_path: Path, rasa_api: FakeRasa) -> WorkbenchSettings:
    return WorkbenchSettings(
        redis_url=redis_url,
        nlu_data=nlu_copy,
        work_dir=tmp_path / "work",
        models_dir=tmp_path / "models",
        rasa_url=rasa_api.url,  # trackers only: status and model loading answer 404/405
        rasa_token=RASA_TOKEN,
        discovery_seconds=0,  # tests save trackers between two reads of the inbox
        tracker_cache_seconds=0,
    )


def user_event(text: str, intent: str, confidence: float, *, dialect: str = "gulf", frustration: str = "calm",
               channel: str = "rest", timestamp: Optional[float] = None, entities: Optional[List[Dict[str, Any]]] = None,
               ranking: Optional[List[Dict[str, Any]]] = None):
    """A Rasa ``UserUttered`` with parse data shaped like the pipeline's output (signals included)."""
    from rasa.shared.core.events import UserUttered

    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": entities or [],
        "signals": {
            "frustration": {"level": frustration, "score": 0.9 if frustration == "angry" else 0.1},
            "urgency": {"service": None, "score": 0.0},
            "dialect": {"label": dialect, "score": 0.8},
        },
    }
    return UserUttered(text, parse["intent"], parse["entities"], parse_data=parse, input_channel=channel,
                       timestamp=timestamp or time.time())


def save_tracker(redis_url: str, sender_id: str, events: list) -> None:
    """Save a conversation with the Rasa server's tracker store, configured like endpoints.yml."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.tracker_store import SessionTrackerStore

    store = SessionTrackerStore(Domain.empty(), host=redis_url, key_prefix="tracker")
    tracker = DialogueStateTracker.from_events(sender_id, events)
    asyncio.run(store.save(tracker))


@pytest.fixture
def conversations(redis_url: str) -> Dict[str, float]:
    """Four conversations covering every inbox flag, saved by the Rasa server's tracker store.

    Returns:
        sender id to the time of its first message.
    """
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet

    day = 86400.0
    now = time.time()
    old = now - 10 * day
    save_tracker(redis_url, "conv-lowconf", [
        user_event("ابغى اعرف وش صار على طلبي", "request_status", 0.31, dialect="gulf", timestamp=now - 60),
        ActionExecuted("utter_ask_ticket_number"),
        user_event("الحين", "inform", 0.92, dialect="gulf", timestamp=now - 50),
    ])
    save_tracker(redis_url, "conv-fallback", [
        user_event("عايز اغير الباقة بتاعتي لو سمحت", "nlu_fallback", 0.3, dialect="egyptian", timestamp=old,
                   ranking=[{"name": "change_plan", "confidence": 0.28}, {"name": "complaint", "confidence": 0.2}]),
        ActionExecuted("action_fallback"),
    ])
    save_tracker(redis_url, "conv-contradicted", [
        user_event("بدي ادفع الفاتورة", "bill_inquiry", 0.81, dialect="levantine", timestamp=now - 30),
        ActionExecuted("action_answer_faq"),
        BotUttered("فاتورتك ..."),
        user_event("لا مش هيك، بدي اعرف طرق الدفع", "payment_methods", 0.7, dialect="levantine", timestamp=now - 20),
    ])
    save_tracker(redis_url, "conv-handoff", [
        user_event("النت فاصل من يومين وانا زعلاااان جوالي 0551234567", "report_outage", 0.88, dialect="gulf",
                   frustration="angry", channel="whatsapp", timestamp=now - 10,
                   entities=[{"entity": "phone_number", "start": 39, "end": 49, "value": "0551234567", "extractor": "CRF"}]),
        SlotSet("escalation_evidence", [
            {"reason": "essential_outage", "rule": "service_with_outage_words", "detail": "internet: «فاصل»",
             "scores": {"urgency": 0.97, "frustration": 0.9}, "message": "النت فاصل ... 0551234567", "bot_asked": None},
            {"reason": "angry", "rule": "angry_model", "detail": "angry (0.90)", "scores": {"frustration": 0.9}},
        ]),
        ActionExecuted("action_handoff"),
    ])
    return {"conv-lowconf": now - 60, "conv-fallback": old, "conv-contradicted": now - 30, "conv-handoff": now - 10}


def _add_account(redis_url: str, username: str, password: str, role: str) -> None:
    from handoff.auth import Accounts
    from handoff.settings import HandoffSettings
    from handoff.store import HandoffStore

    async def run():
        store = HandoffStore(redis_url)
        try:
            await Accounts(store, HandoffSettings()).add(username, password, role, name="مدرّبة الاختبار")
        finally:
            await store.close()

    asyncio.run(run())


@pytest.fixture
def service(redis_url, nlu_copy, tmp_path, artifacts_dir, rasa_api):
    """The workbench's own process (``python -m workbench``); its base URL."""
    port = redis_server.free_port()
    env = dict(os.environ, REDIS_URL=redis_url, TRAINER_PORT=str(port), TRAINER_HOST="127.0.0.1",
               TRAINER_NLU_DATA=str(nlu_copy), TRAINER_WORK_DIR=str(tmp_path / "work"),
               RASA_URL=rasa_api.url, RASA_TOKEN=RASA_TOKEN, TRAINER_DISCOVERY_SECONDS="0", TRAINER_TRACKER_CACHE_SECONDS="0",
               PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false",
               HANDOFF_LOCAL_MODE="1")  # plain http: the session cookie must not be Secure
    log = open(artifacts_dir / "workbench-service.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "workbench"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 60, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def artifacts_dir() -> Path:
    path = ROOT / "tests" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def add_account(redis_url):
    """Create a console account (scrypt-hashed, in the session's Redis): add_account(user, password, role)."""
    return lambda username, password, role: _add_account(redis_url, username, password, role)
