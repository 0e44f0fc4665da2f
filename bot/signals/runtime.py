"""A NumPy forward pass of the saved BERT encoder and heads, for serving without torch.

Importing torch 2.x (a CUDA build, as this project installs) adds over 500 MB of
resident memory and its eager dispatch costs several milliseconds per short
message. The compact encoder trained here is a plain post-LayerNorm BERT, whose
forward pass is a dozen array operations per layer, so NumPy reproduces it (to
float rounding, checked by the tests against the torch model) with the tokenizer
from the ``tokenizers`` library alone. Encoders of other architectures (a
``--base-model`` from the hub) are served by torch instead: see
:func:`supports`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from bot.signals.layout import ENCODER_DIR, HEADS_FILE, LABELS_FILE, TOKENIZER_DIR


def supports(folder: Path) -> bool:
    """Whether the saved encoder is a BERT this module can run."""
    path = Path(folder) / ENCODER_DIR / "config.json"
    if not path.is_file() or not (Path(folder) / ENCODER_DIR / "model.safetensors").is_file():
        return False
    config = json.loads(path.read_text(encoding="utf-8"))
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and not config.get("is_decoder", False)
        and (Path(folder) / TOKENIZER_DIR / "tokenizer.json").is_file()
    )


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _column_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """:func:`_layer_norm` of each column of a (hidden, tokens) array."""
    mean = x.mean(0, keepdims=True)
    variance = ((x - mean) ** 2).mean(0, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


class NumpySignalsModel:
    """The saved signals transformer (encoder + heads) evaluated with NumPy.

    Attributes:
        head_labels: head name to label list.
        max_length: inputs are truncated to this many tokens.
    """

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from scipy.special import erf
        from tokenizers import Tokenizer

        folder = Path(folder)
        meta = json.loads((folder / LABELS_FILE).read_text(encoding="utf-8"))
        config = json.loads((folder / ENCODER_DIR / "config.json").read_text(encoding="utf-8"))
        self.head_labels: Dict[str, List[str]] = meta["heads"]
        self.max_length = int(meta["max_length"])
        self._erf = erf
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        self._heads_count = int(config["num_attention_heads"])
        weights = {k: v.astype(np.float32) for k, v in load_file(str(folder / ENCODER_DIR / "model.safetensors")).items()}
        prefix = "bert." if any(k.startswith("bert.") for k in weights) else ""
        self._w = {k[len(prefix):]: v for k, v in weights.items()}
        # Linear layers as (in, out) matrices, contiguous for fast products.
        for key in [k for k in self._w if k.endswith(".weight") and self._w[k].ndim == 2 and "embeddings" not in k]:
            self._w[key] = np.ascontiguousarray(self._w[key].T)
        self._layers = int(config["num_hidden_layers"])
        # One message at a time (serving), the layers run on (hidden, tokens) columns:
        # with a few tokens, OpenBLAS multiplies (out, in) @ (in, tokens) 1.4-1.9x faster
        # than (tokens, in) @ (in, out) on this project's CPUs, and query, key and value
        # come out of one product (issue 15).
        self._columns: List[Dict[str, np.ndarray]] = []
        for i in range(self._layers):
            p = f"encoder.layer.{i}."
            w = self._w
            qkv = [p + "attention.self.query", p + "attention.self.key", p + "attention.self.value"]
            self._columns.append({
                "qkv": np.ascontiguousarray(np.concatenate([w[n + ".weight"].T for n in qkv])),
                "qkv_bias": np.concatenate([w[n + ".bias"] for n in qkv])[:, None],
                **{
                    name: np.ascontiguousarray(w[p + layer + ".weight"].T)
                    for name, layer in (("output", "attention.output.dense"), ("inner", "intermediate.dense"), ("outer", "output.dense"))
                },
                **{
                    f"{name}_bias": w[p + layer + ".bias"][:, None]
                    for name, layer in (("output", "attention.output.dense"), ("inner", "intermediate.dense"), ("outer", "output.dense"))
                },
                **{
                    f"{name}_norm_{part}": w[f"{p}{layer}.LayerNorm.{part}"][:, None]
                    for name, layer in (("attention", "attention.output"), ("output", "output"))
                    for part in ("weight", "bias")
                },
            })
        heads = load_file(str(folder / HEADS_FILE))
        self._head_w = {name: np.ascontiguousarray(heads[f"{name}.weight"].astype(np.float32).T) for name in self.head_labels}
        self._head_b = {name: heads[f"{name}.bias"].astype(np.float32) for name in self.head_labels}
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_DIR / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_length)
        self._tokenizer.no_padding()
        self._pad = self._tokenizer.token_to_id("[PAD]") or 0

    def _gelu(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * x * (1.0 + self._erf(x / np.sqrt(2.0)))

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._w[f"{name}.weight"] + self._w[f"{name}.bias"]

    def pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled last hidden states of a padded batch (as ``SignalsModel.pool``)."""
        w = self._w
        batch, length = ids.shape
        h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        h = h + w["embeddings.token_type_embeddings.weight"][0]
        h = _layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self._eps)
        heads = self._heads_count
        size = h.shape[-1] // heads
        # padded keys get the most negative float, as transformers does
        bias = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
        for i in range(self._layers):
            p = f"encoder.layer.{i}."

            def split(x: np.ndarray) -> np.ndarray:
                return x.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

            q = split(self._linear(h, p + "attention.self.query"))
            k = split(self._linear(h, p + "attention.self.key"))
            v = split(self._linear(h, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + bias
            context = (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
            attended = _layer_norm(
                self._linear(context, p + "attention.output.dense") + h,
                w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self._eps,
            )
            inner = self._gelu(self._linear(attended, p + "intermediate.dense"))
            h = _layer_norm(
                self._linear(inner, p + "output.dense") + attended,
                w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self._eps,
            )
        weights = mask[..., None].astype(np.float32)
        return (h * weights).sum(1) / np.maximum(weights.sum(1), 1.0)

    def pooled_one(self, ids: Sequence[int]) -> np.ndarray:
        """:meth:`pooled` of one unpadded message, on (hidden, tokens) columns; equal to
        the batched pass to float rounding (``tests/signals/test_signals_predictor.py``)."""
        w = self._w
        length = len(ids)
        h = w["embeddings.word_embeddings.weight"][np.asarray(ids)] + w["embeddings.position_embeddings.weight"][:length]
        h = h + w["embeddings.token_type_embeddings.weight"][0]
        h = np.ascontiguousarray(_layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self._eps).T)
        hidden = h.shape[0]
        heads = self._heads_count
        size = hidden // heads
        scale = np.float32(1.0 / np.sqrt(size))
        for layer in self._columns:
            qkv = layer["qkv"] @ h + layer["qkv_bias"]  # (3 hidden, tokens)
            q = qkv[:hidden].reshape(heads, size, length)
            k = qkv[hidden : 2 * hidden].reshape(heads, size, length)
            v = qkv[2 * hidden :].reshape(heads, size, length)
            scores = (q.transpose(0, 2, 1) @ k) * scale  # (heads, query, key): no padding, no mask
            context = (v @ _softmax(scores).transpose(0, 2, 1)).reshape(hidden, length)
            attended = _column_norm(
                layer["output"] @ context + layer["output_bias"] + h, layer["attention_norm_weight"], layer["attention_norm_bias"], self._eps
            )
            inner = self._gelu(layer["inner"] @ attended + layer["inner_bias"])
            h = _column_norm(layer["outer"] @ inner + layer["outer_bias"] + attended, layer["output_norm_weight"], layer["output_norm_bias"], self._eps)
        return h.mean(axis=1)

    def probabilities(self, texts: Sequence[str], batch_size: int = 32, heads: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """Softmax probabilities per head for model input strings (batched by length)."""
        names = list(heads or self.head_labels)
        out = {name: np.zeros((len(texts), len(self.head_labels[name])), dtype=np.float32) for name in names}
        if not texts:
            return out
        encodings = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        if len(texts) == 1 and encodings[0]:
            pooled = self.pooled_one(encodings[0])[None, :]
            for name in names:
                out[name][0] = _softmax(pooled @ self._head_w[name] + self._head_b[name])[0]
            return out
        order = np.argsort([len(ids) for ids in encodings], kind="stable")
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            width = max(len(encodings[i]) for i in index)
            ids = np.full((len(index), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(index), width), dtype=np.float32)
            for row, i in enumerate(index):
                ids[row, : len(encodings[i])] = encodings[i]
                mask[row, : len(encodings[i])] = 1.0
            pooled = self.pooled(ids, mask)
            for name in names:
                out[name][index] = _softmax(pooled @ self._head_w[name] + self._head_b[name])
        return out
