"""The tiny Qwen2.5-VL: qwen2_vl.py's modules with Qwen2.5-VL's vision tower options — RMSNorm
instead of LayerNorm (blocks and merger), a SwiGLU MLP with bias, and window attention
(`window_size` px windows) in every block except `fullatt_block_indexes`. The decoder (Qwen2 with
M-RoPE), the image processor and the prompt format are Qwen2-VL's.
"""
import copy

import torch

from . import qwen2_vl as Q

TINY = copy.deepcopy(Q.TINY)
TINY["vision"].update(norm="rms", mlp="swiglu", intermediate_size=64, window_size=112, fullatt_block_indexes=[1],
                      tokens_per_second=2)
del TINY["vision"]["mlp_ratio"]


def windows_by_loops(grids, merge, ws):
    """Window id of every patch (processor order), following HF get_window_index: each frame's grid
    of merge units padded at the bottom/right to whole ws x ws windows, windows numbered row-major
    per frame, units inside a window kept; then every patch takes its merge unit's window."""
    out, base = [], 0
    for t, h, w in grids:
        gh, gw = h // merge, w // merge
        nwh, nww = -(-gh // ws), -(-gw // ws)
        for ti in range(t):
            for uh in range(gh):
                for uw in range(gw):
                    win = base + (ti * nwh + uh // ws) * nww + uw // ws
                    out += [win] * (merge * merge)
        base += t * nwh * nww
    return out


def check_windows(cfg, grids):
    """The tensor formulas of qwen2_vl.VisionTower agree with windows_by_loops on `grids`."""
    v = cfg["vision"]
    m, ws = v["spatial_merge_size"], v["window_size"] // v["spatial_merge_size"] // v["patch_size"]
    g = torch.tensor(grids)
    n = int((g[:, 0] * g[:, 1] * g[:, 2]).sum())
    img, frame, row, col = Q.patch_layout(g, n, m)
    wr, wc = Q.floordiv(Q.floordiv(row, m), ws), Q.floordiv(Q.floordiv(col, m), ws)
    formula = (img[:, None] == img[None, :]) & (frame[:, None] == frame[None, :]) \
        & (wr[:, None] == wr[None, :]) & (wc[:, None] == wc[None, :])
    w = torch.tensor(windows_by_loops(grids, m, ws))
    if not torch.equal(formula, w[:, None] == w[None, :]):
        raise AssertionError(f"window attention mask disagrees with HF-style windows for {grids}")
