"""What a trainer can do, shared by the web routes and the command line.

Every change goes through here so it is recorded in the audit log (who, when,
what: file, example, before/after) and can be undone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bot.masking import conversation_ref, mask
from workbench import nlu_files
from workbench.inbox import InboxFilter, InboxItem, items_from_dialogue, select
from workbench.rasa_client import RasaClient, RasaError
from workbench.settings import WorkbenchSettings
from workbench.store import WorkbenchStore
from workbench.training import NotPublished, TrainingManager


class WorkbenchError(ValueError):
    """A request the workbench refuses; ``code`` for programs, message for people."""

    def __init__(self, code: str, message: str, status: int = 400, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}


class Workbench:
    """The trainer's operations on the inbox, the training data and the audit log.

    Conversations are read through the Rasa server's HTTP API (``GET
    /conversations/{id}/tracker``), the ids from the workbench's own index
    (:meth:`WorkbenchStore.discover`, at most once per ``discovery_seconds``); each
    tracker read is reused for ``tracker_cache_seconds``.

    Args:
        settings: paths, Redis, the Rasa server and thresholds.
        store: the Redis client (created from ``settings`` when None).
        training: the retraining jobs (created from ``settings`` when None).
        rasa: the Rasa HTTP client (the training manager's when None).
    """

    def __init__(self, settings: WorkbenchSettings, store: Optional[WorkbenchStore] = None,
                 training: Optional[TrainingManager] = None, rasa: Optional[RasaClient] = None) -> None:
        self.settings = settings
        self.store = store or WorkbenchStore(
            settings.redis_url, settings.tracker_key_prefix, settings.key_prefix,
            audit_retention_seconds=settings.audit_retention_days * 86400, max_conversations=settings.max_conversations,
        )
        self.training = training or TrainingManager(settings, rasa)
        self.rasa = rasa or self.training.rasa
        self._discovered_at: Optional[float] = None
        self._trackers: Dict[str, Tuple[float, Dict[str, Any]]] = {}

    async def close(self) -> None:
        await self.store.close()

    async def dialogues(self) -> List[Tuple[str, Dict[str, Any]]]:
        """(conversation id, tracker JSON) of the newest indexed conversations.

        Raises:
            WorkbenchError: the Rasa server is unreachable (502).
        """
        now = time.monotonic()
        if self._discovered_at is None or now - self._discovered_at >= self.settings.discovery_seconds:
            await self.store.discover()
            self._discovered_at = now
        ids = await self.store.conversation_ids(self.settings.max_conversations)
        fresh = {cid: self._trackers[cid][1] for cid in ids
                 if cid in self._trackers and now - self._trackers[cid][0] < self.settings.tracker_cache_seconds}
        try:
            fetched = await self.rasa.trackers([cid for cid in ids if cid not in fresh])
        except RasaError as error:
            raise WorkbenchError("rasa_unavailable", "تعذّر الوصول إلى خادم Rasa لقراءة المحادثات. "
                                 f"(The Rasa server is unreachable: {error})", 502) from error
        self._trackers = {cid: (now, fresh[cid]) for cid in fresh}  # drops what left the index
        for cid, dialogue in fetched:
            if dialogue is not None:
                self._trackers[cid] = (now, dialogue)
        await self.store.touch({cid: float(d["latest_event_time"]) for cid, d in fetched
                                if d is not None and isinstance(d.get("latest_event_time"), (int, float))})
        return [(cid, self._trackers[cid][1]) for cid in ids if cid in self._trackers]

    async def all_items(self) -> List[InboxItem]:
        items: List[InboxItem] = []
        key = await self.store.ref_key()

        def ref(conversation_id: str) -> str:
            return conversation_ref(conversation_id, key)

        for conversation_id, dialogue in await self.dialogues():
            items.extend(items_from_dialogue(conversation_id, dialogue, self.settings.low_confidence, ref))
        return items

    async def inbox(self, inbox_filter: InboxFilter, limit: int = 200) -> List[InboxItem]:
        """Messages not reviewed yet that pass the filter, newest first, masked."""
        return select(await self.all_items(), inbox_filter, await self.store.reviewed(), limit)

    async def item(self, item_id: str) -> InboxItem:
        for candidate in await self.all_items():
            if candidate.id == item_id:
                return candidate
        raise WorkbenchError("not_found", "الرسالة غير موجودة. (No such message.)", 404)

    async def add_example(self, who: str, example: nlu_files.NewExample, item_id: Optional[str] = None) -> Dict[str, Any]:
        """Write an example (from an inbox message when ``item_id`` is given) and record it.

        The text written is always masked again here, whatever the caller sent.

        Raises:
            WorkbenchError: refused (invalid, duplicate, conflict, held-out); nothing written.
        """
        if item_id:
            item = await self.item(item_id)
            if example.text.strip() != item.text.strip():
                raise WorkbenchError("invalid", "النص لا يطابق الرسالة. (The text does not match the message.)")
            example.date = example.date or item.date
        example.text = mask(example.text)
        try:
            written = await asyncio.to_thread(nlu_files.add_example, self.settings.nlu_data, example, self.settings.heldout)
        except nlu_files.ExampleRefused as refused:
            status = 409 if refused.code in ("duplicate", "conflict", "heldout") else 400
            raise WorkbenchError(refused.code, refused.message, status, refused.details) from refused
        if item_id:
            await self.store.mark_reviewed(item_id)
        entry = await self.store.record(
            who, "add_example", file=Path(written.file).name, intent=example.intent, example=written.annotated,
            before=None, after=written.snippet, new_intent=written.new_intent, item_id=item_id,
        )
        return {"audit_id": entry["id"], "file": Path(written.file).name, "annotated": written.annotated,
                "new_intent": written.new_intent, "warnings": list(written.warnings)}

    async def dismiss(self, who: str, item_id: str) -> Dict[str, Any]:
        """Take a message out of the inbox without writing an example."""
        await self.item(item_id)
        await self.store.mark_reviewed(item_id)
        entry = await self.store.record(who, "dismiss", item_id=item_id)
        return {"audit_id": entry["id"]}

    async def undo(self, who: str, entry_id: str) -> Dict[str, Any]:
        """Revert one audit entry (an added example or a dismissal) and record the undo.

        Raises:
            WorkbenchError: unknown entry, already undone, not undoable, or the file changed since.
        """
        entry = await self.store.entry(entry_id)
        if entry is None:
            raise WorkbenchError("not_found", "لا يوجد إجراء بهذا الرقم. (No such audit entry.)", 404)
        if entry.get("action") not in ("add_example", "dismiss", "load_model"):
            raise WorkbenchError("not_undoable", "هذا الإجراء لا يمكن التراجع عنه من هنا. (This action cannot be undone here.)")
        if entry.get("undone_by") or not await self.store.claim_undo(entry_id, "pending"):
            raise WorkbenchError("already_undone", "تم التراجع عن هذا الإجراء من قبل. (Already undone.)", 409)
        try:
            if entry["action"] == "add_example":
                path = self.settings.nlu_data / Path(entry["file"]).name
                await asyncio.to_thread(nlu_files.remove_snippet, path, entry["after"])
            elif entry["action"] == "load_model":
                if not entry.get("before"):
                    raise WorkbenchError("not_undoable", "لا يوجد نموذج سابق لإعادته. (No previous model recorded.)")
                await self.training.load_file(entry["before"], who)
        except nlu_files.ExampleRefused as refused:
            await self.store.release_undo(entry_id)
            raise WorkbenchError("conflict", refused.message, 409) from refused
        except (WorkbenchError, RasaError, FileNotFoundError) as error:
            await self.store.release_undo(entry_id)
            if isinstance(error, WorkbenchError):
                raise
            raise WorkbenchError("rasa_error", f"تعذّر تحميل النموذج السابق. (Could not load the previous model: {error})", 502) from error
        if entry.get("item_id"):
            await self.store.mark_reviewed(entry["item_id"], reviewed=False)
        record = await self.store.record(
            who, "undo", undoes=entry_id, file=entry.get("file"), intent=entry.get("intent"),
            example=entry.get("example"), before=entry.get("after"), after=None,
        )
        await self.store.set_undone(entry_id, record["id"])
        return {"audit_id": record["id"], "undone": entry_id}

    async def start_training(self, who: str) -> Dict[str, Any]:
        """Start a background retraining job and record who started it."""
        try:
            job = self.training.start(who)
        except RuntimeError as error:
            raise WorkbenchError("busy", "يوجد تدريب قيد التشغيل بالفعل. (A training job is already running.)", 409) from error
        entry = await self.store.record(who, "train", job=job.id)
        return {"job": job.public(), "audit_id": entry["id"]}

    def job(self, job_id: str) -> Dict[str, Any]:
        job = self.training.jobs.get(job_id)
        if job is None:
            raise WorkbenchError("not_found", "لا توجد مهمة تدريب بهذا الرقم. (No such training job.)", 404)
        return job.public()

    async def load_model(self, who: str, job_id: str, accept_worse: bool = False) -> Dict[str, Any]:
        """Load a trained candidate into the running Rasa server (the trainer confirmed).

        Raises:
            WorkbenchError: unknown or unfinished job; ``worse_model`` when the candidate
                scored lower and ``accept_worse`` is not set; the server refused.
        """
        self.job(job_id)
        try:
            loaded = await self.training.load(job_id, accept_worse, who)
        except ValueError as error:
            if str(error) == "worse_model":
                raise WorkbenchError("worse_model", "النموذج الجديد أسوأ من الحالي على بيانات التقييم؛ لن يُحمَّل إلا بتأكيد صريح. "
                                     "(The new model scores lower on the held-out file; confirm explicitly to load it.)", 409) from error
            raise WorkbenchError("not_ready", f"{error}", 409) from error
        except NotPublished as error:
            raise WorkbenchError("not_published", "حُمِّل النموذج في إحدى عمليات Rasa فقط؛ أعد التحميل. "
                                 f"(The model reached one Rasa process only: {error})", 502) from error
        except RasaError as error:
            raise WorkbenchError("rasa_error", f"رفض خادم Rasa تحميل النموذج. (Rasa did not load the model: {error})", 502) from error
        comparison = self.training.jobs[job_id].comparison or {}
        entry = await self.store.record(
            who, "load_model", job=job_id, before=loaded["previous"], after=loaded["model"], accepted_worse=bool(comparison.get("worse")),
            macro_f1_before=(comparison.get("current") or {}).get("macro_f1"), macro_f1_after=(comparison.get("candidate") or {}).get("macro_f1"),
        )
        return {**loaded, "audit_id": entry["id"]}

    async def history(self, limit: int = 100) -> List[Dict[str, Any]]:
        return await self.store.history(limit)
