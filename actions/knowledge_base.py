"""The organisation's knowledge, loaded once per process from YAML files.

Everything organisation-specific (name, hours, branches, contact channels,
fees, plans, outages, FAQ facts, demo accounts and tickets, and the reply
catalogue) lives in the files of the knowledge folder; this module only reads,
checks and indexes them. Another organisation replaces the files, not this code.

Files read (all in ``KNOWLEDGE_DIR``): ``organisation.yml``, ``branches.yml``,
``outages.yml``, ``faq.yml``, ``accounts.yml``, ``tickets.yml``, ``replies.yml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Mapping, Sequence

import yaml

from actions import empathy, settings
from actions.replies import ReplyCatalogue, fill, pick_variant, recent_bot_texts
from bot.nlu.arabic_text import normalize, without_glued_preposition

if TYPE_CHECKING:  # only for type hints: keeps import time low
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

FILES = (
    "organisation.yml",
    "branches.yml",
    "outages.yml",
    "faq.yml",
    "accounts.yml",
    "tickets.yml",
    "replies.yml",
)

# Python's weekday() numbering, as the ids the knowledge files use.
WEEKDAY_IDS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_PUNCT = re.compile(r"[^\w\s']", re.UNICODE)
_PLACE_WORD = re.compile(r"^(?:حي|منطقه|مدينه|hay|7ay)\s+")
_LATIN_ARTICLE = re.compile(r"^(?:al|el|il)[\s\-]+")


class KnowledgeError(ValueError):
    """A knowledge file is missing, malformed or inconsistent."""


def match_key(text: Any) -> str:
    """A forgiving key for comparing names customers type with names on file.

    Folds what customers vary freely: digits, diacritics, tatweel, alef and ta
    marbuta forms, case, punctuation, the words "حي"/"مدينة", the article
    (ال / al / el) and spaces. "حي النرجس", "نرجس" and "el narjes"/"narjes" meet
    the same key as long as the files list the Latin spelling as an alias.
    """
    key = normalize(str(text or "")).text
    key = _PUNCT.sub(" ", key).strip()
    key = _PLACE_WORD.sub("", key)
    key = _LATIN_ARTICLE.sub("", key)
    key = re.sub(r"\s+", "", key)
    if key.startswith("ال") and len(key) > 3:
        key = key[2:]
    return key


def strip_district_word(text: str) -> str:
    """The district as typed, without a leading "حي" (or "حى") and outer spaces."""
    return re.sub(r"^\s*(?:حي|حى)\s+", "", str(text or "")).strip(" \t\n،,.؟?!")


def _keys(*names: Any) -> FrozenSet[str]:
    return frozenset(k for k in (match_key(n) for n in names) if k)


@dataclass(frozen=True)
class Service:
    """A service the organisation provides (electricity, water, internet)."""

    id: str
    name: str
    essential: bool
    response_time: str
    keys: FrozenSet[str]


@dataclass(frozen=True)
class City:
    """A city the organisation serves."""

    id: str
    name: str
    keys: FrozenSet[str]


@dataclass(frozen=True)
class Branch:
    """A customer-service branch."""

    id: str
    name: str
    city: str
    district: str
    address: str
    hours: str
    phone: str
    keys: FrozenSet[str]


@dataclass(frozen=True)
class Outage:
    """An outage already known to the organisation."""

    id: str
    kind: str
    service: str
    city: str
    district: str
    cause: str
    eta: str
    ticket: str
    status: str
    keys: FrozenSet[str]


def _read_yaml(path: Path) -> Dict[str, Any]:
    if not path.is_file():
        raise KnowledgeError(f"missing knowledge file: {path}")
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path} must hold a mapping at the top level")
    return data


def _need(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping or mapping[key] in (None, ""):
        raise KnowledgeError(f"{where}: missing {key!r}")
    return mapping[key]


class KnowledgeBase:
    """Indexed, validated knowledge of one organisation.

    Build it with :meth:`load`; in actions use :func:`get_knowledge_base`, which
    loads it once per process.
    """

    def __init__(self, raw: Mapping[str, Mapping[str, Any]], directory: Path) -> None:
        self.directory = directory
        org = raw["organisation.yml"]
        self.organisation: Dict[str, Any] = dict(_need(org, "organisation", "organisation.yml"))
        for key in ("name", "currency"):
            _need(self.organisation, key, "organisation.yml: organisation")
        self.hours: Dict[str, Any] = dict(_need(org, "hours", "organisation.yml"))
        self.contact: Dict[str, Any] = dict(_need(org, "contact", "organisation.yml"))
        self.payment_channels: List[str] = list(org.get("payment_channels") or [])
        self.fees: Dict[str, Dict[str, Any]] = dict(org.get("fees") or {})
        self.plans: List[Dict[str, Any]] = list(org.get("plans") or [])
        self.appointments: Dict[str, Any] = dict(_need(org, "appointments", "organisation.yml"))
        self.handoff: Dict[str, Any] = dict(_need(org, "handoff", "organisation.yml"))

        self.services: List[Service] = [
            Service(
                id=s["id"],
                name=_need(s, "name", f"service {s.get('id')}"),
                essential=bool(s.get("essential", False)),
                response_time=_need(s, "response_time", f"service {s['id']}"),
                keys=_keys(s["id"], s["name"], *(s.get("aliases") or [])),
            )
            for s in _need(org, "services", "organisation.yml")
        ]
        self.cities: List[City] = [
            City(c["id"], c["name"], _keys(c["id"], c["name"], *(c.get("aliases") or [])))
            for c in _need(org, "cities", "organisation.yml")
        ]
        city_ids = {c.id for c in self.cities}
        service_ids = {s.id for s in self.services}

        self.branches: List[Branch] = []
        for b in raw["branches.yml"].get("branches") or []:
            where = f"branches.yml: {b.get('id')}"
            if b.get("city") not in city_ids:
                raise KnowledgeError(f"{where}: unknown city {b.get('city')!r}")
            self.branches.append(
                Branch(
                    id=_need(b, "id", where),
                    name=_need(b, "name", where),
                    city=b["city"],
                    district=_need(b, "district", where),
                    address=_need(b, "address", where),
                    hours=_need(b, "hours", where),
                    phone=_need(b, "phone", where),
                    keys=_keys(b["district"], *(b.get("aliases") or [])),
                )
            )

        self.outages: List[Outage] = []
        for o in raw["outages.yml"].get("outages") or []:
            where = f"outages.yml: {o.get('id')}"
            if o.get("service") not in service_ids:
                raise KnowledgeError(f"{where}: unknown service {o.get('service')!r}")
            if o.get("city") not in city_ids:
                raise KnowledgeError(f"{where}: unknown city {o.get('city')!r}")
            self.outages.append(
                Outage(
                    id=_need(o, "id", where),
                    kind=o.get("kind", "unplanned"),
                    service=o["service"],
                    city=o["city"],
                    district=_need(o, "district", where),
                    cause=_need(o, "cause", where),
                    eta=_need(o, "eta", where),
                    ticket=_need(o, "ticket", where),
                    status=o.get("status", "in_progress"),
                    keys=_keys(o["district"], *(o.get("aliases") or [])),
                )
            )

        self.faq: Dict[str, Dict[str, str]] = {
            intent: dict(facts or {}) for intent, facts in (raw["faq.yml"].get("faq") or {}).items()
        }
        self.accounts: Dict[str, Dict[str, Any]] = {
            str(number): dict(account) for number, account in (raw["accounts.yml"].get("accounts") or {}).items()
        }
        self.demo_tickets: List[Dict[str, Any]] = self._demo_tickets(raw["tickets.yml"])
        self.replies = ReplyCatalogue(raw["replies.yml"])
        self._context = self._build_context()

    @classmethod
    def load(cls, directory: Path | str) -> KnowledgeBase:
        """Read and check every knowledge file of a folder.

        Raises:
            KnowledgeError: a file is missing or inconsistent.
        """
        directory = Path(directory)
        return cls({name: _read_yaml(directory / name) for name in FILES}, directory)

    # ------------------------------------------------------------------ look-ups
    def service(self, value: Any) -> Service | None:
        """The service a slot value or a typed word names, if any."""
        key = match_key(value)
        return next((s for s in self.services if key and key in s.keys), None)

    def service_name(self, service_id: str | None) -> str:
        """Display name of a service id (the id itself when unknown)."""
        found = self.service(service_id) if service_id else None
        return found.name if found else str(service_id or "")

    def city(self, value: Any) -> City | None:
        """The city a typed name or id refers to, if we serve it."""
        key = match_key(value)
        return next((c for c in self.cities if key and key in c.keys), None)

    def city_name(self, city_id: str) -> str:
        """Display name of a city id."""
        return next((c.name for c in self.cities if c.id == city_id), city_id)

    def branches_matching(self, district: Any = None, city: Any = None) -> List[Branch]:
        """Branches in a district and/or a city (both as typed by the customer).

        A district matches on its name or aliases; a city narrows the result
        (useful where two cities have a district of the same name). With only a
        city, every branch of that city matches.
        """
        city_obj = self.city(city) if city else None
        if city and not city_obj:
            return []
        found = [b for b in self.branches if city_obj is None or b.city == city_obj.id]
        if district:
            key = match_key(district)
            found = [b for b in found if key in b.keys]
        return found if (district or city) else []

    def known_outage(self, service_id: str, district: Any, city: Any = None) -> Outage | None:
        """A known outage of this service in this district, if there is one."""
        key = match_key(district)
        city_obj = self.city(city) if city else None
        for outage in self.outages:
            if outage.service != service_id or key not in outage.keys:
                continue
            if city_obj and outage.city != city_obj.id:
                continue
            return outage
        return None

    def response_time(self, service_id: str | None) -> str:
        """The response-time promise for a service's new outage tickets."""
        found = self.service(service_id) if service_id else None
        if found:
            return found.response_time
        return self.services[0].response_time

    def appointment_window(self, text: Any) -> Dict[str, Any]:
        """The visit time window the customer's words ask for (else the first).

        Keywords are matched on normalised words, so "الصبح" and "الصباح" work
        and "الصبح" never matches inside an unrelated longer word; a preposition
        glued before the article is taken off ("فالصباح" is الصباح).
        """
        windows = _need(self.appointments, "windows", "organisation.yml: appointments")
        tokens = normalize(str(text or "")).text.split()
        unglued = [without_glued_preposition(t) or t for t in tokens]
        words = " " + " ".join(tokens) + " " + " ".join(unglued) + " "
        for window in windows:
            for keyword in window.get("keywords") or []:
                if " " + normalize(keyword).text + " " in words:
                    return window
        return windows[0]

    def window_label(self, window_id: str | None) -> str:
        """Display label of a window id (the default window when unknown)."""
        windows = self.appointments["windows"]
        return next((w["label"] for w in windows if w["id"] == window_id), windows[0]["label"])

    def is_closed_day(self, day: date) -> bool:
        """Whether technicians do not visit on this day of the week."""
        return WEEKDAY_IDS[day.weekday()] in (self.appointments.get("closed_weekdays") or [])

    def call_centre_open(self, moment: datetime) -> bool:
        """Whether the call centre is staffed at this local time."""
        schedule = self.hours.get("call_centre_schedule") or {}
        hours = schedule.get(WEEKDAY_IDS[moment.weekday()])
        if not hours:
            return False
        opens, closes = (time.fromisoformat(h) if h != "24:00" else time.max for h in hours)
        now = moment.time()
        if closes <= opens:  # open past midnight
            return now >= opens or now < closes
        return opens <= now < closes

    def handoff_eta(self, moment: datetime) -> str:
        """When a colleague will contact the customer, as promised in the files."""
        key = "within_hours_eta" if self.call_centre_open(moment) else "outside_hours_eta"
        return _need(self.handoff, key, "organisation.yml: handoff")

    # ------------------------------------------------------------------ wording
    def money(self, amount: Any) -> str:
        """An amount with the currency ("412.75 ريال"; zero reads "free")."""
        value = float(amount or 0)
        if value == 0:
            return self.replies.fragment("free")
        # Whole amounts read "199"; others always show halalas: "104.50", not "104.5".
        text = f"{value:.0f}" if value == round(value) else f"{value:.2f}"
        return self.replies.fragment("money", amount=text, currency=self.organisation["currency"])

    def format_date(self, day: date) -> str:
        """A date as customers read it (dd/mm/yyyy by default)."""
        return self.replies.fragment("date", day=f"{day.day:02d}", month=f"{day.month:02d}", year=day.year)

    def day_name(self, day: date) -> str:
        """The weekday's name in the reply language."""
        return self.replies.label("weekdays", WEEKDAY_IDS[day.weekday()])

    def format_datetime(self, moment: datetime) -> str:
        """A timestamp as customers read it (date and hh:mm)."""
        return self.replies.fragment("datetime", date=self.format_date(moment.date()), time=moment.strftime("%H:%M"))

    def bullet_list(self, items: Sequence[str]) -> str:
        """Items as a bulleted, one-per-line list."""
        return "\n".join(self.replies.fragment("list_item", item=item) for item in items)

    def branch_lines(self, branches: Sequence[Branch], hours_only: bool = False) -> str:
        """One line per branch: full details, or just name, city and hours."""
        fragment = "branch_hours_line" if hours_only else "branch_line"
        return "\n".join(
            self.replies.fragment(
                fragment,
                name=b.name,
                city=self.city_name(b.city),
                district=b.district,
                address=b.address,
                hours=b.hours,
                phone=b.phone,
            )
            for b in branches
        )

    def branch_cities(self) -> str:
        """The names of the cities that have branches, joined with "and"."""
        names = [c.name for c in self.cities if any(b.city == c.id for b in self.branches)]
        return self.replies.fragment("and").join(names) if names else ""

    def plan_lines(self) -> str:
        """The plan catalogue, one line per plan."""
        lines = []
        for plan in self.plans:
            price = plan.get("monthly_price") or 0
            values = {"name": plan["name"], "description": plan.get("description", "")}
            if price:
                lines.append(self.replies.fragment("plan_line", price=self.money(price), **values))
            else:
                lines.append(self.replies.fragment("plan_line_no_price", **values))
        return "\n".join(lines)

    def context(self) -> Dict[str, Any]:
        """The shared facts every reply may name (a copy: callers add to it)."""
        return dict(self._context)

    def faq_context(self, intent: str) -> Dict[str, Any]:
        """Shared facts plus the facts of one FAQ intent, ready for its reply."""
        values = self.context()
        base = dict(values)
        for name, fact in (self.faq.get(intent) or {}).items():
            values[name] = fill(str(fact), base, f"faq.{intent}.{name}")
        values.setdefault("branch_list", self.branch_lines(self.branches))
        values.setdefault("plan_list", self.plan_lines())
        values.setdefault("branch_cities", self.branch_cities())
        return values

    def say(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        key: str,
        values: Mapping[str, Any] | None = None,
        empathetic: bool = False,
        **more: Any,
    ) -> str:
        """Send one reply from the catalogue, avoiding the assistant's last words.

        Args:
            dispatcher: where the message goes.
            tracker: the conversation (its latest bot messages are avoided).
            key: the reply's key in replies.yml.
            values: placeholder values (the shared facts are added).
            empathetic: lead with an acknowledgement (annoyed customer) or an
                apology (angry customer) in their dialect; for routine answers.
            **more: more placeholder values.

        Returns:
            The text that was sent.
        """
        filled = self.context()
        filled.update(values or {})
        filled.update(more)
        recent = recent_bot_texts(tracker.events)
        reply = self.replies.render(key, filled, recent)
        lead = self._empathy_lead(tracker, recent) if empathetic else None
        if lead:
            reply = replace(reply, text=f"{lead} {reply.text}")
        if reply.buttons:
            dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        else:
            dispatcher.utter_message(text=reply.text)
        return reply.text

    def _empathy_lead(self, tracker: Tracker, recent: List[str]) -> str | None:
        """An empathy sentence for the customer's mood, or None when calm.

        The lead used in any recent message is avoided, so two apologies in a row
        are worded differently.
        """
        level = empathy.frustration_level(tracker.latest_message or {}, tracker.get_slot("conversation_frustration"))
        key = empathy.empathy_key(level, empathy.customer_dialect(tracker.latest_message or {}))
        if key is None:
            return None
        leads = self.replies.variants(key)
        used = [lead for lead in leads if any(text.startswith(lead) for text in recent)]
        return pick_variant(leads, used)

    # ------------------------------------------------------------------ internals
    def _build_context(self) -> Dict[str, Any]:
        org, contact, hours = self.organisation, self.contact, self.hours
        context: Dict[str, Any] = {
            "org_name": org["name"],
            "app_name": org.get("app_name", org["name"]),
            "website": org.get("website", ""),
            "currency": org["currency"],
            "phone": _need(contact, "phone", "organisation.yml: contact"),
            "emergency": contact.get("emergency", contact["phone"]),
            "whatsapp": contact.get("whatsapp", ""),
            "email": contact.get("email", ""),
            "x_account": contact.get("x_account", ""),
            "branch_hours": _need(hours, "branches", "organisation.yml: hours"),
            "call_centre_hours": _need(hours, "call_centre", "organisation.yml: hours"),
            "friday_hours": hours.get("friday", ""),
            "ramadan_hours": hours.get("ramadan", ""),
            "payment_channels": self.bullet_list(self.payment_channels),
        }
        for fee_id, fee in self.fees.items():
            context[f"fee_{fee_id}"] = self.money(fee.get("amount", 0))
        return context

    def _demo_tickets(self, data: Mapping[str, Any]) -> List[Dict[str, Any]]:
        """Demo tickets from tickets.yml plus the master tickets of known outages."""
        tickets = [dict(t) for t in data.get("tickets") or []]
        listed = {t["id"] for t in tickets}
        for outage in self.outages:
            if outage.ticket not in listed:
                tickets.append(
                    {
                        "id": outage.ticket,
                        "kind": "outage",
                        "status": outage.status,
                        "service": outage.service,
                        "district": outage.district,
                        "city": outage.city,
                    }
                )
        return tickets


@lru_cache(maxsize=4)
def load_knowledge_base(directory: str) -> KnowledgeBase:
    """The knowledge base of a folder, read once per process and folder."""
    return KnowledgeBase.load(directory)


def get_knowledge_base() -> KnowledgeBase:
    """The knowledge base of the configured ``KNOWLEDGE_DIR``."""
    return load_knowledge_base(str(settings.get_settings().knowledge_dir))
