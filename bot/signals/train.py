"""Train the signals model: tokenizer, masked-LM pretraining, multi-task fine-tuning,
linear baselines and the per-head choice between them.

Usage::

    python -m bot.signals.train --out models/signals
    python -m bot.signals.train --out /tmp/signals --tiny          # seconds, for tests
    python -m bot.signals.train --out models/signals --base-model aubmindlab/bert-base-arabertv02

The defaults finish in about 18 minutes on two CPU cores: 7 minutes of masked-LM
pretraining and 8 of fine-tuning are budgets (``--pretrain-minutes``,
``--finetune-minutes``); the rest (data, tokenizer, linear models) takes 2-3 minutes.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from bot.signals import card as cards
from bot.signals import corpus, data, shared
from bot.signals.combine import CRITICAL, choose
from bot.signals.labels import SENTIMENT, SIGNAL_HEADS
from bot.signals.layout import (
    JOINT_LINEAR_FILE,
    LINEAR_FILE,
    SELECTION_FILE,
    SENTIMENT_LINEAR_FILE,
    STACK_FILE,
    TRAINING_FILE,
)
from bot.signals.text import model_input


@dataclass(frozen=True)
class Recipe:
    """Sizes and budgets of one training run."""

    vocab_size: int = 8000
    hidden: int = 192
    layers: int = 4
    attention_heads: int = 4
    pretrain_minutes: float = 7.0
    pretrain_steps: Optional[int] = None
    pretrain_batch: int = 64
    epochs: int = 30
    finetune_minutes: float = 8.0
    learning_rate: float = 3e-4
    patience: int = 4
    c_grid: Sequence[float] = (3.0, 10.0, 30.0)
    min_df: int = 1
    in_domain_repeats: int = 1
    max_rows: Optional[int] = None
    sentiment_rows: Optional[int] = None
    # the joint frustration head: in-domain rows repeated this often next to the tweets
    joint_in_domain_repeats: int = 5
    # tweets of the public validation parts that fit the frustration stack
    stack_tweets: int = 3000


TINY = Recipe(
    vocab_size=400, hidden=32, layers=1, attention_heads=2, pretrain_minutes=0.0, pretrain_steps=3,
    pretrain_batch=16, epochs=2, finetune_minutes=1.0, learning_rate=1e-3, patience=2, c_grid=(10.0,),
    min_df=2, max_rows=400,
)


def log(message: str) -> None:
    """Progress line with the time of day (training runs for minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.signals.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="model folder to write (e.g. models/signals)")
    parser.add_argument("--base-model", help="start from this pretrained encoder (hub id or save_pretrained folder) instead of pretraining from scratch")
    parser.add_argument("--pretrain-minutes", type=float, help="masked-LM budget in minutes (default 7; 0 with --pretrain-steps for exact reruns)")
    parser.add_argument("--pretrain-steps", type=int, help="stop masked-LM pretraining after this many steps")
    parser.add_argument("--epochs", type=int, help="most fine-tuning epochs (default 30; early stopping and the time budget usually stop sooner)")
    parser.add_argument("--finetune-minutes", type=float, help="fine-tuning budget in minutes (default 8)")
    parser.add_argument("--tiny", action="store_true", help="a very small model in seconds (tests); implies --datasets none")
    parser.add_argument("--in-domain-repeats", type=int, help="times the customer-service texts appear in the masked-LM stream")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--data", default=str(data.DEFAULT_DATA_DIR), help="folder of signals CSVs")
    parser.add_argument("--heldout", default=str(data.HELDOUT_FILE), help="held-out CSV whose texts training must never see")
    parser.add_argument("--datasets", help="public datasets folder; 'none' to train without them (default: $SHARED_DATASETS or ../shared/datasets)")
    parser.add_argument("--no-sentiment", action="store_true", help="do not train any sentiment model, even when the public datasets are present")
    parser.add_argument(
        "--sentiment-head", action="store_true",
        help="also train a transformer sentiment head as an auxiliary task (multi-task; doubles fine-tuning cost per epoch)",
    )
    return parser.parse_args(argv)


