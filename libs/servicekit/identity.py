"""The end user's identity as proof, not as a field: the gateway signs the principal it verified
(a short-lived EdDSA assertion in call metadata) and every service verifies it, replacing whatever
`caller` a request body claims. Peers relay the assertion of the call they are serving, so a
service acting for an officer acts with that officer's rights and no more.

Keys: the gateway signs with IDENTITY_SIGNING_KEY (Ed25519 private key, PEM file) under
IDENTITY_KEY_ID; services verify with IDENTITY_VERIFY_KEYS ("kid=path,kid=path": public keys, PEM).
Rotation: publish the new public key next to the old one, switch the gateway's key, drop the old
key after TTL_S."""
from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from servicekit.config import ConfigError, env, env_bool

HEADER = "x-passport-identity"
ISSUER = "passport-gateway"
AUDIENCE = "passport-services"
TTL_S = 60
ROLES = frozenset({"APPLICANT", "OFFICER", "SUPERVISOR"})

# The assertion of the request or call being served; the gRPC client relays it to peers. The gateway
# sets a function that signs it, so a request answered without a call (shed, cached) signs nothing.
current: contextvars.ContextVar = contextvars.ContextVar("identity_assertion", default=None)


def assertion() -> str | None:
    """The assertion to relay with a call: the one being served, signed now if it was deferred."""
    value = current.get()
    if callable(value):
        value = value()
        current.set(value)
    return value


class InvalidAssertion(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    account_id: str
    role: str
    office_id: str


class Signer:
    def __init__(self, private_key_pem: bytes, key_id: str):
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        self._key = load_pem_private_key(private_key_pem, password=None)
        self.key_id = key_id
        self._recent: dict[tuple, tuple[int, str]] = {}
        self._recent_lock = threading.Lock()

    @classmethod
    def from_paths(cls, private_key_path: str, key_id: str) -> "Signer":
        return cls(Path(private_key_path).read_bytes(), key_id)

    @classmethod
    def from_env(cls) -> "Signer":
        return cls.from_paths(env("IDENTITY_SIGNING_KEY"), env("IDENTITY_KEY_ID"))

    def sign(self, account_id: str, role: str, office_id: str = "", now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {"sub": account_id, "role": role, "office_id": office_id, "iss": ISSUER, "aud": AUDIENCE,
                  "iat": issued, "exp": issued + TTL_S}
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.key_id})

    REUSE_S = TTL_S // 2  # a reused assertion still has at least half its life when a service checks it

    def sign_reused(self, account_id: str, role: str, office_id: str = "") -> str:
        """The principal's assertion signed less than REUSE_S ago, or a new one: an applicant's
        retries and page loads within half a minute cost one EdDSA signature, not one each."""
        key, now = (account_id, role, office_id), time.time()
        hit = self._recent.get(key)
        if hit is not None and now - hit[0] < self.REUSE_S:
            return hit[1]
        token = self.sign(account_id, role, office_id, now=now)
        with self._recent_lock:
            if len(self._recent) >= 50_000:  # bounded: start over rather than grow
                self._recent.clear()
            self._recent[key] = (int(now), token)
        return token


class Verifier:
    def __init__(self, public_keys: dict[str, bytes]):
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
        if not public_keys:
            raise ConfigError("IDENTITY_VERIFY_KEYS names no key")
        self._keys = {kid: load_pem_public_key(pem) for kid, pem in public_keys.items()}

    @classmethod
    def from_env(cls) -> "Verifier | None":
        """None only when the local insecure mode is explicit (GRPC_INSECURE=1 and no keys)."""
        raw = env("IDENTITY_VERIFY_KEYS", "")
        if not raw and env_bool("GRPC_INSECURE"):
            return None
        if not raw:
            raise ConfigError("environment variable IDENTITY_VERIFY_KEYS is required but not set")
        keys = {}
        for item in raw.split(","):
            kid, sep, path = item.strip().partition("=")
            if not sep or not kid or not path:
                raise ConfigError(f"IDENTITY_VERIFY_KEYS entries are kid=path, got {item!r}")
            keys[kid] = Path(path).read_bytes()
        return cls(keys)

    def verify(self, token: str) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
            key = self._keys.get(kid)
            if key is None:
                raise InvalidAssertion("unknown key id")
            claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.InvalidTokenError as exc:
            raise InvalidAssertion(str(exc)) from None
        if claims.get("role") not in ROLES:
            raise InvalidAssertion("unknown role")
        return Principal(str(claims["sub"]), claims["role"], str(claims.get("office_id") or ""))


def make_local_keys(directory: Path, key_id: str = "local-1") -> dict[str, str]:
    """An Ed25519 key pair for a local stack; returns the environment that uses it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / f"identity-{key_id}.key", directory / f"identity-{key_id}.pub"
    if not private.exists():
        key = Ed25519PrivateKey.generate()
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        private.chmod(0o600)
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"IDENTITY_SIGNING_KEY": str(private), "IDENTITY_KEY_ID": key_id,
            "IDENTITY_VERIFY_KEYS": f"{key_id}={public}"}
