"""The conversation evaluation: its data files and how it judges a tracker."""

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from scripts import eval_conversations as ev

CONVERSATIONS = ev.load_conversations()
LEADS = ev.empathy_leads()


def test_there_are_at_least_300_conversations_in_every_dialect_and_situation():
    assert len(CONVERSATIONS) >= 300
    dialects = Counter(c.dialect for c in CONVERSATIONS)
    assert set(dialects) == set(ev.DIALECTS)
    for dialect in ev.DIALECTS:
        kinds = Counter(c.expect.handoff for c in CONVERSATIONS if c.dialect == dialect)
        assert kinds[True] >= 8 and kinds[False] >= 20, dialect
    reasons = Counter(c.expect.reason for c in CONVERSATIONS if c.expect.handoff)
    assert set(reasons) == set(ev.REASONS)
    # ordinary conversations mostly end with a closing reply to "anything else?"
    assert sum(1 for c in CONVERSATIONS if not c.expect.handoff) >= 200


def test_the_catalogue_has_empathy_leads_to_look_for():
    assert len(LEADS) >= 8 and all(LEADS)


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("conversations:\n  - {id: a, channel: fax, dialect: msa, turns: [x], expect: {handoff: none, calm: true}}\n", "channel"),
        ("conversations:\n  - {id: a, channel: rest, dialect: msa, turns: [], expect: {handoff: none, calm: true}}\n", "turns"),
        ("conversations:\n  - {id: a, channel: rest, dialect: msa, turns: [x], expect: {handoff: {by_turn: 3, reason: angry}, calm: false}}\n", "by_turn"),
        ("conversations:\n  - {id: a, channel: rest, dialect: msa, turns: [x], expect: {handoff: {by_turn: 1, reason: grumpy}, calm: false}}\n", "reason"),
        ("conversations:\n  - {id: a, channel: rest, dialect: msa, turns: [x], expect: {handoff: none}}\n", "calm"),
        ("conversations:\n  - {id: a, channel: rest, dialect: msa, turns: [x], expect: {handoff: none, calm: true}}\n"
         "  - {id: a, channel: rest, dialect: msa, turns: [y], expect: {handoff: none, calm: true}}\n", "twice"),
    ],
)
def test_broken_conversation_files_are_refused_with_the_reason(tmp_path: Path, yaml_text, message):
    (tmp_path / "bad.yml").write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ev.ConversationFileError, match=message):
        ev.load_conversations(tmp_path)


def test_the_subset_is_fixed_and_spread_over_dialects_and_kinds():
    picked = ev.subset(CONVERSATIONS, 48)
    assert len(picked) == 48 and picked == ev.subset(CONVERSATIONS, 48)
    assert {c.dialect for c in picked} == set(ev.DIALECTS)
    assert sum(c.expect.handoff for c in picked) >= 16 and sum(not c.expect.handoff for c in picked) >= 16


def conversation(handoff=None, calm=True):
    expect = ev.Expectation(handoff[0], handoff[1], calm) if handoff else ev.Expectation(calm=calm)
    return ev.Conversation("c1", "rest", "gulf", "bill", ("السلام عليكم", "الكهربا مقطوعة", "شكرا"), expect)


def user(text, intent="inform"):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def bot(text):
    return {"event": "bot", "text": text}


HANDOFF = [
    {"event": "slot", "name": "escalation_reasons", "value": ["essential_outage"]},
    {"event": "slot", "name": "escalation_evidence", "value": [{"reason": "essential_outage", "rule": "service_with_outage_words"}]},
    {"event": "action", "name": "action_handoff"},
]


def test_a_handoff_in_an_ordinary_conversation_is_needless():
    events = [user("السلام عليكم"), bot("أهلاً"), user("الكهربا مقطوعة"), *HANDOFF, user("شكرا")]
    outcome = ev.judge(conversation(), events, LEADS)
    assert outcome.verdict == "needless" and outcome.handoff_turn == 2
    assert outcome.evidence[0]["rule"] == "service_with_outage_words"


