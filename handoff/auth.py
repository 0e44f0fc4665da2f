"""Console sign-in: accounts, sessions, CSRF and role checks.

Passwords are hashed with scrypt and a per-user salt. A sign-in is a random
token in an HttpOnly, SameSite=Strict cookie; Redis keeps only the token's
SHA-256, so a copy of the database opens no session. Every state-changing
request must also carry the session's CSRF token in the ``X-CSRF-Token``
header (the console reads it from ``GET /api/me``).

Sign-in is hardened against guessing: an unknown username costs exactly one
scrypt, like a known one (no timing oracle); scrypt runs in a worker thread, so a
burst of sign-ins never stalls the event loop (live feeds, ``/health``); and
failures are counted per username and per client address in Redis (shared by
every service process): past the limit the service answers 429 with
``Retry-After``, and each further failure doubles the lock up to a cap. A
password or role change revokes the account's open sessions (each session
carries the account's ``epoch``, renewed by such a change). The cookie is
``Secure`` unless the settings say local mode.

The trainer workbench (``python -m workbench``, its own process) signs in the
same accounts: it mounts :func:`add_signin_routes` and protects its handlers with
:func:`require_role`::

    from handoff.auth import require_role

    @require_role("trainer", "supervisor")
    async def handler(request: web.Request) -> web.Response:
        user = request["user"]          # a SessionUser
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from aiohttp import web

from bot.untrusted import safe_equal
from handoff.payloads import PayloadError, parse_json_object
from handoff.settings import HandoffSettings
from handoff.store import HandoffStore

ROLES = ("agent", "supervisor", "trainer")
COOKIE = "noor_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# scrypt cost: about 50 ms and 16 MiB per sign-in on this machine's cores.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# What an unknown username is checked against: a well-formed hash with today's
# cost parameters that no password matches, so it costs exactly one scrypt.
_DUMMY_HASH = f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${'00' * 16}${'00' * 32}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    """Hash a password as ``scrypt$n$r$p$salt$hash`` (hex), with a fresh salt by default."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches a hash from :func:`hash_password`."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=bytes.fromhex(salt_hex), dklen=32, n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


async def verify_password_off_loop(password: str, stored: str) -> bool:
    """:func:`verify_password` in the default thread executor: scrypt holds a core for
    about 50 ms and would otherwise stop every other request for that long."""
    return await asyncio.get_running_loop().run_in_executor(None, verify_password, password, stored)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "ignore")).hexdigest()


def _throttle_key(value: str) -> str:
    # usernames and addresses are attacker-chosen: hash them into fixed-size key parts
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class SessionUser:
    """The signed-in person behind a request.

    Attributes:
        username: account name.
        name: display name shown to colleagues.
        role: ``agent``, ``supervisor`` or ``trainer``.
        csrf: the session's CSRF token.
    """

    username: str
    name: str
    role: str
    csrf: str

    def public(self) -> Dict[str, str]:
        return {"username": self.username, "name": self.name, "role": self.role, "csrf": self.csrf}


class AuthError(web.HTTPException):
    """401/403/429 with a JSON body, raised from handlers and decorators."""

    def __init__(self, status: int, code: str, message_ar: str, headers: Optional[Dict[str, str]] = None, **extra: Any) -> None:
        self.status_code = status
        super().__init__(
            headers=headers,
            text=web.json_response({"error": code, "message": message_ar, **extra}).text,
            content_type="application/json",
        )


def too_many_attempts(retry_after: int) -> AuthError:
    """The 429 of a throttled sign-in, with ``Retry-After`` in seconds."""
    return AuthError(
        429, "too_many_attempts", f"محاولات دخول خاطئة كثيرة؛ حاول مرة أخرى بعد {retry_after} ثانية.",
        headers={"Retry-After": str(retry_after)}, retry_after=retry_after,
    )


