"""Regenerate the vlm4j reference model kit.

    cd src/test/python && /usr/bin/python3 -m refmodels            # everything, ~35 min on 2 cores
    /usr/bin/python3 -m refmodels --quick --out /tmp/kit           # smoke run (bad models, fast)
    /usr/bin/python3 -m refmodels --from-checkpoint                # re-export/re-evaluate only

The pretrained CNN encoder (issue 17) has two further steps, run after this one:

    /usr/bin/python3 -m refmodels.cnn.verify     # npm: fetch + convert the MobileNet, check vs TF.js (~1 min)
    /usr/bin/python3 -m refmodels.cnn.fixtures   # offline: vlm4j-tiny-cnn(-variants), training, goldens (~15 min)

The tiny Qwen-VL folders (random weights, no training) have their own generator:

    /usr/bin/python3 -m refmodels.qwen_kit       # the tiny Qwen2-VL / Qwen2.5-VL folders, ~75 s (qwen_kit.py)

Writes src/test/resources/models/{vlm4j-tiny-idefics3,vlm4j-tiny-llava,vlm4j-tiny-modular},
src/test/resources/eval/ and src/test/resources/models/REPORT.md. Seeded: a rerun on the same
kind of machine reproduces the same weights, goldens and report.
"""
import argparse
import os
import random
import shutil
import time

import numpy as np
import torch

from . import bpe, evaluate, export, fixtures, goldens, synth, training
from . import config as C
from .modeling import VLM

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "resources"))

ENGLISH = """
A picture can show many things. This image shows a few simple shapes on a plain background, and the
model answers short questions about them. Every part in the factory is checked before it is shipped;
an inspector looks for scratches, spots and cracks on metal and wood. Some examples come first, then a
new question follows. The first example and the second example are different. Count the shapes and
name their colours. There is one circle near the top and two squares at the bottom of the picture.
Java programs run on many machines. Small models are fast; larger models are slower but more accurate.
Please describe what you see, then answer the question with one word when you can.
"""


def tokenizer_corpus(rng, train_words):
    """Texts the BPE merges are learned from. Novel label words are deliberately left out so that
    training and held-out words are split into pieces the same way."""
    texts = [ENGLISH] * 3
    for _ in range(2500):
        p = synth.make_scene(rng)
        q, a, _ = synth.scene_question(rng, p)
        texts += [q, " " + a, "User:" + q, "Assistant: " + a, "USER: " + q + " ASSISTANT: " + a]
    for _ in range(600):
        p = synth.Picture(None, "part", material=rng.choice(synth.MATERIALS),
                          defect=rng.choice(["none"] + synth.DEFECTS))
        q, a, _ = synth.part_question(rng, p)
        texts += [q, " " + a]
    for s in synth.SHAPES:
        texts += [f"Which image has more {synth.PLURAL[s]}, the first or the second?", " first", " second"] * 40
    texts += ["First image:", "Second image:", synth.ICL_QUESTION, "What is this?\n"] * 200
    for _ in range(600):
        c = synth.text_task(rng, synth.COLOUR_NAMES)
        texts += [c.messages[0]["content"][0]["text"], " " + c.answer]
    return texts


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def copy_common(folder, tok, template, eos="<end_of_utterance>"):
    os.makedirs(os.path.join(folder, "onnx"), exist_ok=True)
    tok.save(os.path.join(folder, "tokenizer.json"))
    export.write_json(os.path.join(folder, "tokenizer_config.json"), bpe.tokenizer_config(template, eos))
    export.write_json(os.path.join(folder, "special_tokens_map.json"), export.special_tokens_map(eos))


def export_idefics3_folder(model, tok, d):
    """The onnx-community Idefics3 folder: configs, tokenizer and the three fp32 graphs. -> onnx dir."""
    shutil.rmtree(d, ignore_errors=True)
    copy_common(d, tok, C.SMOLVLM_TEMPLATE)
    cfg, pre, proc, gen = export.idefics3_configs()
    for name, obj in [("config.json", cfg), ("preprocessor_config.json", pre), ("processor_config.json", proc),
                      ("generation_config.json", gen)]:
        export.write_json(os.path.join(d, name), obj)
    o = os.path.join(d, "onnx")
    export.export_idefics3_vision(model, os.path.join(o, "vision_encoder.onnx"))
    export.export_embed(model, os.path.join(o, "embed_tokens.onnx"))
    export.export_decoder(model, os.path.join(o, "decoder_model_merged.onnx"))
    return o


