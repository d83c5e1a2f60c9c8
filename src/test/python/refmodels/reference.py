"""PyTorch reference inference: what the exported graphs must reproduce.

The path is the one a user's request takes: PIL image -> layout preprocessing -> vision tower ->
projector or adapter -> scatter at <image> positions -> decoder prefill -> greedy steps with the
KV cache (0-based position_ids, full attention mask, as transformers.js runs the graphs).
"""
import numpy as np
import torch

from . import config as C
from . import prompts
from .prompts import FORMATS
from .training import query_text


def greedy(last, step, max_new_tokens, eos_ids):
    """Greedy decoding from the prefill's last logits; `step(token, k)` runs decode step k (KV cache
    kept by the caller) and returns its last logits. -> (ids, finish reason, top-2 margins)."""
    out, margins = [], []
    for k in range(max_new_tokens):
        top2 = torch.topk(last, 2)
        margins.append(float(top2.values[0] - top2.values[1]))
        nxt = int(torch.argmax(last))
        out.append(nxt)
        if nxt in eos_ids:
            return out, "eos", margins
        if k == max_new_tokens - 1:
            break
        last = step(nxt, k)
    return out, "length", margins


class Reference:
    def __init__(self, model, tok):
        self.m, self.tok = model, tok

    @torch.no_grad()
    def image_rows(self, fmt, pils, adapter=None, query_ids=None):
        """-> (rows [n_tokens,H], grids, vit_features list, fused features list)."""
        rows, grids, vit_feats, fused = [], [], [], []
        for pil in pils:
            frames, r, c = fmt.frames(pil)
            f = self.m.vit(torch.from_numpy(frames))
            if adapter is not None:
                q = self.m.decoder.embed_tokens(torch.tensor([query_ids], dtype=torch.long))
                e = adapter(f, q)
            else:
                e = self.m.projector(f)
            vit_feats.append(f)
            fused.append(e)
            rows.append(e.reshape(-1, C.TEXT["hidden"]))
            grids.append((r, c))
        return (torch.cat(rows) if rows else None), grids, vit_feats, fused

    @torch.no_grad()
    def generate(self, fmt_name, messages, pils, adapter_name=None, max_new_tokens=C.GOLDEN_MAX_NEW_TOKENS,
                 eos_ids=(C.EOU_ID,)):
        """messages end with a user turn; returns ids, text, first-step logits, features."""
        fmt = FORMATS[fmt_name]
        adapter = self.m.adapters[adapter_name] if adapter_name else None
        qids = self.tok.encode_plain(query_text(messages)) if adapter is not None else None
        rows, grids, vit_feats, fused = self.image_rows(fmt, pils, adapter, qids)
        ids = prompts.encode(self.tok, fmt, messages, grids, True)
        dec = self.m.decoder
        x = dec.embed_tokens(torch.tensor([ids]))
        n_img = sum(1 for i in ids if i == C.IMAGE_TOKEN_ID)
        if rows is not None or n_img:
            if rows is None or rows.shape[0] != n_img:
                raise ValueError(f"{n_img} image tokens but {0 if rows is None else rows.shape[0]} feature rows")
            x = x.masked_scatter(torch.tensor([ids])[..., None] == C.IMAGE_TOKEN_ID, rows)
        s = len(ids)
        logits, past = dec(x, torch.ones(1, s, dtype=torch.long), torch.arange(s)[None], None)
        first = logits[0, -1].clone()
        cache = [past]

        def step(nxt, k):
            pos = s + k
            e = dec.embed_tokens(torch.tensor([[nxt]]))
            lg, cache[0] = dec(e, torch.ones(1, pos + 1, dtype=torch.long), torch.tensor([[pos]]), cache[0])
            return lg[0, -1]
        out, finish, margins = greedy(logits[0, -1], step, max_new_tokens, eos_ids)
        text = self.tok.decode(out, skip_special=True)
        return dict(prompt_ids=ids, generated_ids=out, text=text, finish_reason=finish, first_logits=first,
                    image_token_count=n_img, grids=grids, vit_features=vit_feats, fused=fused,
                    min_top2_margin=min(margins) if margins else None)

    @torch.no_grad()
    def score(self, fmt_name, messages, pils, labels, adapter_name=None, eos_ids=(C.EOU_ID,)):
        """Log-probability of each candidate answer: the tokens the chat template renders for an
        assistant turn with that text, up to and including the first end-of-turn token (what
        vlm4j's GenerationSession.classify scores). -> list of (total logprob, token count)."""
        fmt = FORMATS[fmt_name]
        adapter = self.m.adapters[adapter_name] if adapter_name else None
        qids = self.tok.encode_plain(query_text(messages)) if adapter is not None else None
        rows, grids, _, _ = self.image_rows(fmt, pils, adapter, qids)
        prompt = prompts.encode(self.tok, fmt, messages, grids, True)
        dec = self.m.decoder
        out = []
        for label in labels:
            full = prompts.encode(self.tok, fmt, messages + [{"role": "assistant", "content": [
                {"type": "text", "text": label}]}], grids, False)
            if full[:len(prompt)] != prompt:
                raise AssertionError("prompt is not a token prefix of prompt + answer")
            cont = full[len(prompt):]
            end = next((i for i, t in enumerate(cont) if t in eos_ids), len(cont) - 1)
            cont = cont[:end + 1]
            ids = prompt + cont
            x = dec.embed_tokens(torch.tensor([ids]))
            if rows is not None:
                x = x.masked_scatter(torch.tensor([ids])[..., None] == C.IMAGE_TOKEN_ID, rows)
            s = len(ids)
            logits, _ = dec(x, torch.ones(1, s, dtype=torch.long), torch.arange(s)[None], None)
            lp = torch.log_softmax(logits[0, len(prompt) - 1:s - 1].double(), -1)
            out.append((float(lp[torch.arange(len(cont)), torch.tensor(cont)].sum()), len(cont)))
        return out


def checksum(t):
    a = t.detach().double().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, np.float64)
    flat = a.reshape(-1)
    return {"shape": list(a.shape), "sum": float(flat.sum()), "sum_sq": float((flat ** 2).sum()),
            "head": [float(v) for v in flat[:8]]}