class Accounts:
    """Accounts and sessions of the console, kept in the handoff store.

    Args:
        store: the Redis store.
        settings: session lifetime and cookie flags.
    """

    def __init__(self, store: HandoffStore, settings: HandoffSettings) -> None:
        self.store = store
        self.settings = settings

    async def add(self, username: str, password: str, role: str, name: str = "") -> bool:
        """Create or replace an account.

        Returns:
            True when an existing account's password or role changed: its open
            sessions are revoked (a new ``epoch``), so a demoted or re-keyed
            account cannot go on with a cookie from before.

        Raises:
            ValueError: for an unknown role, an unsafe username or a short password.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not username.replace("_", "").replace("-", "").replace(".", "").isalnum() or len(username) > 64:
            raise ValueError("username: letters, digits, '.', '-' and '_' only, at most 64")
        if len(password) < 8:
            raise ValueError("password: at least 8 characters")
        old = await self.store.get_account(username)
        unchanged = old is not None and old.get("role") == role and verify_password(password, old.get("password", ""))
        epoch = old.get("epoch", "") if unchanged and old else secrets.token_urlsafe(12)
        await self.store.save_account(
            username, {"password": hash_password(password), "role": role, "name": name or username, "epoch": epoch}
        )
        return old is not None and not unchanged

    async def check(self, username: str, password: str) -> Optional[Dict[str, str]]:
        """The account when the password is right, else None.

        Known and unknown usernames cost the same: exactly one scrypt each (an
        unknown one against :data:`_DUMMY_HASH`), run off the event loop.
        """
        account = await self.store.get_account(username) if username else None
        stored = account.get("password", "") if account else _DUMMY_HASH
        matches = await verify_password_off_loop(password, stored or _DUMMY_HASH)
        return account if account is not None and matches else None

    def _throttle_scopes(self, username: str, address: str) -> List[Tuple[str, str, int]]:
        """(scope, hashed key, failures allowed) of one sign-in attempt."""
        scopes = [("user", _throttle_key(username.lower()), self.settings.login_max_failures)]
        if address:
            scopes.append(("addr", _throttle_key(address), self.settings.login_max_failures_per_address))
        return scopes

    async def _refuse_if_locked(self, scopes: List[Tuple[str, str, int]]) -> None:
        waits = [await self.store.login_locked_for(scope, key) for scope, key, _ in scopes]
        if max(waits) > 0:
            raise too_many_attempts(max(waits))

    async def _record_failure(self, scopes: List[Tuple[str, str, int]]) -> None:
        settings = self.settings
        for scope, key, allowed in scopes:
            await self.store.record_login_failure(
                scope, key, allowed, settings.login_window_seconds, settings.login_lock_seconds, settings.login_lock_max_seconds
            )

    async def sign_in(self, username: str, password: str, address: str = "") -> Tuple[str, SessionUser]:
        """Open a session, unless this username or address is locked out.

        Args:
            username / password: what the sign-in form sent.
            address: the client's address (a second throttle key; empty: none).

        Returns:
            (cookie token, user).

        Raises:
            AuthError: 401 when the name or password is wrong; 429 with
                ``Retry-After`` while the username or the address is locked.
        """
        scopes = self._throttle_scopes(username, address)
        # checked before scrypt: a locked-out guesser costs no hashing either
        await self._refuse_if_locked(scopes)
        account = await self.check(username, password)
        if account is None:
            await self._record_failure(scopes)
            raise AuthError(401, "bad_credentials", "اسم المستخدم أو كلمة المرور غير صحيحة.")
        # the username's count restarts; the address keeps its own (one right
        # password must not reset the guessing of every other name from there)
        await self.store.clear_login_failures(*scopes[0][:2])
        token = secrets.token_urlsafe(32)
        user = SessionUser(username, account.get("name", username), account.get("role", "agent"), secrets.token_urlsafe(24))
        record = {"username": user.username, "name": user.name, "role": user.role, "csrf": user.csrf, "epoch": account.get("epoch", "")}
        await self.store.save_session(_token_hash(token), record, self.settings.session_hours * 3600)
        return token, user

    async def sign_out(self, request: web.Request) -> None:
        token = request.cookies.get(COOKIE)
        if token:
            await self.store.delete_session(_token_hash(token))

    async def user_for(self, request: web.Request) -> Optional[SessionUser]:
        """The signed-in user of a request, or None."""
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 200:
            return None
        record = await self.store.get_session(_token_hash(token))
        if not record:
            return None
        # a deleted account ends its sessions at once; a new password or role too (new epoch)
        account = await self.store.get_account(record["username"])
        if account is None or account.get("epoch", "") != record.get("epoch", ""):
            return None
        return SessionUser(record["username"], record.get("name", ""), record.get("role", ""), record.get("csrf", ""))

    def set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="Strict", secure=self.settings.cookie_secure,
            max_age=self.settings.session_hours * 3600, path="/",
        )

    @staticmethod
    def clear_cookie(response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/")


ACCOUNTS_KEY = web.AppKey("accounts", Accounts)


def check_csrf(request: web.Request, user: SessionUser) -> None:
    """Refuse a state-changing request without the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    if not safe_equal(request.headers.get(CSRF_HEADER), user.csrf):
        raise AuthError(403, "csrf", "رمز الحماية (CSRF) مفقود أو غير صحيح؛ أعد تحميل الصفحة.")


