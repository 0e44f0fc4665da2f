"""Cheaper versions of Rasa internals, installed once when a Rasa server starts.

Rasa 3.6's ``RemoteAction._validate_action_result`` checks every action-server
response with ``jsonschema.validate(response, action_response_format_spec())``. That
call rebuilds the schema, checks the schema itself against its meta-schema and builds
a new validator on every response: about 28 % of a Rasa process under load (issue 15).

``install()`` replaces that method with one that asks a validator compiled once per
schema (same validator class, same schema: the same checks) whether the response is
valid. A valid response is accepted at once; an invalid one is handed to Rasa's own
method, which raises exactly the error Rasa always raised (its best match, with its
text and link). Invalid responses are rare, so their cost does not matter.

``scripts/rasa_run.py`` installs it before Rasa's main; ``bench/validator.py`` measures it.

Rasa 3.6 also runs each message's graph (NLU components, then policies) through
``dask.get``: per run it rebuilds the minimal graph (a recursion that walks shared
parents once per path), then lets dask order, wrap and dispatch a dozen tasks, about 7 %
of a serving process's time. :class:`SequentialGraphRunner` works the plan out once per
set of targets and calls the same nodes with the same inputs, one after another in the
caller's thread, which is what ``dask.get`` (the synchronous scheduler) does too.

To choose the next action, the rule policy asks for the tracker's past states twice
(once reading the last message's text, once its intent) and the memoization policy once
more, and Rasa replays the whole session each time, and all of it again for the
prediction after the next action: four replays a turn, each longer as the session grows.
:func:`install_state_history_cache` keeps each tracker's replay (a snapshot of every
prior tracker) and replays only the events added since, so a turn replays its session
once; every caller gets its states built afresh from the snapshots by Rasa's own loop.

Every custom action sends the whole tracker to the action server, over a TCP connection
Rasa opens for that one request, as JSON written by the standard library with every
Arabic letter escaped (``\\u0645``): about 3 % of the process for the JSON, 1.2 ms of
CPU per action for the connection. :func:`install_endpoint_sessions` keeps one session
per endpoint open and writes its bodies with :func:`bot.fast_json.dumps` (``ujson``, UTF-8).
"""

from __future__ import annotations

import atexit
import copy
import functools
import inspect
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner

# Marks our replacement, so that a second install() changes nothing.
_PATCH_MARK = "__noor_compiled_validator__"
# Names Rasa 3.6's method uses: it calls jsonschema's validate on the response spec.
# Should a Rasa upgrade check responses differently, the patch would silently skip
# the new checks, so install() refuses instead.
_EXPECTED_NAMES = frozenset({"validate", "action_response_format_spec"})


class RasaShapeError(RuntimeError):
    """Rasa's code is not what a patch in this module was written for."""


@functools.cache
def compiled_validator(schema_spec: Callable[[], Dict[str, Any]]) -> Validator:
    """The validator of ``schema_spec()``'s schema, built and checked once.

    Args:
        schema_spec: a function returning a JSON schema, e.g.
            ``RemoteAction.action_response_format_spec``; the cache key, so a subclass
            that overrides the spec gets a validator of its own.

    Returns:
        An instance of the class ``jsonschema.validate`` would pick for the schema
        (the latest draft when the schema names none), without a format checker, as
        ``jsonschema.validate`` builds it.

    Raises:
        jsonschema.exceptions.SchemaError: the schema itself is invalid.
    """
    schema = schema_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _check_shape(remote_action: type) -> Callable[..., bool]:
    """Rasa's ``_validate_action_result``, after checking it is the one we replace.

    Raises:
        RasaShapeError: the method or the spec is missing or looks different.
    """
    original = inspect.getattr_static(remote_action, "_validate_action_result", None)
    spec = inspect.getattr_static(remote_action, "action_response_format_spec", None)
    if not inspect.isfunction(original):
        raise RasaShapeError("RemoteAction._validate_action_result is missing: Rasa changed, review bot/rasa_patches.py")
    if not isinstance(spec, staticmethod):
        raise RasaShapeError("RemoteAction.action_response_format_spec is no longer a staticmethod: review bot/rasa_patches.py")
    parameters = list(inspect.signature(original).parameters)
    if parameters != ["self", "result"]:
        raise RasaShapeError(f"RemoteAction._validate_action_result takes {parameters}, not (self, result): review bot/rasa_patches.py")
    missing = _EXPECTED_NAMES - set(original.__code__.co_names)
    if missing:
        raise RasaShapeError(
            f"RemoteAction._validate_action_result no longer uses {sorted(missing)}: it may check responses "
            "differently now, review bot/rasa_patches.py"
        )
    return original


