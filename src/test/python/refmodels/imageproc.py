"""Image preprocessing exactly as transformers.js does it (onnx-contracts.md section 2.6).

uint8 resizes use Pillow (the reference the Java implementation is tested against; transformers.js
uses sharp, which agrees to within a few grey levels); float resizes are the half-pixel,
non-antialiased bilinear of ONNX ``Resize`` that transformers.js's ``interpolate_4d`` runs.
Float arithmetic follows transformers.js: every step is computed in double and stored as float32.
"""
import math

import numpy as np
from PIL import Image

from . import config as C

RESAMPLE = {0: Image.NEAREST, 1: Image.LANCZOS, 2: Image.BILINEAR, 3: Image.BICUBIC, 4: Image.BOX,
            5: Image.HAMMING}
RESCALE = 0.00392156862745098   # 1/255 as written in preprocessor_config.json
MEAN = [0.5, 0.5, 0.5]
STD = [0.5, 0.5, 0.5]


def to_rgb(img):
    """Alpha dropped (no compositing), grey replicated: transformers.js RawImage.rgb()."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "L", "P", "1", "I;16", "I", "F"):
        if img.mode == "RGBA":
            return Image.merge("RGB", img.split()[:3])
        if img.mode == "LA":
            g = img.split()[0]
            return Image.merge("RGB", (g, g, g))
        return img.convert("RGB")
    return img.convert("RGB")


def longest_edge_size(w, h, longest):
    """transformers.js get_resize_output_image_size for size={longest_edge}."""
    f = min(longest / w, longest / h)
    fw = math.floor(float(f"{w * f:.2f}"))
    fh = math.floor(float(f"{h * f:.2f}"))
    return fw, fh


def resize_uint8(img, w, h, resample):
    if img.size == (w, h):
        return img          # transformers.js RawImage.resize returns the image unchanged
    return img.resize((w, h), RESAMPLE[resample])


def rescale_normalize(img, rescale=RESCALE, mean=MEAN, std=STD):
    """uint8 HWC -> float32 CHW, double arithmetic rounded to float32 after each step."""
    a = np.asarray(img, dtype=np.float64)
    a = (a * rescale).astype(np.float32).astype(np.float64)
    a = ((a - np.array(mean)) / np.array(std)).astype(np.float32)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def _linear_axis(in_size, out_size):
    scale = np.float32(out_size) / np.float32(in_size)
    x = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) / scale - np.float32(0.5)
    x = np.clip(x, np.float32(0), np.float32(in_size - 1)).astype(np.float32)
    x1 = np.floor(x).astype(np.int64)
    x2 = np.minimum(x1 + 1, in_size - 1)
    d1 = (x - x1.astype(np.float32)).astype(np.float32)
    d2 = (np.float32(1) - d1).astype(np.float32)
    return x1, x2, d1, d2


def interpolate_bilinear(x, out_h, out_w):
    """ONNX Resize(mode=linear, coordinate_transformation_mode=half_pixel), float32, CHW."""
    c, h, w = x.shape
    if (h, w) == (out_h, out_w):
        return x.copy()
    y1, y2, dy1, dy2 = _linear_axis(h, out_h)
    x1, x2, dx1, dx2 = _linear_axis(w, out_w)
    a = x[:, y1][:, :, x1]
    b = x[:, y1][:, :, x2]
    cc = x[:, y2][:, :, x1]
    d = x[:, y2][:, :, x2]
    top = a * dx2[None, None, :] + b * dx1[None, None, :]
    bot = cc * dx2[None, None, :] + d * dx1[None, None, :]
    return (top * dy2[None, :, None] + bot * dy1[None, :, None]).astype(np.float32)


def resize_for_vision_encoder(h, w, m):
    ar = w / h
    if w >= h:
        w = math.ceil(w / m) * m
        h = math.floor(w / ar)
        h = math.ceil(h / m) * m
    else:
        h = math.ceil(h / m) * m
        w = math.floor(h * ar)
        w = math.ceil(w / m) * m
    return h, w


def split_image(x, m):
    """Row-major tiles (last row/column anchored to the edge) + global image LAST."""
    _, h, w = x.shape
    if h > m or w > m:
        rows, cols = math.ceil(h / m), math.ceil(w / m)
        oh, ow = math.ceil(h / rows), math.ceil(w / cols)
        frames = []
        for r in range(rows):
            for c in range(cols):
                y0 = h - oh if r == rows - 1 else r * oh
                x0 = w - ow if c == cols - 1 else c * ow
                frames.append(x[:, y0:y0 + oh, x0:x0 + ow])
        g = interpolate_bilinear(x, m, m) if (h != m or w != m) else x
        return frames + [g], rows, cols
    return [x], 0, 0


def idefics3_frames(img, do_split=True, longest=C.LONGEST_EDGE, m=C.TILE, resample=1):
    """-> (frames float32 [n,3,m,m], rows, cols), as Idefics3ImageProcessor in transformers.js."""
    img = to_rgb(img)
    w, h = longest_edge_size(img.size[0], img.size[1], longest)
    x = rescale_normalize(resize_uint8(img, w, h, resample))
    if do_split:
        nh, nw = resize_for_vision_encoder(x.shape[1], x.shape[2], m)
        x = interpolate_bilinear(x, nh, nw)
        frames, rows, cols = split_image(x, m)
    else:
        frames, rows, cols = [interpolate_bilinear(x, m, m)], 0, 0
    return np.stack(frames).astype(np.float32), rows, cols


def fixed_frames(img, size=C.TILE, resample=2):
    """Base ImageProcessor with size={height,width}: one frame [1,3,size,size]."""
    img = to_rgb(img)
    return rescale_normalize(resize_uint8(img, size, size, resample))[None]
