"""Accounts, tokens, the caller's profile and notification preferences."""
from __future__ import annotations

from flask import Blueprint, jsonify

from passport.v1 import accounts_pb2, notification_pb2, staff_pb2
from services.gateway import attempts, auth, clients, openapi, schema
from services.gateway.idempotency import idempotent
from services.gateway.problems import Problem
from services.gateway.validation import fields, json_body

bp = Blueprint("accounts", __name__)


@bp.post("/v1/accounts")
@idempotent
def register():
    body = fields(json_body(), {"nik": (str, True), "full_name": (str, True), "birth_date": (str, True),
                                "email": (str, True), "phone": (str, True), "password": (str, True)})
    attempts.spend("register-client", attempts.client())
    account = clients.call(clients.accounts().Register, accounts_pb2.RegisterRequest(**body))
    return jsonify({"account_id": account.account_id}), 201


# Refusals that follow a right password (the second factor is missing or not enrolled yet): not a
# guess, so they do not use up the account's attempts.
RIGHT_PASSWORD = ("otp-required", "otp-enrolment-required")


def _credentials(method, with_otp: bool):
    """The call of an email + password (+ code) RPC under the login attempt limits."""
    spec = {"email": (str, True), "password": (str, True), "otp": (str, with_otp)}
    body = fields(json_body(), spec)
    # Refused before any password is hashed: a guesser's 6th try costs the server nothing.
    attempts.spend("login-client", attempts.client())
    attempts.check("login-account", body["email"])
    try:
        return clients.call(method, accounts_pb2.AuthenticateRequest(
            email=body["email"], password=body["password"], otp=(body["otp"] or "")[:32]))
    except Problem as problem:
        if problem.status == 401 and problem.slug not in RIGHT_PASSWORD:
            attempts.record("login-account", body["email"])
        raise