def install_action_response_validator() -> None:
    """Make RemoteAction validate action-server responses with a compiled validator.

    Idempotent. The validator is built (and its schema checked) here, at start.

    Raises:
        RasaShapeError: Rasa's RemoteAction is not the shape this patch replaces.
    """
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction.__dict__.get("_validate_action_result"), _PATCH_MARK, False):
        return
    original = _check_shape(RemoteAction)
    compiled_validator(RemoteAction.action_response_format_spec)

    @functools.wraps(original)
    def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
        if compiled_validator(type(self).action_response_format_spec).is_valid(result):
            return True
        # Rasa's own check, for its exact error: it raises on what we found invalid.
        return original(self, result)

    setattr(_validate_action_result, _PATCH_MARK, True)
    RemoteAction._validate_action_result = _validate_action_result


# One step of a plan: the node's name and the names of the nodes (or inputs) it needs,
# in the order of its schema's ``needs``, as Rasa hands them to dask.
_Step = Tuple[str, Tuple[str, ...]]


def execution_plan(schema: GraphSchema, targets: List[str]) -> List[_Step]:
    """The nodes ``targets`` depend on, each after every node it needs.

    Args:
        schema: the graph.
        targets: node (or input) names whose outputs are wanted.

    Raises:
        GraphRunError: the graph has a cycle.
    """
    plan: List[_Step] = []
    done: set = set()
    visiting: set = set()

    def visit(name: str) -> None:
        if name in done or name not in schema.nodes:  # an input, provided at run time
            return
        if name in visiting:
            raise GraphRunError(f"The graph has a cycle through node '{name}'.")
        visiting.add(name)
        needs = tuple(schema.nodes[name].needs.values())
        for need in needs:
            visit(need)
        visiting.discard(name)
        done.add(name)
        plan.append((name, needs))

    for target in targets:
        visit(target)
    return plan


