"""``SignalsModel``: one shared transformer encoder with a classification head per signal.

The encoder is any ``transformers`` encoder (by default a compact BERT trained from
scratch by ``bot.signals.train``; with ``--base-model`` a larger pretrained Arabic
encoder). Sentences are mean-pooled over their tokens, which is more robust than
the [CLS] vector for a small encoder pretrained only with masked-LM.

Folder format written by :meth:`SignalsModel.save`::

    encoder/            save_pretrained encoder (safetensors, float16 by default)
    tokenizer/          save_pretrained fast tokenizer
    heads.safetensors   the classification heads (float32)
    labels.json         head names and label order, max length, pooling
    model_card.md
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from bot.signals import tokenizer as tokenizers_
from bot.signals.labels import SIGNAL_HEADS
from bot.signals.layout import CARD_FILE, ENCODER_DIR, HEADS_FILE, LABELS_FILE, TOKENIZER_DIR

FORMAT_VERSION = 1


def compact_config(vocab_size: int, hidden: int = 192, layers: int = 4, heads: int = 4, max_positions: int = 128):
    """A small BERT configuration that trains on two CPU cores in minutes.

    Args:
        vocab_size: tokenizer size.
        hidden: hidden size (feed-forward is four times larger).
        layers: transformer layers.
        heads: attention heads.
        max_positions: longest input in tokens.
    """
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=max_positions,
        type_vocab_size=1,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )


def _load_encoder(folder: Path):
    """The saved encoder in float32, without BERT's unused pooler when it has one."""
    from transformers import AutoModel

    try:
        return AutoModel.from_pretrained(str(folder), torch_dtype=torch.float32, add_pooling_layer=False)
    except TypeError:  # encoders without a pooler option (DistilBERT, ...)
        return AutoModel.from_pretrained(str(folder), torch_dtype=torch.float32)


