"""Test images made on the fly, without shipping personal data.

Photos are composed from scikit-image's sample photograph `astronaut()` (public domain, NASA):
the face is cut out with a soft elliptical mask, scaled and placed on a plain light background,
passport style; broken variants are derived from it on purpose. Fingerprints are synthesised as
oriented sinusoidal ridge patterns with noise (good) or flat noise (bad).
"""
from __future__ import annotations

import functools
import struct
import zlib

import cv2
import numpy as np

# Where the astronaut's face is in the 512x512 sample (found once with OpenCV's Haar detector).
_FACE_CX, _FACE_CY, _FACE_H = 224, 118, 95


@functools.lru_cache(maxsize=1)
def _astronaut_bgr() -> np.ndarray:
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def _head(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The head cut out of the sample, scaled; with its soft elliptical alpha mask (0..1)."""
    src = _astronaut_bgr()
    half_w, half_h = 78, 100
    x0, y0 = _FACE_CX - half_w, _FACE_CY - half_h - 5
    crop = src[max(0, y0):y0 + 2 * half_h + 10, x0:x0 + 2 * half_w]
    mask = np.zeros(crop.shape[:2], np.float32)
    cv2.ellipse(mask, (half_w, half_h + 5), (half_w - 8, half_h - 2), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)
    size = (int(crop.shape[1] * scale), int(crop.shape[0] * scale))
    return (cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC),
            cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR))


def _paste(canvas: np.ndarray, head: np.ndarray, mask: np.ndarray, cx: int, cy: int) -> None:
    h, w = head.shape[:2]
    x0, y0 = cx - w // 2, cy - h // 2
    region = canvas[y0:y0 + h, x0:x0 + w].astype(np.float32)
    alpha = mask[..., None]
    canvas[y0:y0 + h, x0:x0 + w] = (alpha * head + (1 - alpha) * region).astype(np.uint8)


def passport_photo(width: int = 600, height: int = 750, background: int = 235) -> np.ndarray:
    """A passport-style colour photo (BGR): one centred face, plain light background."""
    canvas = np.full((height, width, 3), background, np.uint8)
    scale = 0.6 * height / (2 * 100)  # head (crown to chin) ~ 60% of the image height
    head, mask = _head(scale)
    # shoulders: a dark jacket at the bottom
    cv2.ellipse(canvas, (width // 2, height), (int(width * 0.42), int(height * 0.22)), 0, 180, 360,
                (60, 50, 40), -1)
    _paste(canvas, head, mask, width // 2, int(height * 0.42))
    return canvas


def encode(image: np.ndarray, fmt: str = ".jpg") -> bytes:
    ok, buf = cv2.imencode(fmt, image, [cv2.IMWRITE_JPEG_QUALITY, 92] if fmt == ".jpg" else [])
    assert ok
    return buf.tobytes()


def good_photo_jpeg(width: int = 600, height: int = 750) -> bytes:
    return encode(passport_photo(width, height))


def good_photo_png() -> bytes:
    return encode(passport_photo(), ".png")


def blurred_photo() -> bytes:
    return encode(cv2.GaussianBlur(passport_photo(), (0, 0), 6))


def dark_photo() -> bytes:
    return encode((passport_photo().astype(np.float32) * 0.22).astype(np.uint8))


def two_faces_photo() -> bytes:
    canvas = np.full((750, 900, 3), 235, np.uint8)
    head, mask = _head(0.3 * 750 / 200)
    _paste(canvas, head, mask, 230, 340)
    _paste(canvas, head, mask, 670, 340)
    return encode(canvas)


def no_face_photo() -> bytes:
    canvas = np.full((750, 600, 3), 235, np.uint8)
    cv2.ellipse(canvas, (300, 750), (250, 160), 0, 180, 360, (60, 50, 40), -1)
    return encode(canvas)


def small_photo() -> bytes:
    return encode(cv2.resize(passport_photo(), (320, 400), interpolation=cv2.INTER_AREA))


def off_centre_photo() -> bytes:
    img = passport_photo(900, 750)
    shifted = np.full_like(img, 235)
    shifted[:, :650] = img[:, 250:]  # face moved from the centre to the left third
    return encode(shifted[:, :900])


def tiny_face_photo() -> bytes:
    canvas = np.full((750, 600, 3), 235, np.uint8)
    head, mask = _head(0.18 * 750 / 200)
    _paste(canvas, head, mask, 300, 330)
    return encode(canvas)


def busy_background_photo() -> bytes:
    img = passport_photo()
    stripes = np.where((np.arange(img.shape[1]) // 25) % 2 == 0, 170, 250).astype(np.uint8)
    pattern = np.broadcast_to(stripes[None, :, None], img.shape)
    border = np.ones(img.shape[:2], bool)
    border[80:, 80:-80] = False
    img[border] = pattern[border]  # light but striped: not a plain background
    return encode(img)


# -- fingerprints --------------------------------------------------------------------------

def fingerprint(width: int = 400, height: int = 500, seed: int = 1, period: float = 9.0) -> np.ndarray:
    """A ridge-like greyscale image: concentric-ish oriented sinusoids inside an elliptical pad."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width / 2, height * 0.55
    # a loop-like pattern: ridges follow ellipses around a core, bent by a slow warp
    r = np.sqrt(((xx - cx) / 1.0) ** 2 + ((yy - cy) / 1.3) ** 2)
    warp = 6 * np.sin(xx / 47.0) + 4 * np.cos(yy / 53.0)
    ridges = np.sin(2 * np.pi * (r + warp) / period)
    img = 128 + 90 * ridges + rng.normal(0, 18, ridges.shape)
    pad = np.zeros((height, width), np.float32)
    cv2.ellipse(pad, (int(cx), int(height / 2)), (int(width * 0.42), int(height * 0.46)), 0, 0, 360, 1.0, -1)
    pad = cv2.GaussianBlur(pad, (0, 0), 6)
    img = pad * img + (1 - pad) * 245
    return np.clip(img, 0, 255).astype(np.uint8)


def noise_print(width: int = 400, height: int = 500, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(128, 50, (height, width)), 0, 255).astype(np.uint8)


def png_grey(image: np.ndarray, ppi: int | None = 500) -> bytes:
    """An 8-bit greyscale PNG, with a pHYs chunk stating `ppi` (none when ppi is None)."""
    data = encode(image, ".png")
    if ppi is None:
        return data
    ppm = round(ppi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    ihdr_end = 8 + 25  # signature + IHDR chunk (4 length + 4 type + 13 data + 4 crc)
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def good_print_png() -> bytes:
    return png_grey(fingerprint())


def bad_print_png() -> bytes:
    return png_grey(noise_print())


def covered_eyes_photo() -> bytes:
    """Eyes smeared out (e.g. closed or hidden by glare): the face is still found, the eyes not."""
    img = passport_photo()
    img[250:300, 205:400] = cv2.GaussianBlur(img[250:300, 205:400], (0, 0), 8)
    return encode(img)


# -- metadata a phone adds (stripped before storage) --------------------------------------------
def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def with_gps_text(png: bytes) -> bytes:
    """A tEXt chunk right after IHDR, as phone apps write location."""
    ihdr_end = 8 + 12 + 13
    return png[:ihdr_end] + png_chunk(b"tEXt", b"GPS\x00-0.9876,104.1234") + png[ihdr_end:]


def with_exif(jpeg: bytes) -> bytes:
    exif = b"Exif\x00\x00MM\x00\x2a GPSLatitude 0.9876 Model PhoneX"
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + b"\xff\xfe\x00\x09comment" + jpeg[2:]
