"""``SignalsPredictor``: load the trained signals model once, then predict per message.

    predictor = SignalsPredictor.load("models/signals")
    predictor.predict(["الكهربا مقطوعة من امس!!!"])
    # [{"frustration": {"level": "angry", "score": 0.93, "probabilities": {...}},
    #   "urgency": {"service": "electricity", "score": 0.99, "probabilities": {...}},
    #   "dialect": {"label": "gulf", "score": 0.71},
    #   "elongated": False}]

Per head the stored choice (transformer, linear baseline or their average) decides
the probabilities; the transformer does not run when no head needs it. Frustration
goes through the calibrated stack of ``bot/signals/calibration.py`` when the model
has one and training chose it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from bot.signals import calibration
from bot.signals.combine import combine
from bot.signals.data import REPO_ROOT
from bot.signals.labels import SIGNAL_HEADS
from bot.signals.layout import (
    JOINT_LINEAR_FILE,
    LABELS_FILE,
    LINEAR_FILE,
    SELECTION_FILE,
    SENTIMENT_LINEAR_FILE,
    STACK_FILE,
)
from bot.signals.linear import LinearSignals
from bot.signals.text import prepare

DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "signals"
SOURCES = ("chosen", "transformer", "linear")
ENGINES = ("auto", "numpy", "torch")


class SignalsPredictor:
    """Frustration, urgency and dialect of customer messages.

    Attributes:
        folder: where the model was loaded from.
        selection: head name to its choice (transformer, linear or average).
    """

    def __init__(
        self,
        model,
        linear: LinearSignals,
        selection: Dict[str, str],
        sentiment_linear: Optional[LinearSignals] = None,
        folder: Optional[Path] = None,
        num_threads: Optional[int] = 1,
        engine: str = "auto",
        joint_linear: Optional[LinearSignals] = None,
        stack: Optional[calibration.FrustrationStack] = None,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self._model = model
        self.linear = linear
        self.sentiment_linear = sentiment_linear
        self.selection = selection
        self.folder = folder
        self.num_threads = num_threads
        self.engine = engine
        # the stack needs all three readings
        self.joint_linear = joint_linear if stack is not None and sentiment_linear is not None else None
        self.stack = stack if self.joint_linear is not None else None

    @classmethod
    def load(cls, path: Optional[str] = None, num_threads: Optional[int] = 1, engine: str = "auto") -> SignalsPredictor:
        """Load a model folder written by ``python -m bot.signals.train``.

        The transformer is loaded now when a head's stored choice needs it, and
        otherwise only if :attr:`model` is asked for (evaluation).

        Args:
            path: the model folder (default ``models/signals`` of this repository).
            num_threads: CPU threads of the transformer's matrix products
                (process-wide: torch threads or the BLAS pool); one thread gives
                the lowest single-message latency on a busy server. None leaves them.
            engine: ``numpy`` runs the compact BERT without importing torch
                (``bot.signals.runtime``); ``torch`` uses transformers with a
                TorchScript trace; ``auto`` takes numpy when the encoder is a BERT it supports.

        Raises:
            FileNotFoundError: no trained model in ``path``.
        """
        folder = Path(path) if path else DEFAULT_MODEL_DIR
        needed = [folder / LABELS_FILE, folder / SELECTION_FILE, (folder / LINEAR_FILE).with_suffix(".json")]
        missing = [p.name for p in needed if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"No trained signals model in {folder} (missing {', '.join(missing)}). "
                "Train it with `make train-signals` (python -m bot.signals.train --out models/signals)."
            )
        stored = json.loads((folder / SELECTION_FILE).read_text(encoding="utf-8"))
        selection = {head: spec["choice"] for head, spec in stored.items()}
        sentiment_file = (folder / SENTIMENT_LINEAR_FILE).with_suffix(".json")
        sentiment_linear = LinearSignals.load(folder / SENTIMENT_LINEAR_FILE) if sentiment_file.is_file() else None
        joint_linear = stack = None
        if (stored.get("frustration") or {}).get("use_stack") and (folder / STACK_FILE).is_file():
            joint_linear = LinearSignals.load(folder / JOINT_LINEAR_FILE)
            stack = calibration.FrustrationStack.load(folder / STACK_FILE)
        predictor = cls(
            None, LinearSignals.load(folder / LINEAR_FILE), selection, sentiment_linear, folder, num_threads, engine, joint_linear, stack,
        )
        if any(selection.get(head, "linear") != "linear" for head in SIGNAL_HEADS):
            predictor.model  # noqa: B018 - load the transformer now, not on the first message
        return predictor

    @property
    def model(self):
        """The transformer (encoder + heads), loaded on first use: a
        ``runtime.NumpySignalsModel`` or a traced torch ``SignalsModel``."""
        if self._model is None:
            from bot.signals import runtime

            if self.engine == "numpy" or (self.engine == "auto" and runtime.supports(self.folder)):
                if self.num_threads:
                    from threadpoolctl import threadpool_limits

                    threadpool_limits(self.num_threads, user_api="blas")
                self._model = runtime.NumpySignalsModel(self.folder)
            else:
                import torch

                from bot.signals.model import SignalsModel

                if self.num_threads:
                    torch.set_num_threads(self.num_threads)
                self._model = SignalsModel.load(str(self.folder))
                self._model.freeze_for_inference()
        return self._model

    def probabilities(self, texts: Sequence[str], source: str = "chosen", heads: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """Probabilities per head for raw messages.

        Args:
            texts: raw messages.
            source: ``chosen`` (the stored combination), ``transformer`` or ``linear``.
            heads: heads to compute (default the three signals).
        """
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        inputs = [prepare(t if isinstance(t, str) else "").text for t in texts]
        return self._probabilities(inputs, source, list(heads or SIGNAL_HEADS))

    def _probabilities(self, inputs: List[str], source: str, heads: List[str]) -> Dict[str, np.ndarray]:
        # "in_domain" is the stored choice without the frustration stack (evaluation)
        choices = {h: source if source not in ("chosen", "in_domain") else self.selection.get(h, "linear") for h in heads}
        linear_heads = [h for h in heads if choices[h] != "transformer"]
        transformer_heads = [h for h in heads if choices[h] != "linear"]
        linear = self.linear.predict_proba(inputs, linear_heads) if linear_heads else {}
        transformer = self.model.probabilities(inputs, heads=transformer_heads) if transformer_heads else {}
        out = {h: combine(choices[h], transformer.get(h), linear.get(h)) for h in heads}
        if source == "chosen" and "frustration" in out and self.stack is not None:
            out["frustration"] = self.stacked_frustration(inputs, out["frustration"])
        return out

    def stacked_frustration(self, inputs: List[str], chosen: np.ndarray) -> np.ndarray:
        """Calibrated frustration from the in-domain choice, the joint head and sentiment."""
        assert self.stack is not None and self.joint_linear is not None and self.sentiment_linear is not None
        x = calibration.features(
            self.joint_linear.predict_proba(inputs)["frustration"], chosen, self.sentiment_linear.predict_proba(inputs)["sentiment"]
        )
        return self.stack.probabilities(x)

    def frustration_readings(self, texts: Sequence[str]) -> Dict[str, np.ndarray]:
        """Frustration probabilities of each reading, for evaluation: ``served`` (what
        the assistant uses), ``in_domain`` (the in-domain choice alone) and, when the
        model has them, ``joint`` (the TF-IDF + logistic-regression head trained on the
        same in-domain rows and tweets) and ``sentiment`` (negative/neutral/positive)."""
        inputs = [prepare(t if isinstance(t, str) else "").text for t in texts]
        in_domain = self._probabilities(inputs, "in_domain", ["frustration"])["frustration"]
        out = {"in_domain": in_domain}
        if self.sentiment_linear is not None:
            out["sentiment"] = self.sentiment_linear.predict_proba(inputs)["sentiment"]
        if self.stack is not None and self.joint_linear is not None:
            out["joint"] = self.joint_linear.predict_proba(inputs)["frustration"]
            out["served"] = self.stacked_frustration(inputs, in_domain)
        else:
            out["served"] = in_domain
        return out

    def predict(self, texts: Sequence[str]) -> List[Dict]:
        """Signals of each raw message (any length; empty and emoji-only text are fine).

        Returns:
            One dict per message with ``frustration``, ``urgency``, ``dialect`` and
            ``elongated`` (see the module docstring).
        """
        prepared = [prepare(t if isinstance(t, str) else "") for t in texts]
        probabilities = self._probabilities([p.text for p in prepared], "chosen", list(SIGNAL_HEADS))
        return [self._result(probabilities, i, p.elongated) for i, p in enumerate(prepared)]

    def predict_one(self, text: str) -> Dict:
        """:meth:`predict` of a single message."""
        return self.predict([text])[0]

    @staticmethod
    def _result(probabilities: Dict[str, np.ndarray], row: int, elongated: bool) -> Dict:
        named = {head: dict(zip(labels, (float(p) for p in probabilities[head][row]), strict=True)) for head, labels in SIGNAL_HEADS.items()}
        frustration, urgency, dialect = named["frustration"], named["urgency"], named["dialect"]
        return {
            "frustration": {
                "level": _argmax(frustration),
                "score": _unit(frustration["annoyed"] * 0.5 + frustration["angry"]),
                "probabilities": frustration,
            },
            "urgency": {
                "service": _argmax(urgency),
                "score": _unit(1.0 - urgency["none"]),
                "probabilities": urgency,
            },
            "dialect": {"label": _argmax(dialect), "score": _unit(max(dialect.values()))},
            "elongated": bool(elongated),
        }

    def sentiment(self, texts: Sequence[str]) -> Optional[np.ndarray]:
        """Negative/neutral/positive probabilities from the optional sentiment head
        (stored choice), or None when the model was trained without it."""
        if "sentiment" not in self.selection or self.sentiment_linear is None:
            return None
        inputs = [prepare(t if isinstance(t, str) else "").text for t in texts]
        choice = self.selection["sentiment"]
        linear = self.sentiment_linear.predict_proba(inputs)["sentiment"]
        transformer = self.model.probabilities(inputs, heads=["sentiment"])["sentiment"] if choice != "linear" else None
        return combine(choice, transformer, linear)

    def _has_sentiment_head(self) -> bool:
        return "sentiment" in self.model.head_labels

    def sentiment_by_source(self, texts: Sequence[str]) -> Dict[str, np.ndarray]:
        """Sentiment probabilities of the linear model, the transformer head (when
        trained with ``--sentiment-head``) and the chosen combination; empty when
        the model was trained without the sentiment datasets."""
        if "sentiment" not in self.selection or self.sentiment_linear is None:
            return {}
        inputs = [prepare(t if isinstance(t, str) else "").text for t in texts]
        linear = self.sentiment_linear.predict_proba(inputs)["sentiment"]
        out = {"linear": linear}
        transformer = None
        if self._has_sentiment_head():
            out["transformer"] = transformer = self.model.probabilities(inputs, heads=["sentiment"])["sentiment"]
        out["chosen"] = combine(self.selection["sentiment"], transformer, linear)
        return out


def _argmax(probabilities: Dict[str, float]) -> str:
    # first label wins a tie, as numpy's argmax does in evaluation
    return max(probabilities, key=lambda label: probabilities[label])


def _unit(value: float) -> float:
    # float rounding can leave 1.0000001 or -1e-8
    return float(min(1.0, max(0.0, value)))
