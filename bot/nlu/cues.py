"""Reading a message for escalation: outage expressions, short replies, requests for a person.

Pure module on :mod:`bot.nlu.arabic_text` tokens; the words live in
``lexicons/cues.yml``. The escalation decision (``bot/escalation.py``) asks it for
*evidence*: a model score alone is never enough to send a customer to a person, so
these readings say what the words of the message support.

    >>> reading = read("الكهربا مقطوعة عندنا من الصبح")
    >>> reading.outage_cue, reading.services
    ('مقطوعه', ('electricity',))
    >>> read("لا شكرا").short_reply
    True
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

import yaml

from bot.nlu.arabic_text import RawToken, normalize, tokenize
from bot.nlu.phrases import longest_first
from bot.nlu.service_types import ROUTER_WORDS, TAP_WORDS, ServiceMention, find_services

CUES_PATH = Path(__file__).parent / "lexicons" / "cues.yml"
# Lists matched with and without the article on every word: "هذه المرة الثالثة" and
# "للمرة الثالثة" say the same, and a phrase list cannot spell every combination.
ARTICLE_BLIND = (
    "exasperation", "danger", "danger_wires", "danger_fallen", "danger_fittings", "fire_words", "harmless_sources",
    "smell_words", "burning_words",
)
ARTICLES = ("وال", "فال", "بال", "كال", "لل", "ال")
# A state word ("مقطوعة") counts for a service word at most this many tokens away.
OUTAGE_WINDOW = 4
# At most this many filler words between an absence word and the service ("ما في عندنا كهربا").
ABSENCE_GAP = 2
# At most this many words between an "if" and the outage it supposes ("لو النور قطع",
# "اذا فجأة انقطعت الكهربا"); further away the "if" belongs to another clause.
CONDITIONAL_GAP = 2
# Without a service word the "if" may stand further from the outage word, since the
# words between are the subject the service word would have been ("what should I do
# if the power goes off", "لو صار وانقطعت").
UNBOUND_CONDITIONAL_GAP = 4
# Symbols that can close a calm reply ("شكرا 🙏"); any other emoji ("😡") keeps the
# message for the models to read.
CALM_SYMBOLS = frozenset("👍🙏❤🌹😊☺👌🌷💐😀😃🙂🤝✅♥💙💚🌸😍🥰❤️")
# Digits, or digits joined by date and time separators ("15/3", "10:30").
_NUMERIC = re.compile(r"^\d+([/:.\-]\d+)*$")
# Words of people a customer asks to talk to, and the verbs that ask.
PERSON_WORDS = frozenset({
    "موظف", "موظفه", "موظفين", "الموظف", "الموظفه", "الموظفين", "انسان", "بشري", "بشر", "شخص", "مسؤول", "مسئول",
    "مدير", "المسؤول", "المدير", "حدا", "حد", "احد", "واحد", "عبد", "مخلوق", "مشرف", "المشرف", "ممثل", "خدمه",
    "agent", "human", "person", "someone", "somebody", "representative", "rep", "operator", "employee", "staff",
    "manager", "supervisor", "real", "live", "wa7ed", "wahed", "7ad", "had", "7ada", "hada", "mowazaf", "mowazzaf",
    "mwadhaf", "mwazaf", "3abd", "insan", "ensan", "bachar", "bashar",
})
# Person words that also mean "anyone" or "one": they count only with a talking verb.
WEAK_PERSON_WORDS = frozenset({"حدا", "حد", "احد", "واحد", "عبد", "مخلوق", "خدمه", "someone", "somebody", "person", "real", "live",
                               "wa7ed", "wahed", "7ad", "had", "7ada", "hada", "3abd", "staff"})
TALK_WORDS = frozenset({
    "احكي", "نحكي", "يحكي", "تحكي", "احاكي", "اكلم", "نكلم", "يكلم", "تكلم", "كلمني", "اتكلم", "نتكلم", "يتكلم",
    "اتحدث", "نتحدث", "التحدث", "الحديث", "التكلم", "اهدر", "نهدر", "نهضر", "اهضر", "تهضر", "نتواصل", "اتواصل",
    "حولني", "حولوني", "حوليني", "تحولني", "تحولوني", "وصلني", "وصلوني", "توصلني", "كلموني", "دردش",
    # someone to talk to me ("ابي احد يكلمني"); not يتصل / يتواصل, said mostly of nobody
    # who called ("لم يتواصل معي أحد")
    "يكلمني", "يكلموني", "تكلمني", "تكلموني", "يكلمنا",
    "talk", "speak", "chat", "transfer", "connect", "hder", "nhder", "nhdr", "n7ki", "na7ki", "a7ki", "ahki",
    "nahki", "nehki", "kalem", "akalem", "nkalem", "nkallem", "etkalem", "atkalam", "nitkalam", "7awelni", "hawelni",
    "7awelne", "hawelne", "t7awelni", "t7awelne", "t7awelna", "thawelni", "thawelne", "7awelna", "wasselni", "twasselni",
})
# Negations: "someone" right after one is nobody ("ولا احد"), and a talking or wanting
# verb right after one asks for no one ("ما بدي موظف").
NEGATIONS = frozenset({"لا", "ولا", "ما", "وما", "مش", "مو", "لم", "no", "not", "ma", "wala", "walla",
                       # "nobody" in one word: "محد يكلمني" asks for no one
                       "محد", "ماحد", "محدش", "ماحدش", "محدا", "ماحدا"})
WANT_WORDS = frozenset({
    "ابي", "ابغي", "ابغا", "بدي", "بدنا", "عايز", "عاوز", "عايزه", "عاوزه", "بغيت", "نبغي", "نحب", "احب", "اريد",
    "نريد", "حابب", "حابه", "ودي", "محتاج", "محتاجه", "ابا", "اطلب", "نطلب",
    "want", "need", "like", "please", "pls", "plz", "bghit", "b9it", "bdi", "bidi", "3ayez", "3awez", "3ayz", "abi",
    "abgha", "abga", "n7eb", "nheb", "nhib", "ariid", "ured", "urid",
})


@dataclass(frozen=True)
class Cues:
    """The lexicon, normalised: phrases are tuples of normalised words."""

    prefixes: Tuple[str, ...]
    lists: Dict[str, FrozenSet[Tuple[str, ...]]]
    longest: int


@lru_cache(maxsize=4)
def load_cues(path: Path = CUES_PATH) -> Cues:
    """Read ``cues.yml`` once per path."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for name, entries in data.items():
        odd = [e for e in entries or [] if not isinstance(e, str)]
        if odd:  # YAML reads a bare no/yes/on/off as a boolean: quote such words
            raise ValueError(f"{path.name}: list {name!r} has entries that are not strings: {odd}")
    prefixes = tuple(sorted((normalize(p).text for p in data.pop("prefixes", [])), key=len, reverse=True))
    lists = {
        name: frozenset(tuple(normalize(str(entry)).text.replace("'", "").split()) for entry in entries or [])
        for name, entries in data.items()
    }
    for kind in ARTICLE_BLIND:
        lists[_blind(kind)] = frozenset(tuple(_without_article(w) for w in phrase) for phrase in lists.get(kind, ()))
    longest = max((len(p) for phrases in lists.values() for p in phrases), default=1)
    return Cues(prefixes, lists, longest)


