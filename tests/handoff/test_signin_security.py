"""Console sign-in under attack: username enumeration, guessing, a stalled loop, stale sessions, cookies.

Each test performs the attack against the real service (real HTTP, real Redis)
and asserts that it now fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List

import requests
from handoff_helpers import PASSWORD, Console, add_account

from handoff import auth
from handoff.auth import Accounts
from handoff.settings import HandoffSettings
from handoff.store import HandoffStore
from scripts.stack import Stack

REAL_SCRYPT = hashlib.scrypt


def login(service: Any, username: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(f"{service.url}/api/login", json={"username": username, "password": password}, timeout=30)


def set_account(service: Any, username: str, password: str, role: str, name: str = "") -> bool:
    async def change() -> bool:
        store = HandoffStore(service.settings.redis_url)
        try:
            return await Accounts(store, service.settings).add(username, password, role, name or username)
        finally:
            await store.close()

    return service.call(change())


# ------------------------------------------------------------ enumeration
def test_known_and_unknown_usernames_cost_exactly_one_scrypt(redis_url, monkeypatch):
    calls: List[int] = []

    def counting_scrypt(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return REAL_SCRYPT(*args, **kwargs)

    async def scenario() -> List[int]:
        store = HandoffStore(redis_url)
        accounts = Accounts(store, HandoffSettings(redis_url=redis_url))
        await accounts.add("amal", PASSWORD, "agent")
        monkeypatch.setattr(auth.hashlib, "scrypt", counting_scrypt)
        counts = []
        for username, password in (("amal", "wrong password"), ("amal", PASSWORD), ("ghost", "wrong password"), ("", "x")):
            calls.clear()
            await accounts.check(username, password)
            counts.append(len(calls))
        await store.close()
        return counts

    # known name with a wrong / right password, unknown name, empty name: one scrypt each
    assert asyncio.run(scenario()) == [1, 1, 1, 1]


# ------------------------------------------------------------ event loop
def test_a_burst_of_bad_logins_hashes_off_the_loop_and_health_stays_fast(service_factory, monkeypatch):
    service = service_factory(login_max_failures=100, login_max_failures_per_address=100)
    loop_thread = service.call(_current_thread())
    hashing_threads: List[int] = []

    def slow_scrypt(*args: Any, **kwargs: Any) -> bytes:
        # a slow machine: were this on the event loop, ten of them would stall it for 3 s
        hashing_threads.append(threading.get_ident())
        time.sleep(0.3)
        return REAL_SCRYPT(*args, **kwargs)

    monkeypatch.setattr(auth.hashlib, "scrypt", slow_scrypt)
    with ThreadPoolExecutor(max_workers=10) as pool:
        burst = [pool.submit(login, service, f"ghost{i}", "wrong password") for i in range(10)]
        time.sleep(0.1)  # the burst is in flight
        started = time.monotonic()
        health = requests.get(f"{service.url}/health", timeout=30)
        health_seconds = time.monotonic() - started
        statuses = [future.result().status_code for future in burst]
    assert health.status_code == 200 and health_seconds < 1.0, health_seconds
    assert statuses == [401] * 10
    assert len(hashing_threads) == 10 and loop_thread not in hashing_threads


async def _current_thread() -> int:
    return threading.get_ident()


# ------------------------------------------------------------- throttling
def test_guessing_one_username_is_locked_with_a_doubling_backoff(service_factory):
    service = service_factory(login_max_failures=3, login_max_failures_per_address=100, login_lock_seconds=1, login_lock_max_seconds=8)
    add_account(service, "amal")
    add_account(service, "sara")
    assert [login(service, "amal", f"guess {i}").status_code for i in range(3)] == [401, 401, 401]
    # locked: even the right password is refused, with how long to wait
    locked = login(service, "amal")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "1"
    assert locked.json()["error"] == "too_many_attempts" and locked.json()["message"]
    assert login(service, "sara").status_code == 200  # another account is not affected
    time.sleep(1.2)
    # one more failure after the lock: twice as long
    assert login(service, "amal", "guess 4").status_code == 401
    second = login(service, "amal")
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"
    time.sleep(2.2)
    # a successful sign-in resets the username's count: one failure no longer locks
    assert login(service, "amal").status_code == 200
    assert login(service, "amal", "typo").status_code == 401
    assert login(service, "amal").status_code == 200


def test_guessing_many_usernames_from_one_address_is_locked_in_every_process(service_factory):
    first = service_factory(login_max_failures=100, login_max_failures_per_address=3, login_lock_seconds=30)
    second = service_factory(login_max_failures=100, login_max_failures_per_address=3, login_lock_seconds=30)
    add_account(first, "amal")
    assert [login(first, name, "password1").status_code for name in ("admin", "root", "amal")] == [401, 401, 401]
    # the address is locked, whichever name it tries, on the other process too (Redis)
    for service in (first, second):
        refused = login(service, "amal")
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 30


# ------------------------------------------------------------- revocation
def test_a_role_change_revokes_the_open_sessions(service):
    add_account(service, "amal", role="supervisor")
    console = Console(service, "amal")
    assert console.get("/api/me").json()["role"] == "supervisor"
    assert set_account(service, "amal", PASSWORD, "agent") is True  # demoted
    assert console.get("/api/me").status_code == 401
    assert console.get("/api/agents").status_code == 401
    assert Console(service, "amal").user["role"] == "agent"


def test_a_password_change_revokes_the_open_sessions(service):
    add_account(service, "amal")
    console = Console(service, "amal")
    assert console.get("/api/me").status_code == 200
    assert set_account(service, "amal", "a brand new password", "agent") is True
    assert console.get("/api/me").status_code == 401
    assert login(service, "amal").status_code == 401
    assert login(service, "amal", "a brand new password").status_code == 200


def test_a_name_change_alone_keeps_the_sessions(service):
    add_account(service, "amal")
    console = Console(service, "amal")
    assert set_account(service, "amal", PASSWORD, "agent", name="أمل") is False
    assert console.get("/api/me").status_code == 200


# ----------------------------------------------------------------- cookie
def test_the_session_cookie_is_secure_outside_local_mode(service_factory):
    service = service_factory(local_mode=False)
    add_account(service, "amal")
    response = login(service, "amal")
    assert response.status_code == 200
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]


def test_local_mode_drops_secure_so_plain_http_works(service):
    add_account(service, "amal")
    assert service.settings.local_mode
    assert "Secure" not in login(service, "amal").headers["Set-Cookie"]


def test_cookie_settings_from_the_environment(monkeypatch):
    for name in ("HANDOFF_LOCAL_MODE", "HANDOFF_SECURE_COOKIES"):
        monkeypatch.delenv(name, raising=False)
    assert HandoffSettings.from_env().cookie_secure is True  # the default is Secure
    monkeypatch.setenv("HANDOFF_LOCAL_MODE", "1")
    assert HandoffSettings.from_env().cookie_secure is False
    monkeypatch.delenv("HANDOFF_LOCAL_MODE")
    monkeypatch.setenv("HANDOFF_SECURE_COOKIES", "0")
    assert HandoffSettings.from_env().cookie_secure is False
    # `make run` serves the console over plain http: its stack turns local mode on
    monkeypatch.delenv("HANDOFF_SECURE_COOKIES")
    assert Stack().env()["HANDOFF_LOCAL_MODE"] == "1"
