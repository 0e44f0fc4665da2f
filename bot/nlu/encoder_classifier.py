"""Intent classifier that fine-tunes a pretrained Transformer encoder.

For organisations whose machines can download models: name a Hugging Face encoder
(a hub id such as ``CAMeL-Lab/bert-base-arabic-camelbert-mix`` or ``UBC-NLP/MARBERTv2``,
or a local folder saved with ``save_pretrained``) and this component fine-tunes it on
``nlu_data/`` with a classification head, on a GPU when one is present. The shipped
pipeline does not use it: this project's machines have no model hub, and the
character n-gram classifier (:mod:`bot.nlu.intent_classifier`) needs no download.

Expected gain (not measured here, no weights can be downloaded): the reference result
for ArBanking77 is an AraBERT fine-tuned on its training split, macro-F1 0.92 on
``test_msa`` and 0.90 on ``test_pal`` (``../shared/datasets/README.md``), against
0.877 / 0.850 for the shipped classifier (``bench/EXPERIMENTS.md`` E15). Swap it in
``config.yml`` for ``CharNgramIntentClassifier``::

    - name: bot.nlu.encoder_classifier.EncoderIntentClassifier
      encoder: UBC-NLP/MARBERTv2
      epochs: 4

and keep ``FallbackClassifier`` after it (its threshold needs recalibrating: softmax
confidences of a fine-tuned encoder are sharper than the linear model's).
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_classifier import set_intent_ranking, trainable_examples

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.json"


def pick_device(preference: str = "auto") -> str:
    """``cuda`` when asked for or available (``auto``), else ``cpu``."""
    import torch

    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference


def fine_tune(
    encoder: str, texts: Sequence[str], labels: Sequence[str], config: Dict[str, Any]
) -> tuple[Any, Any, List[str]]:
    """Fine-tune ``encoder`` with a fresh classification head on (text, label) pairs.

    Returns:
        (model, tokenizer, label names in the order of the head's outputs).
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    device = pick_device(config["device"])
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    # _fast_init=False: with a checkpoint that already has a head of another size
    # (ignore_mismatched_sizes), transformers 4.36's fast init leaves the new head's
    # memory uninitialised (losses around 1e29); a full init first is slower, once.
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder, num_labels=len(names), id2label=dict(enumerate(names)), label2id=index,
        ignore_mismatched_sizes=True, _fast_init=False,
    ).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"], weight_decay=0.01)
    rng = random.Random(config["seed"])
    torch.manual_seed(config["seed"])
    order = list(range(len(texts)))
    model.train()
    for _epoch in range(config["epochs"]):
        rng.shuffle(order)
        for start in range(0, len(order), config["batch_size"]):
            batch = order[start : start + config["batch_size"]]
            encoded = tokenizer(
                [texts[i] for i in batch], padding=True, truncation=True, max_length=config["max_length"], return_tensors="pt"
            ).to(device)
            target = torch.tensor([index[labels[i]] for i in batch], device=device)
            loss = model(**encoded, labels=target).loss
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
    model.eval()
    return model.to("cpu"), tokenizer, names


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class EncoderIntentClassifier(GraphComponent, IntentClassifier):
    """Fine-tunes a pretrained encoder (``encoder``: hub id or local folder) for intents."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            "encoder": None,  # required: a hub id or a folder saved with save_pretrained
            "epochs": 4,
            "batch_size": 16,
            "learning_rate": 3e-5,
            "max_length": 64,
            "device": "auto",  # "auto": the GPU when there is one
            "seed": 13,
        }

    @staticmethod
    def required_packages() -> List[str]:
        return ["torch", "transformers"]

    def __init__(
        self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, model: Any = None,
        tokenizer: Any = None, labels: Optional[List[str]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage, self._resource = model_storage, resource
        self._model, self._tokenizer, self._labels = model, tokenizer, labels or []

    @classmethod
    def create(
        cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
    ) -> EncoderIntentClassifier:
        if not ({**cls.get_default_config(), **config}).get("encoder"):
            raise ValueError("EncoderIntentClassifier needs `encoder`: a Hugging Face hub id or a local model folder")
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = trainable_examples(training_data)
        if not examples:
            return self._resource
        self._model, self._tokenizer, self._labels = fine_tune(
            self._config["encoder"], [e.get(TEXT) for e in examples], [e.get(INTENT) for e in examples], self._config
        )
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            self._model.save_pretrained(model_dir)  # safetensors: no pickled code to trust
            self._tokenizer.save_pretrained(model_dir)
            (Path(model_dir) / LABELS_FILE).write_text(json.dumps(self._labels, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(
        cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EncoderIntentClassifier:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            with model_storage.read_from(resource) as model_dir:
                labels = json.loads((Path(model_dir) / LABELS_FILE).read_text(encoding="utf-8"))
                model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True)
                tokenizer = AutoTokenizer.from_pretrained(model_dir)
        except (ValueError, FileNotFoundError, OSError) as error:
            logger.warning("No trained encoder loaded (%s); intents will be empty.", error)
            return cls(config, model_storage, resource)
        model.eval()
        return cls(config, model_storage, resource, model, tokenizer, labels)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        import torch

        pending = [m for m in messages if isinstance(m.get(TEXT), str)]
        if not pending:
            return messages
        encoded = self._tokenizer(
            [m.get(TEXT) for m in pending], padding=True, truncation=True, max_length=self._config["max_length"], return_tensors="pt"
        )
        with torch.no_grad():
            probabilities = torch.softmax(self._model(**encoded).logits, dim=-1).numpy()
        for message, probs in zip(pending, probabilities, strict=True):
            set_intent_ranking(message, self._labels, probs)
        return messages
