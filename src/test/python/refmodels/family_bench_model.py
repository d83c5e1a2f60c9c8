"""Random-weight LFM2-VL-450M-shaped and Gemma-3-4B-shaped folders for benchmarks (BENCHMARKS.md, "New
families at realistic shapes"): the tiny kits' model classes and export code (lfm2_vl.py + lfm2_kit.py,
gemma3.py + gemma3_kit.py) at the real models' widths, in the onnx-community layout transformers.js
4.3.1 loads. Speed depends on shapes, not on weight values. Not committed.

    cd src/test/python && /usr/bin/python3 -m refmodels.family_bench_model --family lfm2_vl --out /tmp/vlm4j-lfm2-vl-450m-shaped
    /usr/bin/python3 -m refmodels.family_bench_model --family gemma3 --out /tmp/vlm4j-gemma3-4b-shaped --layers 8 --vision-depth 4

Shapes (from the public config.json files as recalled; --layers / --vision-depth reduce the depth):

* lfm2_vl (LiquidAI/LFM2-VL-450M): decoder LFM2-350M, hidden 1024, 16 layers (attention at 2, 5, 8, 10,
  12, 14, short convolutions elsewhere, conv_L_cache 3), 16 heads / 8 KV heads of 64, feed-forward 4608
  (block_ff_dim 6656 * 2/3, multiple of 256), vocabulary 65,536, rope_theta 1e6; vision SigLIP2-NaFlex
  base: hidden 768, 12 layers, 12 heads, intermediate 3072, 16-px patches, a 16 x 16 position grid;
  projector hidden 2560; images: downsample 2, 512-px tiles (2..10 tiles and a thumbnail), 64..256
  tokens per tile or single image. Default depth: the full 16 + 12 layers (~2.1 GB of float32).
* gemma3 (google/gemma-3-4b-it): decoder hidden 2560, 8 heads / 4 KV heads of 256, intermediate 10240,
  vocabulary 262,208, sliding window 1024 with five sliding layers per global one, rope_theta 1e6 (global,
  linear scaling 8) and 1e4 (local); vision SigLIP-So400m: hidden 1152, 16 heads, intermediate 4304,
  14-px patches at 896 x 896 (4096 patches) average-pooled to 256 tokens. Default depth 8 of 34 decoder
  layers and 4 of 27 vision layers (the embeddings alone are 2.7 GB of float32, and the output layer as
  much again).

Both models tie the output layer to the embeddings; here they are separate random matrices (a tied random
head only echoes its input token, and equal ids across runtimes would prove little; in this layout each
graph holds its own copy anyway). The tokenizers are the kits' BPE, padded with unused entries to the real
vocabulary size so that every id the decoder can produce decodes. Graphs over 2 GB are written with one
external `<graph>.onnx_data` file (config.json's transformers.js_config says which).

Also writes bench/*.png (one image per benchmark shape, seeded scenes) and bench.json (shapes, depths,
parameter counts, images). LFM2-VL: scene_512x512.png (256 image tokens, neither resized nor tiled) and
scene_1024x768.png (a 3 x 2 grid of 512-px tiles, resized to 1536 x 1024, plus a thumbnail); Gemma 3:
scene_896x896.png (the processor's size: no resize).
"""
import argparse
import copy
import gc
import os
import random
import time

import torch

from . import export, synth
from . import gemma3 as G
from . import gemma3_kit as GK
from . import lfm2_kit as LK
from . import lfm2_vl as L

SEED = 20261220
LFM2_ATTENTION = [2, 5, 8, 10, 12, 14]


def lfm2_cfg(layers, vision_depth):
    cfg = copy.deepcopy(L.TINY)
    types = ["full_attention" if i in LFM2_ATTENTION else "conv" for i in range(16)][:layers]
    cfg["vision"].update(hidden=768, layers=vision_depth, heads=12, intermediate=3072, patch=16, pos_grid=16)
    cfg["projector"].update(hidden=2560)
    cfg["text"].update(hidden=1024, heads=16, kv_heads=8, ff=4608, conv_L=3, norm_eps=1e-5, rope_theta=1000000.0,
                       max_positions=128000, layer_types=types)
    cfg["image"].update(tile=512, min_tokens=64, max_tokens=256, min_tiles=2, max_tiles=10)
    return cfg


def gemma3_cfg(layers, vision_depth):
    cfg = copy.deepcopy(G.TINY)
    types = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(layers)]
    cfg["vision"].update(hidden=1152, layers=vision_depth, heads=16, intermediate=4304, patch=14, image_size=896)
    cfg["mm_tokens_per_image"] = 256
    cfg["text"].update(hidden=2560, heads=8, kv_heads=4, head_dim=256, ff=10240, sliding_window=1024,
                       query_pre_attn_scalar=256, max_positions=131072, layer_types=types)
    cfg["image"].update(size=896)
    return cfg


