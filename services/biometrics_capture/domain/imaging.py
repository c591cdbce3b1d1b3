"""Image intake and the automatic checks. Pure functions over bytes: no I/O, no storage.

Safety first: the container format is recognised by its magic bytes and its header is parsed by
hand BEFORE any pixel is decoded, so a decompression bomb (a small file claiming a huge image) is
refused without allocating it, and a truncated file is refused instead of being half-decoded.
"""
from __future__ import annotations

import functools
import os
import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from servicekit.errors import DomainError

# One OpenCV thread per request: the gRPC pool already runs requests in parallel, and OpenCV's own
# thread pool only adds contention on a small machine.
cv2.setNumThreads(int(os.environ.get("BIOMETRICS_OPENCV_THREADS", "1")))

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
# SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def bad_image(detail: str, problem: str = "invalid-image") -> DomainError:
    return DomainError("invalid", problem, detail, [{"field": "file", "message": detail}])


@dataclass(frozen=True)
class Header:
    format: str          # "jpeg" | "png"
    width: int
    height: int
    bit_depth: int       # PNG bit depth, or JPEG sample precision
    channels: int        # 1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha
    ppi: float | None    # PNG pHYs in metres, when stated


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    value: float
    threshold: str

    def as_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "value": self.value, "threshold": self.threshold}


# -- headers ---------------------------------------------------------------------------------

def read_header(data: bytes, max_bytes: int, max_pixels: int) -> Header:
    """The format and size from the header alone; refuses non-images, truncated and huge files."""
    if not data:
        raise bad_image("the file is empty")
    if len(data) > max_bytes:
        raise bad_image(f"the file is larger than {max_bytes} bytes", "image-too-large")
    if data.startswith(PNG_SIGNATURE):
        header = _png_header(data)
    elif data.startswith(JPEG_SOI):
        header = _jpeg_header(data)
    else:
        raise bad_image("the file is not a JPEG or PNG image", "unsupported-image-format")
    if header.width <= 0 or header.height <= 0:
        raise bad_image("the image header states an empty image")
    if header.width * header.height > max_pixels:
        raise bad_image(f"the image is {header.width}x{header.height}; at most {max_pixels} pixels are accepted",
                        "image-too-large")
    return header


def _png_header(data: bytes) -> Header:
    pos, ihdr, ppi, seen_iend, seen_idat = 8, None, None, False, False
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if length > 2 ** 31 or end > len(data):
            break
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:end])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise bad_image("the PNG file is corrupt (chunk checksum mismatch)")
        if kind == b"IHDR" and length == 13:
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"pHYs" and length == 9:
            ppu_x, ppu_y, unit = struct.unpack(">IIB", body)
            if unit == 1:
                ppi = round(ppu_x * 0.0254, 1)
        elif kind == b"IDAT":
            seen_idat = True
        elif kind == b"IEND":
            seen_iend = True
            break
        pos = end
    if ihdr is None:
        raise bad_image("the PNG file has no valid header")
    if not seen_idat or not seen_iend:
        raise bad_image("the PNG file is truncated", "truncated-image")
    width, height, depth, colour, _c, _f, interlace = ihdr
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour)
    if channels is None:
        raise bad_image("the PNG file has an unknown colour type")
    return Header("png", width, height, depth, channels, ppi)


