"""Label scores of the tiny Florence-2 folder, from the PyTorch reference (FlorenceModel.classify's goldens).

    cd src/test/python && /usr/bin/python3 -m refmodels.florence2_scores         # ~5 s on 2 cores

writes src/test/resources/models/vlm4j-tiny-florence2/label_scores.json. The model is rebuilt from the
kit's seed and sizes (florence2_kit.build's weights, nothing exported) and must first reproduce the
committed goldens.json's greedy ids on every case it scores, so the scores belong to the committed graphs.

A label is scored as the decoder's whole answer: decoder input [decoder_start, <s>, label tokens] (the
label tokenized as text, no special tokens), one teacher-forced pass without cache over the encoder
output of the golden's image and prompt; token_log_probs are the raw logits' log-softmax (no forced
BOS/EOS processors) at each label token and at the closing </s>. The forced <s> is not scored.
total = their sum; probability = softmax of the totals over the case's labels.
"""
import copy
import json
import os

import torch
from PIL import Image

from . import florence2 as F2
from . import florence2_kit as kit

FILE = "label_scores.json"
CASES = ["caption", "od", "ocr", "phrase_grounding", "region_to_category", "grayscale_caption"]
LABELS = ["a red circle", "a blue square", "triangle", "two green triangles on a white background", "J"]


def rebuild(seed=kit.SEED, cfg=None):
    cfg = copy.deepcopy(F2.TINY) if cfg is None else cfg
    tok = kit.build_tokenizer()
    torch.manual_seed(seed)
    loc_ids = [tok.vocab[t] for t in kit.LOC_TOKENS]
    m = F2.init_weights(F2.Florence2(cfg, len(tok.vocab)), seed, loc_ids, cfg["loc_bias"], kit.EOS_ID,
                        cfg["eos_bias"]).eval()
    return m, tok


@torch.no_grad()
def encoder_output(m, prompt_ids, pil):
    lang = m.language
    pv, _ = F2.preprocess(pil, m.cfg)
    enc_in = torch.cat([m.vision(pv), lang.shared(torch.tensor([prompt_ids]))], dim=1)
    mask = torch.ones(1, enc_in.shape[1], dtype=torch.long)
    return lang.encode(enc_in, mask), mask


@torch.no_grad()
def score(m, tok, enc, mask, label, start):
    lang = m.language
    label_ids = tok.encode(label)
    ids = [start, kit.BOS_ID] + label_ids + [kit.EOS_ID]
    logits, _ = lang.decode(lang.shared(torch.tensor([ids[:-1]])), mask, None, lang.cross_kv(enc))
    lp = torch.log_softmax(logits[0].double(), dim=-1)
    # row i predicts ids[i + 1]; row 0 predicts the forced <s> and is not scored
    token_lp = [float(lp[i, ids[i + 1]]) for i in range(1, len(ids) - 1)]
    return {"label": label, "ids": label_ids + [kit.EOS_ID], "token_log_probs": token_lp, "total": sum(token_lp)}


def main():
    torch.set_num_threads(2)
    folder = os.path.join(kit.DEFAULT_MODELS, kit.FOLDER)
    with open(os.path.join(folder, "goldens.json")) as f:
        goldens = json.load(f)
    m, tok = rebuild(goldens["seed"] - 1)
    ref = F2.Reference(m, goldens["generation"])
    start = goldens["generation"]["decoder_start_token_id"]
    out = []
    for name in CASES:
        c = next(c for c in goldens["cases"] if c["name"] == name)
        pil = Image.open(os.path.join(folder, c["image"]))
        pil.load()
        again = ref.generate(c["prompt_ids"], pil, c["max_new_tokens"])["generated_ids"]
        assert again == c["generated_ids"], f"{name}: the rebuilt model does not reproduce the committed goldens"
        enc, mask = encoder_output(m, c["prompt_ids"], pil)
        scores = [score(m, tok, enc, mask, label, start) for label in LABELS]
        mx = max(s["total"] for s in scores)
        z = sum(torch.exp(torch.tensor(s["total"] - mx, dtype=torch.float64)).item() for s in scores)
        for s in scores:
            s["probability"] = torch.exp(torch.tensor(s["total"] - mx, dtype=torch.float64)).item() / z
        out.append({"case": name, "task": c["task"], "labels": scores})
        print(f"  {name:22s} " + "  ".join(f"{s['label'][:12]!r} {s['total']:.3f}" for s in scores))
    doc = {"model": kit.FOLDER, "reference": __doc__.strip().split("\n\n", 2)[2], "cases": out}
    path = os.path.join(folder, FILE)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(path)


if __name__ == "__main__":
    main()
