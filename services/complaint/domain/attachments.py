"""Evidence files: what a file IS is decided from its bytes (magic numbers), never from the name or
the client's content type. Only JPEG, PNG and PDF are accepted; executables (MZ/PE, ELF, Mach-O,
scripts with #!), archives (zip-based files such as docx/apk/jar, rar, 7z, gzip) and anything else
are refused. Pure functions, no I/O.

Image metadata that may identify the reporter or a place (EXIF with GPS position and camera
serial, XMP, IPTC, MPF images appended after the picture, PNG text chunks) is stripped before
storing, for every complaint. PDFs are parsed, cleaned of active content and metadata and rewritten
by the use case (servicekit/pdf.py, qpdf): a filter on literal names here missed `/J#61vaScript`.
"""
from __future__ import annotations

import struct

from servicekit.errors import DomainError

MAX_BYTES = 4_000_000  # below gRPC's default 4 MiB message limit (request = file + a few fields)
KINDS = ("EVIDENCE", "POLICE_LOSS_REPORT")

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
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
        return PDF
    raise not_allowed("the file is not a JPEG, PNG or PDF")


# JPEG application segments kept, by marker and the identifier their payload starts with: the ICC
# colour profile (APP2) and Adobe's colour transform (APP14), which decoders need to show the
# colours right; the JFIF header (APP0) is rewritten without its thumbnail. Every other APPn (EXIF
# with GPS and serial numbers, XMP, MPF, IPTC, maker data) and comments are dropped.
JPEG_KEPT_APPS = {0xE2: b"ICC_PROFILE\x00", 0xEE: b"Adobe"}
JPEG_NO_LENGTH = {0x01, 0xD8, *range(0xD0, 0xD8)}  # TEM, SOI, RSTn
ORIENTATION_TAG = 0x0112
# PNG chunks kept: the image itself and how to show it (colour, transparency, animation); text
# (tEXt, zTXt, iTXt), eXIf, tIME, C2PA manifests (caBX), private and unknown chunks are dropped.
PNG_KEPT = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
                      b"cICP", b"mDCv", b"cLLi", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT"})


def exif_orientation(payload: bytes) -> int | None:
    """The Orientation (1-8) in an APP1 EXIF payload, or None (absent or unreadable)."""
    if not payload.startswith(b"Exif\x00\x00"):
        return None
    tiff = payload[6:]
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack(order + "H", tiff[ifd:ifd + 2])
    for k in range(count):
        entry = tiff[ifd + 2 + 12 * k:ifd + 14 + 12 * k]
        if len(entry) < 12:
            return None
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == ORIENTATION_TAG and kind == 3:  # SHORT
            (value,) = struct.unpack(order + "H", entry[8:10])
            return value if 1 <= value <= 8 else None
    return None


def orientation_segment(value: int) -> bytes:
    """A minimal APP1 EXIF segment holding only the Orientation, so a photo taken sideways on a
    phone is still shown upright after its EXIF is dropped."""
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1) + \
        struct.pack(">HHIH2x", ORIENTATION_TAG, 3, 1, value) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _scan_end(data: bytes, i: int) -> int:
    """Where the entropy-coded data starting at `i` ends: the next marker (0xFF followed by neither
    a stuffed 0x00 nor a restart marker), or len(data) when the file is truncated."""
    n = len(data)
    while True:
        k = data.find(b"\xff", i)
        if k < 0 or k + 1 >= n:
            return n
        nxt = data[k + 1]
        if nxt == 0xFF:  # fill byte before a marker
            i = k + 1
        elif nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
            i = k + 2
        else:
            return k


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG with only the segments needed to show it (JPEG_KEPT_APPS, tables, frames, scans),
    the JFIF thumbnail emptied, the EXIF orientation kept alone, and nothing after the end of the
    image (phones append further images with their own metadata there). Scans are copied as is."""
    out, i, n = bytearray(b"\xff\xd8"), 2, len(data)
    orientation = None
    while i < n:
        if data[i] != 0xFF or i + 1 >= n:
            raise not_allowed("the JPEG is malformed")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # end of image: drop whatever follows
            out += b"\xff\xd9"
            break
        if marker in JPEG_NO_LENGTH:
            out += data[i:i + 2]
            i += 2
            continue
        if i + 4 > n:
            raise not_allowed("the JPEG is malformed")
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        end = i + 2 + length
        if length < 2 or end > n:
            raise not_allowed("the JPEG is malformed")
        payload = data[i + 4:end]
        if marker == 0xDA:  # start of scan: header, then entropy-coded data up to the next marker
            stop = _scan_end(data, end)
            out += data[i:stop]
            i = stop
            continue
        if marker == 0xE1 and orientation is None:
            orientation = exif_orientation(payload)
            if orientation is not None and orientation != 1:
                out += orientation_segment(orientation)
        elif marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            # JFIF header without its optional thumbnail (a thumbnail can show what was cropped away)
            head = payload[:12] + b"\x00\x00"
            out += b"\xff\xe0" + struct.pack(">H", len(head) + 2) + head
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE:
            wanted = JPEG_KEPT_APPS.get(marker)
            if wanted is not None and payload.startswith(wanted):
                out += data[i:end]
        else:
            out += data[i:end]
        i = end
    return bytes(out)


def strip_png(data: bytes) -> bytes:
    """The PNG with only the chunks in PNG_KEPT, up to IEND (anything after it is dropped)."""
    out, i, n = bytearray(PNG_SIGNATURE), len(PNG_SIGNATURE), len(data)
    while i < n:
        if i + 8 > n:
            raise not_allowed("the PNG is malformed")
        (length,) = struct.unpack(">I", data[i:i + 4])
        ctype = data[i + 4:i + 8]
        end = i + 12 + length
        if end > n:
            raise not_allowed("the PNG is malformed")
        if ctype in PNG_KEPT:
            out += data[i:end]
        i = end
        if ctype == b"IEND":
            break
    return bytes(out)


def prepare(data: bytes) -> tuple[str, bytes]:
    """(content type, bytes to store): images of every complaint lose their metadata (the office
    needs the picture, not where, when or with which camera it was taken); PDFs come back as sent,
    for the use case to normalise (servicekit/pdf.py)."""
    content_type = sniff(data)
    if content_type == JPEG:
        data = strip_jpeg(data)
    elif content_type == PNG:
        data = strip_png(data)
    return content_type, data
