"""Masked-LM pretraining of the encoder from scratch, for a time budget.

The MLM head is applied to masked positions only: with a vocabulary of 8,000 the
output layer over every position would cost about as much as the whole encoder.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from bot.signals import tokenizer as tokenizers_


class MaskedLMHead(nn.Module):
    """BERT's MLM head (transform + output layer tied to the input embeddings)."""

    def __init__(self, embeddings: nn.Embedding, hidden: int) -> None:
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden, eps=1e-12))
        self.embeddings = embeddings
        self.bias = nn.Parameter(torch.zeros(embeddings.num_embeddings))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.transform(hidden) @ self.embeddings.weight.T + self.bias


@dataclass
class PretrainStats:
    """What pretraining did (for the model card)."""

    steps: int = 0
    tokens: int = 0
    sentences: int = 0
    epochs: float = 0.0
    seconds: float = 0.0
    first_loss: float = float("nan")
    last_loss: float = float("nan")


def length_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator, noise: float = 2.0) -> List[np.ndarray]:
    """Batches of similar length (little padding), in random order.

    ``noise`` (in tokens) is added to the lengths before sorting, so batches mix
    differently every epoch.
    """
    noisy = np.asarray(lengths) + rng.uniform(0, noise, len(lengths))
    order = np.argsort(noisy)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def mask_tokens(ids: torch.Tensor, special: torch.Tensor, mask_id: int, vocab: int, generator: torch.Generator):
    """BERT masking: 15 % of real tokens; of those 80 % [MASK], 10 % random, 10 % kept.

    Returns:
        Input ids with masks applied, and the boolean positions to predict.
    """
    probability = torch.full(ids.shape, 0.15)
    probability[special] = 0.0
    chosen = torch.bernoulli(probability, generator=generator).bool()
    if not chosen.any():  # tiny batches: predict at least one token
        candidates = (~special).nonzero()
        if len(candidates):
            row, col = candidates[torch.randint(len(candidates), (1,), generator=generator)][0]
            chosen[row, col] = True
    inputs = ids.clone()
    replace = torch.bernoulli(torch.full(ids.shape, 0.8), generator=generator).bool() & chosen
    inputs[replace] = mask_id
    randomise = torch.bernoulli(torch.full(ids.shape, 0.5), generator=generator).bool() & chosen & ~replace
    inputs[randomise] = torch.randint(vocab, ids.shape, generator=generator)[randomise]
    return inputs, chosen


def pretrain(
    encoder: Any,
    tokenizer,
    texts: Sequence[str],
    minutes: float,
    max_steps: Optional[int] = None,
    batch_size: int = 64,
    max_length: int = 64,
    learning_rate: float = 6e-4,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> PretrainStats:
    """Train ``encoder`` with masked-LM on ``texts`` until the budget is spent.

    Args:
        encoder: a BERT-like encoder (trained in place).
        tokenizer: its tokenizer.
        texts: model input strings.
        minutes: wall-clock budget.
        max_steps: stop after this many steps as well (a fixed number of steps
            makes reruns identical; a time budget depends on the machine).
        batch_size: sentences per step.
        max_length: tokens per sentence (tweets and messages are short).
        learning_rate: peak AdamW learning rate (warm-up, then linear decay).
        seed: random seed of batching and masking.
        log: progress printer.
    """
    stats = PretrainStats(sentences=len(texts))
    if not texts or (minutes <= 0 and not max_steps):
        return stats
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    ids = tokenizers_.encode(tokenizer, texts, max_length)
    lengths = [len(x) for x in ids]
    special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)))
    pad_id = tokenizer.pad_token_id
    head = MaskedLMHead(encoder.get_input_embeddings(), encoder.config.hidden_size)
    # The head shares the embedding matrix with the encoder: list it once, or
    # AdamW would update it twice per step.
    unique = {id(p): p for p in list(encoder.parameters()) + list(head.parameters()) if p.requires_grad}
    parameters = list(unique.values())
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=0.01, betas=(0.9, 0.98))
    budget = max(minutes * 60.0, 1e-9)
    warmup = 0.06
    encoder.train()
    start = last_log = time.time()
    losses: List[float] = []
    done = False
    while not done:
        for index in length_batches(lengths, batch_size, rng):
            progress = max((time.time() - start) / budget if minutes > 0 else 0.0, stats.steps / max_steps if max_steps else 0.0)
            if progress >= 1.0:
                done = True
                break
            scale = progress / warmup if progress < warmup else max(0.05, (1 - progress) / (1 - warmup))
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * scale
            width = max(lengths[i] for i in index)
            batch = torch.full((len(index), width), pad_id, dtype=torch.long)
            for row, i in enumerate(index):
                batch[row, : lengths[i]] = torch.tensor(ids[i])
            attention = (batch != pad_id).long()
            inputs, chosen = mask_tokens(batch, torch.isin(batch, special_ids), tokenizer.mask_token_id, len(tokenizer), generator)
            hidden = encoder(input_ids=inputs, attention_mask=attention).last_hidden_state
            loss = nn.functional.cross_entropy(head(hidden[chosen]), batch[chosen])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            stats.steps += 1
            stats.tokens += int(attention.sum())
            losses.append(loss.item())
            if stats.steps == 1:
                stats.first_loss = losses[0]
            if time.time() - last_log > 30:
                last_log = time.time()
                elapsed = last_log - start
                log(
                    f"  pretrain step {stats.steps}: loss {np.mean(losses[-50:]):.3f}, "
                    f"{stats.tokens / elapsed:.0f} tokens/s, {elapsed / 60:.1f}/{minutes:.1f} min"
                )
        stats.epochs = stats.tokens / max(1, sum(lengths))
    stats.seconds = time.time() - start
    stats.last_loss = float(np.mean(losses[-50:])) if losses else float("nan")
    if math.isfinite(stats.first_loss):
        log(f"  pretrained {stats.steps} steps ({stats.epochs:.2f} epochs), loss {stats.first_loss:.2f} -> {stats.last_loss:.2f}")
    return stats
