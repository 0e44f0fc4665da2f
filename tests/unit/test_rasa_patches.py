"""The compiled action-response validator, through Rasa's own RemoteAction.run.

Each response is served over real HTTP (an aiohttp server on loopback) and fetched by
RemoteAction with its EndpointConfig, as the Rasa server does with the action server.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.actions.action import RemoteAction
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionReverted,
    ActiveLoop,
    BotUttered,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import fast_json, rasa_patches

VALID_RESPONSES: Dict[str, Any] = {
    "empty object": {},
    "nothing to do": {"events": [], "responses": []},
    # what rasa_sdk's executor sends after a form validation (every key it writes)
    "form step": {
        "events": [
            {"event": "slot", "timestamp": None, "name": "account_number", "value": "12345678"},
            {"event": "slot", "timestamp": None, "name": "requested_slot", "value": None},
            {"event": "active_loop", "timestamp": None, "name": None},
            {"event": "followup", "timestamp": None, "name": "action_listen"},
        ],
        "responses": [
            {
                "text": "تم، رقم الحساب 12345678", "buttons": [], "elements": [], "custom": {}, "template": None,
                "response": None, "image": None, "attachment": None,
            }
        ],
    },
    "user event with entities": {
        "events": [
            {
                "event": "user", "text": "الكهربا مقطوعة", "parse_data": {
                    "intent": {"name": "report_outage", "confidence": 0.9},
                    "entities": [{"entity": "service_type", "value": "electricity", "start": 0, "end": 7}],
                },
            }
        ]
    },
}

INVALID_RESPONSES: Dict[str, Any] = {
    "top level is a list": [],
    "events is not a list": {"events": {"event": "slot", "name": "x", "value": 1}},
    "event without its type": {"events": [{"name": "x", "value": 1}]},
    "slot event without name and value": {"events": [{"event": "slot"}]},
    "slot name is a number": {"events": [{"event": "slot", "name": 5, "value": 1}]},
    "unknown event type": {"events": [{"event": "teleport"}]},
    "timestamp is text": {"events": [{"event": "bot", "timestamp": "yesterday"}]},
    "entity without value": {"events": [{"event": "user", "parse_data": {"entities": [{"entity": "district"}]}}]},
    "response is a string": {"responses": ["مرحبا"]},
}


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    rasa_patches.install()


def original_validate(response: Any) -> None:
    """Rasa's own method, as it was before the patch."""
    original = RemoteAction._validate_action_result.__wrapped__
    original(RemoteAction("action_check", None), response)


@asynccontextmanager
async def action_server(body: Any) -> AsyncIterator[str]:
    """An HTTP server on loopback that answers every POST /webhook with ``body``."""

    async def webhook(request: web.Request) -> web.Response:
        await request.json()  # what Rasa posted is a tracker: it must be JSON
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}/webhook"
    finally:
        await server.close()


def run_remote_action(body: Any) -> List[Any]:
    """The events Rasa's RemoteAction.run makes of the server's ``body``."""

    async def scenario() -> List[Any]:
        async with action_server(body) as url:
            action = RemoteAction("action_check", EndpointConfig(url=url))
            tracker = DialogueStateTracker.from_events("customer-1", [UserUttered("مرحبا")])
            return await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, Domain.empty())

    return asyncio.run(scenario())


def test_the_patch_replaces_rasas_method_once():
    patched_method = RemoteAction._validate_action_result
    assert getattr(patched_method, "__noor_compiled_validator__", False)
    rasa_patches.install()
    assert RemoteAction._validate_action_result is patched_method
    original = patched_method.__wrapped__
    assert not hasattr(original, "__wrapped__"), "installed twice: the patch wraps itself"
    assert "validate" in original.__code__.co_names


