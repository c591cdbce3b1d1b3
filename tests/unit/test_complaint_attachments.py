"""Evidence files of complaints: accepted by their bytes (JPEG, PNG, PDF), everything else refused
with attachment-type-not-allowed, and image metadata stripped from every stored image (only what
is needed to show the picture is kept); PDFs are stored as sent."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from servicekit.errors import DomainError
from services.complaint.domain import attachments as files

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
])
def test_executables_archives_and_unknown_types_are_refused(data):
    err = refused(data)
    assert err.kind == "invalid" and err.problem == "attachment-type-not-allowed"


def test_empty_and_oversized_files_are_refused():
    assert refused(b"").problem == "validation-error"
    big = b"\xff\xd8\xff\xe0" + b"\x00" * files.MAX_BYTES
    assert refused(big).problem == "attachment-too-large"
    assert files.MAX_BYTES < 4 * 1024 * 1024  # a request stays under gRPC's default message limit


def jpeg(**save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, "JPEG", **save)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of a JPEG's header segments, up to the first scan."""
    out, i = [], 2
    while data[i + 1] != 0xDA:
        length = int.from_bytes(data[i + 2:i + 4], "big")
        out.append((data[i + 1], data[i + 4:i + 2 + length]))
        i += 2 + length
    return out


def test_every_jpeg_loses_exif_and_comment_but_keeps_its_pixels():
    original = jpeg_with_exif()
    assert SECRET in original and b"Exif" in original
    for _ in range(2):  # a named report too: the office needs the picture, not where it was taken
        kind, stripped = files.prepare(original)
        assert kind == files.JPEG and SECRET not in stripped and b"Exif" not in stripped
        img = decoded(stripped)
        assert img.size == (32, 24) and not img.getexif()
        assert img.tobytes() == decoded(original).tobytes()  # the scan data is copied as is


def test_the_orientation_alone_survives_so_phone_photos_stay_upright():
    exif = Image.Exif()
    exif[0x0112] = 6                    # rotate 90 degrees clockwise to show
    exif[0x010F] = "SecretCam"
    exif[0x8825] = {2: (6.0, 10.0, 30.0)}  # a GPS position
    original = jpeg(exif=exif.tobytes())
    _kind, stripped = files.prepare(original)
    kept = decoded(stripped).getexif()
    assert dict(kept) == {0x0112: 6}
    assert b"SecretCam" not in stripped and files.exif_orientation(files.orientation_segment(3)[4:]) == 3
    _kind, upright = files.prepare(jpeg(exif=Image.Exif().tobytes()))
    assert not any(marker == 0xE1 for marker, _ in segments(upright))  # nothing to keep: no EXIF at all


def test_xmp_iptc_and_unknown_app_segments_go_colour_profile_and_jfif_stay():
    from PIL import ImageCms
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = jpeg(icc_profile=icc)
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + SECRET + b"</x:xmpmeta>"
    extra = b"".join(bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload
                     for marker, payload in ((0xE1, xmp), (0xED, b"Photoshop 3.0\x00" + SECRET),
                                             (0xEB, b"JP" + SECRET), (0xE2, b"MPF\x00" + SECRET)))
    original = original[:2] + extra + original[2:]
    _kind, stripped = files.prepare(original)
    assert SECRET not in stripped
    markers = [m for m, _ in segments(stripped)]
    assert 0xE0 in markers and 0xE2 in markers and not {0xE1, 0xEB, 0xED} & set(markers)
    assert decoded(stripped).info.get("icc_profile") == icc


def test_a_jfif_thumbnail_is_emptied():
    original = jpeg()
    app0 = [p for m, p in segments(original) if m == 0xE0][0]
    thumb = app0[:12] + b"\x02\x01" + SECRET[:6]  # a 2x1 RGB thumbnail
    with_thumb = original[:4] + (len(thumb) + 2).to_bytes(2, "big") + thumb + original[4 + len(app0) + 2:]
    assert decoded(with_thumb).size == (32, 24)
    _kind, stripped = files.prepare(with_thumb)
    assert [p for m, p in segments(stripped) if m == 0xE0] == [app0[:12] + b"\x00\x00"]
    assert SECRET[:6] not in stripped and decoded(stripped).size == (32, 24)


def test_images_appended_after_the_end_of_a_jpeg_are_dropped():
    second = jpeg_with_exif()  # phones append further pictures (MPF, depth maps) with their own EXIF
    original = jpeg() + second
    _kind, stripped = files.prepare(original)
    assert stripped.endswith(b"\xff\xd9") and SECRET not in stripped
    assert stripped.count(b"\xff\xd8") == 1 and decoded(stripped).size == (32, 24)


def test_progressive_jpegs_with_many_scans_and_restart_markers_stay_intact():
    img = Image.effect_noise((64, 48), 80).convert("RGB")
    for options in ({"progressive": True}, {"restart_marker_blocks": 1}):
        out = io.BytesIO()
        img.save(out, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00", comment=SECRET, **options)
        original = out.getvalue()
        _kind, stripped = files.prepare(original)
        assert SECRET not in stripped
        assert decoded(stripped).tobytes() == decoded(original).tobytes()
    assert original.count(b"\xff\xd0") > 1  # restart markers were there and survived


def test_every_png_loses_text_exif_time_and_private_chunks_and_what_follows_iend():
    import struct
    import zlib

    def chunk(ctype: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))

    original = png_with_text()
    iend = original.index(b"IEND") - 4
    extra = chunk(b"eXIf", b"MM\x00*" + SECRET) + chunk(b"caBX", SECRET) + chunk(b"prVt", SECRET) + \
        chunk(b"tIME", b"\x07\xea\x01\x02\x03\x04\x05")
    original = original[:iend] + extra + original[iend:] + b"trailing " + SECRET
    assert SECRET in original
    kind, stripped = files.prepare(original)
    assert kind == files.PNG and SECRET not in stripped and b"tIME" not in stripped
    assert stripped.endswith(b"IEND\xaeB`\x82")
    img = decoded(stripped)
    assert img.size == (8, 8) and img.tobytes() == decoded(original).tobytes()


def test_a_pdf_is_left_to_the_use_case_to_normalise():
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n2 0 obj << /Author (" + SECRET + b") >> endobj\n%%EOF"
    assert files.prepare(pdf) == (files.PDF, pdf)  # servicekit/pdf.py cleans it (test_servicekit_pdf.py)


@pytest.mark.parametrize("broken", [
    b"\xff\xd8\xff\xe1\x40\x00Exif\x00\x00" + SECRET,   # APP1 length runs past the end
    b"\xff\xd8\xff\xe0\x00",                             # cut inside a segment header
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00garbage",  # no marker
])
def test_a_malformed_jpeg_is_refused_not_stored_with_metadata(broken):
    with pytest.raises(DomainError) as err:
        files.prepare(broken)
    assert err.value.problem == "attachment-type-not-allowed"


def test_a_truncated_scan_is_kept_as_far_as_it_goes():
    out = io.BytesIO()
    Image.effect_noise((64, 48), 80).convert("RGB").save(out, "JPEG", comment=SECRET)
    cut = out.getvalue()[:-200]  # an upload that lost its tail: no end-of-image marker
    _kind, stripped = files.prepare(cut)
    assert SECRET not in stripped and not stripped.endswith(b"\xff\xd9")
    assert stripped.endswith(cut[-150:])
