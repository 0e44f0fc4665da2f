"""The pretrained-encoder path, with a tiny randomly initialised BERT saved locally
(no download): fine-tune, persist, load, rank intents."""

from __future__ import annotations

from pathlib import Path

import pytest

TRAINING = {
    "report_outage": ["الكهرباء مقطوعة", "ما في كهربا عندنا", "النت فاصل", "الموية مقطوعة من امس", "el kahraba ma2tou3a", "no power at home"],
    "bill_inquiry": ["كم فاتورتي", "ابي اعرف الفاتورة", "قديش الفاتورة", "فاتورة الشهر", "kam el fatoura", "how much is my bill"],
    "greet": ["مرحبا", "السلام عليكم", "اهلا", "هلا والله", "salam", "hello"],
}


def tiny_encoder(folder: Path) -> str:
    """A 2-layer BERT with a character vocabulary, saved like a downloaded model."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    torch.manual_seed(0)  # the same "pretrained" weights every run

    chars = sorted({c for texts in TRAINING.values() for text in texts for c in text.replace(" ", "")} | set("0123456789?!"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + [f"##{c}" for c in chars]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True, tokenize_chinese_chars=False).save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return str(folder)


def test_fine_tunes_persists_loads_and_ranks(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.encoder_classifier import EncoderIntentClassifier

    config = {"encoder": tiny_encoder(tmp_path / "encoder"), "epochs": 40, "batch_size": 6, "learning_rate": 2e-3, "device": "cpu"}
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("encoder_intents")
    context = ExecutionContext(GraphSchema({}), "test")
    trainer = EncoderIntentClassifier.create(config, storage, resource, context)
    examples = [Message(data={"text": t, "intent": intent}) for intent, texts in TRAINING.items() for t in texts]
    trainer.train(TrainingData(examples))
    loaded = EncoderIntentClassifier.load(config, storage, resource, context)
    messages = [Message(data={"text": t}) for texts in TRAINING.values() for t in texts]
    loaded.process(messages)
    predicted = [m.get("intent")["name"] for m in messages]
    expected = [intent for intent, texts in TRAINING.items() for _ in texts]
    # it learnt its training examples (chance would be a third)
    assert sum(p == e for p, e in zip(predicted, expected, strict=True)) >= 15
    ranking = messages[0].get("intent_ranking")
    assert {r["name"] for r in ranking} == set(TRAINING) and abs(sum(r["confidence"] for r in ranking) - 1) < 1e-4


def test_an_encoder_must_be_named() -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.nlu.encoder_classifier import EncoderIntentClassifier

    with pytest.raises(ValueError, match="encoder"):
        EncoderIntentClassifier.create({}, LocalModelStorage(Path("/tmp")), Resource("x"), ExecutionContext(GraphSchema({}), "t"))
