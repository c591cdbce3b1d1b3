"""Bearer tokens (JWT, HS256) and role checks."""
from __future__ import annotations

import functools
import hashlib
import hmac
import time
from dataclasses import dataclass

import jwt
from flask import g, request

from passport.v1 import common_pb2, staff_pb2
from servicekit import identity
from servicekit.config import env_int, secret
from services.gateway import clients
from services.gateway.problems import Problem

ISSUER = "passport-gateway"


@dataclass(frozen=True)
class Principal:
    account_id: str
    role: str
    office_id: str

    def caller(self) -> common_pb2.Caller:
        return common_pb2.Caller(account_id=self.account_id, role=self.role, office_id=self.office_id)


def _secret() -> str:
    value = secret("JWT_SECRET")
    if len(value) < 32:
        raise RuntimeError("JWT_SECRET must be at least 32 characters")
    return value


def keyed_hash(value: str) -> str:
    """A hash of personal data (an email, an address) that only this platform can recompute."""
    return hmac.new(_secret().encode(), value.encode(), hashlib.sha256).hexdigest()


STAFF_ROLES = ("OFFICER", "SUPERVISOR")


def issue(account_id: str, role: str, office_id: str, token_version: int | None = None) -> tuple[str, int]:
    ttl = env_int("ACCESS_TOKEN_TTL_SECONDS", 3600)
    now = int(time.time())
    claims = {"sub": account_id, "role": role, "office_id": office_id, "iss": ISSUER, "iat": now, "exp": now + ttl}
    if token_version is not None:
        claims["tv"] = token_version  # a staff token: checked against the account on every request
    return jwt.encode(claims, _secret(), algorithm="HS256"), ttl


def current() -> Principal | None:
    """The authenticated principal, or None without a token; a bad token is always a 401."""
    if "principal" in g:
        return g.principal
    header = request.headers.get("Authorization", "")
    principal = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(401, "unauthenticated", "use Authorization: Bearer <access_token>")
        try:
            claims = jwt.decode(token, _secret(), algorithms=["HS256"], issuer=ISSUER,
                                options={"require": ["exp", "sub", "iss"]})
        except jwt.ExpiredSignatureError:
            raise Problem(401, "token-expired", "the access token has expired; request a new one") from None
        except jwt.InvalidTokenError:
            raise Problem(401, "unauthenticated", "the access token is invalid") from None
        principal = Principal(claims["sub"], claims.get("role", ""), claims.get("office_id") or "")
        if principal.role in STAFF_ROLES:
            _check_staff_token(principal.account_id, claims.get("tv", 0))
        # Services believe the signed assertion relayed with every gRPC call, not the body's caller;
        # signed when the first call needs it (a shed or cached answer makes none).
        identity.current.set(functools.partial(_signer().sign_reused, principal.account_id, principal.role,
                                               principal.office_id))
    g.principal = principal
    return principal


@functools.cache
def _signer() -> identity.Signer:
    return identity.Signer.from_env()


def start_request() -> None:
    """A worker thread serves many requests: no identity carries over from the previous one."""
    identity.current.set(None)


def _check_staff_token(account_id: str, version) -> None:
    """A staff token works only while its account is active and its version is current: a password
    reset or a deactivation by the supervisor bumps the version, so every open session ends at once."""
    state = clients.call(clients.staff().GetTokenState, staff_pb2.TokenStateRequest(account_id=account_id))
    if not state.active or state.token_version != version:
        raise Problem(401, "token-revoked", "this staff token was revoked (account deactivated or password reset); "
                                            "sign in again")


def required(*roles: str):
    """Route decorator: a valid token, and one of `roles` if given."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            principal = current()
            if principal is None:
                raise Problem(401, "unauthenticated", "this endpoint needs a Bearer access token")
            if roles and principal.role not in roles:
                raise Problem(403, "forbidden", f"this endpoint is for {' or '.join(roles)} accounts")
            return view(*args, **kwargs)

        return inner

    return wrap


def staff_of(office_id: str) -> Principal:
    principal = current()
    if principal is None or principal.role not in ("OFFICER", "SUPERVISOR") or principal.office_id != office_id:
        raise Problem(403, "forbidden", "only staff of this office may do this")
    return principal


def require_secrets() -> None:
    """Refuse to start without a secret it needs (naming it), or with a public demo value."""
    _secret()
    _signer()
    secret("BANK_CALLBACK_SECRET")