def _blind(kind: str) -> str:
    return f"{kind}, articles ignored"


def _without_article(word: str) -> str:
    """``word`` without a leading article ("المرة" → "مرة", "للمرة" → "مرة")."""
    for article in ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= 2:
            return word[len(article):]
    return word


@dataclass(frozen=True)
class Match:
    """A phrase of one list found in the message (token positions, end exclusive)."""

    kind: str
    start: int
    end: int
    words: str


def _forms(word: str, prefixes: Sequence[str]) -> List[str]:
    out = [word]
    out += [word[len(p):] for p in prefixes if word.startswith(p) and len(word) - len(p) >= 2]
    return out


def find(tokens: Sequence[RawToken], kinds: Sequence[str], cues: Optional[Cues] = None) -> List[Match]:
    """Phrases of the given lists, longest first, left to right, without overlaps."""
    cues = cues or load_cues()
    norms = [t.norm.replace("'", "") for t in tokens]

    def match_at(i: int, size: int) -> Optional[Match]:
        rest = tuple(norms[i + 1 : i + size])
        for first in _forms(norms[i], cues.prefixes):
            key = (first, *rest)
            kind = next((k for k in kinds if key in cues.lists.get(k, ())), None)
            if kind:
                return Match(kind, i, i + size, " ".join(key))
        return None

    return longest_first(len(norms), cues.longest, match_at)