class SequentialGraphRunner(DaskGraphRunner):
    """Runs a model's graph node by node in the calling thread, without dask.

    Same nodes, inputs and outputs as :class:`DaskGraphRunner`, whose ``dask.get`` is
    synchronous as well; only the scheduling work per run is gone (see the module
    docstring). The plan for each set of targets is made once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: Dict[Tuple[str, ...], List[_Step]] = {}

    def run(self, inputs: Optional[Dict[str, Any]] = None, targets: Optional[List[str]] = None) -> Dict[str, Any]:
        """Runs the graph (see ``GraphRunner.run``)."""
        run_targets = list(targets if targets else self._graph_schema.target_names)
        key = tuple(run_targets)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = execution_plan(self._graph_schema, run_targets)
        # An input arrives as the (name, value) pair a node's output is, as with dask.
        values: Dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and value in self._graph_schema.nodes:
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure that none of the input names "
                    "passed to the `run` method are the same as node names in the graph schema."
                )
            values[name] = (name, value)
        try:
            for name, needs in plan:
                # a need nobody provides reaches the node as its bare name, as with
                # dask, and the node says which input is missing
                values[name] = self._instantiated_nodes[name](*(values.get(need, need) for need in needs))
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e
        return dict(values.get(target, target) for target in run_targets)


def install_sequential_graph_runner() -> None:
    """Make the message processor load its models with :class:`SequentialGraphRunner`.

    Raises:
        RasaShapeError: the processor no longer loads models the way this replaces.
    """
    from rasa.core import processor

    if getattr(processor, "DaskGraphRunner", None) is SequentialGraphRunner:
        return
    names = processor.MessageProcessor._load_model.__code__.co_names
    if getattr(processor, "DaskGraphRunner", None) is not DaskGraphRunner or "DaskGraphRunner" not in names:
        raise RasaShapeError("MessageProcessor._load_model no longer loads models with DaskGraphRunner: review bot/rasa_patches.py")
    processor.DaskGraphRunner = SequentialGraphRunner


@dataclass
class _Snapshot:
    """What one prior tracker (the tracker before an action) gives its past state:
    everything ``Domain.states_for_tracker_history`` reads from it."""

    state: Dict[str, Any]  # get_active_state(), cleaned; never handed out
    hide_rule_turn: bool
    followup_action: Optional[str]
    loop_turn: bool  # the latest action is the active loop (a form's own turn)
    previous_action: Dict[str, Any]  # the previous-action sub-state


@dataclass
class _Replay:
    """A tracker's session replayed so far: the applied events consumed, the replayed
    tracker after them, and a snapshot before each of their actions."""

    tracker: Any  # weak reference to the tracker replayed
    domain: Any
    applied: List[Any]
    replayed: Any
    snapshots: List[_Snapshot]


# The latest replay per value of omit_unset_slots. One tracker at a time: a graph run
# predicts for one tracker, and the next turn's tracker extends it (a new object after
# a reload, which then replays once).
_replays: Dict[bool, _Replay] = {}


def _snapshot(domain: Any, tracker: Any, hide_rule_turn: bool, omit_unset_slots: bool) -> _Snapshot:
    return _Snapshot(
        domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots), hide_rule_turn, tracker.followup_action,
        tracker.latest_action_name == tracker.active_loop_name, domain._get_prev_action_sub_state(tracker),
    )


def _replayed(domain: Any, tracker: Any, omit_unset_slots: bool) -> List[_Snapshot]:
    """Snapshots of every prior tracker of ``tracker``'s session, the current one last.

    Continues the latest replay when ``tracker`` is the tracker it replayed and its
    applied events still begin with the same event objects (new events were added);
    otherwise (another tracker, a reload, a revert or a restart) replays from the start.
    """
    from rasa.shared.core.events import ActionExecuted

    applied = tracker.applied_events()
    replay = _replays.pop(omit_unset_slots, None)  # out of the cache while it changes
    if (
        replay is None or replay.tracker() is not tracker or replay.domain is not domain
        or len(applied) < len(replay.applied) or any(a is not b for a, b in zip(applied, replay.applied, strict=False))  # the new list may be longer
    ):
        replay = _Replay(weakref.ref(tracker), domain, [], tracker.init_copy(), [])
    for event in applied[len(replay.applied):]:
        if isinstance(event, ActionExecuted):
            replay.snapshots.append(_snapshot(domain, replay.replayed, event.hide_rule_turn, omit_unset_slots))
        replay.replayed.update(event)
    replay.applied = applied
    _replays[omit_unset_slots] = replay
    return [*replay.snapshots, _snapshot(domain, replay.replayed, False, omit_unset_slots)]


def _copied(state: Dict[str, Any]) -> Dict[str, Any]:
    # Sub-state values are strings, tuples and numbers; callers (and the rule-only
    # clean-up below) change the dicts, never the values.
    return {name: dict(sub) if isinstance(sub, dict) else copy.deepcopy(sub) for name, sub in state.items()}


def _states(domain: Any, snapshots: List[_Snapshot], ignore_rule_only_turns: bool, rule_only_data: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``Domain.states_for_tracker_history``'s loop over prior trackers, on snapshots."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    states: List[Dict[str, Any]] = []
    last_ml_action_sub_state = None
    turn_was_hidden = False
    for snapshot in snapshots:
        if ignore_rule_only_turns:
            # remember the previous ML action of the last turn that was not hidden
            if not turn_was_hidden:
                last_ml_action_sub_state = snapshot.previous_action
            # a follow-up action or a form's own turn does not change whether the turn is hidden
            if not snapshot.followup_action and not snapshot.loop_turn:
                turn_was_hidden = snapshot.hide_rule_turn
            if turn_was_hidden:
                continue
        state = _copied(snapshot.state)
        if ignore_rule_only_turns:
            domain._remove_rule_only_features(state, rule_only_data)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[PREVIOUS_ACTION] = dict(last_ml_action_sub_state)
        states.append(domain._clean_state(state))
    return states


def install_state_history_cache() -> None:
    """Replay each tracker's session once, and only its new events after that.

    The rule policy asks for a tracker's past states twice per prediction (reading the
    last message's text, then its intent) and the memoization policy once more; Rasa
    replays the whole session each time, and again for the prediction after the next
    action. The replacement keeps, per tracker, the snapshot of every prior tracker
    (:func:`_replayed`) and builds each caller's states from them (:func:`_states`,
    Rasa's own loop): one replay per turn, the second prediction replaying only the
    events the first action added. Callers get fresh dicts every time.

    Raises:
        RasaShapeError: ``Domain.states_for_tracker_history`` or the helpers it uses changed.
    """
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    original = Domain.__dict__.get("states_for_tracker_history")
    if getattr(original, _PATCH_MARK, False):
        return
    if not inspect.isfunction(original) or list(inspect.signature(original).parameters) != [
        "self", "tracker", "omit_unset_slots", "ignore_rule_only_turns", "rule_only_data",
    ] or set(original.__code__.co_names) != _REPLAY_NAMES or "applied_events" not in DialogueStateTracker.generate_all_prior_trackers.__code__.co_names:
        raise RasaShapeError("Domain.states_for_tracker_history changed: review bot/rasa_patches.py")

    @functools.wraps(original)
    def states_for_tracker_history(
        self: Any, tracker: Any, omit_unset_slots: bool = False, ignore_rule_only_turns: bool = False,
        rule_only_data: Optional[Dict[str, Any]] = None,
    ) -> List[Dict[str, Any]]:
        return _states(self, _replayed(self, tracker, omit_unset_slots), ignore_rule_only_turns, rule_only_data)

    setattr(states_for_tracker_history, _PATCH_MARK, True)
    Domain.states_for_tracker_history = states_for_tracker_history


# What Rasa 3.6's states_for_tracker_history calls: the replacement repeats its loop
# with the same helpers, so install() refuses a Rasa whose method reads anything else.
_REPLAY_NAMES = frozenset({
    "generate_all_prior_trackers", "_get_prev_action_sub_state", "followup_action", "latest_action_name",
    "active_loop_name", "get_active_state", "_remove_rule_only_features", "_substitute_rule_only_user_input",
    "rasa", "shared", "core", "constants", "PREVIOUS_ACTION", "cast", "SubState", "append", "_clean_state",
})


# Seconds an idle connection to an endpoint waits for the next request: under the 5 s
# after which Sanic (the action server) closes an idle one, so that a request is never
# written into a connection the server is closing.
ENDPOINT_KEEPALIVE_SECONDS = 2.0
# Connections to one endpoint at once (a process runs a few dozen turns at a time).
ENDPOINT_CONNECTIONS = 256
# (id of the EndpointConfig, id of the loop) -> (the loop, the EndpointConfig, its session)
_endpoint_sessions: Dict[Tuple[int, int], Tuple[Any, Any, Any]] = {}
# What Rasa 3.6's EndpointConfig.session uses to build a session; the replacement builds
# the same one, so install() refuses a Rasa whose method reads anything else.
_SESSION_NAMES = frozenset({"basic_auth", "BasicAuth", "ClientSession", "headers", "ClientTimeout", "DEFAULT_REQUEST_TIMEOUT"})


class _LentSession:
    """What ``EndpointConfig.session()`` returns once patched: ``async with`` lends the
    endpoint's open session and leaves it open for the next request."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