@pytest.mark.parametrize(
    "expected, events, verdict",
    [
        ((2, "essential_outage"), [user("a"), user("b"), *HANDOFF, user("c")], "ok"),
        ((1, "essential_outage"), [user("a"), user("b"), *HANDOFF, user("c")], "late"),
        ((2, "angry"), [user("a"), user("b"), *HANDOFF], "wrong_reason"),
        ((2, "essential_outage"), [user("a"), user("b"), user("c")], "missed"),
        # a rule's handoff: the reason comes from the intent
        ((2, "explicit_request"), [user("a"), user("ابي موظف", "request_human"), {"event": "action", "name": "action_handoff"}], "ok"),
    ],
)
def test_must_handoff_conversations_are_judged_on_turn_and_reason(expected, events, verdict):
    assert ev.judge(conversation(expected, calm=False), events, LEADS).verdict == verdict


def test_an_empathy_lead_to_a_calm_customer_is_counted_but_not_to_an_upset_one():
    lead = LEADS[0]
    events = [user("السلام عليكم"), bot(f"{lead} فاتورتك 100 ريال")]
    assert ev.judge(conversation(), events, LEADS).apology_to_calm
    assert not ev.judge(conversation(calm=False), events, LEADS).apology_to_calm
    assert not ev.judge(conversation(), [user("x"), bot("فاتورتك 100 ريال")], LEADS).apology_to_calm


def test_the_report_counts_rates_per_dialect_and_lists_failures():
    ok = ev.Outcome("a", "gulf", "bill", "rest", "rest", "none", "ok")
    needless = ev.Outcome("b", "gulf", "bill", "rest", "rest", "none", "needless", 2, ["angry"])
    missed = ev.Outcome("c", "msa", "outage", "rest", "rest", "essential_outage by turn 1", "missed")
    summary = ev.report([ok, needless, missed])
    assert summary["total"]["needless"] == 1 and summary["total"]["needless_rate"] == 0.5
    assert summary["total"]["reached_rate"] == 0.0
    assert summary["by_dialect"]["gulf"]["conversations"] == 2
    assert [f["id"] for f in summary["failing"]] == ["b", "c"]
    text = ev.markdown(summary, "header")
    assert "`b` (gulf, bill): needless" in text and "`c`" in text


class _FakeRasa(BaseHTTPRequestHandler):
    """Rasa's HTTP API as far as the runner reads it: ``/`` and one tracker per sender."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        if url.path == "/":
            body: object = "Hello from Rasa"
        elif url.path.startswith("/conversations/") and parse_qs(url.query).get("token") == ["secret"]:
            sender = url.path.split("/")[2]
            body = {"sender_id": sender, "events": [{"event": "user", "text": f"hi from {sender}"}]}
        else:
            self.send_error(401)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def rasa_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_model_is_refused_when_an_assistant_already_answers(rasa_url, tmp_path: Path, capsys):
    """--model names the model of the stack the runner starts; judging another would mislead."""
    assert ev.main(["--url", rasa_url, "--model", str(tmp_path / "m.tar.gz"), "--out", str(tmp_path / "out")]) == 2
    assert "already answers" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_trackers_are_saved_one_json_line_per_played_conversation(rasa_url, tmp_path: Path):
    outcomes = [
        ev.Outcome(id="a", dialect="msa", topic="bill", channel="rest", played_on="rest", expected="none", verdict="ok", sender="eval-1-a"),
        ev.Outcome(id="b", dialect="msa", topic="bill", channel="rest", played_on="rest", expected="none", verdict="error"),
    ]
    path = tmp_path / "deep" / "trackers.jsonl"
    ev.save_trackers(ev.Target(rasa_url, "secret"), outcomes, path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"id": "a", "sender": "eval-1-a", "events": [{"event": "user", "text": "hi from eval-1-a"}]}]
