"""Billing: the interface the actions use, and a demo backend behind it.

The actions only call :class:`BillingAPI` methods. :class:`BillingClient` is
the demo implementation, answering from the demo accounts in the knowledge
files; a real deployment writes a class with the same two methods that calls
the billing system, and returns it from :func:`get_billing_client`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, List, Mapping, Protocol, Tuple

from actions import settings
from actions.knowledge_base import KnowledgeBase, load_knowledge_base
from bot.nlu.arabic_text import fold_digits

ACCOUNT_DIGITS = (6, 10)


def clean_account_number(value: Any) -> str | None:
    """The account number in a slot value, as ASCII digits, or ``None``.

    Customers type account numbers in any digit script, with spaces or dashes
    and sometimes words around them ("رقم حسابي ٤٤٧١٢٠٣"): digits are folded
    to ASCII and everything else dropped. A list (two entities in one message)
    uses its first item.

    Returns:
        The digits when there are 6 to 10 of them; otherwise ``None``.
    """
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    digits = re.sub(r"\D", "", fold_digits(str(value)))
    low, high = ACCOUNT_DIGITS
    return digits if low <= len(digits) <= high else None


@dataclass(frozen=True)
class Bill:
    """One bill of one service.

    Attributes:
        service: service id (electricity, water, internet).
        period: billing month, ``YYYY-MM``.
        amount: amount in the organisation's currency.
        due_date: last day to pay.
        paid: whether it has been paid.
    """

    service: str
    period: str
    amount: float
    due_date: date
    paid: bool


@dataclass(frozen=True)
class Account:
    """A customer account as billing knows it.

    Attributes:
        number: the account number (ASCII digits).
        services: service ids on the account.
        bills: the account's bills, oldest first.
        city: city id, when known.
        district: district, when known.
        phone: the phone on file (verification codes go there), when known.
    """

    number: str
    services: Tuple[str, ...]
    bills: Tuple[Bill, ...]
    city: str | None = None
    district: str | None = None
    phone: str | None = None

    def latest_bills(self) -> List[Bill]:
        """The newest bill of each service, in the order of the account's services."""
        latest = {}
        for bill in sorted(self.bills, key=lambda b: b.period):
            latest[bill.service] = bill
        order = list(self.services) + [s for s in latest if s not in self.services]
        return [latest[s] for s in order if s in latest]

    def unpaid_bills(self) -> List[Bill]:
        """Every bill not paid yet, oldest first."""
        return [b for b in sorted(self.bills, key=lambda b: b.period) if not b.paid]

    def total_due(self) -> float:
        """The sum of all unpaid bills."""
        return round(sum(b.amount for b in self.unpaid_bills()), 2)


class BillingAPI(Protocol):
    """What the actions need from a billing system."""

    def find_account(self, account_number: str) -> Account | None:
        """The account with this number, or ``None`` when there is none."""

    def account_exists(self, account_number: str) -> bool:
        """Whether an account with this number exists."""


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class BillingClient:
    """Demo billing backend reading the demo accounts of the knowledge files.

    Args:
        kb: the knowledge base holding ``accounts.yml``.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self._accounts = {number: self._parse(number, data) for number, data in kb.accounts.items()}

    @staticmethod
    def _parse(number: str, data: Mapping[str, Any]) -> Account:
        bills = tuple(
            Bill(
                service=str(b["service"]),
                period=str(b["period"]),
                amount=float(b["amount"]),
                due_date=_as_date(b["due_date"]),
                paid=bool(b.get("paid", False)),
            )
            for b in data.get("bills") or []
        )
        return Account(
            number=number,
            services=tuple(data.get("services") or sorted({b.service for b in bills})),
            bills=bills,
            city=data.get("city"),
            district=data.get("district"),
            phone=str(data["phone"]) if data.get("phone") else None,
        )

    def find_account(self, account_number: str) -> Account | None:
        """The demo account with this number (any digit script), if any."""
        number = clean_account_number(account_number)
        return self._accounts.get(number) if number else None

    def account_exists(self, account_number: str) -> bool:
        """Whether a demo account with this number exists."""
        return self.find_account(account_number) is not None


@lru_cache(maxsize=4)
def _demo_client(directory: str) -> BillingClient:
    return BillingClient(load_knowledge_base(directory))


def get_billing_client() -> BillingAPI:
    """The billing backend the actions use (the demo one in this project).

    Built once per process and knowledge folder; a real deployment returns its
    own :class:`BillingAPI` implementation here.
    """
    return _demo_client(str(settings.get_settings().knowledge_dir))
