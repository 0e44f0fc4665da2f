"""One turn of a conversation run by Rasa's processor, for ``bot/channels/inbound.py``.

``Agent.handle_message`` takes the conversation's lock itself, so the inbound drain,
which holds that lock while it works through a conversation's waiting messages,
drives the processor directly with the same steps ``MessageProcessor.handle_message``
takes (Rasa 3.6; its ``_update_tracker_session``, ``_handle_message_with_tracker`` and
``_run_prediction_loop``), with two additions:

- exactly once: a message whose id is already on a ``UserUttered`` of the tracker was
  handled by a turn that saved the tracker and then died before it was acknowledged;
  it is skipped, not handled again. Replies a channel only collects in memory (REST's
  ``CollectingOutputChannel``) died with that turn, so they are read back from the
  tracker (:func:`recorded_answer`); channels that sent them during the turn (WhatsApp's
  outbox, the web chat) do not send them twice;
- bursts: several messages are recorded as separate ``UserUttered`` events in order
  (each with its own parse, slots extracted after each), and the bot predicts and
  answers once, after the last. When the texts read together parse with a higher
  intent confidence than the last one alone, or with the same intent about as surely
  (``الكهرباء`` + ``مقطوعة من الصبح عندنا``: ``report_outage`` either way, together
  with the service: :func:`choose_reading`), the last event carries the joint parse
  (its ``parse_data["text"]`` is the joined text, which the entity offsets refer to)
  and its metadata says ``burst.read_together``.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Set

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.data import TrainingType

logger = logging.getLogger(__name__)

AGENT_WAIT_SECONDS = 60.0
SAME_READING_TOLERANCE = 0.05  # "as sure" for the same intent read alone and together


async def ready_agent(app: Any, timeout: float = AGENT_WAIT_SECONDS) -> Any:
    """Rasa's agent on ``app.ctx.agent`` once it has loaded a model.

    Raises:
        RuntimeError: no ready agent within ``timeout`` seconds.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        if agent is not None and agent.is_ready():
            return agent
        if asyncio.get_running_loop().time() >= deadline:
            raise RuntimeError("Rasa agent not ready")
        await asyncio.sleep(0.1)


def recorded_message_ids(tracker: DialogueStateTracker) -> Set[str]:
    """Ids of the customer messages the tracker already holds."""
    return {event.message_id for event in tracker.events if isinstance(event, UserUttered) and event.message_id}


def recorded_answer(tracker: DialogueStateTracker, message_id: str) -> List[BotUttered]:
    """What the bot said after the customer message ``message_id``, up to the next one."""
    answer: List[BotUttered] = []
    found = False
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if found:
                break
            found = event.message_id == message_id
        elif found and isinstance(event, BotUttered):
            answer.append(event)
    return answer


def _confidence(parse_data: Dict[str, Any]) -> float:
    return float((parse_data.get("intent") or {}).get("confidence") or 0.0)


def _intent(parse_data: Dict[str, Any]) -> Any:
    return (parse_data.get("intent") or {}).get("name")


class RasaTurns:
    """Runs turns with the agent the Rasa server put on ``app.ctx.agent``.

    Args:
        app: the Sanic app of the Rasa server.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def agent(self) -> Any:
        return await ready_agent(self.app)

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        """The conversation's lock in Rasa's lock store (shared by every Rasa process)."""
        agent = await self.agent()
        async with agent.lock_store.lock(conversation_id):
            yield

    async def run(self, conversation_id: str, messages: List[UserMessage]) -> None:
        """Record ``messages`` in order and let the bot answer once, after the last.

        Call with the conversation's lock held. All messages share one output channel.
        """
        processor = (await self.agent()).processor
        tracker = await processor.get_tracker(conversation_id)
        seen = recorded_message_ids(tracker)
        fresh = [message for message in messages if message.message_id not in seen]
        if len(fresh) < len(messages):
            logger.warning("inbound: %d message(s) of %s were already recorded; not handled twice", len(messages) - len(fresh), conversation_id)
        if not fresh:
            last = messages[-1]
            if isinstance(last.output_channel, CollectingOutputChannel):
                for said in recorded_answer(tracker, str(last.message_id)):
                    await last.output_channel.send_response(conversation_id, said.message())
            return
        output = fresh[-1].output_channel
        await processor._update_tracker_session(tracker, output, fresh[0].metadata)
        for message in fresh[:-1]:
            await processor._handle_message_with_tracker(message, tracker)
            tracker = await processor.run_action_extract_slots(output, tracker)
        last = fresh[-1]
        if len(fresh) > 1:
            last.parse_data = await self._understood_together(processor, fresh, tracker)
            together = last.parse_data.get("text") != last.text
            last.metadata = {**(last.metadata or {}), "burst": {"messages": len(fresh), "read_together": together}}
        await processor._handle_message_with_tracker(last, tracker)
        if processor.model_metadata.training_type == TrainingType.NLU:
            await processor.save_tracker(tracker)
            return
        tracker = await processor.run_action_extract_slots(output, tracker)
        await processor._run_prediction_loop(output, tracker)
        await processor.run_anonymization_pipeline(tracker)
        await processor.save_tracker(tracker)

    async def _understood_together(self, processor: Any, burst: List[UserMessage], tracker: DialogueStateTracker) -> Dict[str, Any]:
        """The last message's parse: its own, or the joined texts' when that is surer."""
        last = burst[-1]
        alone: Dict[str, Any] = await processor.parse_message(last, tracker)
        if any(message.text is None or message.text.startswith("/") for message in burst):
            return alone  # a tapped button's command means exactly what it says
        joined_text = " ".join(str(message.text) for message in burst)
        joined_message = UserMessage(joined_text, last.output_channel, last.sender_id, input_channel=last.input_channel, metadata=last.metadata)
        joined: Dict[str, Any] = await processor.parse_message(joined_message, tracker)
        return choose_reading(alone, joined)


def choose_reading(alone: Dict[str, Any], joined: Dict[str, Any]) -> Dict[str, Any]:
    """The parse the last message of a burst is understood by.

    The joined texts win when they are surer of their intent, or when they read the
    same intent about as surely (``SAME_READING_TOLERANCE``): then they also carry the
    entities of the earlier messages (the service in ``الكهرباء`` + ``مقطوعة من الصبح
    عندنا``), and the classifier is often near 1.0 either way.
    """
    if _confidence(joined) > _confidence(alone):
        return joined
    if _intent(joined) == _intent(alone) and _confidence(joined) >= _confidence(alone) - SAME_READING_TOLERANCE:
        return joined
    return alone

