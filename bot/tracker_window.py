"""The bounded view of a long conversation session: a snapshot plus its latest turns.

Rasa rebuilds a tracker's state by replaying every event of the current session, and
its policies featurise the whole session on every prediction, so a turn costs more
the longer the session is. ``bot.tracker_store.SessionTrackerStore`` therefore loads
only the latest ``keep_turns`` customer turns of a session, preceded by a *snapshot*:
events that recreate the state the conversation was in where those turns begin
(every slot that has been set, and whether a person has taken over).

A window only begins at a *turn start* (``action_listen`` directly followed by the
customer's message) while no form is active, so that a form's whole history, its
validation and its undo logic (``DialogueStateTracker.applied_events``) are always
inside the window; the states the policies see for the latest turns are then the
same as with the whole session (measured: ``python -m scripts.compare_windowed_predictions``).

Pure functions over Rasa events; no Redis here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.events import (
    ActionExecuted,
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


def turn_starts(events: Sequence[Event]) -> List[int]:
    """Indexes of the turn starts where no form is active (possible window starts).

    The form's state is followed by its activation events only (reverted turns are
    not undone here); :func:`slide_window` checks the chosen start by a replay.
    """
    starts: List[int] = []
    loop: Optional[str] = None
    for index, event in enumerate(events):
        if loop is None and is_turn_start(events, index):
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
    featurised differently from an unset one) and the pause of a handoff. Between
    turns there is no follow-up action and, at a window start, no active form.
    """
    events: List[Event] = [
        SlotSet(slot.name, slot.value, timestamp=timestamp) for slot in tracker.slots.values() if slot.has_been_set
    ]
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
        keep_turns: customer turns the window keeps.

    Returns:
        The new window, ``start`` relative to ``events``; None when the window stays
        where it is (not more than ``keep_turns`` turns yet, or a form is active).
    """
    starts = turn_starts(events)
    if len(starts) <= keep_turns:
        return None
    start = starts[-keep_turns]
    state = replay(sender_id, slots, [*snapshot, *events[:start]])
    if state.active_loop_name is not None:
        return None
    # start > 0: there is an earlier turn start; the snapshot takes the time of the
    # event it replaces, so that it sorts before the window in time as well
    return Window(start, snapshot_events(state, events[start - 1].timestamp))


def windowed(snapshot: Sequence[Event], events: Sequence[Event], keep_turns: int, sender_id: str, slots: Iterable[Slot]) -> List[Event]:
    """The events a tracker store loads for ``events`` (one session, oldest first):
    all of them, or a snapshot and the latest ``keep_turns`` turns. Used to compare
    predictions on both (``scripts/compare_windowed_predictions.py``)."""
    slots = list(slots)
    window = slide_window(sender_id, slots, snapshot, events, keep_turns)
    if window is None:
        return [*snapshot, *events]
    return [*window.snapshot, *events[window.start :]]