def test_the_form_step_becomes_rasa_events():
    events = run_remote_action(copy.deepcopy(VALID_RESPONSES["form step"]))
    assert [type(e) for e in events] == [BotUttered, SlotSet, SlotSet, ActiveLoop, FollowupAction]
    assert events[0].text == "تم، رقم الحساب 12345678"
    assert events[1:] == [SlotSet("account_number", "12345678"), SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]


@pytest.mark.parametrize("name", sorted(VALID_RESPONSES))
def test_valid_responses_are_accepted_without_rebuilding_the_schema(name, monkeypatch):
    calls = []
    real_validate = jsonschema.validate
    monkeypatch.setattr(jsonschema, "validate", lambda *a, **k: calls.append(a) or real_validate(*a, **k))
    run_remote_action(copy.deepcopy(VALID_RESPONSES[name]))
    assert calls == [], "the patched path must not call jsonschema.validate for a valid response"
    original_validate(copy.deepcopy(VALID_RESPONSES[name]))  # Rasa's own check agrees
    assert len(calls) == 1


@pytest.mark.parametrize("name", sorted(INVALID_RESPONSES))
def test_invalid_responses_are_rejected_with_rasas_own_error(name):
    body = INVALID_RESPONSES[name]
    with pytest.raises(jsonschema.ValidationError) as patched_error:
        run_remote_action(copy.deepcopy(body))
    with pytest.raises(jsonschema.ValidationError) as rasa_error:
        original_validate(copy.deepcopy(body))
    with pytest.raises(jsonschema.ValidationError) as plain_error:
        jsonschema.validate(copy.deepcopy(body), RemoteAction.action_response_format_spec())

    got, expected = patched_error.value, rasa_error.value
    assert got.message == expected.message
    assert (list(got.path), list(got.schema_path), got.validator) == (list(expected.path), list(expected.schema_path), expected.validator)
    assert got.message.startswith(plain_error.value.message + ". Failed to validate Action server response")


def test_the_validator_is_compiled_once():
    rasa_patches.compiled_validator.cache_clear()
    for body in [*VALID_RESPONSES.values(), *INVALID_RESPONSES.values()]:
        try:
            RemoteAction("action_check", None)._validate_action_result(copy.deepcopy(body))
        except jsonschema.ValidationError:
            pass
    info = rasa_patches.compiled_validator.cache_info()
    assert (info.misses, info.currsize) == (1, 1)


def test_a_subclass_with_its_own_spec_gets_its_own_validator():
    class StrictAction(RemoteAction):
        @staticmethod
        def action_response_format_spec() -> Dict[str, Any]:
            return {"type": "object", "required": ["events"]}

    with pytest.raises(jsonschema.ValidationError, match="'events' is a required property"):
        StrictAction("action_strict", None)._validate_action_result({})
    assert RemoteAction("action_check", None)._validate_action_result({}) is True


def test_install_refuses_a_rasa_without_the_method(monkeypatch):
    monkeypatch.delattr(RemoteAction, "_validate_action_result")
    with pytest.raises(rasa_patches.RasaShapeError, match="_validate_action_result is missing"):
        rasa_patches.install()


def test_install_refuses_a_method_that_checks_differently(monkeypatch):
    def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
        return isinstance(result, dict)

    monkeypatch.setattr(RemoteAction, "_validate_action_result", _validate_action_result)
    with pytest.raises(rasa_patches.RasaShapeError, match="no longer uses"):
        rasa_patches.install()


def test_install_refuses_a_changed_signature(monkeypatch):
    def _validate_action_result(self: Any, result: Dict[str, Any], strict: bool) -> bool:
        from jsonschema import validate

        validate(result, self.action_response_format_spec())
        return True

    monkeypatch.setattr(RemoteAction, "_validate_action_result", _validate_action_result)
    with pytest.raises(rasa_patches.RasaShapeError, match="not \\(self, result\\)"):
        rasa_patches.install()


