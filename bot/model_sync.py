"""The model this deployment serves: one Redis key, followed by every Rasa process.

Rasa's ``PUT /model`` loads a model into the one process that receives the request;
behind HAProxy (``make run WORKERS=N``) or a Kubernetes Service that is one worker
of several, and a worker (re)started later would come up with its ``--model``. So the
model that counts is written down in Redis:

    ``model:current``   string; JSON ``{"model_file", "loaded_at", "by"}``, the model
                        the trainer last loaded (:func:`publish`)
    ``model:changed``   pub/sub channel; the same JSON, each time the key changes

Every Rasa process (:func:`install`, called by ``scripts/rasa_run.py``) subscribes
when its server has started; after each subscription, at start and after losing Redis,
it reads the key, since pub/sub keeps nothing for a listener that is away. Whenever
that names a model file other than the one it serves, it loads it the way Rasa's own
``PUT /model`` handler does. A file that is missing or fails to load is logged and
the process keeps the model it has: it never ends up with none.

The model file's path is the one the publisher used, so it must name the same file in
every process: the checkout's ``models/`` locally, a shared volume in a deployment.

This module imports neither Rasa nor the channels at module level: the workbench
publishes with it and never imports TensorFlow.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from redis import asyncio as aioredis

from bot.pubsub import Subscriber

logger = logging.getLogger(__name__)

KEY = "model:current"
CHANNEL = "model:changed"
# Marks our wrapper of Rasa's serve_application, so that a second install() changes nothing.
_PATCH_MARK = "__noor_model_sync__"


async def publish(redis: aioredis.Redis, model_file: str, by: str, key: str = KEY, channel: str = CHANNEL) -> Dict[str, Any]:
    """Make ``model_file`` the model of the deployment: set the key, tell every process.

    One transaction, so that a process that reads the key after missing the message
    finds the same model.

    Args:
        redis: a client of the deployment's Redis (``REDIS_URL``).
        model_file: the model's path, readable at that path by every Rasa process.
        by: who loaded it (a trainer's name), for people reading the key.
        key / channel: tests give their own, so as not to steer another deployment's
            processes on the same Redis.

    Returns:
        What was published: ``{"model_file", "loaded_at", "by"}``.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable.
    """
    current = {"model_file": model_file, "loaded_at": time.time(), "by": by}
    data = json.dumps(current, ensure_ascii=False)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, data)
        pipe.publish(channel, data)
        await pipe.execute()
    return current


def forget(url: str, key: str = KEY) -> None:
    """Drop the trainer's choice: processes started from now on serve their ``--model``.

    ``make run`` starts a whole deployment with the model it names (the newest in
    ``models/``, trained if stale); a trainer's earlier load must not replace it. A
    worker restarted on its own (Kubernetes) still follows the key.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable.
    """
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.delete(key)
    finally:
        client.close()


def _parse(raw: Any) -> Optional[Dict[str, Any]]:
    try:
        current = json.loads(raw)
    except (TypeError, ValueError):
        current = None
    if not isinstance(current, dict) or not isinstance(current.get("model_file"), str):
        logger.warning("model sync: malformed model record ignored: %.200r", raw)
        return None
    return current


async def read_current(redis: aioredis.Redis, key: str = KEY) -> Optional[Dict[str, Any]]:
    """The model the deployment serves, as :func:`publish` wrote it (None: never set)."""
    raw = await redis.get(key)
    return None if raw is None else _parse(raw)


def same_file(a: Optional[str], b: Optional[str]) -> bool:
    """Whether two paths name one file (one may be relative to the working directory)."""
    return bool(a and b) and os.path.realpath(str(a)) == os.path.realpath(str(b))


class ModelSync(Subscriber):
    """One process's follower of the deployment's model (after each subscription it
    follows the key: a restarted process, or one that lost Redis, missed messages).

    Args:
        load: ``await load(model_file)`` replaces the served model; raises when it cannot.
        serving: the path of the model file this process serves now (None: none).
        redis: returns the Redis client (default: this loop's shared client of ``REDIS_URL``).
        key / channel: see :func:`publish`.
    """

    def __init__(self, load: Callable[[str], Awaitable[None]], serving: Callable[[], Optional[str]],
                 redis: Optional[Callable[[], aioredis.Redis]] = None, key: str = KEY, channel: str = CHANNEL) -> None:
        if redis is None:
            # here, not at the top: bot.channels installs the Rasa process's log filter,
            # and the workbench imports this module too
            from bot.channels.redis_client import get_redis

            redis = get_redis
        super().__init__(redis, channel, "model-sync")
        self._load = load
        self._serving = serving
        self.key = key

    async def follow(self, current: Optional[Dict[str, Any]]) -> bool:
        """Load the model ``current`` names unless this process serves it already.

        Returns:
            True when the model was replaced; False when it was the same, or could not
            be loaded (logged; the process keeps serving what it served).
        """
        model_file = (current or {}).get("model_file")
        serving = self._serving()
        if not model_file or same_file(model_file, serving):
            return False
        if not os.path.isfile(model_file):
            logger.error("model sync: %s not found here; still serving %s", model_file, serving)
            return False
        try:
            await self._load(model_file)
        except Exception:  # any failure of Rasa's loader: the old model stays
            logger.exception("model sync: %s could not be loaded; still serving %s", model_file, serving)
            return False
        logger.info("model sync: now serving %s (loaded by %s, was %s)", model_file, (current or {}).get("by"), serving)
        return True

    async def subscribed(self) -> None:
        await self.follow(await read_current(self._redis(), self.key))

    async def received(self, data: Any) -> None:
        await self.follow(_parse(data))


# --------------------------------------------------------------------- Rasa side
def serving_file(app: Any) -> Optional[str]:
    """The model file the Rasa server ``app`` serves (None: no model).

    ``--model models`` names a folder: Rasa loaded its newest file, whose name it
    kept (``model_filename``). Not the newest file now: the workbench may have copied
    a newer one in since.
    """
    agent = getattr(app.ctx, "agent", None)
    processor = getattr(agent, "processor", None)
    if processor is None:
        return None
    path = str(processor.model_path)
    return path if os.path.isfile(path) else os.path.join(path, processor.model_filename)


async def load_into(app: Any, endpoints: Any, model_file: str) -> None:
    """Replace the model of the Rasa server ``app`` as its ``PUT /model`` handler does.

    Rasa's ``_load_agent`` with the server's endpoints (tracker store, action server,
    NLG, as at start), then the running agent's lock store: the locks that turns in
    progress hold stay valid.

    Raises:
        Exception: whatever Rasa raised; ``app.ctx.agent`` is then unchanged.
    """
    from rasa.server import _load_agent

    new_agent = await _load_agent(model_path=model_file, endpoints=endpoints)
    new_agent.lock_store = app.ctx.agent.lock_store
    app.ctx.agent = new_agent


def server_listeners(endpoints: Any) -> List[Tuple[Callable, str]]:
    """Sanic listeners that make a Rasa server follow the deployment's model (and close
    its kept-open endpoint sessions when it stops)."""
    async def start(app: Any, _loop: Any) -> None:
        app.ctx.model_sync = ModelSync(functools.partial(load_into, app, endpoints), lambda: serving_file(app))
        app.ctx.model_sync.start()

    async def stop(app: Any, _loop: Any) -> None:
        sync = getattr(app.ctx, "model_sync", None)
        if sync is not None:
            await sync.stop()

    async def close_sessions(_app: Any, _loop: Any) -> None:
        # the action server's kept-open session (bot/rasa_patches.py), once no turn runs
        from bot.rasa_patches import close_endpoint_sessions

        await close_endpoint_sessions()

    # after start: Rasa loads its --model in a before_server_start listener
    return [(start, "after_server_start"), (stop, "before_server_stop"), (close_sessions, "after_server_stop")]


def install() -> None:
    """Make every Rasa server this process runs follow ``model:current`` (call before Rasa's main).

    Rasa builds its Sanic app inside ``rasa.core.run.serve_application``, which takes
    extra ``server_listeners``; the wrapper adds ours, with the endpoints the server
    was given. Idempotent.

    Raises:
        bot.rasa_patches.RasaShapeError: Rasa's functions are not the ones this wraps.
    """
    import rasa.core.run
    import rasa.server

    from bot.rasa_patches import RasaShapeError

    serve = rasa.core.run.serve_application
    if getattr(serve, _PATCH_MARK, False):
        return
    signature = inspect.signature(serve)
    missing = {"endpoints", "server_listeners"} - set(signature.parameters)
    if missing or not inspect.iscoroutinefunction(getattr(rasa.server, "_load_agent", None)):
        raise RasaShapeError("rasa.core.run.serve_application or rasa.server._load_agent changed: review bot/model_sync.py")

    @functools.wraps(serve)
    def serve_application(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        listeners = list(bound.arguments.get("server_listeners") or [])
        bound.arguments["server_listeners"] = listeners + server_listeners(bound.arguments.get("endpoints"))
        return serve(*bound.args, **bound.kwargs)

    setattr(serve_application, _PATCH_MARK, True)
    rasa.core.run.serve_application = serve_application
