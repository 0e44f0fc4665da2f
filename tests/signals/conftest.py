"""A tiny signals model trained once per test session (seconds, no public datasets)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bot.signals import train

    folder = tmp_path_factory.mktemp("signals") / "model"
    train.main(["--out", str(folder), "--tiny", "--seed", "3", "--threads", "1"])
    return folder


@pytest.fixture(scope="session")
def predictor(tiny_model_dir: Path):
    from bot.signals.predict import SignalsPredictor

    return SignalsPredictor.load(str(tiny_model_dir))
