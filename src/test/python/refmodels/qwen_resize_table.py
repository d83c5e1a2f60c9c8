"""The smart_resize table the Java SmartResizePreprocessorTest checks against.

    cd src/test/python && /usr/bin/python3 -m refmodels.qwen_resize_table

writes src/test/resources/fixtures/qwen_smart_resize.json: for every (height, width) below and every
budget (factor, min_pixels, max_pixels), qwen2_vl.smart_resize's (height, width), or "raises" when it
refuses the aspect ratio (> 200 after the small-side upscale). "over_max" marks results with more
pixels than max_pixels (the max(factor, ...) clamp for extreme aspect ratios).
"""
import json
import os

from .qwen2_vl import smart_resize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "resources", "fixtures", "qwen_smart_resize.json"))

SIZES = [  # (height, width)
    (1, 1), (1, 2), (1, 28), (1, 100), (1, 150), (1, 199), (1, 200), (1, 201), (1, 300), (300, 1), (2, 401),
    (7, 5), (5, 7), (13, 13), (14, 14), (27, 27), (28, 28), (29, 29), (41, 42), (42, 41),
    (20, 40), (75, 100), (300, 400), (14, 280), (56, 56), (168, 84),
    (28, 5600), (28, 5601), (5600, 28), (28, 5614), (28, 5615), (14, 2800), (14, 2801), (27, 5400),
    (42, 42), (70, 70), (10, 25), (126, 98), (5, 18), (333, 777), (1000, 1), (1080, 1920), (1920, 1080), (3024, 4032), (4000, 6000), (8192, 8192),
    (100000, 50000), (65535, 300), (2147483647, 2147483647), (7, 2147483647),
]

BUDGETS = [  # (factor, min_pixels, max_pixels)
    (28, 3136, 50176),                 # the tiny fixtures
    (28, 3136, 12845056),              # Qwen2-VL / Qwen2.5-VL defaults
    (28, 256 * 28 * 28, 1280 * 28 * 28),
    (28, 784, 784),
    (28, 50176, 50176),
    (14, 196, 100000),
    (32, 1024, 16777216),              # patch 16, merge 2
]


def main():
    rows = []
    for factor, lo, hi in BUDGETS:
        for h, w in SIZES:
            row = {"height": h, "width": w, "factor": factor, "min_pixels": lo, "max_pixels": hi}
            try:
                rh, rw = smart_resize(h, w, factor, lo, hi)
                row["result"] = [rh, rw]
                row["over_max"] = rh * rw > hi
            except ValueError:
                row["raises"] = True
            rows.append(row)
    doc = {"source": "src/test/python/refmodels/qwen_resize_table.py (qwen2_vl.smart_resize, transformers.js 4.3.1)",
           "result": "[height, width]", "cases": rows}
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{OUT}: {len(rows)} cases, {sum('raises' in r for r in rows)} raise, "
          f"{sum(r.get('over_max', False) for r in rows)} over max_pixels")


if __name__ == "__main__":
    main()