@dataclass(frozen=True)
class Reading:
    """What the words of one message support.

    Attributes:
        tokens: the message's tokens (raw offsets, normalised forms).
        services: essential services named, in order.
        outage_cue: the outage or absence phrase next to a service word, if any.
        outage_service: the service that phrase is about.
        blocked_by: ``restored``, ``planned`` or ``past`` when the message says the
            outage is over, scheduled or in the past (the latest cue wins);
            ``hypothetical`` when it only supposes one ("لو النور قطع ...");
            ``elsewhere`` when it is somewhere not the customer's home ("احنا
            بالدوام الكهربا طافية") and nothing says it is theirs too; ``wifi_only``
            when the internet works over a cable and only the wifi does not;
            ``not_a_service`` when no service is named and what went off is something
            else (a street light, the landline, the app).
        short_reply: only yes/no/thanks/ok/greeting/closing words, numbers, dates and emoji.
        person_request: the words that ask for a person, if any.
        threat: the words that threaten outside action (regulator, court, press,
            social media, switching provider), if any.
        exasperation: the words of a customer whose patience is running out (fed
            up, the third time, still waiting, tried and nothing changed), if any.
        question: the first question word ("متى", "ليش", "how"), if any.
        planned_cut: the words of a planned or scheduled cut the message asks or tells
            about ("صيانة مبرمجة"، "رح تنقطع الكهربا بكرا"), when they are several or a
            service is named (a bare "صيانة" is as often a technician's visit), if any.
        insult: the words insulting the company, its staff or the assistant ("انتم
            حرامية", "بوت غبي"), if any.
        unnamed_outage: the outage words of a message naming no service ("وهو فاصل
            دلوقتي حالا"), when nothing rules them out: about the service named before.
        medical: the words of someone at home whose health depends on the supply
            ("جهاز غسيل كلوي", "oxygen"), if any.
        danger: the words of a danger around the supply (burning smell, smoke,
            sparks, a fallen or bare live wire, a shock), unless negated or supposed
            ("لو شفت سلك واقع"), if any.
        shouting: three or more words in a row typed in Latin capitals ("WHAT IS WRONG
            WITH YOU PEOPLE"), if any.
        accepting: the words agreeing to wait ("سأنتظر", "هستنى", "I'll wait"), not
            negated ("مش هستنى"), if any.
        works: an unambiguous word saying a service works ("والكهربا شغالة عادي"), not
            negated ("مش شغال") nor about the customer ("انا شغال من البيت"), if any.
        problem: a word for "a problem" with nothing saying since when ("النت عندي فيه
            مشكله": vague, no outage told), if any.
        consumption: words about using a lot of a service ("ومنستهلك مي كتير"), if any.
        asks: whether the message asks something (a question mark or a question word).
        authority_contact: the authority whose number, website or address the message
            asks for, calmly and with no word of complaining ("شو هو موقع هيئة تنظيم
            الكهرباء؟"), if any: a question, not a threat.
        appliance: a household appliance or a building's own equipment ("السخان",
            "الغسالة", "موتور العمارة"), if any: what broke may be that, not the supply
            (``blocked_by`` is "appliance" when every outage word is a broken word).
    """

    tokens: Tuple[RawToken, ...]
    services: Tuple[str, ...]
    outage_cue: Optional[str]
    outage_service: Optional[str]
    blocked_by: Optional[str]
    short_reply: bool
    person_request: Optional[str]
    threat: Optional[str] = None
    exasperation: Optional[str] = None
    question: Optional[str] = None
    planned_cut: Optional[str] = None
    insult: Optional[str] = None
    unnamed_outage: Optional[str] = None
    medical: Optional[str] = None
    danger: Optional[str] = None
    shouting: Optional[str] = None
    accepting: Optional[str] = None
    works: Optional[str] = None
    problem: Optional[str] = None
    consumption: Optional[str] = None
    appliance: Optional[str] = None
    asks: bool = False
    authority_contact: Optional[str] = None


def _token_span(tokens: Sequence[RawToken], mention: ServiceMention) -> Tuple[int, int]:
    first, last = _token_index(tokens, mention)
    return first, last + 1


def _token_index(tokens: Sequence[RawToken], mention: ServiceMention) -> Tuple[int, int]:
    first = next(i for i, t in enumerate(tokens) if t.end > mention.start)
    last = max(i for i, t in enumerate(tokens) if t.start < mention.end)
    return first, last


def _outage(tokens: Sequence[RawToken], mentions: Sequence[ServiceMention], cues: Cues) -> Tuple[Optional[Match], Optional[str], Optional[str]]:
    """The outage cue tied to a service word, the service, and what blocks it.

    Without a service word there is no cue to tie, but what blocks one still counts:
    "بس شغال مو فاصل" (it works, it is not cut) after a slow-internet answer is no
    outage, whatever the outage intent and the urgency score say.
    """
    matches = find(tokens, ["outage", "absence", "restored", "planned", "past"], cues)
    restarts = _restarts(tokens, mentions, matches, cues)
    matches = [m for m in matches if not any(r.start <= m.start < r.end for r in restarts)]
    # "النت ما فيه مشكله" (there is no problem with it) is no absence of the service
    problems = cues.lists.get("problem_words", frozenset())
    matches = [m for m in matches if not (m.kind == "absence" and m.end < len(tokens) and (_without_article(tokens[m.end].norm),) in problems)]
    if not mentions:
        blocked = _unbound_blocker(tokens, matches, cues) or _only_restarted(tokens, matches, restarts, cues)
        # "وهو فاصل دلوقتي" names no service: the cue alone, for the service named before
        bare = [m for m in _unnegated(tokens, matches) if m.kind == "outage"]
        # "التطبيق طاح" (the app is down) speaks of something else that went off
        other = find(tokens, ["not_a_service"], cues)
        # "عمود إنارة الشارع مطفأ": what went off is no essential service, whatever the models say
        if bare and other and not blocked:
            blocked = "not_a_service"
        return (bare[-1] if bare and not blocked and not other else None), None, blocked
    fillers = cues.lists.get("filler", frozenset())
    spans = [(_token_index(tokens, m), m.value) for m in mentions]
    tied: List[Tuple[Match, str]] = []
    for match in matches:
        for (first, last), named in spans:
            if match.kind == "outage":
                distance = first - match.end + 1 if match.end <= first else match.start - last
                if 0 < distance <= OUTAGE_WINDOW or match.start <= first < match.end:
                    tied.append((match, named))
                    break
            elif match.kind == "absence":
                between = tokens[match.end : first] if match.end <= first else tokens[last + 1 : match.start]
                if len(between) <= ABSENCE_GAP and all((t.norm,) in fillers for t in between):
                    tied.append((match, named))
                    break
    # "التلفون الارضي ما فيه حراره ... بس النت شغال", "الشارع ظلمة": a cue right next to
    # something that is no essential service is that thing's, when no service is as near
    others = find(tokens, ["not_a_service"], cues)
    tied = [(match, named) for match, named in tied if not _claimed_by_other(match, others, spans)]
    cue: Optional[Match] = tied[-1][0] if tied else None
    service: Optional[str] = tied[-1][1] if tied else None
    if cue is None and "water" in (value for _span, value in spans):
        quality = find(tokens, ["quality"], cues)
        if quality:
            return None, None, "quality"
    # a "back again" word nearer another service speaks of that one ("ما في كهربا بس النت شغال")
    blockers = [
        m for m in matches
        if m.kind in ("planned", "past") or m.kind == "restored" and _restored(tokens, m, cues) and (cue is None or _nearest(m, spans) in (None, service))
    ]
    blockers += _over(tokens, cues)
    if cue is None:
        return None, None, blockers[-1].kind if blockers else _only_restarted(tokens, matches, restarts, cues)
    if _supposed(tokens, cue, spans, cues):
        return cue, service, "hypothetical"
    # The latest word decides: "رجعت الكهربا بس انقطعت مرة ثانية" is an outage again.
    blocked = next((b.kind for b in reversed(blockers) if b.start > cue.start), None)
    # A planned or past cut named anywhere rules the outage out, unless the message says it
    # goes on now ("قالولنا في صيانة لحد الوحدة، وهلق الساعة ستة والكهربا مقطوعة").
    if blocked is None and any(b.kind in ("planned", "past") for b in blockers) and not _goes_on(tokens, cues):
        blocked = next(b.kind for b in reversed(blockers) if b.kind in ("planned", "past"))
    return cue, service, blocked


