"""Evidence files: what a file IS is decided from its bytes (magic numbers), never from the name or
the client's content type. Only JPEG, PNG and PDF are accepted; executables (MZ/PE, ELF, Mach-O,
scripts with #!), archives (zip-based files such as docx/apk/jar, rar, 7z, gzip) and anything else
are refused. Pure functions, no I/O.

For anonymous complaints the image metadata that may identify the reporter (EXIF with GPS
position and camera serial, XMP, IPTC, PNG text chunks) is stripped before storing.
"""
from __future__ import annotations

import struct

from servicekit.errors import DomainError

MAX_BYTES = 4_000_000  # below gRPC's default 4 MiB message limit (request = file + a few fields)
KINDS = ("EVIDENCE", "POLICE_LOSS_REPORT")

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Active content inside a PDF that a reviewer's viewer could run or open.
PDF_ACTIVE = (b"/JavaScript", b"/Launch", b"/EmbeddedFile")
# Known dangerous signatures, named in the refusal (everything unknown is refused as well).
DANGEROUS = ((b"MZ", "a Windows executable"), (b"\x7fELF", "an ELF executable"), (b"#!", "a script"),
             (b"PK\x03\x04", "a zip-based archive"), (b"PK\x05\x06", "a zip archive"),
             (b"Rar!", "a RAR archive"), (b"7z\xbc\xaf\x27\x1c", "a 7z archive"), (b"\x1f\x8b", "a gzip file"),
             (b"\xcf\xfa\xed\xfe", "a Mach-O executable"), (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
             (b"\xca\xfe\xba\xbe", "a Java class or Mach-O file"))


def not_allowed(detail: str) -> DomainError:
    return DomainError("invalid", "attachment-type-not-allowed", detail,
                       [{"field": "file", "message": "only JPEG, PNG or PDF files are accepted"}])


def sniff(data: bytes) -> str:
    """The content type of `data` from its magic bytes; DomainError for anything not allowed."""
    if not data:
        raise DomainError("invalid", "validation-error", "the uploaded file is empty",
                          [{"field": "file", "message": "file is empty"}])
    if len(data) > MAX_BYTES:
        raise DomainError("invalid", "attachment-too-large", f"attachments are at most {MAX_BYTES} bytes",
                          [{"field": "file", "message": f"at most {MAX_BYTES} bytes"}])
    for magic, what in DANGEROUS:
        if data.startswith(magic):
            raise not_allowed(f"the file is {what}; only JPEG, PNG or PDF files are accepted")
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(PNG_SIGNATURE):
        return PNG
    if data.startswith(b"%PDF-"):
        if any(marker in data for marker in PDF_ACTIVE):
            raise not_allowed("the PDF contains active content (JavaScript, launch actions or embedded files)")
        return PDF
    raise not_allowed("the file is not a JPEG, PNG or PDF")


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG without APP1 (EXIF/XMP), APP13 (IPTC) and COM segments; image data untouched."""
    out, i, n = bytearray(b"\xff\xd8"), 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            raise not_allowed("the JPEG is malformed")
        marker = data[i + 1] if i + 1 < n else None
        if marker is None:
            raise not_allowed("the JPEG is malformed")
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9 or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # EOI, RSTn, TEM: no length
            out += data[i:i + 2]
            i += 2
            continue
        if i + 4 > n:
            raise not_allowed("the JPEG is malformed")
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        end = i + 2 + length
        if length < 2 or end > n:
            raise not_allowed("the JPEG is malformed")
        if marker == 0xDA:  # start of scan: the rest is entropy-coded image data
            out += data[i:]
            return bytes(out)
        if marker not in (0xE1, 0xED, 0xFE):
            out += data[i:end]
        i = end
    return bytes(out)


def strip_png(data: bytes) -> bytes:
    """The PNG without eXIf, tEXt, iTXt, zTXt and tIME chunks."""
    out, i, n = bytearray(PNG_SIGNATURE), len(PNG_SIGNATURE), len(data)
    while i < n:
        if i + 8 > n:
            raise not_allowed("the PNG is malformed")
        (length,) = struct.unpack(">I", data[i:i + 4])
        ctype = data[i + 4:i + 8]
        end = i + 12 + length
        if end > n:
            raise not_allowed("the PNG is malformed")
        if ctype not in (b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME"):
            out += data[i:end]
        i = end
        if ctype == b"IEND":
            break
    return bytes(out)


def prepare(data: bytes, anonymous: bool) -> tuple[str, bytes]:
    """(content type, bytes to store). Images of anonymous complaints lose their metadata."""
    content_type = sniff(data)
    if anonymous and content_type == JPEG:
        data = strip_jpeg(data)
    elif anonymous and content_type == PNG:
        data = strip_png(data)
    return content_type, data
