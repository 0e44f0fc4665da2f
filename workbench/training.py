"""Background retraining: train a candidate, evaluate it next to the running model, load on request.

A job runs ``rasa train`` and ``scripts.evaluate_nlu`` as subprocesses (the
workbench process never imports TensorFlow), parses progress from Rasa's log,
and keeps everything in ``<work_dir>/jobs/<id>/``. The report of the model the
server runs is cached in ``<work_dir>/reports/`` by model file name. Loading is a
separate step the trainer confirms; a candidate with a lower held-out macro-F1 is
refused unless the trainer explicitly accepts a worse model.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot import model_sync
from workbench.evaluation import compare, gold_counts
from workbench.rasa_client import RasaClient, RasaError
from workbench.settings import ROOT, WorkbenchSettings

_COMPONENT_DONE = re.compile(r"(Finished training|Restored) component '([^']+)'")
_EPOCHS = re.compile(r"Epochs:\s+(\d+)%")


class NotPublished(RasaError):
    """One Rasa process loaded the model, but Redis did not take it for the others."""


STATES = ("training", "evaluating", "ready", "failed", "loaded")


@dataclass
class TrainingJob:
    """One retraining run.

    Attributes:
        id: short random id; who: the trainer who started it.
        state: training, evaluating, ready (waiting for the trainer), failed or loaded.
        progress: 0..1; stage: what it is doing, in words.
        model: the candidate model file once trained.
        comparison: :func:`workbench.evaluation.compare` once evaluated.
        log_tail: the last lines of the subprocesses' output.
    """

    id: str
    who: str
    state: str = "training"
    progress: float = 0.0
    stage: str = "starting"
    started: float = field(default_factory=time.time)
    finished: Optional[float] = None
    model: Optional[str] = None
    comparison: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    log_tail: List[str] = field(default_factory=list)

    def public(self) -> Dict[str, Any]:
        return asdict(self)


def expected_components(config: Path) -> int:
    """Rough number of trained components (pipeline entries and policies) for progress."""
    names = [ln for ln in Path(config).read_text(encoding="utf-8").splitlines() if re.match(r"\s*- name:", ln)]
    return max(1, len(names) - 3)  # tokenizer, normaliser and fallback have nothing to train


class TrainingManager:
    """Starts at most one job at a time and keeps the jobs of this process.

    Args:
        settings: paths (config, data, held-out, work dir) and the Rasa server.
        rasa: the Rasa HTTP client (from settings when None).
        python: the interpreter for the subprocesses.
    """

    def __init__(self, settings: WorkbenchSettings, rasa: Optional[RasaClient] = None, python: str = sys.executable) -> None:
        self.settings = settings
        self.rasa = rasa or RasaClient(settings.rasa_url, settings.rasa_token)
        self.python = python
        self.jobs: Dict[str, TrainingJob] = {}
        self._tasks: Dict[str, asyncio.Task] = {}

    @property
    def running(self) -> Optional[TrainingJob]:
        return next((j for j in self.jobs.values() if j.state in ("training", "evaluating")), None)

    def start(self, who: str) -> TrainingJob:
        """Start a job in the background.

        Raises:
            RuntimeError: a job is already running.
        """
        if self.running:
            raise RuntimeError("a training job is already running")
        job = TrainingJob(id=uuid.uuid4().hex[:10], who=who)
        self.jobs[job.id] = job
        self._tasks[job.id] = asyncio.get_running_loop().create_task(self._run(job))
        return job

    def job_dir(self, job: TrainingJob) -> Path:
        return self.settings.work_dir / "jobs" / job.id

    async def wait(self, job_id: str) -> TrainingJob:
        await self._tasks[job_id]
        return self.jobs[job_id]

    async def _subprocess(self, job: TrainingJob, args: List[str], log: Path, on_line=None) -> int:
        env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONIOENCODING="utf-8",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        proc = await asyncio.create_subprocess_exec(
            self.python, *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        assert proc.stdout is not None
        with open(log, "ab") as out:
            # tqdm redraws with \r; read chunks and split on both
            buffer = b""
            while chunk := await proc.stdout.read(4096):
                out.write(chunk)
                buffer += chunk
                *lines, buffer = re.split(rb"[\r\n]", buffer)
                for raw in lines:
                    line = raw.decode("utf-8", "replace").strip()
                    if line:
                        job.log_tail = (job.log_tail + [line[:300]])[-30:]
                        if on_line:
                            on_line(line)
        return await proc.wait()

    async def _run(self, job: TrainingJob) -> None:
        folder = self.job_dir(job)
        folder.mkdir(parents=True, exist_ok=True)
        total = expected_components(self.settings.config)
        done = set()

        def on_train_line(line: str) -> None:
            if "Started validating" in line:
                job.progress, job.stage = max(job.progress, 0.05), "validating data"
            match = _COMPONENT_DONE.search(line)
            if match:
                done.add(match.group(2))
                job.stage = f"trained {match.group(2)}"
                job.progress = max(job.progress, 0.1 + 0.75 * min(1.0, len(done) / total))
            epochs = _EPOCHS.search(line)
            if epochs:
                job.stage = f"training TED policy {epochs.group(1)}%"

        try:
            job.stage = "training"
            code = await self._subprocess(job, [
                "-m", "rasa", "train", "--config", str(self.settings.config), "--domain", str(self.settings.domain),
                "--data", str(self.settings.nlu_data), str(self.settings.stories), "--out", str(folder),
                "--fixed-model-name", f"trainer-{job.id}",
            ], folder / "train.log", on_train_line)
            models = sorted(folder.glob("*.tar.gz"))
            if code != 0 or not models:
                raise RuntimeError(f"rasa train failed (exit {code}); see {folder / 'train.log'}")
            job.model = str(models[-1])
            job.state, job.stage, job.progress = "evaluating", "evaluating on the held-out file", 0.88
            candidate = await self.evaluate(job, Path(job.model), folder / "report.json")
            job.progress, job.stage = 0.94, "evaluating the current model"
            current = await self.current_report(job)
            job.comparison = compare(current, candidate, gold_counts(self.settings.heldout))
            job.state, job.stage, job.progress = "ready", "ready: compare and decide", 1.0
        except Exception as error:  # the page must show why, whatever it was
            job.state, job.error, job.stage = "failed", str(error), "failed"
        finally:
            job.finished = time.time()

    async def evaluate(self, job: TrainingJob, model: Path, report: Path) -> Dict[str, Any]:
        code = await self._subprocess(job, [
            "-m", "scripts.evaluate_nlu", "--model", str(model), "--data", str(self.settings.heldout), "--report", str(report),
        ], report.with_suffix(".log"))
        if code != 0 or not report.exists():
            raise RuntimeError(f"evaluation of {model.name} failed (exit {code}); see {report.with_suffix('.log')}")
        return json.loads(report.read_text(encoding="utf-8"))

    async def current_model(self) -> Optional[Path]:
        """The model file the Rasa server runs, or the newest in ``models_dir`` if it is unreachable."""
        try:
            status = await self.rasa.status()
            name = status.get("model_file")
            if name:
                path = Path(name)
                for candidate in (path, ROOT / path, self.settings.models_dir / path.name):
                    if candidate.is_file():
                        return candidate
        except RasaError:
            pass
        models = sorted(self.settings.models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        return models[-1] if models else None

    async def current_report(self, job: TrainingJob) -> Optional[Dict[str, Any]]:
        """The running model's held-out report, evaluated once per model file and cached."""
        model = await self.current_model()
        if model is None:
            return None
        cache = self.settings.work_dir / "reports" / f"{model.name}.json"
        if cache.exists():
            return json.loads(cache.read_text(encoding="utf-8"))
        cache.parent.mkdir(parents=True, exist_ok=True)
        return await self.evaluate(job, model, cache)

    async def serve(self, model_file: str, by: str) -> None:
        """Load ``model_file`` into every Rasa process of the deployment.

        ``PUT /model`` first, through the proxy or Service, so one process loads it and
        its answer says whether the model loads at all: the trainer sees a failure at
        once, and a model that does not load is never published, so the other processes
        keep the good one and none picks the bad one up at its next start. Then the
        model is published (:func:`bot.model_sync.publish`) and the other processes
        follow; the one that loaded it already serves it and does nothing.

        Raises:
            RasaError: the server refused or is unreachable.
            NotPublished: Redis is unreachable after the load: the other processes were
                not told (loading again tells them).
        """
        await self.rasa.load_model(model_file)
        try:
            async with aioredis.Redis.from_url(self.settings.redis_url, decode_responses=True) as redis:
                await model_sync.publish(redis, model_file, by, self.settings.model_key, self.settings.model_channel)
        except RedisError as error:
            raise NotPublished(f"one Rasa process loaded {Path(model_file).name}, but Redis is unreachable ({error}): "
                            "the others still serve the previous model; load it again") from error

    async def load(self, job_id: str, accept_worse: bool = False, by: str = "workbench") -> Dict[str, Any]:
        """Copy the candidate into ``models_dir`` and load it into the running servers (:meth:`serve`).

        Args:
            job_id: a job in state ``ready``.
            accept_worse: the trainer confirmed loading a model that scored lower.
            by: the trainer who loads it.

        Returns:
            ``{"model": new file, "previous": the file the server ran before}``.

        Raises:
            KeyError: unknown job. ValueError: not ready, or worse and not accepted.
            RasaError: the server refused or is unreachable (NotPublished: see :meth:`serve`).
        """
        job = self.jobs[job_id]
        if job.state != "ready" or not job.model:
            raise ValueError(f"job {job_id} is {job.state}, not ready to load")
        if job.comparison and job.comparison.get("worse") and not accept_worse:
            raise ValueError("worse_model")
        previous = await self.current_model()
        target = self.settings.models_dir / Path(job.model).name
        target.parent.mkdir(parents=True, exist_ok=True)
        # a fresh mtime: `make run` (rasa --model models) loads the newest file next time
        shutil.copy(job.model, target)
        await self.serve(str(target), by)
        # the candidate's report is now the current model's: no second evaluation later
        report = self.job_dir(job) / "report.json"
        if report.exists():
            cache = self.settings.work_dir / "reports" / f"{target.name}.json"
            cache.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(report, cache)
        job.state = "loaded"
        return {"model": str(target), "previous": str(previous) if previous else None}

    async def load_file(self, model_file: str, by: str = "workbench") -> None:
        """Load an earlier model again (undo of a load) into the running servers (:meth:`serve`)."""
        if not Path(model_file).is_file():
            raise FileNotFoundError(model_file)
        await self.serve(model_file, by)
