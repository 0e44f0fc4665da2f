"""Web routes of the workbench process (aiohttp), for signed-in trainers and supervisors.

    GET  /trainer                         the workbench page (static HTML/JS/CSS under /trainer/static/)
    GET  /api/trainer/inbox               ?flags=low_confidence,fallback,handed_off,contradicted&dialect=&date_from=&date_to=
    GET  /api/trainer/catalogue           intents with their files, entities, dialects, scripts
    POST /api/trainer/examples            {item_id?, text, intent, entities:[{start,end,entity}], dialect, script?, frustration?, file?}
    POST /api/trainer/dismiss             {item_id}
    GET  /api/trainer/history             audit log, newest first
    POST /api/trainer/undo                {audit_id}
    GET  /api/trainer/health              data health figures; /api/trainer/health/chart.png the picture
    POST /api/trainer/validate            output of ``rasa data validate``
    POST /api/trainer/train               start a background job; GET /api/trainer/jobs[/{id}] its progress
    POST /api/trainer/jobs/{id}/load      {accept_worse?}: load the candidate into the running Rasa server

Errors are ``{"error": code, "message": Arabic (English) text}`` like the rest of the service.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List

from aiohttp import web

from handoff.auth import require_role
from handoff.payloads import parse_json_object
from scripts.nlu_check import DIALECTS, ENTITIES, SCRIPTS
from workbench import health
from workbench.inbox import FLAGS, InboxFilter
from workbench.nlu_files import EntitySpan, ExampleIndex, NewExample, training_files
from workbench.service import Workbench, WorkbenchError
from workbench.settings import WorkbenchSettings

STATIC = Path(__file__).resolve().parent / "static"
WORKBENCH_KEY = web.AppKey("workbench", Workbench)
ROLES = ("trainer", "supervisor")


def _error(error: WorkbenchError) -> web.Response:
    return web.json_response({"error": error.code, "message": error.message, **({"details": error.details} if error.details else {})},
                             status=error.status)


def _bench(request: web.Request) -> Workbench:
    return request.app[WORKBENCH_KEY]


def _who(request: web.Request) -> str:
    return request["user"].username


# an example is one message (at most 2000 characters) and its labels
MAX_BODY_BYTES = 64 * 1024


async def _body(request: web.Request) -> Dict[str, Any]:
    return parse_json_object(await request.read(), max_bytes=MAX_BODY_BYTES)


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "trainer.html", headers={"Cache-Control": "no-cache"})


@require_role(*ROLES)
async def inbox(request: web.Request) -> web.Response:
    try:
        query_filter = InboxFilter.from_query(dict(request.query))
    except ValueError as error:
        return _error(WorkbenchError("bad_filter", f"مرشّح غير صالح. (Bad filter: {error})"))
    try:
        items = [item.as_dict() for item in await _bench(request).inbox(query_filter)]
    except WorkbenchError as error:
        return _error(error)
    if request["user"].role != "supervisor":
        # trainers work on masked text; the sender id of a WhatsApp customer is their phone number
        for item in items:
            item.pop("conversation_id", None)
    return web.json_response({"items": items, "flags": list(FLAGS)})


@require_role(*ROLES)
async def catalogue(request: web.Request) -> web.Response:
    settings = _bench(request).settings
    index = await asyncio.to_thread(ExampleIndex.load, settings.nlu_data)
    return web.json_response({
        "intents": dict(sorted(index.intent_files.items())),
        "files": [p.name for p in training_files(settings.nlu_data)],
        "entities": sorted(ENTITIES), "dialects": sorted(DIALECTS), "scripts": sorted(SCRIPTS),
        "frustration": ["calm", "annoyed", "angry"],
    })


def _spans(raw: Any) -> List[EntitySpan]:
    if not isinstance(raw, list):
        raise WorkbenchError("invalid", "الكيانات يجب أن تكون قائمة. (entities must be a list.)")
    spans = []
    for item in raw:
        try:
            spans.append(EntitySpan(int(item["start"]), int(item["end"]), str(item["entity"])))
        except (KeyError, TypeError, ValueError) as error:
            raise WorkbenchError("invalid", "كيان غير صالح: يلزم start و end و entity. (Each entity needs start, end, entity.)") from error
    return spans


@require_role(*ROLES)
async def add_example(request: web.Request) -> web.Response:
    payload = await _body(request)
    try:
        for key in ("text", "intent", "dialect"):
            if not isinstance(payload.get(key), str):
                raise WorkbenchError("invalid", f"الحقل {key} مطلوب. (Field {key} is required.)", 422)
        if len(payload["text"]) > 2000:
            raise WorkbenchError("invalid", "النص أطول من 2000 حرف. (Text longer than 2000 characters.)", 413)
        example = NewExample(
            text=payload["text"], intent=payload["intent"].strip(), dialect=payload["dialect"],
            entities=_spans(payload.get("entities") or []), script=payload.get("script") or None,
            frustration=payload.get("frustration") or None, source=str(payload.get("source") or "inbox")[:40],
            file=payload.get("file") or None,
        )
        result = await _bench(request).add_example(_who(request), example, payload.get("item_id") or None)
    except WorkbenchError as error:
        return _error(error)
    return web.json_response(result, status=201)


@require_role(*ROLES)
async def dismiss(request: web.Request) -> web.Response:
    payload = await _body(request)
    try:
        return web.json_response(await _bench(request).dismiss(_who(request), str(payload.get("item_id") or "")))
    except WorkbenchError as error:
        return _error(error)


@require_role(*ROLES)
async def history(request: web.Request) -> web.Response:
    return web.json_response({"entries": await _bench(request).history()})


@require_role(*ROLES)
async def undo(request: web.Request) -> web.Response:
    payload = await _body(request)
    try:
        return web.json_response(await _bench(request).undo(_who(request), str(payload.get("audit_id") or "")))
    except WorkbenchError as error:
        return _error(error)


@require_role(*ROLES)
async def health_report(request: web.Request) -> web.Response:
    settings = _bench(request).settings
    report = await asyncio.to_thread(health.health_report, settings.nlu_data, settings.min_examples)
    return web.json_response(report)


@require_role(*ROLES)
async def health_chart(request: web.Request) -> web.Response:
    settings = _bench(request).settings
    report = await asyncio.to_thread(health.health_report, settings.nlu_data, settings.min_examples)
    png = await asyncio.to_thread(health.chart_png, report)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-cache"})


@require_role(*ROLES)
async def validate(request: web.Request) -> web.Response:
    s = _bench(request).settings
    result = await asyncio.to_thread(health.run_validate, s.nlu_data, s.config, s.domain, s.stories)
    return web.json_response(result)


@require_role(*ROLES)
async def train(request: web.Request) -> web.Response:
    try:
        return web.json_response(await _bench(request).start_training(_who(request)), status=202)
    except WorkbenchError as error:
        return _error(error)


@require_role(*ROLES)
async def jobs(request: web.Request) -> web.Response:
    all_jobs = sorted(_bench(request).training.jobs.values(), key=lambda j: -j.started)
    return web.json_response({"jobs": [j.public() for j in all_jobs]})


@require_role(*ROLES)
async def job(request: web.Request) -> web.Response:
    try:
        return web.json_response(_bench(request).job(request.match_info["job_id"]))
    except WorkbenchError as error:
        return _error(error)


@require_role(*ROLES)
async def load(request: web.Request) -> web.Response:
    payload = await _body(request)
    try:
        result = await _bench(request).load_model(_who(request), request.match_info["job_id"], payload.get("accept_worse") is True)
    except WorkbenchError as error:
        return _error(error)
    return web.json_response(result)


def setup(app: web.Application, settings: WorkbenchSettings) -> None:
    """Add the workbench's routes and its service object to ``app`` (see :mod:`workbench.app`)."""
    app[WORKBENCH_KEY] = Workbench(settings)

    async def close(app: web.Application) -> None:
        await app[WORKBENCH_KEY].close()

    app.on_cleanup.append(close)  # type: ignore[arg-type]
    app.router.add_get("/trainer", page)
    app.router.add_static("/trainer/static/", STATIC, show_index=False)
    app.router.add_get("/api/trainer/inbox", inbox)
    app.router.add_get("/api/trainer/catalogue", catalogue)
    app.router.add_post("/api/trainer/examples", add_example)
    app.router.add_post("/api/trainer/dismiss", dismiss)
    app.router.add_get("/api/trainer/history", history)
    app.router.add_post("/api/trainer/undo", undo)
    app.router.add_get("/api/trainer/health", health_report)
    app.router.add_get("/api/trainer/health/chart.png", health_chart)
    app.router.add_post("/api/trainer/validate", validate)
    app.router.add_post("/api/trainer/train", train)
    app.router.add_get("/api/trainer/jobs", jobs)
    app.router.add_get("/api/trainer/jobs/{job_id}", job)
    app.router.add_post("/api/trainer/jobs/{job_id}/load", load)
