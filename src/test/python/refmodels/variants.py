"""PyTorch simulation of the exported _fp16 and _quantized variants, for their goldens.

Both rewrites (export.to_fp16 / export.quantize_weights_int8) only change how weights (and, for
the fp16 decoder, the KV cache and logits) are stored; compute stays float32. Applying the same
rounding to a copy of the PyTorch model therefore reproduces the variant graphs' numbers.
"""
import copy

import numpy as np
import torch

FP16_MIN_SIZE = 256   # export.to_fp16 converts initializers with >= 2 dims and >= this many values


def fp16_weight(name, p):
    return p.dim() >= 2 and p.numel() >= FP16_MIN_SIZE


def int8_weight(module, pname):
    return isinstance(module, (torch.nn.Linear, torch.nn.Embedding)) and pname == "weight"


def quantize_rows(w):
    """Symmetric per-row int8 (torch layout [out, in] / embedding [vocab, dim]) -> dequantized."""
    a = w.detach().numpy().astype(np.float32)
    amax = np.abs(a).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.round(a / scale[:, None]), -127, 127).astype(np.int8)
    return torch.from_numpy(q.astype(np.float32) * scale[:, None])


def simulate(model, dtype):
    """Copy of `model` whose weights carry the rounding of the `dtype` ("fp16" | "q8") export."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        if dtype == "fp16":
            for _, p in m.named_parameters():
                if fp16_weight(_, p):
                    p.copy_(p.half().float())
            m.decoder.kv_fp16 = True
        elif dtype == "q8":
            for mod in m.modules():
                for pname, p in list(mod.named_parameters(recurse=False)):
                    if int8_weight(mod, pname) and p.numel() >= 256:
                        p.copy_(quantize_rows(p))
        else:
            raise ValueError(dtype)
    return m