FAMILIES = {
    "lfm2_vl": dict(vocab=65536, full=(16, 12), default=(16, 12), cfg=lfm2_cfg,
                    images=[(512, 512), (1024, 768)], shapes="LFM2-VL-450M widths"),
    "gemma3": dict(vocab=262208, full=(34, 27), default=(8, 4), cfg=gemma3_cfg,
                   images=[(896, 896)], shapes="Gemma-3-4B widths, reduced depth"),
}


def write_lfm2(cfg, vocab, d):
    tok = LK.build_tokenizer(cfg["image"]["max_tiles"], vocab_size=vocab)
    m = L.init_weights(L.Lfm2VL(cfg, vocab), SEED).eval()
    files = LK.configs(cfg, tok)[:5]
    tok.save(os.path.join(d, "tokenizer.json"))
    write_configs(d, files, LK.tokenizer_config(tok, cfg["text"]["max_positions"]))
    counts = count(m, ("vision", "decoder"))
    LK.export_graphs(m, os.path.join(d, "onnx"))
    return counts


def write_gemma3(cfg, vocab, d):
    tok = GK.build_tokenizer(vocab_size=vocab)
    m = G.init_weights(G.Gemma3(cfg, vocab), SEED).eval()
    files = GK.configs(cfg, tok)[:5]
    files[0]["transformers.js_config"]["use_external_data_format"] = {"decoder_model_merged.onnx": 1,
                                                                      "embed_tokens.onnx": 1}
    export.write_json(os.path.join(d, "tokenizer.json"), GK.tokenizer_json(tok))
    write_configs(d, files, GK.tokenizer_config(tok, cfg["text"]["max_positions"]))
    with open(os.path.join(d, "chat_template.jinja"), "w", encoding="utf-8") as f:
        f.write(GK.TEMPLATE)
    counts = count(m, ("vision", "decoder"))
    o = os.path.join(d, "onnx")
    GK.export_vision(m, o)
    del m.vision                   # the decoder's export peaks at ~3x its weights: free what it does not need
    gc.collect()
    GK.export_embed(m, o)
    m.decoder.embed_tokens = G.ScaledEmbedding(1, cfg["text"]["hidden"])   # the decoder graph takes inputs_embeds
    gc.collect()
    GK.export_decoder(m, o)
    return counts


def write_configs(d, files, tokenizer_config):
    config, pre, proc, gen, special = files
    for fname, obj in [("config.json", config), ("preprocessor_config.json", pre), ("processor_config.json", proc),
                       ("generation_config.json", gen), ("special_tokens_map.json", special),
                       ("tokenizer_config.json", tokenizer_config)]:
        export.write_json(os.path.join(d, fname), obj)


def count(m, parts):
    for p in m.parameters():
        p.requires_grad_(False)
    return {k: sum(p.numel() for p in getattr(m, k).parameters()) for k in parts}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", required=True, choices=sorted(FAMILIES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, help="decoder layers (default: lfm2_vl 16 of 16, gemma3 8 of 34)")
    ap.add_argument("--vision-depth", type=int, help="vision layers (default: lfm2_vl 12 of 12, gemma3 4 of 27)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(SEED)
    t0 = time.time()
    fam = FAMILIES[a.family]
    layers = a.layers or fam["default"][0]
    depth = a.vision_depth or fam["default"][1]
    cfg = fam["cfg"](layers, depth)
    d = a.out
    os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
    counts = (write_lfm2 if a.family == "lfm2_vl" else write_gemma3)(cfg, fam["vocab"], d)
    print(f"{a.family}: vision {counts['vision'] / 1e6:.1f}M, decoder {counts['decoder'] / 1e6:.1f}M parameters, "
          f"{layers} of {fam['full'][0]} decoder layers, {depth} of {fam['full'][1]} vision layers; graphs written "
          f"({time.time() - t0:.0f} s)", flush=True)
    rng = random.Random(SEED)
    os.makedirs(os.path.join(d, "bench"), exist_ok=True)
    images = []
    for w, h in fam["images"]:
        rel = f"bench/scene_{w}x{h}.png"
        synth.make_scene(rng, 3, (w, h)).image.convert("RGB").save(os.path.join(d, rel), optimize=True)
        images.append({"file": rel, "width": w, "height": h})
    export.write_json(os.path.join(d, "bench.json"), {
        "generator": "src/test/python/refmodels/family_bench_model.py", "family": a.family, "seed": SEED,
        "shapes": fam["shapes"], "text_layers": layers, "vision_depth": depth,
        "full_depth": {"text_layers": fam["full"][0], "vision_depth": fam["full"][1]}, "vocab": fam["vocab"],
        "config": cfg, "parameters": counts, "images": images})
    print(f"done: {d} ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