def test_rasa_run_installs_the_patch_before_rasas_main(monkeypatch):
    """scripts/rasa_run.py: the patch is in place when Rasa's main starts."""
    import rasa.__main__

    from scripts import rasa_run

    seen = {}
    monkeypatch.setattr(rasa.__main__, "main", lambda: seen.update(method=RemoteAction._validate_action_result))
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result.__wrapped__)
    monkeypatch.setattr(sys, "argv", ["rasa_run", "--version"])
    rasa_run.main()
    assert getattr(seen["method"], "__noor_compiled_validator__", False)


# --- the sequential graph runner's plan --------------------------------------------


def toy_schema(needs: Dict[str, Dict[str, str]]) -> Any:
    from rasa.engine.graph import GraphSchema, SchemaNode

    return GraphSchema({name: SchemaNode(needs=wanted, uses=object, constructor_name="create", fn="run", config={}) for name, wanted in needs.items()})


def test_the_plan_runs_each_node_after_what_it_needs_and_nothing_else():
    schema = toy_schema({
        "tokens": {"messages": "__message__"},
        "features": {"messages": "tokens"},
        "intents": {"messages": "features", "raw": "tokens"},
        "unused": {"messages": "tokens"},
        "final": {"a": "intents", "b": "features"},
    })
    plan = rasa_patches.execution_plan(schema, ["final"])
    order = [name for name, _ in plan]
    assert sorted(order) == ["features", "final", "intents", "tokens"]
    for name, needs in plan:
        assert all(order.index(need) < order.index(name) for need in needs if need in order)
    assert dict(plan)["intents"] == ("features", "tokens")  # the schema's order of needs
    assert dict(plan)["tokens"] == ("__message__",)


def test_a_cycle_is_refused():
    from rasa.engine.exceptions import GraphRunError

    with pytest.raises(GraphRunError, match="cycle"):
        rasa_patches.execution_plan(toy_schema({"a": {"x": "b"}, "b": {"y": "a"}}), ["a"])


# --- the past-states cache -----------------------------------------------------------


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """Counts the patch's replays of a tracker from its start (Rasa's own not counted)."""
    calls: List[str] = []
    original = rasa_patches._Replay

    def counting(tracker: Any, *args: Any) -> Any:
        calls.append(tracker().sender_id)
        return original(tracker, *args)

    monkeypatch.setattr(rasa_patches, "_Replay", counting)
    rasa_patches._replays.clear()
    return calls


def rasa_states(domain: Domain, tracker: DialogueStateTracker, *args: Any) -> List[Dict[str, Any]]:
    """What Rasa 3.6 itself returns (the replaced method, unpatched)."""
    return Domain.states_for_tracker_history.__wrapped__(domain, tracker, *args)


def shipped_domain() -> Domain:
    return Domain.load("bot/domain")


def conversation(sender_id: str = "customer-1") -> DialogueStateTracker:
    from rasa.shared.core.events import ActionExecuted

    return DialogueStateTracker.from_events(sender_id, [
        ActionExecuted("action_listen"),
        UserUttered("الكهربا مقطوعة", {"name": "report_outage", "confidence": 0.9}),
        ActionExecuted("outage_form"), ActiveLoop("outage_form"), SlotSet("requested_slot", "district"),
        ActionExecuted("action_listen"),
    ])


def test_a_second_ask_for_the_same_states_is_answered_without_a_replay(replays):
    domain, tracker = shipped_domain(), conversation()
    first = domain.states_for_tracker_history(tracker)
    assert replays == ["customer-1"]
    second = domain.states_for_tracker_history(tracker)
    assert replays == ["customer-1"] and second == first
    assert second is not first


def test_what_a_caller_changes_in_its_states_does_not_reach_the_next_caller(replays):
    domain, tracker = shipped_domain(), conversation()
    first = domain.states_for_tracker_history(tracker)
    expected = copy.deepcopy(first)
    first[-1].clear()
    for state in first:
        for sub_state in state.values():
            sub_state.clear()  # what Rasa's featurizer does to the last user input
    assert domain.states_for_tracker_history(tracker) == expected
    assert len(replays) == 1


