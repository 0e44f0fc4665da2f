"""The compiled action-response validator, through Rasa's own RemoteAction.run.

Each response is served over real HTTP (an aiohttp server on loopback) and fetched by
RemoteAction with its EndpointConfig, as the Rasa server does with the action server.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List

import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.actions.action import RemoteAction
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, FollowupAction, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_patches

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