def _claimed_by_other(match: Match, others: Sequence[Match], spans: Sequence[Tuple[Tuple[int, int], str]]) -> bool:
    """Whether a no-service word is right next to the cue (one word away at most) and
    nearer than every service word other than the cue itself ("ظلمه" is one)."""
    def gap(first: int, last: int) -> int:
        return first - match.end + 1 if match.end <= first else match.start - last if last < match.start else 0

    near = [gap(o.start, o.end - 1) for o in others]
    if not near or min(near) > 1:
        return False
    services = [gap(first, last) for (first, last), _named in spans if not match.start <= first < match.end]
    return not services or min(near) < min(services)


def _goes_on(tokens: Sequence[RawToken], cues: Cues) -> bool:
    """Whether the message says a planned or past cut goes on: "still" ("لسه", "مازال",
    "still"), or "now" after an "until" that has passed ("لحد الساعة وحدة ... وهلق"); "now"
    alone is the planned cut itself ("الكهرباء مفصولة الآن بسببها")."""
    found = find(tokens, ["still", "until", "now"], cues)
    until = [m.start for m in found if m.kind == "until"]
    return any(m.kind == "still" or m.kind == "now" and until and until[0] < m.start and m.words not in ("اليوم", "today") for m in found)


# A switched-on word this many words after a switched-off one makes a restart
# ("طفيت الراوتر وشغلته").
RESTART_REACH = 4
_AND = frozenset({"و", "w", "and", "then", "et", "ثم", "وبعدين", "بعدين", "وبعدها"})


def _restarts(tokens: Sequence[RawToken], mentions: Sequence[ServiceMention], matches: Sequence[Match], cues: Cues) -> List[Match]:
    """The switched-off words of a restart ("جربت طفي وشغل الراوتر"): followed, within
    :data:`RESTART_REACH` words, by "and" and a word for switching it back on, with no
    service named in the two words before (its subject: "النور طفى وشغلت المولد")."""
    switched_on = cues.lists.get("switched_on", frozenset())
    starts = {m.start for m in matches if m.kind in ("outage", "absence")}
    subjects = {i for m in mentions for i in range(*_token_span(tokens, m))}
    found = []
    for match in find(tokens, ["switched_off"], cues):
        if subjects & {match.start - 1, match.start - 2}:
            continue
        for i in range(match.end, min(len(tokens), match.end + RESTART_REACH)):
            if i in starts:  # "النت قاطع وطفيت وشغلت الراوتر": the restart is the next one's
                break
            norm = tokens[i].norm
            glued = norm[1:] if norm.startswith("و") else None
            after_and = norm if i > match.end and tokens[i - 1].norm in _AND else None
            if any((form,) in switched_on for form in (glued, after_and) if form):
                found.append(match)
                break
            if glued or after_and:  # another clause: "قاطع وطفيت وشغلت" restarts after the cut
                break
    return found


def _only_restarted(tokens: Sequence[RawToken], matches: Sequence[Match], restarts: Sequence[Match], cues: Cues) -> Optional[str]:
    """``restart`` when the message tells of a restart and of no outage: the customer
    did what a troubleshooting answer asks, which reports nothing by itself."""
    if any(m.kind in ("outage", "absence") for m in matches):
        return None
    return "restart" if restarts or find(tokens, ["restart"], cues) else None


# "Not working" is no "working again": a negation this many words before a restored
# word ("ما في ولا جهاز شغال", "مش شغال") turns it around.
NEGATION_REACH = 3
RESTORED_NEGATIONS = NEGATIONS | {"مب", "مافي", "مفيش", "ماكو", "لم", "لن", "مهو", "ماهو", "mesh", "mish", "msh", "mafi", "mafish", "mafich",
                                  "nothing", "never", "والو", "walou", "walo"}