def _jpeg_segments(data: bytes):
    """(position, marker, segment length) of each marker from after SOI up to and including the
    start of scan (SOS), where the compressed pixels begin; standalone markers have length 0."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise bad_image("the JPEG file is corrupt (bad marker)")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            yield pos, marker, 0
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2:
            raise bad_image("the JPEG file is corrupt (bad segment length)")
        yield pos, marker, length
        if marker == 0xDA:
            return
        pos += 2 + length


def _jpeg_header(data: bytes) -> Header:
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise bad_image("the JPEG file is truncated (no end-of-image marker)", "truncated-image")
    for pos, marker, _length in _jpeg_segments(data):
        if marker in _SOF_MARKERS:
            if pos + 10 > len(data):
                break
            precision, height, width, components = struct.unpack(">BHHB", data[pos + 4:pos + 10])
            return Header("jpeg", width, height, precision, components, None)
        if marker == 0xDA:  # start of scan before any frame header
            break
    raise bad_image("the JPEG file has no frame header")


def decode_grey(data: bytes, header: Header, min_height: int = 0) -> tuple[np.ndarray, int]:
    """Greyscale pixels, JPEGs decoded at a reduced scale (1/2, 1/4, 1/8 by the DCT, which is
    fast) while the result stays at least `min_height` tall. Returns (pixels, reduction factor)."""
    factor = 1
    if header.format == "jpeg" and min_height:
        for f in (8, 4, 2):
            if header.height // f >= min_height:
                factor = f
                break
    flag = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
            8: cv2.IMREAD_REDUCED_GRAYSCALE_8}[factor]
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None:
        raise bad_image("the image cannot be decoded (corrupt or truncated)", "truncated-image")
    if image.ndim != 2:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image, factor


# -- the photo checks ------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _cascade(name: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if cascade.empty():
        raise RuntimeError(f"cannot load the OpenCV cascade {name}")
    return cascade


DETECT_HEIGHT = 480  # faces are detected on a copy this tall: cost independent of the upload size


def photo_checks(data: bytes, t: dict) -> tuple[Header, list[Check]]:
    """Every check of the face photo, each with its value and threshold (`t` = thresholds)."""
    header = read_header(data, t["max_bytes"], t["max_megapixels"] * 1_000_000)
    grey, _factor = decode_grey(data, header, min_height=DETECT_HEIGHT)
    checks: list[Check] = []
    min_w, min_h = t["min_width"], t["min_height"]
    scale_ok = min(header.width / min_w, header.height / min_h)
    checks.append(Check("resolution", scale_ok >= 1.0, round(scale_ok, 3),
                        f">= 1.0 (at least {min_w}x{min_h} px; value = the smaller of width/{min_w}, height/{min_h})"))

    h, w = grey.shape
    small_scale = DETECT_HEIGHT / h if h > DETECT_HEIGHT else 1.0
    small = cv2.resize(grey, (round(w * small_scale), round(h * small_scale)), interpolation=cv2.INTER_AREA) \
        if small_scale < 1.0 else grey
    sh, sw = small.shape
    eq = small
    min_face = max(24, int(sh * 0.08))  # small faces are found, then fail face_height
    faces = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        eq, scaleFactor=1.1, minNeighbors=5, minSize=(min_face, min_face))
    faces = sorted((tuple(int(v) for v in f) for f in faces), key=lambda f: -f[2] * f[3])
    checks.append(Check("single_face", len(faces) == 1, float(len(faces)), "== 1 face"))

    # background: the top band and the upper side bands (shoulders fill the bottom)
    band_y, band_x = max(2, int(sh * 0.08)), max(2, int(sw * 0.08))
    border = np.concatenate([small[:band_y].ravel(), small[:int(sh * 0.6), :band_x].ravel(),
                             small[:int(sh * 0.6), -band_x:].ravel()]).astype(np.float32)
    bg_mean, bg_std = float(border.mean()), float(border.std())
    checks.append(Check("background_light", bg_mean >= t["background_min_brightness"], round(bg_mean, 1),
                        f">= {t['background_min_brightness']} (mean grey level of the border, 0-255)"))
    checks.append(Check("background_plain", bg_std <= t["background_max_stddev"], round(bg_std, 1),
                        f"<= {t['background_max_stddev']} (standard deviation of the border)"))

    if not faces:
        for name, thr in (("face_height", _band(t, "face_height")), ("face_centred", _centred(t)),
                          ("sharpness", f">= {t['sharpness_min']}"), ("exposure", _band(t, "exposure")),
                          ("eyes", ">= 2 eyes")):
            checks.append(Check(name, False, 0.0, thr + " (no face found)"))
        return header, checks

    x, y, fw, fh = faces[0]
    ratio = fh / sh
    checks.append(Check("face_height", t["face_height_min"] <= ratio <= t["face_height_max"], round(ratio, 3),
                        _band(t, "face_height") + " (detected face box height / image height)"))
    offset = abs((x + fw / 2) / sw - 0.5)
    checks.append(Check("face_centred", offset <= t["face_centre_max_offset"], round(offset, 3), _centred(t)))

    # sharpness and exposure on the face itself, resampled to a fixed size so that they do not
    # depend on the upload's resolution
    fx0, fy0 = int(x / small_scale), int(y / small_scale)
    face = grey[fy0:fy0 + int(fh / small_scale), fx0:fx0 + int(fw / small_scale)]
    face = cv2.resize(face, (200, 200), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(face, cv2.CV_64F).var())
    checks.append(Check("sharpness", sharp >= t["sharpness_min"], round(sharp, 1),
                        f">= {t['sharpness_min']} (variance of the Laplacian over the face)"))
    mean = float(face.mean())
    checks.append(Check("exposure", t["exposure_min"] <= mean <= t["exposure_max"], round(mean, 1),
                        _band(t, "exposure") + " (mean grey level of the face, 0-255)"))

    upper = eq[y:y + int(fh * 0.6), x:x + fw]
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(
        upper, scaleFactor=1.1, minNeighbors=5, minSize=(max(8, fw // 10), max(8, fw // 10)))
    checks.append(Check("eyes", len(eyes) >= 2, float(min(len(eyes), 2)), ">= 2 eyes found in the face"))
    return header, checks


def _band(t: dict, key: str) -> str:
    return f"[{t[key + '_min']}, {t[key + '_max']}]"


def _centred(t: dict) -> str:
    return (f"<= {t['face_centre_max_offset']} (horizontal offset of the face centre from the middle, "
            "as a fraction of the image width)")


# -- fingerprints ----------------------------------------------------------------------------

def fingerprint_checks(data: bytes, t: dict) -> tuple[Header, list[Check]]:
    """Format rules (8-bit greyscale PNG, 500 ppi if stated, NFIQ 2 size range) raise; the
    quality measures are checks with values."""
    header = read_header(data, t["max_bytes"], t["max_megapixels"] * 1_000_000)
    if header.format != "png":
        raise bad_image("fingerprints must be PNG files", "unsupported-image-format")
    if header.bit_depth != 8 or header.channels != 1:
        raise bad_image(f"fingerprints must be 8-bit greyscale; this file is {header.bit_depth}-bit with "
                        f"{header.channels} channel(s)", "wrong-colour-depth")
    if not (t["min_width"] <= header.width <= t["max_width"] and t["min_height"] <= header.height <= t["max_height"]):
        raise bad_image(f"fingerprint images must be {t['min_width']}-{t['max_width']} px wide and "
                        f"{t['min_height']}-{t['max_height']} px high; this one is {header.width}x{header.height}",
                        "wrong-image-size")
    if header.ppi is not None and abs(header.ppi - t["ppi"]) > t["ppi"] * 0.01:
        raise bad_image(f"fingerprints must be scanned at {t['ppi']} ppi; the file states {header.ppi}",
                        "wrong-resolution")
    grey, _ = decode_grey(data, header)
    score, area = fingerprint_quality(grey, t["block"])
    return header, [
        Check("ridge_area", area >= t["min_ridge_area"], round(area, 3),
              f">= {t['min_ridge_area']} (share of blocks with ridge contrast)"),
        Check("quality", score >= t["min_quality"], round(score, 1),
              f">= {t['min_quality']} (0-100: mean ridge-orientation coherence of the ridge blocks)"),
    ]


def fingerprint_quality(grey: np.ndarray, block: int = 16) -> tuple[float, float]:
    """(score 0-100, ridge area 0-1). Over blocks of `block` px: a block is ridge area when its
    contrast (standard deviation) is high enough; its coherence is how strongly its gradients
    agree on one orientation (gradient structure tensor: (l1 - l2) / (l1 + l2)), ~1 for clean
    parallel ridges, ~0 for noise or smudges. The score is the mean coherence of the ridge blocks."""
    img = grey.astype(np.float32)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    h, w = (img.shape[0] // block) * block, (img.shape[1] // block) * block

    def per_block(a: np.ndarray) -> np.ndarray:
        return a[:h, :w].reshape(h // block, block, w // block, block).sum(axis=(1, 3))

    gxx, gyy, gxy = per_block(gx * gx), per_block(gy * gy), per_block(gx * gy)
    coherence = np.sqrt((gxx - gyy) ** 2 + 4 * gxy ** 2) / np.maximum(gxx + gyy, 1e-6)
    contrast = img[:h, :w].reshape(h // block, block, w // block, block).std(axis=(1, 3))
    ridge = contrast >= 20.0
    area = float(ridge.mean())
    if not ridge.any():
        return 0.0, 0.0
    return float(coherence[ridge].mean() * 100), area


# -- metadata: what a camera or phone adds beside the pixels (GPS, device, time, comments) --------
# PNG keeps its critical chunks and transparency; everything ancillary (tEXt, zTXt, iTXt, eXIf,
# tIME, iCCP with its profile name, ...) is dropped.
_PNG_KEPT = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"}
# JPEG keeps JFIF (APP0) and Adobe's colour transform (APP14); EXIF/XMP (APP1), the other APPn
# segments and comments (COM) go.
_JPEG_DROPPED = {m for m in range(0xE1, 0xF0) if m != 0xEE} | {0xFE}


def strip_metadata(data: bytes, fmt: str) -> bytes:
    """The same image without its metadata, byte for byte the same pixels (no re-encoding).
    `data` has passed read_header, so its structure is known to be sound."""
    return _png_without_metadata(data) if fmt == "png" else _jpeg_without_metadata(data)


def _png_without_metadata(data: bytes) -> bytes:
    out, pos = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind, end = data[pos + 4:pos + 8], pos + 12 + length
        if kind in _PNG_KEPT:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _jpeg_without_metadata(data: bytes) -> bytes:
    out = [data[:2]]
    for pos, marker, length in _jpeg_segments(data):
        if marker == 0xDA:  # start of scan: the compressed pixels and the rest follow as they are
            out.append(data[pos:])
            break
        if marker not in _JPEG_DROPPED:
            out.append(data[pos:pos + 2 + length])
    return b"".join(out)
