"""A random-weight model with SmolVLM-256M-Instruct's exact shapes, in the onnx-community Idefics3
layout, for benchmarks (speed depends on shapes, not on weight values). Not committed.

    cd src/test/python && /usr/bin/python3 -m refmodels.bench_model --out /tmp/vlm4j-smolvlm-256m-shaped

Writes the configs, tokenizer (the kit's, ids below 768 of the 49280 rows), onnx/vision_encoder.onnx,
onnx/embed_tokens.onnx, onnx/decoder_model_merged.onnx and, with --q8, weight-only int8
`*_quantized.onnx` variants.
"""
import os

os.environ["VLM4J_KIT_PRESET"] = "smolvlm-256m"   # before the kit's modules read their config

import argparse  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from . import bpe, export, synth  # noqa: E402
from . import config as C  # noqa: E402
from .__main__ import export_idefics3_folder, tokenizer_corpus  # noqa: E402
from .modeling import VLM  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--q8", action="store_true", help="also write weight-only int8 *_quantized.onnx variants")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    assert C.TEXT["layers"] == 30 and C.TILE == 512, "the smolvlm-256m preset is not active"
    torch.set_num_threads(args.threads)
    t0 = time.time()
    rng = random.Random(C.SEED)
    train_words, _ = synth.pseudo_words(C.SEED)
    tok = bpe.Tokenizer(bpe.train_merges(tokenizer_corpus(rng, train_words), C.NUM_MERGES))
    torch.manual_seed(C.SEED)
    model = VLM().eval()
    # The tokenizer knows ids 0..767 only: a bias keeps random logits of the other rows far below, so
    # generated ids stay decodable (the extra add is negligible next to the 576x49280 matmul).
    head = model.decoder.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.fill_(-1e4)
        biased.bias[:C.VOCAB_SIZE] = 0
    model.decoder.lm_head = biased
    for p in model.parameters():
        p.requires_grad_(False)
    n = {k: sum(p.numel() for p in getattr(model, k).parameters()) for k in ("vit", "projector", "decoder")}
    print(f"parameters: {n}", flush=True)
    d = args.out
    o = export_idefics3_folder(model, tok, d)
    print(f"graphs written ({time.time() - t0:.0f} s)", flush=True)
    if args.q8:
        for base in ("vision_encoder", "embed_tokens", "decoder_model_merged"):
            export.variants(o, base, fp16=False, q8=True)
        print(f"int8 variants ({time.time() - t0:.0f} s)", flush=True)
    print(f"done: {d} ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
