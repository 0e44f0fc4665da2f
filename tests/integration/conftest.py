"""A model trained in the test run, and the whole assistant running on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from scripts import redis_server
from scripts.eval_conversations import EVALUATION_LIMITS
from scripts.stack import ROOT, Stack


def rasa_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["RASA_TELEMETRY_ENABLED"] = "false"
    return env


def run_rasa(args: list, log: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run a rasa CLI command from the project root, output to ``log``."""
    with open(log, "wb") as out:
        return subprocess.run([sys.executable, "-m", "rasa", *args], cwd=ROOT, env=rasa_env(), stdout=out, stderr=subprocess.STDOUT, timeout=timeout)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Reports and logs worth keeping after the run (ignored by git)."""
    path = ROOT / "tests" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Path:
    """Train the shipped configuration on the shipped data, once per test session."""
    out = tmp_path_factory.mktemp("models")
    result = run_rasa(
        ["train", "--config", "config.yml", "--domain", "bot/domain", "--data", "nlu_data", "bot/data", "--out", str(out)],
        artifacts / "train.log",
    )
    assert result.returncode == 0, f"training failed, see {artifacts / 'train.log'}"
    return next(out.glob("*.tar.gz"))


@pytest.fixture(scope="session")
def stack(trained_model: Path, redis_server_process, artifacts: Path) -> Iterator[Stack]:
    """Redis, the action server and the Rasa server, talking real HTTP.

    The verification limits are raised: the conversations of a test session stand in
    for many customers who all share the four demo accounts.
    """
    for name, value in EVALUATION_LIMITS.items():
        os.environ.setdefault(name, value)
    running = Stack(
        model=trained_model,
        redis_url=redis_server_process.url,
        rasa_port=redis_server.free_port(),
        action_port=redis_server.free_port(),
        log_dir=artifacts / "stack-logs",
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
