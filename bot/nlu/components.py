"""Rasa 3.6 graph components for Arabic: normaliser, tokenizer, service types.

Thin wrappers around the pure modules :mod:`bot.nlu.arabic_text` and
:mod:`bot.nlu.service_types`, so that the logic is testable without Rasa.

Pipeline order (see ``config.yml``): ``ArabicNormalizer`` → ``ArabicTokenizer`` →
featurizers / classifiers / ``CRFEntityExtractor`` → ``ServiceTypeExtractor`` →
``NumberAndDateExtractor`` → ``PlaceExtractor`` → ``FallbackClassifier`` →
``UnintelligibleTextDetector``.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Type, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import arabic_text, date_mentions, languages, number_mentions, place_mentions, service_types

logger = logging.getLogger(__name__)

# Message key holding what the normaliser found; part of the parse output, so it
# reaches the tracker (latest_message["arabic"]) and the action server.
ARABIC = "arabic"
SERVICE_TYPE = "service_type"


def _normalisation_options(config: Dict[str, Any]) -> Dict[str, bool]:
    return {
        "teh_marbuta": bool(config.get("normalize_teh_marbuta", True)),
        "alef_maksura": bool(config.get("normalize_alef_maksura", True)),
    }


def arabic_info(message: Message) -> Dict[str, Any]:
    """What the normaliser recorded for a message (empty when it did not run)."""
    return message.get(ARABIC) or {}


_Built = TypeVar("_Built")


class CreatedFromConfig:
    """A component built from its configuration alone: nothing trained, nothing stored."""

    @classmethod
    def create(
        cls: Type[_Built],
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _Built:
        return cls(config)  # type: ignore[call-arg]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class ArabicNormalizer(CreatedFromConfig, GraphComponent):
    """Records the normalised text, letter elongation and Arabizi of each message.

    The raw text is never changed (entity offsets refer to it); the normalised
    form goes to ``message["arabic"]["normalized"]``.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"normalize_teh_marbuta": True, "normalize_alef_maksura": True}

    def __init__(self, config: Dict[str, Any]) -> None:
        self._options = _normalisation_options(config)

    def describe(self, text: str) -> Dict[str, Any]:
        normalized = arabic_text.normalize(text, **self._options)
        tokens = arabic_text.tokenize(text, **self._options)
        translit = arabic_text.transliterated(tokens)
        return {
            "normalized": normalized.text,
            "elongated": normalized.elongated,
            "elongated_words": list(normalized.elongated_words),
            "arabizi": bool(translit),
            "transliteration": translit,
        }

    def _annotate(self, message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str):
            message.set(ARABIC, self.describe(text), add_to_output=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._annotate(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._annotate(message)
        return messages


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class ArabicTokenizer(CreatedFromConfig, Tokenizer):
    """Tokens with offsets on the raw text and the normalised form as lemma.

    Rasa featurizers read ``token.lemma`` (``use_lemma: true``, their default), so
    they see ``الكهرباء`` for ``الكهربـــاء``, while entity offsets stay on the raw
    text. Arabizi tokens carry their Arabic-script reading in ``token["arabizi"]``.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            "normalize_teh_marbuta": True,
            "normalize_alef_maksura": True,
        }

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        self._options = _normalisation_options(config)

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        text = message.get(attribute) or ""
        tokens = []
        for raw in arabic_text.tokenize(text, **self._options):
            data = {"arabizi": raw.arabizi} if raw.arabizi else None
            tokens.append(Token(raw.text, raw.start, raw.end, data=data, lemma=raw.norm))
        return self._apply_token_pattern(tokens)


class RuleEntityResolver(CreatedFromConfig, GraphComponent, EntityExtractorMixin):
    """An extractor that replaces some entity types of a message by rule-based spans.

    Subclasses implement :meth:`resolve` (text and entities so far in, entities out) and
    build their spans with :meth:`rule_entity`; nothing is trained.
    """

    def __init__(self, config: Dict[str, Any]) -> None:
        self._config = {**self.get_default_config(), **config}

    def resolve(self, text: str, entities: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """The message's entities once this extractor's types are found by rule."""
        raise NotImplementedError

    def resolve_message(self, message: Message, text: str) -> List[Dict[str, Any]]:
        """:meth:`resolve` for one parsed message (override to read more of it)."""
        return self.resolve(text, message.get(ENTITIES, []))

    def rule_entity(self, entity: str, start: int, end: int, value: Any, **extra: Any) -> Dict[str, Any]:
        """One span found by rule, as Rasa's entity dict (confidence 1, this extractor)."""
        return {"entity": entity, "start": start, "end": end, "value": value, **extra,
                "confidence_entity": 1.0, "extractor": self.__class__.__name__}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                message.set(ENTITIES, self.resolve_message(message, text), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class ServiceTypeExtractor(RuleEntityResolver):
    """Finds essential-service words with the dialect lexicon.

    Every ``service_type`` entity leaves this component with a canonical value
    (``electricity``, ``water``, ``internet``) and offsets on the raw text. Spans a
    statistical extractor marked but the lexicon cannot resolve are dropped, because
    a service the bot cannot name is worse than asking the customer.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"normalize_teh_marbuta": True, "normalize_alef_maksura": True}

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        self._options = _normalisation_options(config)

    def resolve(self, text: str, entities: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Replace service_type entities by lexicon matches; keep all others."""
        tokens = arabic_text.tokenize(text, **self._options)
        found = service_types.find_services(tokens)
        kept = [e for e in entities if e.get("entity") != SERVICE_TYPE]
        for dropped in (e for e in entities if e.get("entity") == SERVICE_TYPE):
            if not any(m.start < dropped["end"] and dropped["start"] < m.end for m in found):
                logger.debug("service word not in lexicon, dropped: %s", dropped.get("value"))
        for mention in found:
            kept.append(self.rule_entity(SERVICE_TYPE, mention.start, mention.end, mention.value, text=text[mention.start : mention.end]))
        return sorted(kept, key=lambda e: (e.get("start", 0), e.get("entity", "")))


DATE = "date"
NUMBER_ENTITIES = (number_mentions.ACCOUNT, number_mentions.PHONE, number_mentions.TICKET)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class NumberAndDateExtractor(RuleEntityResolver):
    """Finds account, phone and ticket numbers and dates by rule, exactly.

    Replaces whatever a statistical extractor said about these four entity types,
    so each slot gets one clean value: offsets on the raw text, ``value`` as the
    customer typed it (the forms validate and resolve it: ``clean_account_number``,
    ``canonical_ticket_id``, ``parse_date``), and for numbers ``normalized`` with
    ASCII digits. Dates are found first, so ``15-03-2026`` is not an account.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {}

    def resolve(self, text: str, entities: List[Dict[str, Any]], intent: str | None = None) -> List[Dict[str, Any]]:
        """Replace number and date entities by rule-based ones; keep all others.

        Args:
            text: the raw message.
            entities: what the earlier extractors found.
            intent: the message's intent, when classified (a bare six-digit number
                in a status request is a ticket).
        """
        ours = (DATE, *NUMBER_ENTITIES)
        kept = [e for e in entities if e.get("entity") not in ours]
        dates = date_mentions.find_dates(text)
        numbers = number_mentions.find_numbers(text, intent, taken=[(d.start, d.end) for d in dates])
        name = self.__class__.__name__
        kept += [self.rule_entity(DATE, mention.start, mention.end, mention.text) for mention in dates]
        kept += [
            self.rule_entity(number.entity, number.start, number.end, number.text, normalized=number.normalized)
            for number in numbers
        ]
        # Another extractor's span over one of ours (a CRF "district" over a
        # number) would fill a second slot with the same characters.
        mine = [e for e in kept if e.get("extractor") == name]
        kept = [
            e for e in kept
            if e.get("extractor") == name or not any(m["start"] < e["end"] and e["start"] < m["end"] for m in mine)
        ]
        return sorted(kept, key=lambda e: (e.get("start", 0), e.get("entity", "")))

    def resolve_message(self, message: Message, text: str) -> List[Dict[str, Any]]:
        return self.resolve(text, message.get(ENTITIES, []), (message.get(INTENT) or {}).get("name"))


PLACE_ENTITIES = (place_mentions.CITY, place_mentions.DISTRICT)


def _overlaps(entity: Dict[str, Any], start: int, end: int) -> bool:
    return int(entity["start"]) < end and start < int(entity["end"])


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class PlaceExtractor(RuleEntityResolver):
    """Finds cities and districts by rule (:mod:`bot.nlu.place_mentions`), exactly.

    A rule's span wins over any statistical ``city`` / ``district`` span it overlaps
    (a CRF ``district`` on ``بحي المنصور`` or on half of ``مدينة نصر``). A statistical
    span no rule contradicts is kept when ``keep_statistical`` is true (names the
    gazetteer lacks, typed without a place word), dropped otherwise; one over
    another extractor's entity (a date, a number, a service word) is always dropped.
    ``value`` is the name as typed (the knowledge base matches it with
    ``actions.knowledge_base.match_key``). Place it after ``NumberAndDateExtractor``.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"keep_statistical": True}

    def resolve(
        self, text: str, entities: List[Dict[str, Any]], lexicon: place_mentions.PlaceLexicon | None = None
    ) -> List[Dict[str, Any]]:
        """Replace overlapping city and district entities by rule-based ones.

        Args:
            text: the raw message.
            entities: what the earlier extractors found.
            lexicon: the place lexicon (the shipped one when omitted).
        """
        others = [e for e in entities if e.get("entity") not in PLACE_ENTITIES]
        places = place_mentions.find_places(text, [(int(e["start"]), int(e["end"])) for e in others], lexicon)
        kept = list(others)
        for guess in (e for e in entities if e.get("entity") in PLACE_ENTITIES):
            contradicted = any(_overlaps(guess, p.start, p.end) for p in places) or any(
                _overlaps(guess, int(e["start"]), int(e["end"])) for e in others
            )
            if self._config["keep_statistical"] and not contradicted:
                kept.append(guess)
        kept += [self.rule_entity(place.entity, place.start, place.end, place.value) for place in places]
        return sorted(kept, key=lambda e: (e.get("start", 0), e.get("entity", "")))


SIGNALS = "signals"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class SignalsAnalyzer(GraphComponent):
    """Frustration, urgency and dialect of every message (``message["signals"]``).

    Runs the project's signals model (``bot.signals``, trained by
    ``make train-signals``) once per batch of messages. The model is loaded once,
    when the component is created; a missing model stops start-up with an error
    that names the command that trains it. The signals are part of the parse
    output, so they reach the tracker and the action server as
    ``tracker.latest_message["signals"]``.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"model_path": "models/signals"}

    def __init__(self, config: Dict[str, Any], predictor: Any) -> None:
        self._config = config
        self._predictor = predictor

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SignalsAnalyzer:
        from bot.signals.predict import SignalsPredictor

        return cls(config, SignalsPredictor.load(_project_path(config["model_path"])))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Intent and entity models do not read signals; skip the cost in training.
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        pending = [m for m in messages if isinstance(m.get(TEXT), str)]
        if pending:
            for message, signals in zip(pending, self._predictor.predict([m.get(TEXT) for m in pending]), strict=True):
                message.set(SIGNALS, signals, add_to_output=True)
        return messages


def _project_path(path: str) -> str:
    """Relative paths are relative to the project root, wherever Rasa was started."""
    from pathlib import Path

    candidate = Path(path)
    if candidate.is_absolute():
        return str(candidate)
    return str(Path(__file__).resolve().parents[2] / candidate)


UNINTELLIGIBLE = "unintelligible"
FOREIGN_LANGUAGE = "foreign_language"
INFORM_INTENT = "inform"
# What may be left of a bare answer once its entities are taken out: spaces and
# punctuation ("T-482913.", "#4471203", "0551234567 ،").
_ANSWER_LEFTOVER = re.compile(r"^[\W_]*$")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class BareAnswerDetector(CreatedFromConfig, GraphComponent):
    """A message that is nothing but a number, a date or a place our rule extractors
    found ("T-482913", "٤٤٧١٢٠٣", "بكرة العصر") is an answer (``inform``), whatever the
    classifier made of it.

    Place it after ``FallbackClassifier``. The classifier learns requests with answers
    next to them (``answer_augmentation``), so a bare reference it has seen more often
    inside requests than alone can fall to a fallback; an answer needs no classifier.
    """

    def __init__(self, config: Dict[str, Any]) -> None:
        self._config = config

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            found = [e for e in message.get(ENTITIES) or [] if e.get("extractor") != "CRFEntityExtractor"]
            if not isinstance(text, str) or text.startswith("/") or not found:
                continue
            left = list(text)
            for entity in found:
                left[int(entity["start"]) : int(entity["end"])] = " " * (int(entity["end"]) - int(entity["start"]))
            if not _ANSWER_LEFTOVER.match("".join(left)):
                continue
            answer = {INTENT_NAME_KEY: INFORM_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != INFORM_INTENT]
            message.set(INTENT, answer, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [answer, *ranking], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier's intent, which the dialogue handles
_INTELLIGIBILITY_FILE = "intelligibility.json"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class UnintelligibleTextDetector(GraphComponent):
    """Reads mashed keys, and a language the assistant does not read (Urdu, Hindi:
    :mod:`bot.nlu.languages`, ``message["foreign_language"]``), as a misunderstanding,
    not as whatever intent is nearest.

    Place it after ``FallbackClassifier``. A character language model of the training
    examples (:mod:`bot.nlu.intelligibility`) flags a message that is clearly not
    language; its intent becomes ``nlu_fallback`` (the classifier's guess stays in the
    ranking) and ``message["unintelligible"]`` is true, so the bot says it did not
    understand, and two in a row reach a person as any repeated misunderstanding does.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        # bits per character added to the strangest training example's out-of-fold score
        return {"margin_bits": 0.5}

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, model: Any = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> UnintelligibleTextDetector:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        import json

        from bot.nlu.intelligibility import CharLanguageModel, choose_threshold, lexicon_words

        texts = [str(example.get(TEXT)) for example in training_data.training_examples if example.get(TEXT)]
        model = CharLanguageModel.fit(texts)
        model.vocabulary.update(lexicon_words())
        model.threshold = choose_threshold(texts, margin_bits=float(self._config["margin_bits"])) if texts else None
        self._model = model
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / _INTELLIGIBILITY_FILE).write_text(json.dumps(model.to_dict(), ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> UnintelligibleTextDetector:
        import json

        from bot.nlu.intelligibility import CharLanguageModel

        try:
            with model_storage.read_from(resource) as model_dir:
                data = json.loads((model_dir / _INTELLIGIBILITY_FILE).read_text(encoding="utf-8"))
            return cls(config, model_storage, resource, CharLanguageModel.from_dict(data))
        except (ValueError, FileNotFoundError) as error:
            logger.warning("No intelligibility model loaded (%s); every message is taken as text.", error)
            return cls(config, model_storage, resource)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            # "/intent" commands are a tapped button's payload, not typed text
            # a number, date or place our rule extractors found is something to act on
            # ("numéro T-649205"), however strange the words around it look (the CRF's
            # guesses do not count: it tags mash too)
            found = [e for e in message.get(ENTITIES) or [] if e.get("extractor") != "CRFEntityExtractor"]
            if not isinstance(text, str) or text.startswith("/") or found:
                continue
            # Urdu or Hindi, in any script, is language the assistant does not read
            foreign = languages.foreign_language(text)
            if not foreign and not self._model.unintelligible(text):
                continue
            fallback = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != FALLBACK_INTENT]
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback, *ranking], add_to_output=True)
            message.set(UNINTELLIGIBLE, True, add_to_output=True)
            if foreign:
                message.set(FOREIGN_LANGUAGE, foreign, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
