"""Biometric images are stored without what the camera or phone added: GPS, device, comments."""
from __future__ import annotations

import cv2
import numpy as np

from services.biometrics_capture.domain import imaging
from tests.unit import biometrics_samples as samples


def test_png_text_chunks_are_dropped_and_the_pixels_kept():
    original = samples.good_photo_png()
    tagged = samples.with_gps_text(original)
    assert b"GPS" in tagged
    clean = imaging.strip_metadata(tagged, "png")
    assert b"GPS" not in clean and b"tEXt" not in clean
    assert np.array_equal(cv2.imdecode(np.frombuffer(clean, np.uint8), cv2.IMREAD_UNCHANGED),
                          cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_UNCHANGED))


def test_jpeg_exif_and_comments_are_dropped_and_the_pixels_kept():
    original = samples.good_photo_jpeg()
    tagged = samples.with_exif(original)
    clean = imaging.strip_metadata(tagged, "jpeg")
    assert b"GPSLatitude" not in clean and b"comment" not in clean
    assert np.array_equal(cv2.imdecode(np.frombuffer(clean, np.uint8), cv2.IMREAD_COLOR),
                          cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_COLOR))
    assert imaging.read_header(clean, 10_000_000, 50_000_000).format == imaging.read_header(
        original, 10_000_000, 50_000_000).format