def recipe_from(args: argparse.Namespace) -> Recipe:
    base = TINY if args.tiny else Recipe()
    changes = {
        "pretrain_minutes": args.pretrain_minutes,
        "pretrain_steps": args.pretrain_steps,
        "epochs": args.epochs,
        "finetune_minutes": args.finetune_minutes,
        "in_domain_repeats": args.in_domain_repeats,
    }
    return Recipe(**{**asdict(base), **{k: v for k, v in changes.items() if v is not None}})


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _indices(values: Sequence[str], labels: List[str]) -> List[int]:
    return [labels.index(v) for v in values]


def train(args: argparse.Namespace) -> Dict:
    """Run every step and write the model folder; returns the training facts."""
    import torch

    from bot.signals import finetune as ft
    from bot.signals import pretrain as pt
    from bot.signals import tokenizer as tokenizers_
    from bot.signals.linear import LinearSignals, select_c
    from bot.signals.model import SignalsModel

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    recipe = recipe_from(args)
    out = Path(args.out)
    seconds: Dict[str, float] = {}
    start = time.time()

    # --- data ------------------------------------------------------------------
    examples = data.read_dir(Path(args.data))
    forbidden = set()
    heldout = Path(args.heldout)
    if heldout.is_file():
        forbidden = {model_input(e.text) for e in data.read_csv(heldout)}
    examples, dropped = data.drop_overlap(examples, forbidden, model_input)
    if recipe.max_rows and len(examples) > recipe.max_rows:
        # every k-th row keeps all files and labels in a small sample
        examples = examples[:: -(-len(examples) // recipe.max_rows)]
    if dropped:
        log(f"WARNING: dropped {dropped} training rows that equal held-out messages after normalisation")
    train_rows, valid_rows = data.split_validation(examples, 0.1, args.seed)
    log(f"signals data: {len(examples)} rows -> train {len(train_rows)}, validation {len(valid_rows)}")
    folder = None if args.tiny else shared.datasets_dir(args.datasets)
    sentiment = shared.load_sentiment(folder) if not args.no_sentiment else shared.SentimentData()
    arbanking = shared.load_arbanking_texts(folder)
    log(f"public datasets: {folder or 'none'}; sentiment train {len(sentiment.train)}, validation {len(sentiment.validation)}, ArBanking77 texts {len(arbanking)}")

    train_x = [model_input(e.text) for e in train_rows]
    valid_x = [model_input(e.text) for e in valid_rows]
    # Sentiment rows equal to a sentiment test or validation text leave training
    # (ASTD repeats tweets across its splits).
    held_sentiment = {model_input(t) for rows in sentiment.test.values() for t, _ in rows}
    sentiment_valid = [(model_input(t), y) for t, y in sentiment.validation]
    held_sentiment |= {t for t, _ in sentiment_valid}
    sentiment_train = [(x, y) for x, y in ((model_input(t), y) for t, y in sentiment.train) if x not in held_sentiment]
    if recipe.sentiment_rows:
        sentiment_train = sentiment_train[: recipe.sentiment_rows]
    head_labels = dict(SIGNAL_HEADS)
    if sentiment_train and args.sentiment_head:
        head_labels["sentiment"] = SENTIMENT
    nlu = corpus.nlu_texts()
    seconds["data"] = time.time() - start

    # --- (a) tokenizer and (b) pretraining ---------------------------------------
    step_start = time.time()
    never_pretrain = forbidden | held_sentiment | set(valid_x)
    texts = corpus.unique([model_input(t) for t in nlu + arbanking] + train_x + [x for x, _ in sentiment_train])
    texts = [t for t in texts if t not in never_pretrain]
    # The customer-service texts (signals training rows, NLU examples) are a small
    # share of the corpus next to tweets and banking queries; --in-domain-repeats
    # repeats them in the masked-LM stream (task-adaptive pretraining). With the
    # default budget it made no measurable difference on validation, so the
    # default is 1.
    in_domain = [t for t in corpus.unique(train_x + [model_input(t) for t in nlu]) if t not in never_pretrain]
    mlm_texts = texts + in_domain * max(0, recipe.in_domain_repeats - 1)
    pretraining = None
    if args.base_model:
        log(f"base model {args.base_model}: no tokenizer training, no pretraining")
        model = SignalsModel.load(args.base_model, head_labels)
        architecture = {
            "description": f"`{args.base_model}` ({type(model.encoder).__name__}), fine-tuned",
            "tokenizer": "the base model's, plus the cue markers as special tokens",
        }
    else:
        log(f"training a WordPiece tokenizer (vocab {recipe.vocab_size}) on {len(texts)} texts")
        tokenizer = tokenizers_.train_tokenizer(texts, recipe.vocab_size)
        seconds["tokenizer"] = time.time() - step_start
        model = SignalsModel.from_scratch(
            tokenizer, head_labels, hidden=recipe.hidden, layers=recipe.layers, heads=recipe.attention_heads
        )
        architecture = {
            "description": f"BERT trained from scratch, hidden {recipe.hidden}, {recipe.layers} layers, "
            f"{recipe.attention_heads} heads, 128 positions",
            "tokenizer": f"WordPiece, {len(tokenizer)} tokens, trained on the pretraining corpus",
        }
        step_start = time.time()
        log(f"masked-LM pretraining for {recipe.pretrain_minutes:g} min on {len(texts)} texts ({len(in_domain)} in-domain, x{recipe.in_domain_repeats})")
        stats = pt.pretrain(
            model.encoder, tokenizer, mlm_texts, recipe.pretrain_minutes, recipe.pretrain_steps,
            batch_size=recipe.pretrain_batch, seed=args.seed, log=log,
        )
        pretraining = asdict(stats)
        seconds["pretraining"] = time.time() - step_start

    # --- (c) multi-task fine-tuning ----------------------------------------------
    step_start = time.time()
    train_set = ft.LabelledTexts(train_x, {h: _indices([e.labels[h] for e in train_rows], SIGNAL_HEADS[h]) for h in SIGNAL_HEADS})
    valid_set = ft.LabelledTexts(valid_x, {h: _indices([e.labels[h] for e in valid_rows], SIGNAL_HEADS[h]) for h in SIGNAL_HEADS})
    auxiliary = None
    if "sentiment" in head_labels:
        auxiliary = (ft.LabelledTexts([x for x, _ in sentiment_train], {"sentiment": _indices([y for _, y in sentiment_train], SENTIMENT)}), 0.5)
    learning_rate = 5e-5 if args.base_model else recipe.learning_rate
    log(f"fine-tuning up to {recipe.epochs} epochs / {recipe.finetune_minutes:g} min (lr {learning_rate:g})" + (", sentiment as auxiliary task" if auxiliary else ""))
    result = ft.finetune(
        model, train_set, valid_set, epochs=recipe.epochs, learning_rate=learning_rate,
        patience=recipe.patience, minutes=recipe.finetune_minutes, seed=args.seed, auxiliary=auxiliary, log=log,
    )
    # Round the encoder through its float16 storage now, so the validation
    # probabilities that choose the combination are those of the saved model.
    with torch.no_grad():
        for parameter in model.encoder.parameters():
            parameter.copy_(parameter.half().float())
    transformer_valid = model.probabilities(valid_x, heads=list(SIGNAL_HEADS))
    seconds["finetuning"] = time.time() - step_start

    # --- (d) linear baselines ------------------------------------------------------
    step_start = time.time()
    train_labels = {h: [e.labels[h] for e in train_rows] for h in SIGNAL_HEADS}
    valid_labels = {h: [e.labels[h] for e in valid_rows] for h in SIGNAL_HEADS}
    c_per_head, linear_valid = select_c(
        train_x, train_labels, valid_x, valid_labels, SIGNAL_HEADS, recipe.c_grid, recipe.min_df, log=log
    )
    linear = LinearSignals.fit(
        train_x + valid_x, {h: train_labels[h] + valid_labels[h] for h in SIGNAL_HEADS}, SIGNAL_HEADS, c_per_head,
        min_df=recipe.min_df,
    )
    seconds["linear"] = time.time() - step_start

    # --- (e) per-head choice ---------------------------------------------------------
    selection = {}
    for head, labels in SIGNAL_HEADS.items():
        chosen = choose(valid_set.labels[head], transformer_valid[head], linear_valid[head], labels, CRITICAL.get(head, ()))
        selection[head] = {"choice": chosen.choice, "scores": chosen.scores}
        log(f"  {head}: " + ", ".join(f"{k} {v:.3f}" for k, v in chosen.scores.items()) + f" -> {chosen.choice}")
    sentiment_info = None
    sentiment_linear = None
    if sentiment_train and sentiment_valid:
        step_start = time.time()
        truth = _indices([y for _, y in sentiment_valid], SENTIMENT)
        transformer_sentiment = (
            model.probabilities([x for x, _ in sentiment_valid], heads=["sentiment"])["sentiment"]
            if "sentiment" in model.head_labels
            else None
        )
        # A capped vocabulary: tens of thousands of tweets would otherwise make
        # this one model larger than everything else together.
        sentiment_linear = LinearSignals.fit(
            [x for x, _ in sentiment_train], {"sentiment": [y for _, y in sentiment_train]},
            {"sentiment": SENTIMENT}, {"sentiment": 3.0}, max_features=60000, min_df=2,
        )
        linear_sentiment = sentiment_linear.predict_proba([x for x, _ in sentiment_valid])["sentiment"]
        chosen = choose(truth, transformer_sentiment, linear_sentiment, SENTIMENT)
        sentiment_info = {"choice": chosen.choice, "scores": chosen.scores, "train_rows": len(sentiment_train), "validation_rows": len(sentiment_valid)}
        selection["sentiment"] = {"choice": chosen.choice, "scores": chosen.scores}
        log("  sentiment: " + ", ".join(f"{k} {v:.3f}" for k, v in chosen.scores.items()) + f" -> {chosen.choice}")
        seconds["sentiment_linear"] = time.time() - step_start

    # --- (f) frustration for real traffic: joint head and calibrated stack ------------
    stack_info = None
    joint_linear = stack = None
    if sentiment_linear is not None:
        step_start = time.time()
        joint_linear, stack, stack_info = _frustration_stack(
            recipe, model, linear, sentiment_linear, str(selection["frustration"]["choice"]),
            train_x, train_labels["frustration"], valid_x, valid_labels["frustration"],
            transformer_valid["frustration"], linear_valid["frustration"], sentiment_train, sentiment_valid, args.seed,
        )
        selection["frustration"]["use_stack"] = stack_info["use_stack"]
        selection["frustration"]["stack"] = stack_info["validation"]
        seconds["frustration_stack"] = time.time() - step_start

    # --- (g) save ------------------------------------------------------------------------
    seconds["total"] = time.time() - start
    used = {}
    if arbanking:
        used["arbanking77"] = f"{len(arbanking):,} queries of train.csv and val.csv as unlabelled pretraining text (tokenizer, masked-LM)"
    for name in sentiment.sources:
        if sentiment_train:
            split = "4class-unbalanced train split" if name == "astd" else "training part (hash buckets 2-9 of training_data.csv)"
            head = "transformer sentiment head, " if "sentiment" in head_labels else ""
            used[name] = (
                f"{split}: sentiment linear baseline, {head}unlabelled pretraining text; "
                "validation and test parts never trained on"
            )
    info = {
        "command": "python -m bot.signals.train " + " ".join(shlex.quote(a) for a in (args.argv or [])),
        "seed": args.seed,
        "threads": args.threads,
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}",
        "recipe": asdict(recipe),
        "base_model": args.base_model,
        "architecture": {**architecture, "parameters": sum(p.numel() for p in model.encoder.parameters()), "storage": "float16 safetensors"},
        "heads": model.head_labels,
        "data": {
            "rows": len(examples), "train_rows": len(train_rows), "validation_rows": len(valid_rows),
            "validation_fraction": len(valid_rows) / max(1, len(examples)), "dropped_heldout_overlap": dropped,
            "pretraining_texts": len(texts), "in_domain_texts": len(in_domain),
        },
        "datasets": {"nlu_examples": len(nlu), "shared": used},
        "pretraining": pretraining,
        "finetuning": {
            "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
            "best_validation_score": result.best_score, "history": result.history, "auxiliary": bool(auxiliary),
            "learning_rate": learning_rate,
        },
        "linear": {"C": c_per_head},
        "selection": selection,
        "sentiment": sentiment_info,
        "frustration_stack": stack_info,
        "seconds": seconds,
    }
    model.save(out, cards.build_card(info))
    linear.save(out / LINEAR_FILE)
    if sentiment_linear is not None:
        sentiment_linear.save(out / SENTIMENT_LINEAR_FILE)
    else:  # a model trained without the datasets must not keep an older sentiment model
        for suffix in (".json", ".npz"):
            (out / SENTIMENT_LINEAR_FILE).with_suffix(suffix).unlink(missing_ok=True)
    if joint_linear is not None and stack is not None:
        joint_linear.save(out / JOINT_LINEAR_FILE)
        stack.save(out / STACK_FILE)
    else:
        (out / STACK_FILE).unlink(missing_ok=True)
        for suffix in (".json", ".npz"):
            (out / JOINT_LINEAR_FILE).with_suffix(suffix).unlink(missing_ok=True)
    (out / SELECTION_FILE).write_text(json.dumps(selection, indent=2) + "\n", encoding="utf-8")
    (out / TRAINING_FILE).write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"saved {out} ({size / 1e6:.1f} MB) in {seconds['total'] / 60:.1f} min")
    return info