def _endpoint_session(endpoint: Any) -> Any:
    """The open session of ``endpoint`` on the running loop, made on first use."""
    import asyncio

    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

    from bot import fast_json

    loop = asyncio.get_running_loop()
    key = (id(endpoint), id(loop))
    entry = _endpoint_sessions.get(key)
    if entry is not None and entry[0] is loop and entry[1] is endpoint and not entry[2].closed:
        return entry[2]
    for stale in [k for k, (old_loop, _, session) in _endpoint_sessions.items() if old_loop.is_closed() or session.closed]:
        _discard(_endpoint_sessions.pop(stale)[2])  # its loop has finished (asyncio.run), or it was closed
    auth = aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"]) if endpoint.basic_auth else None
    session = aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=aiohttp.TCPConnector(limit=ENDPOINT_CONNECTIONS, keepalive_timeout=ENDPOINT_KEEPALIVE_SECONDS),
        json_serialize=fast_json.dumps,
    )
    _endpoint_sessions[key] = (loop, endpoint, session)
    return session


def _discard(session: Any) -> None:
    """Close a session without its event loop (finished, or never to run again)."""
    if session.closed:
        return
    connector = session.connector
    session.detach()  # the session counts as closed: no "Unclosed client session" at exit
    # aiohttp's synchronous part of BaseConnector.close(): drops the pooled connections
    close_now = getattr(connector, "_close", None)
    if close_now is not None:
        close_now()


