"""Mutual TLS on every gRPC link: where a process finds its certificate, who may call whom, and
the local certificate authority that `make up` and the tests use.

A certificate's subject common name is the service identity ("gateway", "booking", ...). Servers
require a client certificate from the platform's CA and accept only the callers their service
allows (ALLOWED_CALLERS); everyone else gets PERMISSION_DENIED. In a cluster the files come from a
Kubernetes Secret in cert-manager's layout (tls.crt, tls.key, ca.crt)."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import grpc

from servicekit.config import ConfigError, env_bool

# Who may call each service, by certificate identity. The gateway fronts every service; peers call
# only what their work needs (booking bills through payment; the others read applications and
# contacts from booking; notification reads a complaint reporter's contact).
ALLOWED_CALLERS: dict[str, frozenset[str]] = {
    "booking": frozenset({"gateway", "biometrics-capture", "notification", "complaint"}),
    "payment": frozenset({"gateway", "booking"}),
    "biometrics-capture": frozenset({"gateway"}),
    "notification": frozenset({"gateway"}),
    "complaint": frozenset({"gateway", "notification"}),
}
# Narrower rules for one gRPC service or one method inside a server: accounts (contacts, staff) are
# for the gateway, notification (whom to tell) and complaint (which officer is assigned). Staff are
# managed only through the gateway, for a supervisor's signed identity (StaffService); the old
# AccountService/CreateStaff, which trusts no identity, is reachable by nobody.
ALLOWED_CALLERS_OF: dict[str, frozenset[str]] = {
    "passport.v1.AccountService": frozenset({"gateway", "notification", "complaint"}),
    "passport.v1.AccountService/CreateStaff": frozenset(),
    "passport.v1.StaffService": frozenset({"gateway"}),
    # a supervisor's statement upload comes through the gateway only (booking needs billing, not this)
    "passport.v1.PaymentService/Reconcile": frozenset({"gateway"}),
}
# Any certified platform identity may ask whether a server is healthy.
OPEN_TO_ANY_PEER = frozenset({"grpc.health.v1.Health"})


def may_call(server: str, method: str, caller: str) -> bool:
    """`method`: 'package.Service/Method'. The narrowest rule that names it decides."""
    grpc_service = method.partition("/")[0]
    if grpc_service in OPEN_TO_ANY_PEER:
        return bool(caller)
    if caller not in ALLOWED_CALLERS.get(server, frozenset()):
        return False
    allowed = ALLOWED_CALLERS_OF.get(method, ALLOWED_CALLERS_OF.get(grpc_service))
    return allowed is None or caller in allowed


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()


def from_env() -> TlsFiles | None:
    """This process's certificate, or None when plain-text gRPC is asked for explicitly
    (GRPC_INSECURE=1, local experiments only). Anything else without the three files refuses to start."""
    names = ("GRPC_TLS_CA", "GRPC_TLS_CERT", "GRPC_TLS_KEY")
    values = [os.environ.get(n, "") for n in names]
    if not any(values) and env_bool("GRPC_INSECURE"):
        return None
    missing = [n for n, v in zip(names, values) if not v]
    if missing:
        raise ConfigError(f"mutual TLS needs {', '.join(missing)} (or GRPC_INSECURE=1 for a local experiment)")
    files = TlsFiles(*(Path(v) for v in values))
    for name, path in zip(names, (files.ca, files.cert, files.key)):
        if not path.is_file():
            raise ConfigError(f"{name} points to {path}, which is not a file")
    return files


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    ca, cert, key = files.read()
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    ca, cert, key = files.read()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def peer_identity(context: grpc.ServicerContext) -> str:
    """The caller's certificate common name ('' without a verified client certificate)."""
    names = context.auth_context().get("x509_common_name") or []
    return names[0].decode() if names else ""


def identity_of(cert_pem: bytes) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    attrs = x509.load_pem_x509_certificate(cert_pem).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


# -- a local certificate authority (make up, tests, benchmarks) --------------------------------------
# "kafka": the local broker's own certificate (its TLS listener, and its mTLS controller link).
IDENTITIES = ("gateway", "booking", "payment", "biometrics-capture", "notification", "complaint", "kafka")


def local_files(tls_dir: Path, identity: str) -> TlsFiles:
    return TlsFiles(tls_dir / "ca.crt", tls_dir / f"{identity}.crt", tls_dir / f"{identity}.key")


def make_local_ca(tls_dir: Path, identities=IDENTITIES, days: int = 30) -> None:
    """A CA and one certificate per identity in `tls_dir` (kept if already there and valid).
    Each certificate names its identity as CN and DNS name, plus localhost and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    tls_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(tls_dir, 0o700)
    if all((tls_dir / f"{i}.crt").exists() for i in identities) and (tls_dir / "ca.crt").exists():
        return
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "passport local CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    (tls_dir / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for identity in identities:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName(identity), x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        key_path = tls_dir / f"{identity}.key"
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        os.chmod(key_path, 0o600)
        (tls_dir / f"{identity}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def env_for(files: TlsFiles) -> dict[str, str]:
    return {"GRPC_TLS_CA": str(files.ca), "GRPC_TLS_CERT": str(files.cert), "GRPC_TLS_KEY": str(files.key)}


def reflection_enabled() -> bool:
    """Server reflection lists every method to whoever asks: local development only."""
    return env_bool("GRPC_REFLECTION")