async def authenticate(request: web.Request, roles: Tuple[str, ...]) -> SessionUser:
    """The request's user after the sign-in, role and CSRF checks.

    Raises:
        AuthError: 401 not signed in, 403 wrong role or CSRF token.
    """
    user = await request.app[ACCOUNTS_KEY].user_for(request)
    if user is None:
        raise AuthError(401, "not_signed_in", "سجّل الدخول أولاً.")
    if roles and user.role not in roles:
        raise AuthError(403, "forbidden_role", "ليست لديك صلاحية لهذا الإجراء.")
    check_csrf(request, user)
    request["user"] = user
    return user


def require_role(*roles: str) -> Callable[[Handler], Handler]:
    """Decorator: the handler runs only for a signed-in user with one of ``roles``.

    State-changing methods also need the CSRF header. The user is in ``request["user"]``.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            await authenticate(request, roles)
            return await handler(request)

        return wrapped

    return decorate


def require_service_token(settings: HandoffSettings, request: web.Request) -> None:
    """Refuse a service-to-service call without the shared bearer token.

    Raises:
        AuthError: 401 when the token is missing, wrong, or not configured.
    """
    header = request.headers.get("Authorization", "")
    sent = header[7:] if header.startswith("Bearer ") else ""
    # safe_equal: a non-ASCII header (``Bearer تجربة``) is a wrong token, not a TypeError
    if not safe_equal(sent, settings.service_token):
        raise AuthError(401, "bad_service_token", "رمز الخدمة مفقود أو غير صحيح.")


# -------------------------------------------------------------- sign-in routes
async def login(request: web.Request) -> web.Response:
    payload = parse_json_object(await request.read())
    username, password = payload.get("username"), payload.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 1024:
        raise PayloadError(422, "missing_credentials", "أدخل اسم المستخدم وكلمة المرور.")
    accounts = request.app[ACCOUNTS_KEY]
    # request.remote is the peer; behind a reverse proxy that is the proxy, so
    # the per-address limit (HANDOFF_LOGIN_MAX_FAILURES_PER_ADDRESS) is generous
    token, user = await accounts.sign_in(username.strip(), password, request.remote or "")
    response = web.json_response(user.public())
    accounts.set_cookie(response, token)
    return response


@require_role()
async def logout(request: web.Request) -> web.Response:
    await request.app[ACCOUNTS_KEY].sign_out(request)
    response = web.json_response({"status": "signed_out"})
    Accounts.clear_cookie(response)
    return response


@require_role()
async def me(request: web.Request) -> web.Response:
    return web.json_response(request["user"].public())


def add_signin_routes(app: web.Application, accounts: Accounts) -> None:
    """``POST /api/login``, ``POST /api/logout`` and ``GET /api/me`` on ``app``, over ``accounts``.

    Both web processes (the agent console and the trainer workbench) mount these, so one
    account and one throttle serve both; their replies are JSON errors only under
    :func:`handoff.middleware.errors_middleware`.
    """
    app[ACCOUNTS_KEY] = accounts
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