def _frustration_stack(
    recipe: Recipe,
    model,
    linear,
    sentiment_linear,
    choice: str,
    train_x: List[str],
    train_frustration: List[str],
    valid_x: List[str],
    valid_frustration: List[str],
    transformer_valid: np.ndarray,
    linear_valid: np.ndarray,
    sentiment_train: List,
    sentiment_valid: List,
    seed: int,
):
    """Fit the joint frustration head and the stack of bot/signals/calibration.py.

    Returns:
        The joint linear head, the stack, and the facts for training.json: the
        validation macro-F1 and ECE of the in-domain choice, the joint head and the
        stack (out of fold), and the tweets' negative-vs-positive ROC-AUC of each.
    """
    from sklearn.metrics import roc_auc_score

    from bot.signals import calibration
    from bot.signals.combine import combine as combine_heads
    from bot.signals.linear import LinearSignals

    labels = SIGNAL_HEADS["frustration"]
    mapped = [(x, "annoyed" if y == "negative" else "calm") for x, y in sentiment_train]
    joint = LinearSignals.fit(
        list(train_x) * recipe.joint_in_domain_repeats + [x for x, _ in mapped],
        {"frustration": list(train_frustration) * recipe.joint_in_domain_repeats + [y for _, y in mapped]},
        {"frustration": labels}, {"frustration": 10.0}, max_features=80000, min_df=2,
    )
    # In-domain validation: the linear head of select_c (trained without these rows),
    # the transformer (these rows only stopped its training), the joint head and the
    # sentiment head (neither saw them).
    chosen_in = combine_heads(choice, transformer_valid, linear_valid)
    x_in = calibration.features(joint.predict_proba(valid_x)["frustration"], chosen_in, sentiment_linear.predict_proba(valid_x)["sentiment"])
    y_in = np.array(_indices(valid_frustration, labels))
    tweets = list(sentiment_valid)
    random.Random(seed).shuffle(tweets)
    tweets = tweets[: recipe.stack_tweets]
    tweet_x = [x for x, _ in tweets]
    chosen_tw = combine_heads(
        choice,
        model.probabilities(tweet_x, heads=["frustration"])["frustration"] if choice != "linear" else None,
        linear.predict_proba(tweet_x, ["frustration"])["frustration"] if choice != "transformer" else None,
    )
    x_tw = calibration.features(joint.predict_proba(tweet_x)["frustration"], chosen_tw, sentiment_linear.predict_proba(tweet_x)["sentiment"])
    y_tw = np.array([labels.index("annoyed") if y == "negative" else labels.index("calm") for _, y in tweets])
    x = np.vstack([x_in, x_tw])
    y = np.concatenate([y_in, y_tw])
    # both sources weigh the same in total, whatever their sizes
    weights = np.concatenate([np.ones(len(y_in)), np.full(len(y_tw), len(y_in) / max(1, len(y_tw)))])
    out_of_fold = calibration.cross_validated(x, y, labels, weights, seed=seed)
    stack = calibration.FrustrationStack.fit(x, y, labels, weights)

    polar = np.array([y != "neutral" for _, y in tweets])
    negative = np.array([y == "negative" for _, y in tweets])[polar]
    n_in = len(y_in)
    candidates = {
        "chosen": (np.exp(x[:, 3:6]), "in-domain head as selected"),
        "joint": (np.exp(x[:, 0:3]), "TF-IDF + logistic regression on in-domain rows and tweets (the baseline)"),
        "stack": (out_of_fold, "calibrated stack, out of fold"),
    }
    validation: Dict[str, Dict[str, Any]] = {}
    for name, (probabilities, what) in candidates.items():
        validation[name] = {
            "what": what,
            "in_domain": calibration.summary(probabilities[:n_in], y_in),
            "tweets_negative_vs_positive_auc": float(roc_auc_score(negative, calibration.frustration_score(probabilities[n_in:])[polar])),
        }
        log(f"  frustration {name}: in-domain macro-F1 {validation[name]['in_domain']['macro_f1']:.3f}, "
            f"ECE {validation[name]['in_domain']['ece']:.3f}; tweets AUC {validation[name]['tweets_negative_vs_positive_auc']:.3f}")
    use_stack = stack_serves(validation)
    log(f"  frustration: {'the stack' if use_stack else 'the in-domain choice'} serves (mean of in-domain macro-F1 and tweets AUC)")
    info = {
        "use_stack": use_stack,
        "sources": list(calibration.SOURCES),
        "joint_in_domain_repeats": recipe.joint_in_domain_repeats,
        "rows": {"in_domain_validation": n_in, "tweets_validation": len(y_tw)},
        "validation": validation,
    }
    return joint, stack, info


def stack_serves(validation: Dict[str, Dict[str, Any]]) -> bool:
    """Whether the calibrated stack serves the frustration head rather than the in-domain
    choice: the better of the two on the mean of in-domain macro-F1 and tweets AUC.

    Only those two can serve; the joint model is one of the stack's inputs, so a joint
    model scoring best must not hand the head to the in-domain choice (which it did
    once, when the rule compared the stack with both: the in-domain choice served with a
    tweets AUC of 0.59 against the stack's 0.79).
    """

    def overall(name: str) -> float:
        return (validation[name]["in_domain"]["macro_f1"] + validation[name]["tweets_negative_vs_positive_auc"]) / 2

    return overall("stack") >= overall("chosen")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    args.argv = argv
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