def _negated(tokens: Sequence[RawToken], match: Match) -> bool:
    before = tokens[max(0, match.start - NEGATION_REACH) : match.start]
    return any(t.norm in RESTORED_NEGATIONS for t in before)


# "وانا شغال من البيت" (and I work from home): a "working" word after a personal
# pronoun, or before "from home", is about the customer's job, not the service.
PERSONAL_PRONOUNS = frozenset({"انا", "اني", "انني", "لاني", "لانني", "احنا", "نحن", "نحنا", "حنا", "ana", "ena", "e7na", "a7na", "ahna", "i", "we", "i'm", "im"})
AT_HOME = (("من", "البيت"), ("من", "المنزل"), ("من", "الدار"), ("عن", "بعد"), ("from", "home"), ("men", "el", "bet"), ("mn", "el", "bet"))


PLURAL_PRONOUNS = frozenset({"احنا", "نحن", "نحنا", "حنا", "e7na", "a7na", "ahna", "we"})


def _about_the_customer(tokens: Sequence[RawToken], match: Match, cues: Cues) -> bool:
    """Whether a working word is about the customer ("وانا شغال من البيت"), not about a
    service. Not when "normally" follows ("بس احنا شغالة عادي": ours works as usual), nor
    when "we" comes with a singular feminine form, which agrees with the service (الكهربا)
    and not with "we"."""
    before = [form for t in tokens[max(0, match.start - 2) : match.start] for form in _forms(t.norm, cues.prefixes)]
    after = tuple(t.norm for t in tokens[match.end : match.end + 3])
    if find(list(tokens[match.end : match.end + 2]), ["normally"], cues):
        return False
    pronouns = [word for word in before if word in PERSONAL_PRONOUNS]
    if pronouns and all(word in PLURAL_PRONOUNS for word in pronouns) and match.words.endswith("ه"):
        return False
    return bool(pronouns) or any(after[: len(place)] == place for place in AT_HOME)


def _restored(tokens: Sequence[RawToken], match: Match, cues: Cues) -> bool:
    """Whether a restored word says the service is back ("رجعت الكهربا", "النت شغال"):
    not negated ("مش شغال"), not about the customer ("وانا شغال من البيت"), not asked
    about or still to come ("وقتاش باش يرجع", "متى ترجع")."""
    return not _negated(tokens, match) and not _about_the_customer(tokens, match, cues) and not _awaited(tokens, match, cues)


def _awaited(tokens: Sequence[RawToken], match: Match, cues: Cues) -> bool:
    before = list(tokens[max(0, match.start - NEGATION_REACH) : match.start])
    return bool(find(before, ["question_words", "future"], cues))


def _nearest(match: Match, spans: Sequence[Tuple[Tuple[int, int], str]]) -> Optional[str]:
    """The service named closest to a word, within :data:`OUTAGE_WINDOW` tokens: "ما في
    كهربا بس النت شغال" says the internet works, not the electricity."""
    near = [(first - match.end + 1 if match.end <= first else match.start - last, service) for (first, last), service in spans]
    near = [(distance, service) for distance, service in near if distance <= OUTAGE_WINDOW]
    return min(near)[1] if near else None


def _unnegated(tokens: Sequence[RawToken], matches: Sequence[Match]) -> List[Match]:
    """The absence and outage words, less an outage word right after a negation ("مو
    فاصل", not cut, is no outage word)."""
    return [m for m in matches if m.kind == "absence" or m.kind == "outage" and not (m.start and tokens[m.start - 1].norm in RESTORED_NEGATIONS)]


def _unbound_blocker(tokens: Sequence[RawToken], matches: Sequence[Match], cues: Cues) -> Optional[str]:
    """What rules out an outage in a message naming no service: "if" before an outage
    word ("w iza n2at3et fje2a"), a planned or past cut, or a word saying it works
    ("بس شغال", "راهي خدامة") that no outage word follows. Only the unambiguous
    working words count here: "وصلت" or "رجعت" alone are as often the customer
    arriving home or coming back."""
    outage = _unnegated(tokens, matches)
    for match in find(tokens, ["conditional", "polite_conditional"], cues):
        if match.kind == "conditional" and outage and match.end <= outage[0].start and outage[0].start - match.end <= UNBOUND_CONDITIONAL_GAP:
            return "hypothetical"
    working = [m for m in find(tokens, ["working"], cues) if _restored(tokens, m, cues)]
    blockers = [m for m in matches if m.kind in ("planned", "past")] + _over(tokens, cues)
    if working and not any(m.start > working[-1].start for m in outage):
        blockers.append(Match("restored", working[-1].start, working[-1].end, working[-1].words))
    return max(blockers, key=lambda m: m.start).kind if blockers else None


def _over(tokens: Sequence[RawToken], cues: Cues) -> List[Match]:
    """Yesterday's outage with how long it lasted ("امس انقطعت الكهربا ساعتين"): a past
    day not right after "since" (من امس is still going on), a duration, no "still"."""
    found = find(tokens, ["past_day", "since", "duration", "still", "now"], cues)
    kinds = [m.kind for m in found]
    days = [i for i, m in enumerate(found) if m.kind == "past_day" and not (i and found[i - 1].kind == "since" and found[i - 1].end == m.start)]
    if not days or "duration" not in kinds or "still" in kinds or "now" in kinds:
        return []
    day = found[days[0]]
    return [Match("past", day.start, day.end, day.words)]


