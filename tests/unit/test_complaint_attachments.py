"""Evidence files of complaints: accepted by their bytes (JPEG, PNG, PDF), everything else refused
with attachment-type-not-allowed, and image metadata stripped for anonymous reports."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from servicekit.errors import DomainError
from services.complaint import attachments as files

SECRET = b"Serial-CAM-7731 Jl. Rahasia 12"


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (32, 24), (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"          # Make
    exif[0x9286] = SECRET.decode()      # UserComment-like free text (stored in IFD0 here)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), comment=b"comment " + SECRET)
    return out.getvalue()


def png_with_text() -> bytes:
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET.decode())
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 255)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def refused(data: bytes) -> DomainError:
    with pytest.raises(DomainError) as err:
        files.sniff(data)
    return err.value


def test_jpeg_png_pdf_are_recognised_by_their_bytes():
    assert files.sniff(jpeg_with_exif()) == files.JPEG
    assert files.sniff(png_with_text()) == files.PNG
    assert files.sniff(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF") == files.PDF


@pytest.mark.parametrize("data", [
    b"MZ\x90\x00\x03" + b"\x00" * 60,                 # Windows PE
    b"\x7fELF\x02\x01\x01" + b"\x00" * 40,             # ELF
    b"#!/bin/sh\nrm -rf /\n",                         # script
    b"PK\x03\x04\x14\x00" + b"\x00" * 30,              # zip, docx, apk, jar
    b"Rar!\x1a\x07\x00",
    b"7z\xbc\xaf\x27\x1c\x00\x04",
    b"\x1f\x8b\x08\x00",
    b"\xcf\xfa\xed\xfe\x07\x00",                       # Mach-O
    b"<html><script>alert(1)</script></html>",
    b"GIF89a\x01\x00\x01\x00",                         # an image, but not an allowed type
    b"just some text",
    b"%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj",
    b"%PDF-1.4\n1 0 obj << /S /Launch /F (cmd.exe) >> endobj",
])
def test_executables_archives_active_pdfs_and_unknown_types_are_refused(data):
    err = refused(data)
    assert err.kind == "invalid" and err.problem == "attachment-type-not-allowed"


def test_empty_and_oversized_files_are_refused():
    assert refused(b"").problem == "validation-error"
    big = b"\xff\xd8\xff\xe0" + b"\x00" * files.MAX_BYTES
    assert refused(big).problem == "attachment-too-large"
    assert files.MAX_BYTES < 4 * 1024 * 1024  # a request stays under gRPC's default message limit


def test_anonymous_jpeg_loses_exif_and_comment_but_stays_a_valid_image():
    original = jpeg_with_exif()
    assert SECRET in original and b"Exif" in original
    kind, kept = files.prepare(original, anonymous=False)
    assert kind == files.JPEG and kept == original  # a named report keeps the file as sent
    kind, stripped = files.prepare(original, anonymous=True)
    assert kind == files.JPEG and SECRET not in stripped and b"Exif" not in stripped
    img = Image.open(io.BytesIO(stripped))
    img.load()
    assert img.size == (32, 24) and not img.getexif()


def test_anonymous_png_loses_text_chunks_but_stays_a_valid_image():
    original = png_with_text()
    assert SECRET in original
    kind, stripped = files.prepare(original, anonymous=True)
    assert kind == files.PNG and SECRET not in stripped
    img = Image.open(io.BytesIO(stripped))
    img.load()
    assert img.size == (8, 8)


def test_a_malformed_jpeg_of_an_anonymous_report_is_refused_not_stored_with_metadata():
    broken = b"\xff\xd8\xff\xe1\x40\x00Exif\x00\x00" + SECRET  # APP1 length runs past the end
    with pytest.raises(DomainError) as err:
        files.prepare(broken, anonymous=True)
    assert err.value.problem == "attachment-type-not-allowed"
