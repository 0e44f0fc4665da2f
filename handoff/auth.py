"""Console sign-in: accounts, sessions, CSRF and role checks.

Passwords are hashed with scrypt and a per-user salt. A sign-in is a random
token in an HttpOnly, SameSite=Strict cookie; Redis keeps only the token's
SHA-256, so a copy of the database opens no session. Every state-changing
request must also carry the session's CSRF token in the ``X-CSRF-Token``
header (the console reads it from ``GET /api/me``).

Other parts of the service (the trainer workbench) protect their handlers with
:func:`require_role`::

    from handoff.auth import require_role

    @require_role("trainer", "supervisor")
    async def handler(request: web.Request) -> web.Response:
        user = request["user"]          # a SessionUser
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Awaitable, Callable, Dict, Optional, Tuple

from aiohttp import web

from handoff.settings import HandoffSettings
from handoff.store import HandoffStore

ROLES = ("agent", "supervisor", "trainer")
COOKIE = "noor_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# scrypt cost: about 50 ms and 16 MiB per sign-in on this machine's cores.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "ignore")).hexdigest()


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
    """401/403 with a JSON body, raised from handlers and decorators."""

    def __init__(self, status: int, code: str, message_ar: str) -> None:
        self.status_code = status
        super().__init__(
            text=web.json_response({"error": code, "message": message_ar}).text,
            content_type="application/json",
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

    async def add(self, username: str, password: str, role: str, name: str = "") -> None:
        """Create or replace an account.

        Raises:
            ValueError: for an unknown role, an unsafe username or a short password.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not username.replace("_", "").replace("-", "").replace(".", "").isalnum() or len(username) > 64:
            raise ValueError("username: letters, digits, '.', '-' and '_' only, at most 64")
        if len(password) < 8:
            raise ValueError("password: at least 8 characters")
        await self.store.save_account(
            username, {"password": hash_password(password), "role": role, "name": name or username}
        )

    async def check(self, username: str, password: str) -> Optional[Dict[str, str]]:
        """The account when the password is right, else None (same work either way)."""
        account = await self.store.get_account(username) if username else None
        if account is None:
            # hash anyway so timing does not reveal which usernames exist
            verify_password(password, hash_password("not-a-user"))
            return None
        return account if verify_password(password, account.get("password", "")) else None

    async def sign_in(self, username: str, password: str) -> Tuple[str, SessionUser]:
        """Open a session.

        Returns:
            (cookie token, user).

        Raises:
            AuthError: 401 when the name or password is wrong.
        """
        account = await self.check(username, password)
        if account is None:
            raise AuthError(401, "bad_credentials", "اسم المستخدم أو كلمة المرور غير صحيحة.")
        token = secrets.token_urlsafe(32)
        user = SessionUser(username, account.get("name", username), account.get("role", "agent"), secrets.token_urlsafe(24))
        await self.store.save_session(
            _token_hash(token),
            {"username": user.username, "name": user.name, "role": user.role, "csrf": user.csrf},
            self.settings.session_hours * 3600,
        )
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
        # a deleted account ends its sessions at once
        if await self.store.get_account(record["username"]) is None:
            return None
        return SessionUser(record["username"], record.get("name", ""), record.get("role", ""), record.get("csrf", ""))

    def set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="Strict", secure=self.settings.secure_cookies,
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
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent, user.csrf):
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
    if not settings.service_token or not sent or not hmac.compare_digest(sent, settings.service_token):
        raise AuthError(401, "bad_service_token", "رمز الخدمة مفقود أو غير صحيح.")
