"""The sequential graph runner and the past-states cache against Rasa's own, on the shipped model.

Both runners load the model trained from the shipped configuration (``trained_model``);
every message parses to the same data and every prefix of every story and rule of
``bot/data`` gets the same next-action prediction, with and without the cache.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.training import load_data
from rasa.engine import loader
from rasa.engine.exceptions import GraphComponentException, GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_patches

MESSAGES = [
    "ما هي مواعيد عمل الفرع؟",
    "الكهربا مقطوعة من امس!!!",
    "abghi a3rf fatorti",
    "رقم حسابي ١٢٣٤٥٦٧٨ وموعدي بكرة الساعة 3",
    "",
    "<b>hello</b>\u0000",
]


@pytest.fixture(scope="module")
def runners(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    loaded: Dict[str, Any] = {}
    for runner_class in (DaskGraphRunner, rasa_patches.SequentialGraphRunner):
        metadata, runner = loader.load_predict_graph_runner(tmp_path_factory.mktemp(runner_class.__name__), trained_model, LocalModelStorage, runner_class)
        loaded[runner_class.__name__] = (metadata, runner)
    return loaded


@pytest.fixture(scope="module")
def stories(runners: Dict[str, Any]) -> List[Tuple[str, List[Event]]]:
    """Every story and rule of bot/data: its sender id and events."""
    domain: Domain = next(iter(runners.values()))[0].domain
    loaded = load_data("bot/data", domain, augmentation_factor=0)
    trackers = asyncio.run(loaded) if asyncio.iscoroutine(loaded) else loaded
    return [(tracker.sender_id, list(tracker.events)) for tracker in trackers]


def cut_before_actions(sender_id: str, events: List[Event]) -> List[Tuple[str, List[Event]]]:
    return [(sender_id, events[:i]) for i, event in enumerate(events) if i and isinstance(event, ActionExecuted)]


@pytest.fixture(scope="module")
def story_prefixes(stories: List[Tuple[str, List[Event]]]) -> List[Tuple[str, List[Event]]]:
    """Every story and rule of bot/data, cut before each action."""
    prefixes = [prefix for sender_id, events in stories for prefix in cut_before_actions(sender_id, events)]
    assert len(prefixes) > 100
    return prefixes


def parse(runner: Any, metadata: Any, text: str) -> Dict[str, Any]:
    message = UserMessage(text, sender_id="customer-1", message_id="m-1")
    return runner.run(inputs={"__message__": [message]}, targets=[metadata.nlu_target])[metadata.nlu_target][0].as_dict()


def predictions(runner: Any, metadata: Any, prefixes: List[Tuple[str, List[Event]]]) -> List[Tuple[Any, ...]]:
    out = []
    for sender_id, events in prefixes:
        tracker = DialogueStateTracker.from_events(sender_id, events, slots=metadata.domain.slots)
        prediction = runner.run(inputs={"__tracker__": tracker}, targets=[metadata.core_target])[metadata.core_target]
        out.append((prediction.max_confidence_index, prediction.policy_name, [round(p, 9) for p in prediction.probabilities]))
    return out


@pytest.mark.parametrize("text", MESSAGES)
def test_a_message_parses_the_same(runners, text):
    (dask_metadata, dask_runner), (metadata, runner) = runners["DaskGraphRunner"], runners["SequentialGraphRunner"]
    assert parse(runner, metadata, text) == parse(dask_runner, dask_metadata, text)


def test_every_story_step_is_predicted_the_same_with_and_without_the_cache(runners, story_prefixes, monkeypatch):
    (dask_metadata, dask_runner), (metadata, runner) = runners["DaskGraphRunner"], runners["SequentialGraphRunner"]
    monkeypatch.setattr(Domain, "states_for_tracker_history", Domain.states_for_tracker_history)  # restored after the test
    expected = predictions(dask_runner, dask_metadata, story_prefixes)
    assert predictions(runner, metadata, story_prefixes) == expected
    rasa_patches.install_state_history_cache()
    assert getattr(Domain.states_for_tracker_history, "__noor_compiled_validator__", False)
    assert predictions(runner, metadata, story_prefixes) == expected
    assert predictions(dask_runner, dask_metadata, story_prefixes) == expected


def test_a_conversation_growing_event_by_event_is_predicted_as_rasa_predicts_it(runners, stories, monkeypatch):
    """The cache's incremental path: one live tracker per story, updated one event at a
    time as a served conversation is, predicted before every action."""
    (dask_metadata, dask_runner), (metadata, runner) = runners["DaskGraphRunner"], runners["SequentialGraphRunner"]
    monkeypatch.setattr(Domain, "states_for_tracker_history", Domain.states_for_tracker_history)  # restored after the test
    expected = [predictions(dask_runner, dask_metadata, cut_before_actions(sender_id, events)) for sender_id, events in stories]
    rasa_patches.install_state_history_cache()
    for (sender_id, events), rasas in zip(stories, expected, strict=True):
        live, ours = DialogueStateTracker(sender_id, metadata.domain.slots), []
        for i, event in enumerate(events):
            if i and isinstance(event, ActionExecuted):
                prediction = runner.run(inputs={"__tracker__": live}, targets=[metadata.core_target])[metadata.core_target]
                ours.append((prediction.max_confidence_index, prediction.policy_name, [round(p, 9) for p in prediction.probabilities]))
            live.update(event)
        assert ours == rasas, sender_id


def test_the_plan_is_made_once_per_set_of_targets(runners, monkeypatch):
    metadata, runner = runners["SequentialGraphRunner"]
    parse(runner, metadata, "مرحبا")
    monkeypatch.setattr(rasa_patches, "execution_plan", lambda *a, **k: pytest.fail("planned again"))
    assert parse(runner, metadata, "شكرا")["text"] == "شكرا"


def test_a_failing_node_fails_the_run_as_with_dask(runners):
    for name in ("DaskGraphRunner", "SequentialGraphRunner"):
        metadata, runner = runners[name]
        with pytest.raises(GraphComponentException):
            runner.run(inputs={"__tracker__": "not a tracker"}, targets=[metadata.core_target])


def test_an_input_named_like_a_node_is_refused(runners):
    metadata, runner = runners["SequentialGraphRunner"]
    node = next(iter(metadata.predict_schema.nodes))
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        runner.run(inputs={"__message__": node}, targets=[metadata.nlu_target])


def test_rasa_run_loads_models_with_the_sequential_runner():
    from rasa.core import processor

    rasa_patches.install()
    assert processor.DaskGraphRunner is rasa_patches.SequentialGraphRunner
    rasa_patches.install()  # twice changes nothing
    assert processor.DaskGraphRunner is rasa_patches.SequentialGraphRunner