def _supposed(tokens: Sequence[RawToken], cue: Match, spans: Sequence[Tuple[Tuple[int, int], str]], cues: Cues) -> bool:
    """An "if" right before the outage reading ("لو النور قطع", "what do I do if the
    water is cut"): a question about what would happen, not a report. "لو سمحت" and
    "اذا ممكن" are "please" and do not count."""
    begins = min([cue.start, *(first for (first, _last), _service in spans if first >= cue.start - CONDITIONAL_GAP - 1)])
    for match in find(tokens, ["conditional", "polite_conditional"], cues):
        if match.kind == "conditional" and match.end <= begins and begins - match.end <= CONDITIONAL_GAP:
            return True
    return False


def is_short_reply(tokens: Sequence[RawToken], cues: Optional[Cues] = None) -> bool:
    """Only answer words (yes, no, thanks, ok, greetings, closings), numbers, dates
    and symbols: a reply that carries no request or complaint of its own."""
    cues = cues or load_cues()
    if not tokens:  # only punctuation ("؟؟؟", "...") is left to the models
        return False
    covered: Set[int] = set()
    for match in find(tokens, ["short_reply", "date_words"], cues):
        covered.update(range(match.start, match.end))
    for i, token in enumerate(tokens):
        if i in covered or _NUMERIC.match(token.norm):
            continue
        if not any(ch.isalnum() for ch in token.norm) and all(ch in CALM_SYMBOLS or ch in "\ufe0f\u200d" for ch in token.norm):
            continue
        return False
    return True


def _person(word: str) -> Optional[str]:
    """The person word in ``word``, less an article or preposition ("لموظف", "للمسؤول")."""
    for prefix in ("", "ال", "لل", "ل", "بال", "وال", "و", "ب"):
        if word.startswith(prefix) and word[len(prefix):] in PERSON_WORDS:
            return word[len(prefix):]
    return None


def person_request(tokens: Sequence[RawToken]) -> Optional[str]:
    """The words asking for a person: a talking verb with a person word ("بدي احكي
    مع حدا"), or a wanting verb with an unambiguous one ("ابي موظف")."""
    words = [t.norm.replace("'", "") for t in tokens]

    def nobody(i: int) -> bool:
        # "ولا احد", "ما حدا": a negated "someone" is nobody
        return i > 0 and words[i - 1] in NEGATIONS and _person(words[i]) in WEAK_PERSON_WORDS

    def negated_verb(i: int) -> bool:
        # "ما بدي موظف", and "nobody called me" ("ولا احد كلمني") asks for no one
        return i > 0 and (words[i - 1] in NEGATIONS or nobody(i - 1))

    talk = [w for i, w in enumerate(words) if w in TALK_WORDS and not negated_verb(i)]
    want = [w for i, w in enumerate(words) if w in WANT_WORDS and not negated_verb(i)]
    persons = [_person(w) for i, w in enumerate(words) if _person(w) and not nobody(i)]
    strong = [w for w in persons if w not in WEAK_PERSON_WORDS]
    if talk and persons:
        return f"{talk[0]} … {persons[0]}"
    if want and strong:
        return f"{want[0]} … {strong[0]}"
    return None


def read(text: str, cues: Optional[Cues] = None) -> Reading:
    """Everything this module can say about one raw message.

    With the shipped lexicon the reading is cached per text: the escalation policy
    reads every message of the session again at each turn.
    """
    if cues is None:
        return _read_shipped(text or "")
    return _read(text, cues)


@lru_cache(maxsize=8192)
def _read_shipped(text: str) -> Reading:
    return _read(text, load_cues())


# Fittings that speak for their service in an outage reading.
_FITTINGS = (("internet", ROUTER_WORDS), ("water", TAP_WORDS))


def _fitting_mentions(tokens: Sequence[RawToken]) -> List[ServiceMention]:
    """The router named as the internet it brings ("الراوتر طافي", "the router has no
    lights"), the tap as the water ("الحنفية مبتنزلش ولا نقطة"): an outage reading, not
    an entity (they are fittings, not services)."""
    return [
        ServiceMention(service, t.start, t.end) for t in tokens for service, words in _FITTINGS
        if t.norm in words or _without_article(t.norm) in words or t.norm[1:] in words
    ]