def _token_of(account, **extra):
    version = None
    if account.role in auth.STAFF_ROLES:  # staff tokens carry the account's token version (routes/staff.py)
        version = clients.call(clients.staff().GetTokenState,
                               staff_pb2.TokenStateRequest(account_id=account.account_id)).token_version
    access_token, ttl = auth.issue(account.account_id, account.role, account.office_id, version)
    return jsonify({"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, **extra})


@bp.post("/v1/auth/token")
def token():
    """Staff with an authenticator app also send `otp` (401 otp-required / otp-invalid otherwise)."""
    return _token_of(_credentials(clients.accounts().Authenticate, with_otp=False))


@bp.post("/v1/auth/totp/enrolment")
def start_totp_enrolment():
    """Staff: a new TOTP secret and its otpauth:// URI (for the QR code), proven by the password."""
    enrolment = _credentials(clients.accounts().StartTotpEnrolment, with_otp=False)
    return jsonify({"secret": enrolment.secret, "otpauth_uri": enrolment.otpauth_uri})


@bp.post("/v1/auth/totp/enrolment/confirm")
def confirm_totp_enrolment():
    """The first code confirms the secret and signs in: the answer is an access token and the ten
    one-time recovery codes (shown this once; stored as digests only)."""
    account = _credentials(clients.accounts().ConfirmTotpEnrolment, with_otp=True)
    return _token_of(account, recovery_codes=list(account.recovery_codes))


@bp.get("/v1/me")
@auth.required()
def me():
    account = clients.call(clients.accounts().GetAccount,
                           accounts_pb2.GetAccountRequest(account_id=auth.current().account_id))
    out = {"account_id": account.account_id, "full_name": account.full_name, "role": account.role}
    if account.office_id:
        out["office_id"] = account.office_id
    if account.nik_masked:
        out["nik"] = account.nik_masked
    return jsonify(out)


@bp.put("/v1/me/notification-preferences")
@auth.required()
def set_preferences():
    body = fields(json_body(), {"language": (str, True, schema.LANGUAGES), "channels": (list, True)})
    channels = body["channels"]
    if not channels or not all(c in schema.CHANNELS for c in channels) or len(set(channels)) != len(channels):
        raise Problem(422, "validation-error", "channels must be a non-empty list of EMAIL and/or SMS",
                      [{"field": "channels", "message": "use EMAIL and/or SMS, each at most once"}])
    prefs = clients.call(clients.notification().SetPreferences, notification_pb2.Preferences(
        account_id=auth.current().account_id, language=body["language"], channels=channels))
    return jsonify({"language": prefs.language, "channels": list(prefs.channels)})


@bp.post("/v1/auth/password-reset")
def request_password_reset():
    """202 whether or not the email has an account (nothing to learn about who is registered)."""
    body = fields(json_body(), {"email": (str, True)})
    attempts.spend("reset-client", attempts.client())
    clients.call(clients.accounts().RequestPasswordReset, accounts_pb2.PasswordResetRequest(email=body["email"][:320]))
    return jsonify({"status": "accepted", "detail": "if this email has an account, a code was sent to it"}), 202


@bp.post("/v1/auth/password-reset/confirm")
def confirm_password_reset():
    body = fields(json_body(), {"email": (str, True), "code": (str, True), "new_password": (str, True)})
    attempts.spend("reset-client", attempts.client())
    account = clients.call(clients.accounts().ConfirmPasswordReset, accounts_pb2.ConfirmPasswordResetRequest(
        email=body["email"][:320], code=body["code"][:16], new_password=body["new_password"]))
    return jsonify({"account_id": account.account_id, "status": "password-changed"})


openapi.SCHEMAS.update({
    "TotpEnrolment": openapi.obj(["secret", "otpauth_uri"], secret=openapi.S, otpauth_uri=openapi.S),
    "TokenWithRecoveryCodes": openapi.obj(
        ["access_token", "token_type", "expires_in", "recovery_codes"], access_token=openapi.S, token_type=openapi.S,
        expires_in=openapi.I, recovery_codes={"type": "array", "items": {"type": "string", "pattern": "^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$"},
                                              "minItems": 10, "maxItems": 10,
                                              "description": "one-time codes instead of the app's code; shown this once"}),
    "CredentialsWithOtp": openapi.obj(["email", "password", "otp"], email=openapi.S, password=openapi.S,
                                      otp={"type": "string", "pattern": "^[0-9]{6}$"}),
    "PasswordResetRequest": openapi.obj(["email"], email=openapi.S),
    "PasswordResetConfirm": openapi.obj(["email", "code", "new_password"], email=openapi.S, code=openapi.S,
                                        new_password=openapi.PASSWORD),
    "ResetAccepted": openapi.obj(["status"], status=openapi.S, detail=openapi.S),
    "PasswordChanged": openapi.obj(["account_id", "status"], account_id=openapi.S, status=openapi.S),
})
openapi.OPERATIONS.extend([
    ("post", "/v1/auth/totp/enrolment", "Staff: start enrolling an authenticator app (TOTP secret and otpauth URI "
     "for the QR code; proven by the password)", "Accounts", None, "Credentials",
     {200: "TotpEnrolment", 401: "wrong email or password", 403: "otp-staff-only",
      409: "otp-already-enrolled (the head of office resets it with the password)"}),
    ("post", "/v1/auth/totp/enrolment/confirm", "Staff: confirm the authenticator app with its first code; "
     "answers an access token and ten one-time recovery codes", "Accounts", None, "CredentialsWithOtp",
     {200: "TokenWithRecoveryCodes", 401: "wrong email or password, or otp-invalid", 403: "otp-staff-only",
      409: "otp-enrolment-not-started or otp-already-enrolled"}),
    ("post", "/v1/auth/password-reset", "Send a one-time code (6 digits, 15 minutes, single use) to the account's contacts",
     "Accounts", None, "PasswordResetRequest", {202: "ResetAccepted"}),
    ("post", "/v1/auth/password-reset/confirm", "Set a new password with the code; wrong attempts are limited",
     "Accounts", None, "PasswordResetConfirm",
     {200: "PasswordChanged", 422: "reset-code-invalid (wrong, expired, used or too many attempts) or a weak password"}),
])
