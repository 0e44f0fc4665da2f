"""Multi-task fine-tuning of ``SignalsModel`` with class weights and early stopping."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from bot.signals import tokenizer as tokenizers_
from bot.signals.metrics import macro_f1
from bot.signals.model import SignalsModel
from bot.signals.pretrain import length_batches


@dataclass
class LabelledTexts:
    """Model input strings with integer labels per head (heads may differ per set)."""

    texts: List[str]
    labels: Dict[str, List[int]]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class FinetuneResult:
    """Outcome of fine-tuning (the model is left at its best epoch)."""

    best_epoch: int = 0
    epochs_run: int = 0
    best_score: float = float("-inf")
    history: List[Dict[str, float]] = field(default_factory=list)
    validation_probabilities: Dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    stopped_by: str = "epochs"


def class_weights(labels: Sequence[int], n_classes: int) -> torch.Tensor:
    """Balanced weights n / (k * count), capped so a near-empty class cannot dominate."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=n_classes).astype(float)
    weights = len(labels) / (n_classes * np.maximum(counts, 1.0))
    return torch.tensor(np.minimum(weights, 10.0), dtype=torch.float32)


def validation_score(model: SignalsModel, data: LabelledTexts, heads: Sequence[str]) -> Tuple[float, Dict[str, float], Dict[str, np.ndarray]]:
    """Mean macro-F1 over ``heads`` on ``data``, per-head scores, and probabilities."""
    probabilities = model.probabilities(data.texts, heads=list(data.labels))
    scores = {
        head: macro_f1(data.labels[head], probabilities[head].argmax(1), len(model.head_labels[head]))
        for head in data.labels
    }
    return float(np.mean([scores[h] for h in heads])), scores, probabilities


def finetune(
    model: SignalsModel,
    train: LabelledTexts,
    valid: LabelledTexts,
    epochs: int = 20,
    learning_rate: float = 3e-4,
    batch_size: int = 32,
    patience: int = 4,
    minutes: float = 6.0,
    seed: int = 0,
    auxiliary: Optional[Tuple[LabelledTexts, float]] = None,
    log: Callable[[str], None] = print,
) -> FinetuneResult:
    """Fine-tune all heads jointly; keep the epoch with the best validation score.

    Args:
        model: the model (trained in place; left at its best epoch).
        train: signals training rows (all three heads labelled).
        valid: validation rows; the stopping score is the mean macro-F1 of the
            signal heads (an auxiliary head is reported, not used for stopping).
        epochs: most epochs.
        learning_rate: peak AdamW learning rate (10 % warm-up, linear decay).
        batch_size: rows per step.
        patience: stop after this many epochs without improvement.
        minutes: wall-clock budget: the first epoch's duration fixes how many
            epochs fit, and the learning-rate decay is planned over those.
        seed: random seed of shuffling and dropout.
        auxiliary: optional (data, weight) of another task (e.g. sentiment); as many
            of its rows as the signals set has are drawn each epoch, so it
            regularises the encoder without multiplying the epoch's cost.
        log: progress printer.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    signal_heads = list(train.labels)
    weights = {h: class_weights(train.labels[h], len(model.head_labels[h])) for h in train.labels}
    if auxiliary:
        for head, labels in auxiliary[0].labels.items():
            weights[head] = class_weights(labels, len(model.head_labels[head]))
    train_ids = tokenizers_.encode(model.tokenizer, train.texts, model.max_length)
    aux_ids = tokenizers_.encode(model.tokenizer, auxiliary[0].texts, model.max_length) if auxiliary else []
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    steps_per_epoch = -(-len(train) // batch_size) * (2 if auxiliary else 1)
    # The decay horizon is re-planned after the first epoch from its duration, so
    # the learning rate reaches zero when the time budget ends, not at an epoch
    # count the budget never allows.
    plan = {"total": max(1, steps_per_epoch * epochs), "warmup": max(1, steps_per_epoch // 2)}
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / plan["warmup"]) * max(0.0, 1 - step / plan["total"])
    )
    pad_id = model.tokenizer.pad_token_id
    result = FinetuneResult()
    best_state = copy.deepcopy(model.state_dict())
    start = time.time()
    planned_epochs = epochs

    def step(ids: List[List[int]], labels: Dict[str, List[int]], index: np.ndarray, weight: float) -> float:
        width = max(len(ids[i]) for i in index)
        batch = torch.full((len(index), width), pad_id, dtype=torch.long)
        for row, i in enumerate(index):
            batch[row, : len(ids[i])] = torch.tensor(ids[i])
        logits = model(batch, (batch != pad_id).long(), list(labels))
        loss = torch.stack([
            nn.functional.cross_entropy(logits[h], torch.tensor([labels[h][i] for i in index]), weight=weights[h])
            for h in labels
        ]).sum()
        optimizer.zero_grad(set_to_none=True)
        (loss * weight).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        return float(loss.detach())

    for epoch in range(1, epochs + 1):
        elapsed = time.time() - start
        # the plan, and also the observed pace: a machine that got busier since the
        # first epoch must not overrun the budget
        if epoch > planned_epochs or (epoch > 1 and elapsed + elapsed / (epoch - 1) > minutes * 60 * 1.05):
            result.stopped_by = "time budget"
            break
        model.train()
        batches = [("signals", b) for b in length_batches([len(x) for x in train_ids], batch_size, rng, noise=8.0)]
        if auxiliary:
            aux_data, aux_weight = auxiliary
            drawn = rng.choice(len(aux_data), size=min(len(train), len(aux_data)), replace=False)
            batches += [("aux", drawn[i : i + batch_size]) for i in range(0, len(drawn), batch_size)]
            batches = [batches[i] for i in rng.permutation(len(batches))]
        losses = []
        for kind, index in batches:
            if kind == "signals":
                losses.append(step(train_ids, train.labels, index, 1.0))
            elif auxiliary:
                step(aux_ids, aux_data.labels, index, aux_weight)
        score, per_head, probabilities = validation_score(model, valid, signal_heads)
        elapsed = time.time() - start
        if epoch == 1:
            planned_epochs = max(1, min(epochs, int(minutes * 60 // max(elapsed, 1e-6))))
            plan["total"] = max(plan["warmup"] + 1, steps_per_epoch * planned_epochs)
            log(f"  one epoch takes {elapsed:.0f} s: planning {planned_epochs} epochs in {minutes:g} min")
        result.epochs_run = epoch
        result.history.append({"epoch": epoch, "loss": float(np.mean(losses)), "score": score, **per_head})
        heads_text = ", ".join(f"{h} {s:.3f}" for h, s in per_head.items())
        log(f"  epoch {epoch}: loss {np.mean(losses):.3f}, validation macro-F1 {heads_text} ({elapsed:.0f} s)")
        if score > result.best_score:
            result.best_score, result.best_epoch = score, epoch
            result.validation_probabilities = probabilities
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - result.best_epoch >= patience:
            result.stopped_by = "early stopping"
            break
    model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.time() - start
    return result