def test_new_events_are_replayed_alone_and_give_rasas_states(replays):
    domain, tracker = shipped_domain(), conversation()
    rule_only = {"slots": ["requested_slot"], "loops": ["outage_form"]}
    before = domain.states_for_tracker_history(tracker)
    tracker.update(UserUttered("حي النرجس", {"name": "inform", "confidence": 0.9}))
    after = domain.states_for_tracker_history(tracker)
    assert replays == ["customer-1"] and after != before  # only the new message was replayed
    assert after == rasa_states(domain, tracker)
    hidden = domain.states_for_tracker_history(tracker, False, True, rule_only)  # the rule policy's second ask
    assert hidden == rasa_states(domain, tracker, False, True, rule_only) and len(replays) == 1
    assert domain.states_for_tracker_history(tracker, True) == rasa_states(domain, tracker, True)
    assert len(replays) == 2  # omit_unset_slots keeps a replay of its own
    twin = conversation("customer-2")
    twin.update(UserUttered("حي النرجس", {"name": "inform", "confidence": 0.9}))
    assert domain.states_for_tracker_history(twin) == after
    assert replays[-1] == "customer-2"


@pytest.mark.parametrize("undo", [UserUtteranceReverted(), ActionReverted(), Restarted(), SessionStarted()])
def test_a_revert_or_restart_replays_the_session_again(replays, undo):
    domain, tracker = shipped_domain(), conversation()
    domain.states_for_tracker_history(tracker)
    tracker.update(undo)
    tracker.update(UserUttered("حي النرجس", {"name": "inform", "confidence": 0.9}))
    for args in [(), (False, True, {"slots": [], "loops": ["outage_form"]})]:
        assert domain.states_for_tracker_history(tracker, *args) == rasa_states(domain, tracker, *args)
    assert len(replays) == 2  # the applied events no longer extend the replayed ones


def test_the_cache_does_not_keep_a_tracker_alive():
    import gc
    import weakref

    domain, tracker = shipped_domain(), conversation()
    domain.states_for_tracker_history(tracker)
    gone = weakref.ref(tracker)
    del tracker
    gc.collect()
    assert gone() is None


# --- the action server's request body -------------------------------------------------


@asynccontextmanager
async def recording_action_server(keepalive: float = 75.0) -> AsyncIterator[Tuple[str, List[bytes], List[Any]]]:
    """An action server on loopback that records each body and the connection it came on."""
    bodies: List[bytes] = []
    connections: List[Any] = []

    async def webhook(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        connections.append(request.transport)
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(keepalive_timeout=keepalive)
    try:
        yield f"http://127.0.0.1:{server.port}/webhook", bodies, connections
    finally:
        await server.close()


def customer_tracker() -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "customer-1", [UserUttered("متى يفتح الفرع؟ </script> 1/2", {"name": "opening_hours", "confidence": 0.1 + 0.2})]
    )


async def run_action(url: str, tracker: Optional[DialogueStateTracker] = None) -> None:
    action = RemoteAction("action_answer_faq", EndpointConfig(url=url, token="secret"))
    await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker or customer_tracker(), Domain.empty())


def test_the_action_server_gets_the_same_json_written_as_utf8():
    tracker = customer_tracker()

    async def scenario() -> List[bytes]:
        async with recording_action_server() as (url, bodies, _):
            await run_action(url, tracker)
            await rasa_patches.close_endpoint_sessions()
            return bodies

    body = asyncio.run(scenario())[0]
    expected = RemoteAction("action_answer_faq", None)._action_call_format(tracker, Domain.empty())
    assert "متى يفتح الفرع".encode() in body and b"\\u0645" not in body
    assert b"</script> 1/2" in body  # no escaped slashes either
    decoded = json.loads(body)
    assert decoded == json.loads(json.dumps(expected))
    assert decoded["tracker"]["latest_message"]["intent"]["confidence"] == 0.1 + 0.2  # every float digit kept


