"""A random-weight Qwen2.5-VL folder with Qwen2.5-VL-3B-Instruct's widths at reduced depth, in the
onnx-community layout transformers.js 4.3.1 loads (qwen_kit.py), for benchmarks: speed depends on
shapes, not on weight values. Not committed.

    cd src/test/python && /usr/bin/python3 -m refmodels.qwen_bench_model --out /work/bench-models/qwen2_5-vl-3b-shaped

Widths are the 3B model's (config.json of Qwen/Qwen2.5-VL-3B-Instruct): decoder hidden 2048,
intermediate 11008, 16 heads / 2 KV heads of 128, vocabulary 151,936, M-RoPE sections [16, 24, 24],
rope_theta 1e6; vision tower hidden
1280, intermediate 3420, 16 heads, 14-px patches, 112-px windows, 2x2 merge to 2048; image
processor min/max pixels 3136 / 12,845,056. Depth is reduced (the full 36 + 32 layers are ~15 GB of
float32, more than the export fits in): --layers decoder layers (default 8 of 36) and
--vision-depth vision blocks (default 8 of 32), the full-attention blocks [7, 15, 23, 31] scaled to
the same relative places ([1, 3, 5, 7] for 8 blocks). The 3B model ties its output layer to the
embeddings; here they are separate random matrices (in this layout each graph holds its own copy
anyway, so speed is the same): with tied random weights the greedy model only echoes its last input
token, and equal ids across runtimes would prove little.

The vision graph is the kit's (qwen2_vl.VisionTower): window attention as a mask over all patches
of a frame, so its attention costs what full attention costs (HF's reference instead runs each
window as its own sequence); the patch-wise layers are the 3B model's.

Also writes bench/scene_448x448.png (256 image tokens) and bench/scene_896x672.png (768): sizes
that are multiples of 28 inside [min_pixels, max_pixels], so no runtime resizes them, and every
runtime sees the same pixels. The tokenizer is the kit's Qwen2 BPE, padded with unused entries to
151,936 ids so that every id the decoder can produce decodes. `bench.json` records the depths.
"""
import argparse
import copy
import gc
import os
import random
import time

import torch

from . import export, synth
from . import qwen2_5_vl as Q5
from . import qwen2_vl as Q
from . import qwen_kit as K

VOCAB = 151936
FULL_DEPTH = {"text_layers": 36, "vision_depth": 32}
FULLATT_3B = [7, 15, 23, 31]
TEXT_3B = dict(hidden=2048, intermediate=11008, heads=16, kv_heads=2, rms_eps=1e-6, rope_theta=1000000.0,
               mrope_section=[16, 24, 24], max_positions=128000)
VISION_3B = dict(embed_dim=1280, intermediate_size=3420, num_heads=16, patch_size=14, temporal_patch_size=2,
                 spatial_merge_size=2, in_chans=3, window_size=112, tokens_per_second=2)
IMAGE_3B = dict(min_pixels=3136, max_pixels=12845056)
IMAGES = [(448, 448), (896, 672)]
SEED = 20261215


def scaled_fullatt(depth):
    """The 3B model's full-attention blocks at the same relative depth: block (i+1)*depth/32 - 1."""
    return sorted({max(0, round((i + 1) * depth / FULL_DEPTH["vision_depth"]) - 1) for i in FULLATT_3B})


def bench_cfg(layers, vision_depth):
    cfg = copy.deepcopy(Q5.TINY)
    cfg["text"].update(TEXT_3B, layers=layers)
    cfg["vision"].update(VISION_3B, depth=vision_depth, fullatt_block_indexes=scaled_fullatt(vision_depth))
    cfg["image"].update(IMAGE_3B)
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=8, help="decoder layers (the 3B model has 36)")
    ap.add_argument("--vision-depth", type=int, default=8, help="vision blocks (the 3B model has 32)")
    ap.add_argument("--q8", action="store_true", help="also write weight-only int8 *_quantized.onnx variants")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    cfg = bench_cfg(a.layers, a.vision_depth)
    tok = K.build_tokenizer(vocab_size=VOCAB)
    torch.manual_seed(SEED)
    m = Q.init_weights(Q.Qwen2VL(cfg, VOCAB), SEED).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    n = {k: sum(p.numel() for p in getattr(m, k).parameters()) for k in ("visual", "model")}
    print(f"parameters: vision {n['visual'] / 1e6:.1f}M, decoder {n['model'] / 1e6:.1f}M (embeddings and output layer "
          f"{2 * VOCAB * cfg['text']['hidden'] / 1e6:.1f}M); "
          f"{a.layers} of 36 decoder layers, {a.vision_depth} of 32 vision blocks, full attention in "
          f"{cfg['vision']['fullatt_block_indexes']} ({time.time() - t0:.0f} s)", flush=True)

    d = a.out
    os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
    config, pre, gen, special, _ = K.configs("qwen2_5_vl", cfg, tok)
    config["transformers.js_config"]["use_external_data_format"] = {"decoder_model_merged.onnx": 1}
    tok.save(os.path.join(d, "tokenizer.json"))
    for fname, obj in [("config.json", config), ("preprocessor_config.json", pre), ("generation_config.json", gen),
                       ("special_tokens_map.json", special),
                       ("tokenizer_config.json", K.tokenizer_config(tok, cfg["text"]["max_positions"]))]:
        export.write_json(os.path.join(d, fname), obj)
    rng = random.Random(SEED)
    os.makedirs(os.path.join(d, "bench"), exist_ok=True)
    images = []
    for w, h in IMAGES:
        rel = f"bench/scene_{w}x{h}.png"
        synth.make_scene(rng, 3, (w, h)).image.convert("RGB").save(os.path.join(d, rel), optimize=True)
        merge = cfg["vision"]["patch_size"] * cfg["vision"]["spatial_merge_size"]
        images.append({"file": rel, "width": w, "height": h, "image_tokens": (w // merge) * (h // merge)})
    export.write_json(os.path.join(d, "bench.json"), {
        "generator": "src/test/python/refmodels/qwen_bench_model.py", "seed": SEED,
        "shapes": "Qwen2.5-VL-3B-Instruct widths, reduced depth",
        "text_layers": a.layers, "vision_depth": a.vision_depth, "full_depth": FULL_DEPTH,
        "fullatt_block_indexes": cfg["vision"]["fullatt_block_indexes"],
        "parameters": {"vision": n["visual"], "decoder": n["model"]}, "images": images})

    o = os.path.join(d, "onnx")
    K.export_vision(m, o, "image_grid_thw")
    del m.visual                 # the decoder's export peaks at ~3x its weights: free what it does not need
    gc.collect()
    K.export_embed(m, o)
    m.model.embed_tokens = torch.nn.Embedding(1, cfg["text"]["hidden"])   # decoder_model_merged takes inputs_embeds
    gc.collect()
    K.export_decoder(m, o)
    print(f"graphs written ({time.time() - t0:.0f} s)", flush=True)
    del m
    gc.collect()
    if a.q8:
        for base in ("vision_encoder", "embed_tokens", "decoder_model_merged"):
            export.variants(o, base, fp16=False, q8=True)
        print(f"int8 variants ({time.time() - t0:.0f} s)", flush=True)
    print(f"done: {d} ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
