"""The bounded view of a long conversation session: a snapshot plus its latest turns.

Rasa rebuilds a tracker's state by replaying every event of the current session, and
its policies featurise the whole session on every prediction, so a turn costs more
the longer the session is. ``bot.tracker_store.SessionTrackerStore`` therefore loads
only the latest ``keep_turns`` customer turns of a session, preceded by a *snapshot*:
events that recreate the state the conversation was in where those turns begin
(every slot that has been set, and whether a person has taken over).

A window only begins at a *turn start* (``action_listen`` directly followed by the
customer's message), and inside an open form only where Rasa's folding of the form's
runs (``DialogueStateTracker.applied_events``) stays inside the window
(:func:`window_starts`); the states the policies see for the latest turns are then
the same as with the whole session (measured: ``python -m bench.windowed_predictions``).

Pure functions over Rasa events; no Redis here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    ConversationPaused,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker


@dataclass(frozen=True)
class Window:
    """Where the loaded part of a session begins.

    Attributes:
        start: index of the window's first event among the events given to
            :func:`slide_window` (0: the window is everything).
        snapshot: events recreating the state before ``start``.
    """

    start: int
    snapshot: List[Event]


def is_session_start(event: Event) -> bool:
    """The event that opens a conversation session (Rasa splits sessions there)."""
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME


def split_sessions(events: Sequence[Event]) -> List[List[Event]]:
    """``events`` cut before every ``action_session_start`` (where Rasa's
    ``get_trackers_for_conversation_sessions`` cuts them).

    The first part holds the events before the first session start: the rest of a
    session that began earlier, or nothing. Every other part begins with a start.
    """
    parts: List[List[Event]] = [[]]
    for event in events:
        if is_session_start(event):
            parts.append([])
        parts[-1].append(event)
    return parts


def is_turn_start(events: Sequence[Event], index: int) -> bool:
    """``events[index]`` is ``action_listen`` and the customer's message follows it."""
    event = events[index]
    return (
        isinstance(event, ActionExecuted)
        and event.action_name == ACTION_LISTEN_NAME
        and index + 1 < len(events)
        and isinstance(events[index + 1], UserUttered)
    )


def _next_actions(events: Sequence[Event]) -> List[Optional[str]]:
    """For every index, the name of the first action executed at or after it."""
    following: List[Optional[str]] = [None] * (len(events) + 1)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        following[index] = event.action_name if isinstance(event, ActionExecuted) else following[index + 1]
    return following


def window_starts(events: Sequence[Event], following: Optional[Sequence[Optional[str]]] = None) -> List[int]:
    """Indexes of the turn starts where a window may begin.

    Where no form is active; or where one is and the customer's message is not
    answered by the form itself. Rasa folds a form's happy path (the customer
    answers, the form runs again) into its previous run (``applied_events``), looking
    back for that run; a window must hold it, or the fold would differ. Where the
    message is answered by another action first, Rasa's look-back stops at that
    message (an unhappy path), inside the window. The form's state follows its
    activation events only here (reverted turns are not undone);
    :func:`slide_window` checks the chosen start by a replay.

    Args:
        events: events of one session.
        following: :func:`_next_actions` of ``events`` when the caller has it.
    """
    following = following if following is not None else _next_actions(events)
    starts: List[int] = []
    loop: Optional[str] = None
    for index, event in enumerate(events):
        if is_turn_start(events, index) and (loop is None or following[index + 2] not in (None, loop)):
            starts.append(index)
        if isinstance(event, ActiveLoop):
            loop = event.name
        elif isinstance(event, (Restarted, SessionStarted)):
            loop = None
    return starts


def replay(sender_id: str, slots: Iterable[Slot], events: Sequence[Event]) -> DialogueStateTracker:
    """A tracker in the state a tracker store's reload of ``events`` gives (Rasa's
    ``recreate_from_dialogue``: the applied events replayed from the initial state)."""
    tracker = DialogueStateTracker(sender_id, slots)
    tracker.recreate_from_dialogue(Dialogue(sender_id, list(events)))
    return tracker


def snapshot_events(tracker: DialogueStateTracker, timestamp: Optional[float]) -> List[Event]:
    """Events that put a fresh tracker into ``tracker``'s state between two turns.

    Every slot that has been set (its value, even the initial one: a set slot is
    featurised differently from an unset one), the active form (a rejection of its
    last run included) and the pause of a handoff. Between turns there is no
    follow-up action and the form is not interrupted (``action_listen`` reset both).
    The form's ``trigger_message`` is not kept (no slot mapping here reads it).
    """
    events: List[Event] = [
        SlotSet(slot.name, slot.value, timestamp=timestamp) for slot in tracker.slots.values() if slot.has_been_set
    ]
    loop = tracker.active_loop_name
    if loop is not None:
        events.append(ActiveLoop(loop, timestamp=timestamp))
        if tracker.active_loop is not None and tracker.active_loop.rejected:
            events.append(ActionExecutionRejected(loop, timestamp=timestamp))
    if tracker.is_paused():
        events.append(ConversationPaused(timestamp=timestamp))
    return events


def slide_window(
    sender_id: str, slots: Iterable[Slot], snapshot: Sequence[Event], events: Sequence[Event], keep_turns: int
) -> Optional[Window]:
    """Move a session's window forward so that it keeps the latest ``keep_turns`` turns.

    Args:
        sender_id: the conversation.
        slots: the domain's slots (the snapshot names the ones that were set).
        snapshot: the current window's snapshot.
        events: the session's events from the current window start on.
        keep_turns: customer turns the window keeps (at least).

    Returns:
        The new window, ``start`` relative to ``events``; None when the window stays
        where it is (not more than ``keep_turns`` turns yet, or no start allowed).
    """
    turns = [index for index in range(len(events)) if is_turn_start(events, index)]
    if len(turns) <= keep_turns:
        return None
    following = _next_actions(events)
    allowed = [index for index in window_starts(events, following) if index <= turns[-keep_turns]]
    if not allowed or allowed[-1] == 0:
        return None
    start = allowed[-1]
    state = replay(sender_id, slots, [*snapshot, *events[:start]])
    if state.active_loop_name is not None and following[start + 2] in (None, state.active_loop_name):
        return None  # the form found by the scan was not the replayed one (a reverted turn)
    # start > 0: the snapshot takes the time of the event before it, so that it sorts
    # before the window in time as well
    return Window(start, snapshot_events(state, events[start - 1].timestamp))

