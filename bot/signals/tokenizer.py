"""A WordPiece tokenizer trained from scratch on the normalised corpus.

It reads model input strings (``bot.signals.text.prepare``), which are already
normalised, so the tokenizer itself does not normalise again. The cue markers are
special tokens: they are never split, and masked-LM pretraining does not mask them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence, Union

from bot.signals.text import MARKERS

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2):
    """Train WordPiece on model input strings.

    Args:
        texts: model input strings (already normalised).
        vocab_size: target vocabulary size, special tokens included.
        min_frequency: a merge must occur this often.

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with [CLS] … [SEP] framing.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK, max_input_chars_per_word=100))
    # Whitespace and punctuation split words; digits stay together. No normaliser:
    # the input is already normalised by bot.nlu.arabic_text.
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS + list(MARKERS),
        # rare characters (other scripts in tweets) become [UNK] instead of
        # taking vocabulary slots from Arabic subwords
        limit_alphabet=400,
        continuing_subword_prefix="##",
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, tokenizer.token_to_id(CLS)), (SEP, tokenizer.token_to_id(SEP))],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token=UNK,
        pad_token=PAD,
        cls_token=CLS,
        sep_token=SEP,
        mask_token=MASK,
        additional_special_tokens=list(MARKERS),
        model_max_length=128,
    )


def add_markers(tokenizer) -> int:
    """Make the cue markers single special tokens of a pretrained (hub) tokenizer.

    Returns:
        How many tokens were new (the encoder's embeddings must grow by as many).
    """
    return tokenizer.add_special_tokens(
        {"additional_special_tokens": list(MARKERS)}, replace_additional_special_tokens=False
    )


def save(tokenizer, folder: Path) -> None:
    """``save_pretrained`` into ``folder`` (created)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))


def load(folder_or_id: Union[str, Path]):
    """``AutoTokenizer.from_pretrained`` (fast tokenizer)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder_or_id), use_fast=True)


def encode(tokenizer, texts: Sequence[str], max_length: int):
    """Token ids of model input strings, truncated, without padding."""
    return tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]