class _AllHeads(nn.Module):
    """Encoder, pooling and every head as one module with tensor outputs (traceable)."""

    def __init__(self, model: SignalsModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        pooled = self.model.pool(input_ids, attention_mask)
        return tuple(head(pooled) for head in self.model.heads.values())


class SignalsModel(nn.Module):
    """Shared encoder plus one linear head per signal.

    Attributes:
        encoder: the transformers encoder.
        tokenizer: its fast tokenizer (not a module; saved next to it).
        head_labels: head name to its label list, in output order.
        max_length: inputs are truncated to this many tokens.
    """

    _traced: Any = None  # set by freeze_for_inference

    def __init__(
        self,
        encoder: Any,
        tokenizer,
        head_labels: Optional[Dict[str, List[str]]] = None,
        dropout: float = 0.1,
        max_length: int = 128,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.head_labels = dict(head_labels or SIGNAL_HEADS)
        self.max_length = max_length
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, len(labels)) for name, labels in self.head_labels.items()})
        # set by freeze_for_inference; kept out of the module tree (and state_dict)
        object.__setattr__(self, "_traced", None)

    @classmethod
    def from_scratch(cls, tokenizer, head_labels=None, **config) -> SignalsModel:
        """A randomly initialised compact encoder (see :func:`compact_config`)."""
        from transformers import BertModel

        encoder = BertModel(compact_config(len(tokenizer), **config), add_pooling_layer=False)
        return cls(encoder, tokenizer, head_labels, max_length=encoder.config.max_position_embeddings)

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the encoder's last hidden states over real (unpadded) tokens."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, heads: Optional[Sequence[str]] = None
    ) -> Dict[str, torch.Tensor]:
        """Logits per head (all heads unless ``heads`` names some)."""
        pooled = self.dropout(self.pool(input_ids, attention_mask))
        return {name: self.heads[name](pooled) for name in (heads or self.heads.keys())}

    def batch(self, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        """Padded, truncated tensors for model input strings."""
        return self.tokenizer(
            list(texts), truncation=True, max_length=self.max_length, padding=True, return_tensors="pt"
        )

    def freeze_for_inference(self) -> bool:
        """Trace encoder and heads with TorchScript and freeze the result.

        Eager PyTorch spends most of a short message's time dispatching a few
        hundred small operations; the frozen graph runs about twice as fast on CPU
        and gives the same numbers. Inputs of any length and batch size are fine
        (the trace keeps shapes symbolic). Training the model again drops the trace.

        Returns:
            Whether tracing worked (otherwise the eager model keeps serving).
        """
        import warnings

        self.eval()
        example = self.batch(["مرحبا، الكهرباء مقطوعه"])
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(_AllHeads(self), (example["input_ids"], example["attention_mask"]), check_trace=False)
                traced = torch.jit.freeze(traced.eval())
        except Exception:  # noqa: BLE001 - any tracing failure: stay eager
            return False
        object.__setattr__(self, "_traced", traced)
        return True

    def train(self, mode: bool = True) -> SignalsModel:
        if mode:
            object.__setattr__(self, "_traced", None)
        return super().train(mode)

    def _logits(self, encoded, names: Sequence[str]) -> Dict[str, torch.Tensor]:
        if self._traced is not None and not self.training:
            outputs = dict(zip(self.heads.keys(), self._traced(encoded["input_ids"], encoded["attention_mask"]), strict=True))
            return {name: outputs[name] for name in names}
        return self(encoded["input_ids"], encoded["attention_mask"], names)

    @torch.inference_mode()
    def probabilities(
        self, texts: Sequence[str], batch_size: int = 32, heads: Optional[Sequence[str]] = None
    ) -> Dict[str, np.ndarray]:
        """Softmax probabilities per head for model input strings.

        Texts are batched by length, so padding stays small and a batch gives the
        same result as one text at a time (up to float rounding).
        """
        names = list(heads or self.heads.keys())
        out = {name: np.zeros((len(texts), len(self.head_labels[name])), dtype=np.float32) for name in names}
        if not texts:
            return out
        was_training = self.training
        if was_training:
            self.eval()
        lengths = [len(ids) for ids in tokenizers_.encode(self.tokenizer, texts, self.max_length)]
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            encoded = self.batch([texts[i] for i in index])
            logits = self._logits(encoded, names)
            for name in names:
                out[name][index] = torch.softmax(logits[name].float(), dim=-1).numpy()
        if was_training:
            self.train(True)
        return out

    def save(self, folder: Path, card: Optional[str] = None, dtype: torch.dtype = torch.float16) -> None:
        """Write the folder format described in the module docstring.

        Args:
            folder: target folder (created).
            card: model card Markdown; a minimal one when None.
            dtype: storage type of the encoder weights (float16 halves the size;
                they are read back as float32).
        """
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to(dtype).contiguous() for k, v in self.encoder.state_dict().items()}
        self.encoder.save_pretrained(str(folder / ENCODER_DIR), state_dict=state, safe_serialization=True)
        tokenizers_.save(self.tokenizer, folder / TOKENIZER_DIR)
        heads = {k: v.detach().float().contiguous() for k, v in self.heads.state_dict().items()}
        save_file(heads, str(folder / HEADS_FILE))
        meta = {
            "format": FORMAT_VERSION,
            "heads": self.head_labels,
            "max_length": self.max_length,
            "pooling": "mean",
            "encoder_dtype": str(dtype).replace("torch.", ""),
        }
        (folder / LABELS_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (folder / CARD_FILE).write_text(card or "# Signals model\n", encoding="utf-8")

    @classmethod
    def load(
        cls, folder_or_id: str, head_labels: Optional[Dict[str, List[str]]] = None, max_length: int = 128
    ) -> SignalsModel:
        """Load a saved signals model, or start one from a pretrained encoder.

        Args:
            folder_or_id: a folder written by :meth:`save`; or a local folder in
                ``save_pretrained`` format / a hub id of an encoder (with its
                tokenizer), which gets fresh heads and the cue markers as tokens.
            head_labels: heads of a fresh model (default: the three signals).
            max_length: longest input of a fresh model (capped by the encoder's).

        Raises:
            FileNotFoundError: ``folder_or_id`` is a folder without a model in it.
        """
        from safetensors.torch import load_file
        from transformers import AutoModel

        path = Path(str(folder_or_id))
        if (path / LABELS_FILE).is_file():
            meta = json.loads((path / LABELS_FILE).read_text(encoding="utf-8"))
            encoder = _load_encoder(path / ENCODER_DIR)
            model = cls(encoder, tokenizers_.load(path / TOKENIZER_DIR), meta["heads"], max_length=meta["max_length"])
            model.heads.load_state_dict(load_file(str(path / HEADS_FILE)))
            return model.eval()
        if path.exists() and not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} holds neither a signals model nor a save_pretrained encoder")
        tokenizer = tokenizers_.load(str(folder_or_id))
        encoder = AutoModel.from_pretrained(str(folder_or_id), torch_dtype=torch.float32)
        if tokenizers_.add_markers(tokenizer):
            encoder.resize_token_embeddings(len(tokenizer))
        limit = getattr(encoder.config, "max_position_embeddings", max_length)
        return cls(encoder, tokenizer, head_labels, max_length=min(max_length, limit))
