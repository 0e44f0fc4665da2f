"""The WordPiece tokenizer: trained from scratch, markers kept whole, save/load round trip."""

import pytest

from bot.signals import tokenizer as tokenizers_
from bot.signals.text import MARKERS, model_input

CORPUS = [
    "الكهرباء مقطوعة عندنا من امس",
    "الانترنت فاصل من يومين!!!",
    "متى ترجع المويه؟؟",
    "el net m2to3 men embare7",
    "حرااااام عليكم الفاتوره غاليه",
    "شكرا على الخدمه الممتازه",
] * 20


@pytest.fixture(scope="module")
def trained():
    return tokenizers_.train_tokenizer([model_input(t) for t in CORPUS], vocab_size=300, min_frequency=1)


def test_markers_are_single_special_tokens(trained):
    ids = trained("حرام <elong> <excl>")["input_ids"]
    tokens = trained.convert_ids_to_tokens(ids)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert tokens[-3:-1] == ["<elong>", "<excl>"]
    assert set(MARKERS) <= set(trained.all_special_tokens)


def test_decode_round_trip(trained):
    text = "الكهرباء مقطوعه عندنا من امس"
    assert trained.decode(trained(text)["input_ids"], skip_special_tokens=True) == text


def test_save_and_load_give_the_same_ids(trained, tmp_path):
    tokenizers_.save(trained, tmp_path / "tok")
    loaded = tokenizers_.load(tmp_path / "tok")
    text = model_input("الانترنت فاصل من يومين!!! 😡😡 el net")
    assert loaded(text)["input_ids"] == trained(text)["input_ids"]
    assert len(loaded) == len(trained)


def test_truncation(trained):
    ids = tokenizers_.encode(trained, ["كلمه " * 500], max_length=16)[0]
    assert len(ids) == 16 and ids[-1] == trained.sep_token_id


def test_add_markers_to_a_foreign_tokenizer_counts_only_new_ones(trained):
    assert tokenizers_.add_markers(trained) == 0