def _read(text: str, cues: Cues) -> Reading:
    tokens = tuple(tokenize(text or ""))
    entities = find_services(list(tokens))
    mentions = sorted([*entities, *_fitting_mentions(tokens)], key=lambda m: m.start)
    cue, service, blocked = _outage(tokens, mentions, cues)
    if cue is not None and blocked is None and _elsewhere(tokens, cues):
        blocked = "elsewhere"
    works = _works(tokens, entities, cues)
    # "النت شغال كويس لما بوصل بالكابل بس الواي فاي مش شغال": the line is up, the home wifi is not
    if cue is not None and blocked is None and service == "internet" and works and find(tokens, ["wired"], cues):
        blocked = "wifi_only"
    appliance = next((m.words for m in find(tokens, ["appliances"], cues)), None)
    if cue is not None and blocked is None and appliance and _only_broken(tokens, cues):
        blocked = "appliance"
    cue, unnamed = (cue, None) if service else (None, cue)
    question = next((m.words for m in find(tokens, ["question_words"], cues)), None)
    asks = _asks(text, question)
    contact = _authority_contact(tokens, cues, asks)
    return Reading(
        tokens=tokens,
        services=tuple(dict.fromkeys(m.value for m in entities)),
        outage_cue=cue.words if cue else None,
        outage_service=service,
        blocked_by=blocked,
        short_reply=is_short_reply(tokens, cues),
        person_request=person_request(tokens),
        threat=None if contact else _threat(tokens, cues, asks),
        exasperation=_exasperation(tokens, cues),
        question=question,
        planned_cut=_planned_cut(tokens, mentions, cues),
        insult=_insult(tokens, cues),
        unnamed_outage=unnamed.words if unnamed else None,
        medical=next((m.words for m in find(tokens, ["medical"], cues)), None),
        danger=_danger(tokens, cues),
        shouting=_shouting(tokens),
        accepting=next((m.words for m in find(tokens, ["accepting"], cues) if not _negated(tokens, m)), None),
        works=works,
        problem=_vague_problem(tokens, cues),
        consumption=next((m.words for m in find(tokens, ["consumption"], cues)), None),
        appliance=appliance,
        asks=asks,
        authority_contact=contact,
    )


# A platform question is short ("w instagram?"); a longer message with a question in it
# may well threaten ("ليش ما تردون؟ بكتب عنكم بتويتر").
PLATFORM_QUESTION_WORDS = 4


def _authority_contact(tokens: Sequence[RawToken], cues: Cues, asks: bool) -> Optional[str]:
    """The authority a question asks the contact details of, when every threat word of
    the message is an authority and no word complains ("هل يمكن تزويدي برقم هيئة تنظيم
    الكهرباء؟ احتاجه لبحث جامعي"; not "شو رقم الهيئة عشان اشتكي عليكم؟")."""
    if not asks:
        return None
    found = find(tokens, ["threat"], cues)
    authorities = cues.lists.get("authorities", frozenset())
    if not found or not all(tuple(m.words.split()) in authorities for m in found):
        return None
    if not find(tokens, ["contact_words"], cues) or find(tokens, ["complaint_words"], cues):
        return None
    return found[0].words


def _only_broken(tokens: Sequence[RawToken], cues: Cues) -> bool:
    """Whether every outage or absence word of the message is one an appliance breaks
    with ("خربان", "واقف"): none says the supply was cut or is missing ("قطع تاني
    والتكييف واقف", "ما كاين لا ضو لا والو والثلاجة بدات كتسخن")."""
    broken = cues.lists.get("broken_words", frozenset())
    found = find(tokens, ["outage", "absence"], cues)
    return bool(found) and all(tuple(m.words.split()) in broken for m in found)


def _asks(text: str, question: Optional[str]) -> bool:
    """Whether a message asks something: a question mark or a question word."""
    return "?" in text or "؟" in text or question is not None


def _threat(tokens: Sequence[RawToken], cues: Cues, asks: bool) -> Optional[str]:
    """Threat words, unless the message compares offers ("prospect") or is a short
    question naming only a platform ("w instagram?": where the company is)."""
    if find(tokens, ["prospect"], cues):
        return None
    found = find(tokens, ["threat"], cues)
    platforms = cues.lists.get("platforms", frozenset())
    if found and asks and len(tokens) <= PLATFORM_QUESTION_WORDS and all(tuple(m.words.split()) in platforms for m in found):
        return None
    return found[0].words if found else None


def _vague_problem(tokens: Sequence[RawToken], cues: Cues) -> Optional[str]:
    """A word for "a problem" with nothing saying since when or that it goes on ("النت
    عندي فيه مشكله"; not "عندي مشكلة بالكهرباء من امس")."""
    problems = cues.lists.get("problem_words", frozenset())
    word = next((t.norm for t in tokens if (_without_article(t.norm),) in problems), None)
    return word if word and not find(tokens, ["since", "still", "now", "past_day"], cues) else None


def _works(tokens: Sequence[RawToken], services: Sequence[ServiceMention], cues: Cues) -> Optional[str]:
    """A working word about a service, as :func:`_restored` reads one, except that a
    negation counts only after the service word before it ("ما في لا دخان ولا شي
    والكهربا شغالة": the ولا is the smoke's)."""
    named = [i for i, t in enumerate(tokens) if any(s.start <= t.start < s.end for s in services)]
    for match in find(tokens, ["working"], cues):
        since = max((i + 1 for i in named if i < match.start), default=0)
        before = tokens[max(since, match.start - NEGATION_REACH) : match.start]
        if any(t.norm in RESTORED_NEGATIONS for t in before):
            continue
        if not _about_the_customer(tokens, match, cues) and not _awaited(tokens, match, cues):
            return match.words
    return None


