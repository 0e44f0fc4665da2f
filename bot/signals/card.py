"""The model card written next to the trained signals model."""

from __future__ import annotations

from typing import Any, Dict

from bot.signals.shared import LICENCES

EVALUATION_BEGIN = "<!-- held-out evaluation: written by bot.signals.evaluate --card -->"
EVALUATION_END = "<!-- end of held-out evaluation -->"


def _table(rows, header) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def build_card(info: Dict[str, Any]) -> str:
    """Markdown model card from the facts ``bot.signals.train`` collected.

    Args:
        info: the content of ``training.json`` (see ``bot.signals.train``).
    """
    arch = info["architecture"]
    datasets = info["datasets"]
    lines = [
        "# Noor signals model: frustration, urgency, dialect",
        "",
        "Reads one customer message (Arabic, dialects, Arabizi, mixed with English) and returns",
        "how frustrated the customer is (`calm` / `annoyed` / `angry`), whether an essential",
        "service is off now (`none` / `electricity` / `water` / `internet`) and the dialect",
        "(`msa` / `gulf` / `egyptian` / `levantine` / `maghrebi`). Load it with",
        "`bot.signals.predict.SignalsPredictor.load(\"models/signals\")`.",
        "",
        "## Model",
        f"- Encoder: {arch['description']}; {arch['parameters'] / 1e6:.2f} M parameters, stored as {arch['storage']}.",
        f"- Tokenizer: {arch['tokenizer']}.",
        "- Input: `bot.signals.text.prepare`: the project's Arabic normalisation plus the Arabic reading of",
        "  Arabizi and marker tokens for cues normalisation removes (letter elongation, `!!`/`؟؟` runs,",
        "  Latin ALL-CAPS, repeated emoji). Messages are cut at 1,000 characters and 128 tokens.",
        "- Heads: " + ", ".join(f"`{h}` ({len(labels)})" for h, labels in info["heads"].items()) + " on the mean-pooled encoder output.",
        "- Serving: `bot.signals.runtime` runs this BERT on NumPy (same outputs as torch to ~1e-6, no torch",
        "  import); encoders of other architectures (`--base-model`) run on torch with a TorchScript trace.",
        "- Linear baseline per head: TF-IDF character 2-5-grams and word 1-2-grams of the same input,",
        "  logistic regression with balanced class weights (C per head on validation), refitted on all rows.",
        "- Per head, a validation score chose the transformer, the linear model or their probability average",
        "  (macro-F1; for frustration averaged with the F1 of `angry` vs the rest, for urgency with the F1 of",
        "  any service off vs `none`, the decisions the assistant acts on):",
        "",
        _table(
            [
                [head, f"**{sel['choice']}**"] + [f"{sel['scores'][c]:.3f}" if c in sel["scores"] else "–" for c in ("transformer", "linear", "average")]
                for head, sel in info["selection"].items()
            ],
            ["head", "choice", "transformer", "linear", "average"],
        ),
        "",
        f"Validation: {info['data']['validation_rows']} rows ({info['data']['validation_fraction']:.0%} of the signals CSVs,",
        "stratified by dialect and urgency); these scores choose the combination, so they are optimistic.",
        "Held-out figures (`tests/data/signals_heldout.csv`, never used in training) are below when",
        "`python -m bot.signals.evaluate --card` has run, and in `reports/signals/`.",
        "",
        "## Training",
        f"- Command: `{info['command']}` (seed {info['seed']}, {info['threads']} CPU threads).",
        f"- Machine: {info['machine']}.",
        f"- Wall-clock: {info['seconds']['total'] / 60:.1f} min in all: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in info["seconds"].items() if k != "total")
        + ".",
    ]
    pre = info.get("pretraining")
    if pre:
        lines.append(
            f"- Masked-LM pretraining from scratch: {pre['sentences']:,} sentences, {pre['steps']:,} steps, "
            f"{pre['tokens']:,} tokens ({pre['epochs']:.2f} epochs), loss {pre['first_loss']:.2f} → {pre['last_loss']:.2f}. "
            "A time budget makes the step count depend on the machine; `--pretrain-minutes 0 --pretrain-steps N` repeats a run exactly."
        )
    fine = info["finetuning"]
    lines += [
        f"- Fine-tuning: {info['data']['train_rows']} signals rows, {fine['epochs_run']} epochs "
        f"(best {fine['best_epoch']}, stopped by {fine['stopped_by']}), class-weighted cross-entropy"
        + (", with the sentiment head as an auxiliary task" if fine.get("auxiliary") else "")
        + ".",
        "",
        "## Data and licences",
        f"- Labelled: `nlu_data/signals/*.csv` (this project): {info['data']['rows']} rows.",
        f"- Unlabelled pretraining text: the project's NLU examples ({datasets['nlu_examples']} texts) and the signals training rows"
        + (f" ({info['data']['in_domain_texts']} in-domain texts, repeated {info['recipe']['in_domain_repeats']}× in the masked-LM stream)." if info["recipe"].get("in_domain_repeats", 1) > 1 else "."),
    ]
    used = datasets.get("shared", {})
    for name, usage in used.items():
        title, licence = LICENCES[name]
        lines.append(f"- {title}, licence **{licence}**: {usage}.")
    if not used:
        lines.append("- No public dataset was present at training time (`../shared/datasets` absent or switched off).")
    if "arbanking77" in used:
        lines.append("  ArBanking77 is CC BY-SA 4.0: this model's weights carry its attribution (Sina Lab, Birzeit University).")
    if "astd" in used:
        lines.append("  ASTD is GPL-2.0: the weights were trained on it; redistribute them under terms compatible with it.")
    lines += [
        "",
        "## Intended use and limits",
        "- Routing and tone hints inside the Noor assistant (hand-off priority, apology wording); not a",
        "  decision about a customer on its own. Anger and outages it misses must still reach a person.",
        "- Trained on ~1,800 written examples of one fictional utilities company; other domains, voice",
        "  transcripts and long texts are out of scope. Maghrebi has half the examples of the other dialects.",
        "- The encoder is tiny and pretrained for minutes on two CPU cores; with hub access,",
        "  `--base-model <Arabic encoder>` fine-tunes a larger pretrained model instead.",
    ]
    sentiment = info.get("sentiment")
    if sentiment:
        lines += [
            "- Sentiment (negative/neutral/positive, for the public-dataset evaluation only; `predict` does",
            f"  not return it) was trained on the ASTD and ArSarcasm-v2 training splits (choice: {sentiment['choice']}).",
        ]
    lines += ["", EVALUATION_BEGIN, "", EVALUATION_END, ""]
    return "\n".join(lines)


def with_evaluation(card: str, section: str) -> str:
    """The card with its held-out evaluation section replaced by ``section``."""
    if EVALUATION_BEGIN not in card or EVALUATION_END not in card:
        card = card.rstrip() + f"\n\n{EVALUATION_BEGIN}\n\n{EVALUATION_END}\n"
    head, rest = card.split(EVALUATION_BEGIN, 1)
    _, tail = rest.split(EVALUATION_END, 1)
    return f"{head}{EVALUATION_BEGIN}\n\n{section.strip()}\n\n{EVALUATION_END}{tail}"