def export_all(model, tok, out, log):
    models = os.path.join(out, "models")
    # ---- SmolVLM / Idefics3 onnx-community layout
    d = os.path.join(models, "vlm4j-tiny-idefics3")
    o = export_idefics3_folder(model, tok, d)
    export.variants(o, "decoder_model_merged", fp16_io=True)
    export.variants(o, "vision_encoder")
    export.variants(o, "embed_tokens")
    log("  exported vlm4j-tiny-idefics3")
    # ---- LLaVA-style layout
    d = os.path.join(models, "vlm4j-tiny-llava")
    shutil.rmtree(d, ignore_errors=True)
    copy_common(d, tok, C.LLAVA_TEMPLATE)
    cfg, pre, proc, gen = export.llava_configs()
    for name, obj in [("config.json", cfg), ("preprocessor_config.json", pre), ("processor_config.json", proc),
                      ("generation_config.json", gen)]:
        export.write_json(os.path.join(d, name), obj)
    o = os.path.join(d, "onnx")
    export.export_llava_vision(model, os.path.join(o, "vision_encoder.onnx"))
    shutil.copy(os.path.join(models, "vlm4j-tiny-idefics3", "onnx", "embed_tokens.onnx"), o)
    shutil.copy(os.path.join(models, "vlm4j-tiny-idefics3", "onnx", "decoder_model_merged.onnx"), o)
    log("  exported vlm4j-tiny-llava")
    # ---- vlm4j modular layout
    d = os.path.join(models, "vlm4j-tiny-modular")
    shutil.rmtree(d, ignore_errors=True)
    copy_common(d, tok, C.SMOLVLM_TEMPLATE)
    descriptions = {"inspection": "Visual inspection of textured parts: ok/defective, defect type, material.",
                    "counting": "Counting shapes in a scene: per shape, per colour, in total."}
    cfg, pre, gen, manifest = export.modular_configs({k: descriptions[k] for k in model.adapters})
    for name, obj in [("config.json", cfg), ("preprocessor_config.json", pre), ("generation_config.json", gen),
                      ("vlm4j.json", manifest)]:
        export.write_json(os.path.join(d, name), obj)
    o = os.path.join(d, "onnx")
    export.export_vit_only(model, os.path.join(o, "vision_encoder.onnx"))
    export.export_projector(model, os.path.join(o, "projector.onnx"))
    for name, ad in model.adapters.items():
        export.export_adapter(ad, os.path.join(o, "adapters", f"{name}.onnx"))
    shutil.copy(os.path.join(models, "vlm4j-tiny-idefics3", "onnx", "embed_tokens.onnx"), o)
    shutil.copy(os.path.join(models, "vlm4j-tiny-idefics3", "onnx", "decoder_model_merged.onnx"), o)
    log("  exported vlm4j-tiny-modular")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="resources folder (default: src/test/resources)")
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "vlm4j-refmodels"),
                    help="scratch folder for the checkpoint")
    ap.add_argument("--quick", action="store_true", help="tiny budgets, for smoke-testing the kit itself")
    ap.add_argument("--from-checkpoint", action="store_true", help="skip training, load WORK/model.pt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--core-test-resources", default=os.path.normpath(
        os.path.join(HERE, "..", "..", "..", "..", "core", "src", "test", "resources")),
        help="where core's unit-test fixtures go (default: core/src/test/resources)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    t_start = time.time()
    log = training.log
    div = 20 if args.quick else 1
    n_eval = 12 if args.quick else C.EVAL_PER_TASK
    train_words, held_words = synth.pseudo_words(C.SEED)
    ckpt = os.path.join(args.work, "model.pt")
    stats = {}

    seed_all(C.SEED)
    rng = random.Random(C.SEED)
    if args.from_checkpoint:
        state = torch.load(ckpt)
        tok = bpe.Tokenizer([tuple(m) for m in state["merges"]])
        model = VLM()
        for name in state["adapters"]:
            model.add_adapter(name)
        model.load_state_dict(state["model"])
        stats = state["stats"]
        log(f"loaded {ckpt}")
    else:
        log("tokenizer: training byte-level BPE")
        tok = bpe.Tokenizer(bpe.train_merges(tokenizer_corpus(rng, train_words), C.NUM_MERGES))
        log(f"  {len(tok.merges)} merges, vocab {C.VOCAB_SIZE}")
        log("pools: drawing pictures")
        pools = training.Pools(rng, 7000 // div, 3000 // div, 4000 // div)
        model = VLM()
        log("stage 0: ViT pre-training")
        t0 = time.time()
        training.pretrain_vit(model, pools, max(C.VIT_STEPS // div, 20), C.VIT_BATCH, C.LR_VIT, rng,
                              warm_steps=C.VIT_WARM_STEPS // div)
        stats["stage 0 (ViT pre-training)"] = f"{C.VIT_STEPS // div} steps × {C.VIT_BATCH} frames, {time.time() - t0:.0f} s"
        log("feature bank: encoding pool pictures with the frozen ViT")
        t0 = time.time()
        bank = training.FeatureBank(model.vit, pools.all())
        stats["feature bank"] = f"{len(pools.all())} pictures, {bank.feats.shape[0]} frames, {time.time() - t0:.0f} s"
        log("stage 1: projector + decoder")
        t0 = time.time()
        training.train_lm(model, tok, bank, pools, train_words, max(C.LM_STEPS // div, 20), C.LM_TOKENS_PER_BATCH,
                          C.LR_LM, rng)
        stats["stage 1 (projector + decoder)"] = f"{C.LM_STEPS // div} steps of ≤{C.LM_TOKENS_PER_BATCH} tokens, {time.time() - t0:.0f} s"
        for name in C.ADAPTER_TASKS:
            log(f"stage 2: gated adapter '{name}' (ViT and decoder frozen)")
            t0 = time.time()
            training.train_adapter(model, name, tok, bank, pools, train_words, max(C.ADAPTER_STEPS // div, 10),
                                   2048, C.LR_ADAPTER, rng)
            stats[f"stage 2 (adapter {name})"] = f"{C.ADAPTER_STEPS // div} steps, {time.time() - t0:.0f} s"
        torch.save({"model": model.state_dict(), "merges": tok.merges, "adapters": list(model.adapters),
                    "stats": stats}, ckpt)
        log(f"checkpoint: {ckpt}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    stats["parameters"] = (f"ViT {sum(p.numel() for p in model.vit.parameters()):,}, projector "
                           f"{sum(p.numel() for p in model.projector.parameters()):,}, decoder "
                           f"{sum(p.numel() for p in model.decoder.parameters()):,}, adapters "
                           + ", ".join(f"{n} {sum(p.numel() for p in a.parameters()):,}" for n, a in model.adapters.items()))

    log("unit-test fixtures (tokenizer vectors, Pillow resizes, preprocessing, chat templates)")
    fixtures.write(tok, args.out, args.core_test_resources)
    log("export: three layouts")
    export_all(model, tok, args.out, log)
    log("goldens")
    models = os.path.join(args.out, "models")
    goldens.build("idefics3", model, tok, os.path.join(models, "vlm4j-tiny-idefics3"), held_words, C.SEED + 1,
                  (C.EOU_ID,), ("fp16", "q8"))
    goldens.build("llava", model, tok, os.path.join(models, "vlm4j-tiny-llava"), held_words, C.SEED + 2,
                  (C.EOU_ID, C.IM_END_ID))
    goldens.build("modular", model, tok, os.path.join(models, "vlm4j-tiny-modular"), held_words, C.SEED + 3,
                  (C.EOU_ID,))
    log("evaluation set + report")
    eval_dir = os.path.join(args.out, "eval")
    shutil.rmtree(eval_dir, ignore_errors=True)
    cases = evaluate.build_eval_set(eval_dir, held_words, n_eval)
    evaluate.write_fewshot_folders(eval_dir, cases, os.path.join(args.out, "fewshot", "inspection"))
    results = evaluate.evaluate(model, tok, eval_dir, cases, log)
    stats["total generator time"] = f"{time.time() - t_start:.0f} s (this run; --from-checkpoint skips training)"
    with open(os.path.join(HERE, "report_notes.md"), encoding="utf-8") as f:
        notes = f.read()
    evaluate.write_report(os.path.join(models, "REPORT.md"), results, stats, notes)
    log(f"done in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
