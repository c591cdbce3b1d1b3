"""Each automatic check passes on a good capture and fails on the broken variant made for it;
the intake refuses non-images, truncated files and decompression bombs before decoding."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from servicekit.errors import DomainError
from services.biometrics_capture import config
from services.biometrics_capture.domain import imaging
from tests.unit import biometrics_samples as samples

SETTINGS = config.load({})
PHOTO, PRINT = SETTINGS.photo, SETTINGS.fingerprint


def checks_of(data: bytes) -> dict:
    _header, checks = imaging.photo_checks(data, PHOTO)
    return {c.name: c for c in checks}


@pytest.fixture(scope="module")
def good():
    return checks_of(samples.good_photo_jpeg())


def test_good_photo_passes_every_check(good):
    assert set(good) == {"resolution", "single_face", "face_height", "face_centred", "sharpness", "exposure",
                         "background_light", "background_plain", "eyes"}
    assert all(c.passed for c in good.values()), [c for c in good.values() if not c.passed]
    assert good["single_face"].value == 1 and good["eyes"].value == 2


def test_good_png_photo_passes():
    assert all(c.passed for c in checks_of(samples.good_photo_png()).values())


def test_large_photo_passes_and_reports_scale():
    checks = checks_of(samples.good_photo_jpeg(2000, 2500))
    assert all(c.passed for c in checks.values())
    assert checks["resolution"].value == pytest.approx(3.333, abs=0.01)


@pytest.mark.parametrize("maker, failing", [
    (samples.small_photo, {"resolution"}),
    (samples.blurred_photo, {"sharpness"}),
    (samples.off_centre_photo, {"face_centred"}),
    (samples.busy_background_photo, {"background_plain"}),
    (samples.covered_eyes_photo, {"eyes"}),
])
def test_broken_photo_fails_exactly_its_check(maker, failing):
    checks = checks_of(maker())
    assert {n for n, c in checks.items() if not c.passed} == failing


def test_dark_photo_fails_exposure_and_background(good):
    checks = checks_of(samples.dark_photo())
    assert not checks["exposure"].passed and checks["exposure"].value < PHOTO["exposure_min"]
    assert not checks["background_light"].passed
    assert checks["resolution"].passed and checks["single_face"].passed


def test_two_faces_fail_single_face():
    checks = checks_of(samples.two_faces_photo())
    assert not checks["single_face"].passed and checks["single_face"].value == 2


def test_no_face_fails_face_checks_but_reports_all():
    checks = checks_of(samples.no_face_photo())
    assert checks["single_face"].value == 0
    assert {n for n, c in checks.items() if not c.passed} == {
        "single_face", "face_height", "face_centred", "sharpness", "exposure", "eyes"}


def test_tiny_face_fails_face_height():
    checks = checks_of(samples.tiny_face_photo())
    assert checks["single_face"].passed
    assert not checks["face_height"].passed and checks["face_height"].value < PHOTO["face_height_min"]


def test_thresholds_come_from_configuration():
    strict = config.load({"BIOMETRICS_PHOTO_SHARPNESS_MIN": "100000"})
    _h, checks = imaging.photo_checks(samples.good_photo_jpeg(), strict.photo)
    sharp = {c.name: c for c in checks}["sharpness"]
    assert not sharp.passed and "100000" in sharp.threshold


# -- intake safety ---------------------------------------------------------------------------

def problem_of(data: bytes, t=PHOTO) -> str:
    with pytest.raises(DomainError) as err:
        imaging.photo_checks(data, t)
    assert err.value.kind == "invalid"
    return err.value.problem


def test_not_an_image_is_refused():
    assert problem_of(b"%PDF-1.7 not a photo" * 10) == "unsupported-image-format"
    assert problem_of(b"") == "invalid-image"


def test_truncated_jpeg_and_png_are_refused():
    jpeg, png = samples.good_photo_jpeg(), samples.good_photo_png()
    assert problem_of(jpeg[: len(jpeg) // 2]) == "truncated-image"
    assert problem_of(png[: len(png) // 2]) == "truncated-image"


def test_corrupt_png_chunk_is_refused():
    png = bytearray(samples.good_photo_png())
    png[40] ^= 0xFF  # inside the first IDAT chunk: its CRC no longer matches
    assert problem_of(bytes(png)) == "invalid-image"


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims a huge size (a decompression bomb)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return imaging.PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + \
        chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_from_the_header():
    assert problem_of(_png_claiming(50_000, 50_000)) == "image-too-large"


def test_jpeg_bomb_is_refused_from_the_sof_header():
    jpeg = bytearray(samples.good_photo_jpeg())
    sof = next(i for i in range(2, len(jpeg) - 1) if jpeg[i] == 0xFF and jpeg[i + 1] in (0xC0, 0xC2))
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)  # height, width
    assert problem_of(bytes(jpeg)) == "image-too-large"


def test_oversized_file_is_refused():
    assert problem_of(b"\xff\xd8\xff" + b"\0" * (PHOTO["max_bytes"] + 1)) == "image-too-large"


# -- fingerprints ----------------------------------------------------------------------------

def print_checks(data: bytes) -> dict:
    _h, checks = imaging.fingerprint_checks(data, PRINT)
    return {c.name: c for c in checks}


def test_ridge_pattern_passes_quality():
    checks = print_checks(samples.good_print_png())
    assert all(c.passed for c in checks.values())
    assert checks["quality"].value > 70


def test_flat_noise_fails_quality():
    checks = print_checks(samples.bad_print_png())
    assert not checks["quality"].passed and checks["quality"].value < PRINT["min_quality"]


def test_blank_print_fails_ridge_area():
    checks = print_checks(samples.png_grey(np.full((500, 400), 240, np.uint8)))
    assert not checks["ridge_area"].passed


def fp_problem(data: bytes) -> str:
    with pytest.raises(DomainError) as err:
        imaging.fingerprint_checks(data, PRINT)
    return err.value.problem


def test_fingerprint_format_rules():
    colour = samples.encode(np.dstack([samples.fingerprint()] * 3), ".png")
    assert fp_problem(colour) == "wrong-colour-depth"
    sixteen = samples.encode(samples.fingerprint().astype(np.uint16) * 256, ".png")
    assert fp_problem(sixteen) == "wrong-colour-depth"
    assert fp_problem(samples.png_grey(samples.fingerprint(150, 500))) == "wrong-image-size"
    assert fp_problem(samples.png_grey(samples.fingerprint(400, 1100))) == "wrong-image-size"
    assert fp_problem(samples.png_grey(samples.fingerprint(), ppi=300)) == "wrong-resolution"
    assert fp_problem(samples.encode(samples.fingerprint(), ".jpg")) == "unsupported-image-format"


def test_fingerprint_without_stated_resolution_is_accepted():
    checks = print_checks(samples.png_grey(samples.fingerprint(), ppi=None))
    assert all(c.passed for c in checks.values())