def test_actions_share_one_open_connection_until_the_server_stops():
    async def scenario() -> Tuple[List[Any], int, int]:
        async with recording_action_server() as (url, _, connections):
            endpoint = EndpointConfig(url=url)
            for _ in range(3):
                await RemoteAction("action_answer_faq", endpoint).run(
                    CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), customer_tracker(), Domain.empty()
                )
            await run_action(url)  # another endpoint object: a session of its own
            closed = await rasa_patches.close_endpoint_sessions()
            return connections, closed, await rasa_patches.close_endpoint_sessions()

    connections, closed, closed_again = asyncio.run(scenario())
    assert len(connections) == 4
    assert connections[0] is connections[1] is connections[2], "one TCP connection for every action of an endpoint"
    assert connections[3] is not connections[0]
    assert (closed, closed_again) == (2, 0)


def test_a_connection_the_server_closed_meanwhile_is_replaced():
    async def scenario() -> Tuple[List[Any], int]:
        async with recording_action_server(keepalive=0.2) as (url, bodies, connections):
            endpoint = EndpointConfig(url=url)
            for _ in range(2):
                await RemoteAction("action_answer_faq", endpoint).run(
                    CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), customer_tracker(), Domain.empty()
                )
                await asyncio.sleep(1.5)  # the server drops the idle connection (it looks once a second)
            await rasa_patches.close_endpoint_sessions()
            return connections, len(bodies)

    connections, answered = asyncio.run(scenario())
    assert answered == 2 and connections[0] is not connections[1]


def test_a_new_event_loop_gets_a_new_session():
    endpoint = EndpointConfig(url="http://127.0.0.1:9/webhook")

    async def lent() -> Any:
        async with endpoint.session() as session:
            return session

    first = asyncio.run(lent())
    second = asyncio.run(lent())
    assert first is not second and not second.closed


def test_install_refuses_a_session_built_differently(monkeypatch):
    from rasa.utils.endpoints import EndpointConfig as Config

    def session(self: Any) -> Any:
        import aiohttp

        return aiohttp.ClientSession(headers=self.headers, trust_env=True)

    monkeypatch.setattr(Config, "session", session)
    with pytest.raises(rasa_patches.RasaShapeError, match="EndpointConfig.session"):
        rasa_patches.install_endpoint_sessions()


@pytest.mark.parametrize("value", [float("nan"), 2**70, {"when": b"bytes"}])
def test_what_ujson_refuses_is_left_to_the_standard_library(value):
    try:
        expected: Any = json.dumps(value)
    except TypeError as error:
        with pytest.raises(TypeError):
            fast_json.dumps(value)
        assert "not JSON serializable" in str(error)
        return
    assert fast_json.dumps(value) == expected


@pytest.mark.parametrize("text", ['{"a": NaN}', "123456789012345678901234567890", '"\\ud800"', '{"t": "متى", "f": 0.30000000000000004}'])
def test_fast_json_reads_what_json_reads(text):
    assert repr(fast_json.loads(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["", "{", "[1,]", '{"a" 1}', b"\xff"])
def test_fast_json_refuses_what_json_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        fast_json.loads(text)


def test_sessions_of_finished_loops_are_closed_without_a_warning():
    import subprocess

    script = (
        "import asyncio\n"
        "from bot import rasa_patches\n"
        "from rasa.utils.endpoints import EndpointConfig\n"
        "rasa_patches.install_endpoint_sessions()\n"
        "async def lend(endpoint):\n"
        "    async with endpoint.session() as session:\n"
        "        return session\n"
        "first = asyncio.run(lend(EndpointConfig(url='http://127.0.0.1:9/a')))\n"
        "second = asyncio.run(lend(EndpointConfig(url='http://127.0.0.1:9/b')))\n"
        "assert first.closed and not second.closed, (first.closed, second.closed)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=str(Path(__file__).resolve().parents[2]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert "Unclosed" not in done.stderr, done.stderr
