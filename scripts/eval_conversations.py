"""Play whole conversations against the running assistant and judge its handoffs.

``make eval-conversations`` (against ``make run``'s stack)::

    python -m scripts.eval_conversations --url http://localhost:5005 --out reports/conversations

A stack of its own on another model (``--url`` of a free port, so that no running
stack answers), keeping every conversation's tracker (``bench.policies`` reads them)::

    python -m scripts.eval_conversations --url http://127.0.0.1:5997 --model /tmp/m.tar.gz \
        --out /tmp/conv --trackers /tmp/conv/trackers.jsonl

Each conversation of ``tests/conversations/*.yml`` (format: that folder's README) is
sent turn by turn on its channel (REST, or the web chat socket), then its tracker is
read back from Rasa's HTTP API and judged:

* **needless** handoff: an ordinary conversation reached a person;
* **missed** / **late** handoff: a must-handoff conversation reached nobody, or only
  after the turn by which a person should have taken over;
* **wrong reason**: a person took over in time but not for the expected reason;
* **apology to a calm customer**: an empathy lead (apology or acknowledgement of
  annoyance, ``empathy_*`` in the reply catalogue) in a conversation marked calm.

The report gives these per dialect and per topic, and lists every failing
conversation with the evidence the assistant recorded for its handoff.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS_DIR = ROOT / "tests" / "conversations"
REPLIES_FILE = ROOT / "actions" / "knowledge" / "replies.yml"
CHANNELS = ("rest", "webchat", "whatsapp")
DIALECTS = ("msa", "gulf", "egyptian", "levantine", "maghrebi", "arabizi", "mixed")
REASONS = (
    "safety_hazard", "essential_outage", "angry", "escalation_threat", "rising_frustration", "explicit_request", "repeated_misunderstanding",
)
HANDOFF_ACTION = "action_handoff"
# Handoffs a dialogue rule started carry no escalation_reasons slot: the intent says why.
REASON_BY_INTENT = {
    "request_human": "explicit_request",
    "escalation_threat": "escalation_threat",
    "nlu_fallback": "repeated_misunderstanding",
    "affirm": "repeated_misunderstanding",  # "yes" to the offer of a person after a misunderstanding
}


class ConversationFileError(ValueError):
    """A conversation file does not follow tests/conversations/README.md."""


@dataclass(frozen=True)
class Expectation:
    """What should happen: no handoff, or one by a turn for a reason."""

    by_turn: Optional[int] = None
    reason: Optional[str] = None
    calm: bool = True

    @property
    def handoff(self) -> bool:
        return self.by_turn is not None


@dataclass(frozen=True)
class Conversation:
    """One scripted conversation (the customer's turns only)."""

    id: str
    channel: str
    dialect: str
    topic: str
    turns: Tuple[str, ...]
    expect: Expectation
    situation: str = ""
    source: str = ""


def _conversation(raw: Mapping[str, Any], source: str) -> Conversation:
    where = f"{source}: {raw.get('id', '?')}"
    turns = raw.get("turns")
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise ConversationFileError(f"{where}: every conversation needs an id")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise ConversationFileError(f"{where}: turns must be a non-empty list of quoted strings")
    if raw.get("channel") not in CHANNELS:
        raise ConversationFileError(f"{where}: channel must be one of {CHANNELS}")
    if raw.get("dialect") not in DIALECTS:
        raise ConversationFileError(f"{where}: dialect must be one of {DIALECTS}")
    expect = raw.get("expect") or {}
    handoff = expect.get("handoff", "none")
    calm = expect.get("calm")
    if not isinstance(calm, bool):
        raise ConversationFileError(f"{where}: expect.calm must be true or false")
    if handoff == "none":
        expectation = Expectation(calm=calm)
    elif isinstance(handoff, Mapping):
        by_turn, reason = handoff.get("by_turn"), handoff.get("reason")
        if not isinstance(by_turn, int) or not 1 <= by_turn <= len(turns):
            raise ConversationFileError(f"{where}: by_turn must be a turn number from 1 to {len(turns)}")
        if reason not in REASONS:
            raise ConversationFileError(f"{where}: reason must be one of {REASONS}")
        expectation = Expectation(by_turn, reason, calm)
    else:
        raise ConversationFileError(f"{where}: expect.handoff must be none or {{by_turn, reason}}")
    return Conversation(
        id=raw["id"], channel=raw["channel"], dialect=raw["dialect"], topic=str(raw.get("topic") or "other"),
        turns=tuple(turns), expect=expectation, situation=str(raw.get("situation") or ""), source=source,
    )


def load_conversations(folder: Path = CONVERSATIONS_DIR) -> List[Conversation]:
    """Every conversation of the folder's YAML files, checked.

    Raises:
        ConversationFileError: a file breaks the format, or two conversations share an id.
    """
    out: List[Conversation] = []
    for path in sorted(Path(folder).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out += [_conversation(raw, path.name) for raw in data.get("conversations") or []]
    seen = Counter(c.id for c in out)
    doubles = [i for i, n in seen.items() if n > 1]
    if doubles:
        raise ConversationFileError(f"conversation ids used twice: {doubles}")
    return out


def subset(conversations: Sequence[Conversation], size: int) -> List[Conversation]:
    """A fixed, spread-out sample: round robin over (dialect, must-handoff) groups,
    each group in file order, so every dialect and both kinds are represented."""
    groups: Dict[Tuple[str, bool], List[Conversation]] = defaultdict(list)
    for c in conversations:
        groups[(c.dialect, c.expect.handoff)].append(c)
    order = sorted(groups)
    picked: List[Conversation] = []
    index = 0
    while len(picked) < min(size, len(conversations)):
        for key in order:
            if index < len(groups[key]) and len(picked) < size:
                picked.append(groups[key][index])
        index += 1
    return picked


def empathy_leads(path: Path = REPLIES_FILE) -> List[str]:
    """Every apology and acknowledgement lead of the reply catalogue (``empathy_*``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    replies = data.get("replies", data)
    leads: List[str] = []
    for key, value in replies.items():
        if str(key).startswith("empathy_"):
            variants = value.get("variants", value) if isinstance(value, Mapping) else value
            leads += [str(v).strip() for v in variants or [] if str(v).strip()]
    return leads


# ------------------------------------------------------------------ judging
@dataclass
class Outcome:
    """How one conversation went."""

    id: str
    dialect: str
    topic: str
    channel: str
    played_on: str
    expected: str
    verdict: str  # ok, needless, missed, late, wrong_reason, error
    handoff_turn: Optional[int] = None
    reasons: List[str] = field(default_factory=list)
    evidence: List[Dict[str, Any]] = field(default_factory=list)
    apology_to_calm: bool = False
    turns: int = 0
    error: Optional[str] = None
    transcript: List[Tuple[str, str]] = field(default_factory=list)
    sender: str = ""  # the conversation's id in Rasa (its tracker)


def judge(
    conversation: Conversation, events: Sequence[Mapping[str, Any]], leads: Sequence[str], played_on: str = "rest",
    skip: Sequence[str] = (),
) -> Outcome:
    """Judge one conversation from its tracker events (Rasa's JSON).

    ``skip``: texts the runner typed besides the script (one-time codes); they are not
    the script's turns, so they do not count when a handoff's turn is compared.
    """
    unscripted = list(skip)
    user_turns = 0
    handoff_turn: Optional[int] = None
    reasons: List[str] = []
    evidence: List[Dict[str, Any]] = []
    slot_reasons: Optional[List[str]] = None
    slot_evidence: Optional[List[Dict[str, Any]]] = None
    last_intent: Optional[str] = None
    apology = False
    transcript: List[Tuple[str, str]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            if intent.startswith("EXTERNAL_"):
                continue
            if str(event.get("text") or "") in unscripted:
                unscripted.remove(str(event.get("text") or ""))
                transcript.append(("customer", str(event.get("text") or "")))
                continue
            user_turns += 1
            last_intent = intent
            transcript.append(("customer", str(event.get("text") or "")))
        elif kind == "slot" and event.get("name") == "escalation_reasons" and event.get("value"):
            slot_reasons = list(event["value"])
        elif kind == "slot" and event.get("name") == "escalation_evidence" and event.get("value"):
            slot_evidence = list(event["value"])
        elif kind == "action" and event.get("name") == HANDOFF_ACTION and handoff_turn is None:
            handoff_turn = user_turns
            reasons = slot_reasons or [REASON_BY_INTENT.get(last_intent or "", "explicit_request")]
            evidence = slot_evidence or [{"reason": reasons[0], "rule": f"dialogue_rule:{last_intent}"}]
        elif kind == "bot":
            text = str(event.get("text") or "")
            transcript.append(("bot", text))
            if handoff_turn is None and any(lead in text for lead in leads):
                apology = True
    expect = conversation.expect
    if not expect.handoff:
        verdict = "needless" if handoff_turn is not None else "ok"
        expected = "none"
    else:
        expected = f"{expect.reason} by turn {expect.by_turn}"
        if handoff_turn is None:
            verdict = "missed"
        elif handoff_turn > (expect.by_turn or 0):
            verdict = "late"
        elif expect.reason not in reasons:
            verdict = "wrong_reason"
        else:
            verdict = "ok"
    return Outcome(
        id=conversation.id, dialect=conversation.dialect, topic=conversation.topic, channel=conversation.channel,
        played_on=played_on, expected=expected, verdict=verdict, handoff_turn=handoff_turn, reasons=reasons,
        evidence=evidence, apology_to_calm=apology and expect.calm, turns=user_turns, transcript=transcript,
    )


# ------------------------------------------------------------------ playing
@dataclass
class Target:
    """Where the assistant runs and how to reach its HTTP API."""

    url: str = "http://localhost:5005"
    token: Optional[str] = None
    timeout: float = 60.0
    # the local fake WhatsApp Graph API where one-time codes land (`make run` prints it);
    # None: a customer asked for a code never types one
    codes_url: Optional[str] = None

    def params(self) -> Dict[str, str]:
        """Query parameters of a call to Rasa's HTTP API: Rasa's ``--auth-token``
        scheme is ``?token=`` (a Bearer header is only read as a JWT)."""
        return {"token": self.token} if self.token else {}


# ------------------------------------------------------------------ one-time codes
VERIFICATION_SLOT = "verification_code"
# Verification limits for a stack that plays the conversation set: its hundreds of
# customers share the four demo accounts, which the per-account limits (codes, wrong
# codes, lookups per hour) would otherwise lock after a few conversations.
EVALUATION_LIMITS = {
    "VERIFY_CODES_PER_HOUR": "1000", "VERIFY_MAX_WRONG_CODES": "1000", "VERIFY_LOOKUPS_PER_ACCOUNT": "10000",
    "REST_RATE_LIMIT_PER_ADDRESS": "100000",  # every simulated customer writes from 127.0.0.1
}


def sent_codes(codes_url: str, since: float) -> List[str]:
    """Codes the fake Graph API was sent since ``since`` (newest first)."""
    from scripts.fake_graph_api import fetch_requests

    codes = []
    for entry in fetch_requests(codes_url):
        body = entry.get("json") or {}
        if entry.get("ts", 0) >= since and body.get("type") == "template":
            for component in (body.get("template") or {}).get("components") or []:
                codes += [p.get("text", "") for p in component.get("parameters") or []]
    return codes[::-1]


def _asks_for_code(target: Target, sender: str) -> bool:
    slots = tracker(target, sender).get("slots") or {}
    return slots.get("requested_slot") == VERIFICATION_SLOT and not slots.get(VERIFICATION_SLOT)


def answer_code(target: Target, sender: str, since: float, send: Callable[[str], None], wait_s: float = 10.0) -> List[str]:
    """Type the one-time code when the assistant waits for one, as the customer would.

    The customer reads it on the phone on file (here: the fake Graph API). Several
    conversations may be waiting for codes to the same demo phone, so the newest codes
    are tried in turn until the assistant stops asking.

    Returns:
        The codes typed (the judge skips these turns).
    """
    if not target.codes_url or not _asks_for_code(target, sender):
        return []
    typed: List[str] = []
    deadline = time.time() + wait_s
    while time.time() < deadline:
        for code in sent_codes(target.codes_url, since):
            if code in typed:
                continue
            send(code)
            typed.append(code)
            if not _asks_for_code(target, sender):
                return typed
        time.sleep(0.2)  # the WhatsApp worker sends within its polling interval
    return typed


def _play_rest(target: Target, sender: str, turns: Sequence[str]) -> List[str]:
    """Play the turns over REST; returns the one-time codes typed in between."""
    import requests

    # the REST webhook is a channel: not the API token, but its own key when the server
    # requires one (REST_API_KEY; a `make run` stack is in local mode and needs none)
    with requests.Session() as session:
        if os.environ.get("REST_API_KEY"):
            session.headers["X-Api-Key"] = os.environ["REST_API_KEY"]

        def send(text: str) -> None:
            response = session.post(f"{target.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=target.timeout)
            if response.status_code >= 500:
                raise RuntimeError(f"REST {response.status_code}: {response.text[:200]}")

        typed: List[str] = []
        for text in turns:
            since = time.time()
            send(text)
            typed += answer_code(target, sender, since, send)
        return typed


async def _play_webchat(target: Target, turns: Sequence[str]) -> Tuple[str, List[str]]:
    """Play the turns on a web chat socket as the widget does (the benchmark's client,
    ``bench.e2e``); returns the session id (the conversation's sender id) and the
    one-time codes typed in between."""
    from websockets.client import connect

    from bench.e2e import WEBCHAT_SOCKET, _webchat_turn

    url = target.url.replace("http", "ws", 1) + WEBCHAT_SOCKET
    async with connect(url, open_timeout=target.timeout, max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "hello", "token": None}))
        session = json.loads(await asyncio.wait_for(ws.recv(), target.timeout))
        if session.get("type") != "session":
            raise ConnectionRefusedError(str(session.get("error") or "no web chat session"))
        sender = str(session["session_id"])
        typed: List[str] = []

        async def send(text: str) -> None:
            status, _ = await _webchat_turn(ws, text, target.timeout)
            if status != "ok":
                raise RuntimeError(f"web chat: {status}")

        loop = asyncio.get_running_loop()

        def send_from_thread(text: str) -> None:
            asyncio.run_coroutine_threadsafe(send(text), loop).result(target.timeout)

        for text in turns:
            since = time.time()
            await send(text)
            # answer_code is synchronous (HTTP to Rasa and the fake): it runs on a thread
            # and types each code on this socket through the loop
            typed += await loop.run_in_executor(None, answer_code, target, sender, since, send_from_thread)
        return sender, typed


def tracker(target: Target, sender: str) -> Dict[str, Any]:
    """The conversation's tracker from Rasa's HTTP API."""
    import requests

    response = requests.get(f"{target.url}/conversations/{sender}/tracker", params=target.params(), timeout=target.timeout)
    response.raise_for_status()
    return dict(response.json())


def tracker_events(target: Target, sender: str) -> List[Dict[str, Any]]:
    return list(tracker(target, sender).get("events") or [])


def play(conversation: Conversation, target: Target, leads: Sequence[str], run_id: str) -> Outcome:
    """Send the conversation on its channel (WhatsApp's is played over REST: its
    webhook needs the Graph API) and judge the tracker."""
    played_on = "rest"
    try:
        sender = f"eval-{run_id}-{conversation.id}"
        if conversation.channel == "webchat":
            try:
                sender, codes = asyncio.run(_play_webchat(target, conversation.turns))
                played_on = "webchat"
            except ConnectionRefusedError:  # the socket's per-address limits: fall back to REST
                codes = _play_rest(target, sender, conversation.turns)
        else:
            codes = _play_rest(target, sender, conversation.turns)
        outcome = judge(conversation, tracker_events(target, sender), leads, played_on, skip=codes)
        outcome.sender = sender
        return outcome
    except Exception as error:  # noqa: BLE001 - one broken conversation must not end the run
        expect = conversation.expect
        return Outcome(
            id=conversation.id, dialect=conversation.dialect, topic=conversation.topic, channel=conversation.channel,
            played_on=played_on, expected="none" if not expect.handoff else f"{expect.reason} by turn {expect.by_turn}",
            verdict="error", error=f"{type(error).__name__}: {error}",
        )


def run(conversations: Sequence[Conversation], target: Target, workers: int = 4) -> List[Outcome]:
    """Play every conversation (a few at a time) and judge each."""
    leads = empathy_leads()
    run_id = uuid.uuid4().hex[:6]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda c: play(c, target, leads, run_id), conversations))


# ------------------------------------------------------------------ report
FAILURES = ("needless", "missed", "late", "wrong_reason", "error")


def _rates(outcomes: Sequence[Outcome]) -> Dict[str, Any]:
    ordinary = [o for o in outcomes if o.expected == "none"]
    must = [o for o in outcomes if o.expected != "none"]
    counts = Counter(o.verdict for o in outcomes)
    return {
        "conversations": len(outcomes),
        "ordinary": len(ordinary),
        "must_handoff": len(must),
        "needless": counts["needless"],
        "needless_rate": counts["needless"] / len(ordinary) if ordinary else 0.0,
        "missed": counts["missed"],
        "late": counts["late"],
        "wrong_reason": counts["wrong_reason"],
        "reached_in_time_with_reason": sum(1 for o in must if o.verdict == "ok"),
        "reached_rate": sum(1 for o in must if o.verdict == "ok") / len(must) if must else 1.0,
        "apology_to_calm": sum(1 for o in outcomes if o.apology_to_calm),
        "errors": counts["error"],
    }


def report(outcomes: Sequence[Outcome]) -> Dict[str, Any]:
    """Totals, per dialect, per topic, and the failing conversations."""
    by: Dict[str, Dict[str, Any]] = {}
    for key in ("dialect", "topic"):
        groups: Dict[str, List[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            groups[getattr(outcome, key)].append(outcome)
        by[key] = {name: _rates(items) for name, items in sorted(groups.items())}
    failing = [asdict(o) for o in outcomes if o.verdict in FAILURES or o.apology_to_calm]
    return {"total": _rates(outcomes), "by_dialect": by["dialect"], "by_topic": by["topic"], "failing": failing}


def markdown(summary: Mapping[str, Any], header: str = "") -> str:
    """The report as Markdown (README-ready tables)."""
    def row(name: str, r: Mapping[str, Any]) -> str:
        return (
            f"| {name} | {r['conversations']} | {r['needless']}/{r['ordinary']} ({100 * r['needless_rate']:.1f} %) "
            f"| {r['reached_in_time_with_reason']}/{r['must_handoff']} | {r['missed']} | {r['late']} | {r['wrong_reason']} "
            f"| {r['apology_to_calm']} |"
        )

    head = "| | conversations | needless handoffs | reached in time, right reason | missed | late | wrong reason | apologies to calm customers |\n|---|---|---|---|---|---|---|---|"
    lines = [header, "", head, row("**all**", summary["total"])] if header else [head, row("**all**", summary["total"])]
    lines += [row(name, r) for name, r in summary["by_dialect"].items()]
    lines += ["", "Per topic:", "", head]
    lines += [row(name, r) for name, r in summary["by_topic"].items()]
    if summary["failing"]:
        lines += ["", "Failing conversations:", ""]
        for o in summary["failing"]:
            what = o["verdict"] + (" + apology to a calm customer" if o["apology_to_calm"] and o["verdict"] == "ok" else "")
            got = f"handoff at turn {o['handoff_turn']} ({', '.join(o['reasons'])})" if o["handoff_turn"] else "no handoff"
            rules = "; ".join(f"{e.get('rule')}: {e.get('detail', '')}" for e in o["evidence"]) if o["evidence"] else ""
            lines.append(f"- `{o['id']}` ({o['dialect']}, {o['topic']}): {what}; expected {o['expected']}, got {got}" + (f" — {rules}" if rules else "") + (f" — {o['error']}" if o.get("error") else ""))
    return "\n".join(lines) + "\n"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.eval_conversations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("RASA_URL", "http://localhost:5005"), help="the Rasa server")
    parser.add_argument("--token", default=os.environ.get("RASA_TOKEN"), help="Rasa API token (default $RASA_TOKEN)")
    parser.add_argument("--folder", default=str(CONVERSATIONS_DIR), help="folder of conversation YAML files")
    parser.add_argument("--subset", type=int, help="play only this many (the fixed spread-out sample make test uses)")
    parser.add_argument("--workers", type=int, default=4, help="conversations played at once")
    parser.add_argument(
        "--codes-url", default=os.environ.get("FAKE_WHATSAPP_URL", "http://127.0.0.1:5089"),
        help="the local fake WhatsApp Graph API where one-time codes land (make run prints it)",
    )
    parser.add_argument("--out", default=str(ROOT / "reports" / "conversations"), help="folder for report.json and summary.md")
    parser.add_argument("--model", type=Path, help="model file or folder of the stack this runner starts (default: models/)")
    parser.add_argument(
        "--trackers", type=Path,
        help="also write every played conversation's tracker here (JSON lines: id, sender, events), e.g. for bench.policies",
    )
    return parser.parse_args(argv)


def _reachable(target: Target) -> bool:
    import requests

    try:
        return requests.get(f"{target.url}/", timeout=3).status_code < 500
    except requests.RequestException:
        return False


def save_trackers(target: Target, outcomes: Sequence[Outcome], path: Path) -> None:
    """Every played conversation's tracker events, one JSON line per conversation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for outcome in outcomes:
            if outcome.sender:
                line = {"id": outcome.id, "sender": outcome.sender, "events": tracker_events(target, outcome.sender)}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    conversations = load_conversations(Path(args.folder))
    if args.subset:
        conversations = subset(conversations, args.subset)
    target = Target(args.url.rstrip("/"), args.token, codes_url=args.codes_url)
    stack = None
    reachable = _reachable(target)
    if reachable and args.model:
        print(f"--model {args.model}: an assistant already answers at {target.url} and would be judged instead; "
              "give --url a free port to start a stack on this model", file=sys.stderr)
        return 2
    if not reachable:
        # no `make run` stack: start one of our own on free ports and stop it after
        from scripts import redis_server
        from scripts.stack import Stack

        print(f"No assistant at {target.url}: starting one (Redis, handoff, actions, Rasa) ...", flush=True)
        for name, value in EVALUATION_LIMITS.items():
            os.environ.setdefault(name, value)
        stack = Stack(
            model=args.model or Stack.model, rasa_port=redis_server.free_port(), action_port=redis_server.free_port(), handoff_port=redis_server.free_port(),
            data_dir=Path(args.out) / "redis", log_dir=Path(args.out) / "logs",
        )
        stack.start()
        target = Target(f"http://127.0.0.1:{stack.rasa_port}", stack.rasa_token, codes_url=stack.fake_whatsapp_url)
    start = time.time()
    try:
        outcomes = run(conversations, target, args.workers)
        if args.trackers:
            save_trackers(target, outcomes, args.trackers)
    finally:
        if stack is not None:
            stack.stop()
    summary = report(outcomes)
    summary["seconds"] = round(time.time() - start, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    text = markdown(summary, f"Conversation evaluation: {len(outcomes)} conversations in {summary['seconds']:.0f} s")
    (out / "summary.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"Report: {out / 'report.json'}")
    return 1 if summary["total"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