@atexit.register
def _discard_endpoint_sessions() -> None:
    # A server closes its sessions when it stops (close_endpoint_sessions); what is left
    # at exit (a script, a test process) goes without a warning.
    while _endpoint_sessions:
        _discard(_endpoint_sessions.popitem()[1][2])


async def close_endpoint_sessions() -> int:
    """Close the endpoint sessions of the running loop (a server's ``after_server_stop``).

    Returns:
        How many were closed.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    mine = [key for key, (owner, _, _) in _endpoint_sessions.items() if owner is loop]
    for key in mine:
        await _endpoint_sessions.pop(key)[2].close()
    return len(mine)


def install_endpoint_sessions() -> None:
    """Keep one HTTP session per endpoint (the action server's) and event loop open.

    Rasa 3.6 opens a new session, and so a new TCP connection, for every custom action
    and closes it after the answer: about 1.2 ms of CPU per action between Rasa and the
    action server, measured on loopback. The patched ``EndpointConfig.session`` lends a
    session that stays open, with Rasa's headers, authentication and timeout, idle
    connections kept for :data:`ENDPOINT_KEEPALIVE_SECONDS`, and JSON bodies written by
    :func:`bot.fast_json.dumps` (``ujson``, UTF-8: the whole tracker goes with each
    action). Idempotent.

    Raises:
        RasaShapeError: ``EndpointConfig.session`` no longer builds its session from
            the settings this copies.
    """
    from rasa.utils.endpoints import EndpointConfig

    original = EndpointConfig.__dict__.get("session")
    if getattr(original, _PATCH_MARK, False):
        return
    if not inspect.isfunction(original) or set(original.__code__.co_names) - {"aiohttp"} != _SESSION_NAMES:
        raise RasaShapeError("EndpointConfig.session changed: review bot/rasa_patches.py")

    @functools.wraps(original)
    def session(self: Any) -> Any:
        return _LentSession(_endpoint_session(self))

    setattr(session, _PATCH_MARK, True)
    EndpointConfig.session = session


def install() -> None:
    """Install every patch of this module (call before Rasa's main)."""
    install_action_response_validator()
    install_sequential_graph_runner()
    install_state_history_cache()
    install_endpoint_sessions()
