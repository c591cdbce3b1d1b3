"""A small HTTP client for tests and the demo: talks to the gateway as a client app would."""
from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
import urllib.error
import urllib.request
from dataclasses import dataclass


# What each service type needs uploaded before booking (adults), and a tiny valid PDF to upload.
REQUIRED_DOCUMENTS = {"NEW": ("KTP", "KK", "BIRTH_CERTIFICATE"), "RENEWAL": ("KTP", "KK", "OLD_PASSPORT"),
                      "REPLACEMENT_LOST": ("KTP", "KK", "POLICE_LOSS_REPORT"),
                      "REPLACEMENT_DAMAGED": ("KTP", "KK", "OLD_PASSPORT")}


def pdf_of(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A PDF whose object n (1-based) is objects[n-1] (object 1 the catalog), with a correct
    cross-reference table: uploads are parsed and rewritten by qpdf (servicekit/pdf.py)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    return bytes(out)


SAMPLE_PDF = pdf_of([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"])


@dataclass
class Reply:
    status: int
    body: dict | list | str | None
    headers: dict

    @property
    def json(self):
        return self.body


class Api:
    """`patience_s`: for that long a 503 is waited out as it says (Retry-After, at most 5 s a time)
    and the request sent again, as a person does; 0 (the default) returns every answer as it came."""

    def __init__(self, base_url: str, patience_s: float = 0):
        self.base, self.patience_s = base_url.rstrip("/"), patience_s

    def request(self, method: str, path: str, body=None, patience_s: float | None = None, **kw) -> Reply:
        until = time.monotonic() + (self.patience_s if patience_s is None else patience_s)
        while True:
            reply = self._send(method, path, body, **kw)
            if reply.status != 503 or time.monotonic() >= until:
                return reply
            time.sleep(min(5.0, float(reply.headers.get("Retry-After") or 1)))

    def _send(self, method: str, path: str, body=None, token: str | None = None, headers=None,
              raw: bytes | None = None, content_type: str = "application/json", timeout: float = 30) -> Reply:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Reply(resp.status, _decode(resp.read(), resp.headers), dict(resp.headers))
        except urllib.error.HTTPError as err:
            return Reply(err.code, _decode(err.read(), err.headers), dict(err.headers))

    def get(self, path, **kw): return self.request("GET", path, **kw)
    def post(self, path, body=None, **kw): return self.request("POST", path, body, **kw)
    def put(self, path, body=None, **kw): return self.request("PUT", path, body, **kw)
    def delete(self, path, **kw): return self.request("DELETE", path, **kw)

    # -- journeys ----------------------------------------------------------------------------
    def register_applicant(self, birth: dt.date | None = None, female: bool = False) -> dict:
        """Register a fresh applicant with a valid random NIK; returns its details and token."""
        birth = birth or dt.date(1970, 1, 1) + dt.timedelta(days=random.randrange(0, 9000))  # adults
        day = birth.day + (40 if female else 0)
        nik = f"2171{random.randrange(10, 99)}{day:02d}{birth.month:02d}{birth.year % 100:02d}{random.randrange(1, 9999):04d}"
        email = f"applicant-{random.getrandbits(48):x}@example.id"
        person = {"nik": nik, "full_name": "Test Applicant", "birth_date": birth.isoformat(), "email": email,
                  "phone": f"0812{random.randrange(10**7, 10**8)}", "password": "Sandi-Rahasia-2026"}
        reply = self.post("/v1/accounts", person)
        assert reply.status == 201, reply.body
        person["account_id"] = reply.body["account_id"]
        person["token"] = self.login(email, person["password"])
        return person

    def login(self, email: str, password: str) -> str:
        # A 503 says "nothing was done, retry after Retry-After" (e.g. a first staff sign-in that
        # rehashes the password passing the answer budget on a loaded machine); a person retries too.
        reply = self.post("/v1/auth/token", {"email": email, "password": password},
                          patience_s=max(self.patience_s, 20))
        assert reply.status == 200, reply.body
        return reply.body["access_token"]

    def create_application(self, token: str, office_id: str = "TBK", documents: bool = True, **overrides) -> Reply:
        """Create an application and (by default) upload the documents its service type needs."""
        body = {"office_id": office_id, "passport_type": "ELECTRONIC", "validity_years": 10,
                "service_type": "NEW", "express": False, "priority_group": None}
        body.update(overrides)
        reply = self.post("/v1/applications", body, token=token)
        if documents and reply.status == 201:
            for kind in REQUIRED_DOCUMENTS[body["service_type"]]:
                uploaded = self.upload_document(token, reply.body["application_id"], kind)
                assert uploaded.status == 201, uploaded.body
        return reply

    def upload_document(self, token: str, application_id: str, kind: str, content: bytes = None,
                        filename: str = "scan.pdf") -> Reply:
        return self.post_multipart(f"/v1/applications/{application_id}/documents", {"kind": kind},
                                   {"file": (filename, SAMPLE_PDF if content is None else content)}, token)

    def post_multipart(self, path: str, fields: dict, files: dict, token: str | None = None, headers=None) -> Reply:
        """POST multipart/form-data: `fields` name -> text, `files` name -> (filename, bytes)."""
        boundary = "----passport" + uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                 for name, value in fields.items()]
        parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  f'Content-Type: application/octet-stream\r\n\r\n'.encode() + content + b"\r\n"
                  for name, (filename, content) in files.items()]
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, raw=b"".join(parts), token=token, headers=headers,
                            content_type=f"multipart/form-data; boundary={boundary}")

    def first_working_slot(self, office_id: str = "TBK", lane: str = "REGULAR", skip_days: int = 1) -> dict:
        """A slot with room on the first working day after `skip_days` days."""
        day = dt.date.today() + dt.timedelta(days=skip_days)
        for _ in range(30):
            items = self.get(f"/v1/offices/{office_id}/slots?date={day}&lane={lane}").body["items"]
            free = [s for s in items if s["remaining"] > 0]
            if free:
                return free[0]
            day += dt.timedelta(days=1)
        raise AssertionError("no free slot in 30 days")


def _decode(raw: bytes, headers):
    ctype = headers.get("Content-Type", "")
    if "json" in ctype and raw:
        return json.loads(raw)
    if ctype.startswith(("image/", "application/pdf", "application/octet-stream")):
        return raw  # files stay bytes
    return raw.decode(errors="replace") if raw else None
