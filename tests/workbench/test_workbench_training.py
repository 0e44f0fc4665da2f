"""Retraining: comparison figures, the worse-model guard, and a real background job loaded into a real Rasa server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import model_sync
from scripts import redis_server
from scripts.stack import wait_http
from tests.polling import stop_process
from workbench.evaluation import compare, confusion
from workbench.service import Workbench, WorkbenchError
from workbench.settings import ROOT, WorkbenchSettings
from workbench.training import TrainingJob

TINY = Path(__file__).resolve().parent / "data" / "tiny"


def report(macro_f1: float, errors: list, per_intent: dict) -> dict:
    return {"model": "m", "intent": {"accuracy": macro_f1, "macro_f1": macro_f1, "fallback_rate": 0.0},
            "per_intent_f1": per_intent, "errors": errors}


def test_confusion_matrix_is_rebuilt_from_errors_and_gold_counts():
    gold = {"a": 3, "b": 2}
    cm = confusion(report(0.5, [{"text": "x", "gold": "a", "predicted": "b"}, {"text": "y", "gold": "b", "predicted": "nlu_fallback"}], {}), gold)
    assert cm == {"labels": ["a", "b", "nlu_fallback"], "matrix": [[2, 1, 0], [0, 1, 1], [0, 0, 0]]}


def test_comparison_marks_a_worse_candidate():
    gold = {"a": 2, "b": 2}
    current = report(0.9, [], {"a": 0.9, "b": 0.9})
    worse = compare(current, report(0.8, [], {"a": 1.0, "b": 0.6}), gold)
    assert worse["worse"] and worse["delta_macro_f1"] == -0.1
    assert worse["per_intent"] == [{"intent": "a", "current": 0.9, "candidate": 1.0, "delta": 0.1},
                                   {"intent": "b", "current": 0.9, "candidate": 0.6, "delta": -0.3}]
    assert not compare(current, report(0.9, [], {}), gold)["worse"]
    assert not compare(None, report(0.1, [], {}), gold)["worse"], "nothing to compare with"


def test_a_worse_model_is_never_loaded_without_explicit_confirmation(settings):
    async def scenario():
        bench = Workbench(settings)
        try:
            model = settings.work_dir / "jobs" / "j1" / "trainer-j1.tar.gz"
            model.parent.mkdir(parents=True)
            model.write_bytes(b"not really a model")
            job = TrainingJob(id="j1", who="t", state="ready", model=str(model),
                              comparison=compare(report(0.9, [], {}), report(0.7, [], {}), {}))
            bench.training.jobs[job.id] = job
            with pytest.raises(WorkbenchError) as refused:
                await bench.load_model("t", "j1")
            assert refused.value.code == "worse_model"
            assert not list(settings.models_dir.glob("*.tar.gz")) if settings.models_dir.exists() else True
            # confirmed, but the server is unreachable: an error, and no load recorded
            with pytest.raises(WorkbenchError) as unreachable:
                await bench.load_model("t", "j1", accept_worse=True)
            assert unreachable.value.code == "rasa_error"
            assert [e["action"] for e in await bench.history()] == []
            with pytest.raises(WorkbenchError):
                await bench.load_model("t", "no-such-job")
        finally:
            await bench.close()

    asyncio.run(scenario())


@pytest.fixture
def tiny_rasa(tmp_path):
    """A real Rasa server with the HTTP API on, started without a model (and without the
    project's endpoints.yml: it runs in an empty folder)."""
    port = redis_server.free_port()
    empty = tmp_path / "no-models"
    empty.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    log = open(tmp_path / "rasa.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "rasa", "run", "--enable-api", "--port", str(port), "--model", str(empty)],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
        log.close()


@pytest.mark.slow
def test_background_job_trains_evaluates_and_loads_into_the_running_server(redis_url, tmp_path, tiny_rasa):
    proc, rasa_url = tiny_rasa
    data = tmp_path / "nlu_data"
    shutil.copytree(TINY / "nlu_data", data)
    settings = WorkbenchSettings(
        redis_url=redis_url, nlu_data=data, heldout=TINY / "heldout.yml", config=TINY / "config.yml",
        domain=TINY / "domain.yml", stories=TINY / "stories", models_dir=tmp_path / "models",
        work_dir=tmp_path / "work", rasa_url=rasa_url,
        # the load is published in Redis: not where the session's Rasa servers listen
        model_key=f"test-model:current:{tmp_path.name}", model_channel=f"test-model:changed:{tmp_path.name}",
    )

    async def scenario():
        bench = Workbench(settings)
        try:
            started = await bench.start_training("trainer1")
            job_id = started["job"]["id"]
            with pytest.raises(WorkbenchError) as busy:
                await bench.start_training("trainer1")
            assert busy.value.code == "busy"
            progress = []
            while bench.job(job_id)["state"] in ("training", "evaluating"):
                progress.append(bench.job(job_id)["progress"])
                await asyncio.sleep(0.5)
            job = bench.job(job_id)
            assert job["state"] == "ready", (job["error"], job["log_tail"])
            assert progress == sorted(progress) and job["progress"] == 1.0 and max(progress) > 0
            cmp = job["comparison"]
            assert cmp["candidate"]["macro_f1"] > 0.5 and not cmp["worse"]
            assert sum(map(sum, cmp["confusion_candidate"]["matrix"])) == 6  # every held-out example counted once
            wait_http(rasa_url + "/", 120, proc)  # /status answers 409 until a model is loaded
            loaded = await bench.load_model("trainer1", job_id)
            status = await bench.training.rasa.status()
            assert Path(status["model_file"]).name == Path(loaded["model"]).name
            assert Path(loaded["model"]).parent == settings.models_dir
            # published for the server's other processes (bot/model_sync.py)
            published = await model_sync.read_current(bench.store.redis, settings.model_key)
            assert published is not None and published["model_file"] == loaded["model"] and published["by"] == "trainer1"
            entry = (await bench.history())[0]
            assert entry["action"] == "load_model" and entry["who"] == "trainer1" and entry["after"] == loaded["model"]
            # the server ran no model before, so there is nothing to go back to
            with pytest.raises(WorkbenchError) as no_previous:
                await bench.undo("trainer1", entry["id"])
            assert no_previous.value.code == "not_undoable"
            assert (await bench.history())[0]["undone_by"] is None
        finally:
            await bench.close()

    start = time.monotonic()
    asyncio.run(scenario())
    print(f"tiny retrain + evaluation + load: {time.monotonic() - start:.0f}s")