def _danger(tokens: Sequence[RawToken], cues: Cues) -> Optional[str]:
    """Danger words that tell of something happening: not right after a negation ("ما
    في دخان", "ما شفت شرار") nor right after a conditional ("اذا شفت سلك واقع شو اعمل؟").
    Smoke or a burning smell is explained away by a cigarette, cooking or fireworks in
    the same message, unless an electric fitting or a wire is named there too."""
    conditionals = find(tokens, ["conditional"], cues)
    bare = [dataclasses.replace(t, norm=_without_article(t.norm)) for t in tokens]

    def told(match: Match) -> bool:
        supposed = any(c.end <= match.start and match.start - c.end <= CONDITIONAL_GAP for c in conditionals)
        return not _negated(tokens, match) and not supposed

    fitting = next(iter(find(bare, [_blind("danger_fittings")], cues)), None)
    wires = find(bare, [_blind("danger_wires")], cues)
    explained = fitting is None and not wires and bool(find(bare, [_blind("harmless_sources")], cues))
    smoke = cues.lists.get("smoke_words", frozenset())
    smells = cues.lists.get(_blind("smell_words"), frozenset())
    # article-blind: "الدخان" is "دخان", "الكيبل واقع" is "كيبل واقع"
    for match in find(bare, [_blind("danger")], cues):
        words = tuple(match.words.split())
        if told(match) and not (explained and (words in smoke or words[:1] in smells)):
            return match.words
    burning = [m for m in find(bare, [_blind("burning_words")], cues) if told(m)]
    if not explained:
        for smell in find(bare, [_blind("smell_words")], cues):
            near = next((b for b in burning if 0 <= b.start - smell.end < DANGER_SMELL_REACH), None)
            if near is not None:
                return f"{smell.words} … {near.words}"
    if burning and fitting is not None:
        return f"{burning[0].words} … {fitting.words}"
    # a wire and a fallen word within a few words either side ("سلك ديال الضو طايح", "طاح واحد الكابل")
    fallen = find(bare, [_blind("danger_fallen")], cues)
    for wire in wires:
        down = next((f for f in fallen if 0 <= f.start - wire.end < DANGER_WIRE_REACH or 0 <= wire.start - f.end < DANGER_WIRE_BEFORE), None)
        if down is not None and told(wire) and told(down):
            return f"{wire.words} … {down.words}"
    leak = next((m for m in find(tokens, ["danger_leak"], cues) if told(m)), None)
    if leak is not None and fitting is not None:
        return f"{leak.words} … {fitting.words}"
    fire = next((m for m in find(bare, [_blind("fire_words")], cues) if told(m)), None)
    if fire is not None and fitting is not None:
        return f"{fire.words} … {fitting.words}"
    return None


# A burning word is at most this many words after a smell word ("ريحة شي عم يحترق").
DANGER_SMELL_REACH = 4
# A wire's "fallen" word is at most this many words after it ("سلك ديال الضو طايح"), or
# this many before it ("طاح واحد الكابل").
DANGER_WIRE_REACH = 4
DANGER_WIRE_BEFORE = 3


# "I", "A", "OK" inside a shouted run do not break it; a run needs three words of two letters or more.
SHOUTED_RUN = 3


def _shouting(tokens: Sequence[RawToken]) -> Optional[str]:
    """Three or more words in a row written in Latin capitals."""
    run: List[RawToken] = []
    for token in [*tokens, None]:
        if token is not None and token.text.isascii() and token.text.isalpha() and token.text.isupper():
            run.append(token)
            continue
        if sum(len(t.text) >= 2 for t in run) >= SHOUTED_RUN:
            return " ".join(t.text for t in run)
        run = []
    return None


def _planned_cut(tokens: Sequence[RawToken], mentions: Sequence[ServiceMention], cues: Cues) -> Optional[str]:
    """The planned-cut words, when a service is named, a phrase says it ("صيانة مبرمجة"),
    or several words do ("planned maintenance"): a bare "صيانة" is as often a visit."""
    found = find(tokens, ["planned"], cues)
    if found and (mentions or len(found) > 1 or any(m.end - m.start > 1 for m in found)):
        return " ".join(m.words for m in found)
    return None


def _elsewhere(tokens: Sequence[RawToken], cues: Cues) -> bool:
    """Whether the outage the message tells of is somewhere not the customer's home (at a
    friend's, at work) and no word says it is at theirs too ("وعندنا كمان"); "عندنا"
    right before the place is that place ("طافية عندنا بالمكتب": at our office)."""
    places = find(tokens, ["elsewhere"], cues)
    if not places:
        return False
    starts = {p.start for p in places}
    return not [m for m in find(tokens, ["at_ours"], cues) if m.end not in starts]


def _insult(tokens: Sequence[RawToken], cues: Cues) -> Optional[str]:
    """An insult word next to whom it is addressed to ("يا حرامية", "بوت غبي", "you
    idiots"), or one that is an insult on its own ("نصابين")."""
    alone = find(tokens, ["insult_alone"], cues)
    if alone:
        return alone[0].words
    addressees = find(tokens, ["addressee"], cues)
    for match in find(tokens, ["insult"], cues):
        before = next((a for a in addressees if a.end == match.start), None)
        after = next((a for a in addressees if a.start == match.end), None)
        if before or after:
            return f"{before.words} {match.words}" if before else f"{match.words} {after.words}" if after else match.words
    return None


def _exasperation(tokens: Sequence[RawToken], cues: Cues) -> Optional[str]:
    found = find(tokens, ["exasperation"], cues)
    if not found:
        bare = [dataclasses.replace(t, norm=_without_article(t.norm)) for t in tokens]
        found = find(bare, [_blind("exasperation")], cues)
    return found[0].words if found else None
