"""Train Rasa models in child processes and time them.

Each model is trained by the ``rasa`` CLI in its own process: the wall time then
includes what a developer waits for (start-up, featurisation, fitting, packing),
training memory is released before the next step, and a crash stays contained.
Rasa's training cache is switched off so a second run really trains again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
# tqdm's "Epochs:  40%|####      | 6/15" line that DIET and TED write while fitting.
_EPOCH = re.compile(r"Epochs:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


@dataclass
class TrainResult:
    """How training one model went.

    Attributes:
        name: the benchmark's name of the model (``ours_arbanking``…).
        model: the trained ``.tar.gz`` (None when training failed).
        seconds: wall time of the training process.
        log: the process's output.
        error: why it failed, or None.
    """

    name: str
    model: Optional[Path]
    seconds: float
    log: Path
    error: Optional[str] = None

    def as_dict(self) -> Dict[str, object]:
        """JSON-friendly view for results.json."""
        return {"model": str(self.model) if self.model else None, "seconds": round(self.seconds, 1), "log": str(self.log), "error": self.error}


def rasa_env(work_dir: Path) -> Dict[str, str]:
    """Environment of a training process: project importable, no telemetry, no cache."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONIOENCODING"] = "utf-8"
    # A cache hit would skip fitting and make the timing meaningless.
    env["RASA_MAX_CACHE_SIZE"] = "0"
    env["RASA_CACHE_DIRECTORY"] = str(work_dir / "rasa-cache")
    return env


def last_epoch(log_text: str) -> Optional[str]:
    """``"6/15"`` from the latest tqdm epoch line in a training log, if any."""
    found = _EPOCH.findall(log_text)
    return f"{found[-1][0]}/{found[-1][1]}" if found else None


def _tail(path: Path, size: int = 8192) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read().decode("utf-8", errors="replace")


def run_logged(
    cmd: Sequence[str],
    log: Path,
    env: Dict[str, str],
    timeout: float,
    progress: Optional[Callable[[str], None]] = None,
    poll: float = 30.0,
) -> int:
    """Run ``cmd`` from the project root with output to ``log``; return its exit code.

    Every ``poll`` seconds the latest epoch line is passed to ``progress``, so a
    17-minute DIET training does not look like a hang.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(cmd), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while True:
                try:
                    return proc.wait(timeout=poll)
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - start
                    if elapsed > timeout:
                        proc.kill()
                        proc.wait()
                        raise TimeoutError(f"{cmd[2:4]} ran over {timeout:.0f}s") from None
                    if progress:
                        epoch = last_epoch(_tail(log))
                        progress(f"{elapsed / 60:.1f} min" + (f", epoch {epoch}" if epoch else ""))
        except BaseException:
            # Ctrl-C or a timeout: do not leave a training process behind.
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise


def _train(name: str, args: List[str], out_dir: Path, log: Path, work_dir: Path, timeout: float, progress) -> TrainResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "rasa", "train", *args, "--out", str(out_dir), "--fixed-model-name", name]
    start = time.monotonic()
    try:
        code = run_logged(cmd, log, rasa_env(work_dir), timeout, progress)
    except TimeoutError as error:
        return TrainResult(name, None, time.monotonic() - start, log, str(error))
    seconds = time.monotonic() - start
    model = out_dir / f"{name}.tar.gz"
    if code != 0 or not model.is_file():
        return TrainResult(name, None, seconds, log, f"rasa train exited with {code}; see {log}")
    return TrainResult(name, model, seconds, log)


def train_nlu(
    name: str,
    config: Path,
    nlu: Path,
    out_dir: Path,
    log: Path,
    work_dir: Path,
    timeout: float = 3600,
    progress: Optional[Callable[[str], None]] = None,
) -> TrainResult:
    """Train an NLU-only model with ``rasa train nlu``.

    Args:
        name: model file name without ``.tar.gz``.
        config: Rasa config with the pipeline to train.
        nlu: an NLU YAML file or a folder of them.
        out_dir / log / work_dir: where the model, the output and Rasa's scratch files go.
        timeout: seconds before the training process is killed.
        progress: called with a short status line while training runs.
    """
    args = ["nlu", "--config", str(config), "--nlu", str(nlu)]
    return _train(name, args, out_dir, log, work_dir, timeout, progress)


def train_project(
    name: str,
    out_dir: Path,
    log: Path,
    work_dir: Path,
    config: Optional[Path] = None,
    timeout: float = 1800,
    progress: Optional[Callable[[str], None]] = None,
) -> TrainResult:
    """Train the assistant as ``make train`` does (NLU and dialogue).

    Args:
        config: a config to use instead of the project's ``config.yml`` (quick
            runs pass one with fewer policy epochs).
    """
    args = ["--config", str(config or "config.yml"), "--domain", "bot/domain", "--data", "nlu_data", "bot/data"]
    return _train(name, args, out_dir, log, work_dir, timeout, progress)
