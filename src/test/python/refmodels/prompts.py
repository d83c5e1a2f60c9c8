"""Prompt building for the three layouts, as the HF processors / transformers.js do it:
render the chat template (jinja, trim_blocks + lstrip_blocks like transformers), replace the
k-th ``<image>`` of the rendered text by the k-th image's expansion, tokenize the whole string.
"""
from dataclasses import dataclass

import jinja2

from . import config as C
from . import imageproc

FAKE, GLOBAL, IMAGE = "<fake_token_around_image>", "<global-img>", "<image>"


def _env():
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(msg):
        raise jinja2.TemplateError(msg)
    env.globals["raise_exception"] = raise_exception
    return env


ENV = _env()
_COMPILED = {}


def render(template, messages, add_generation_prompt, eos_token="<end_of_utterance>"):
    if template not in _COMPILED:
        _COMPILED[template] = ENV.from_string(template)
    return _COMPILED[template].render(
        messages=messages, add_generation_prompt=add_generation_prompt, bos_token="<|im_start|>",
        eos_token=eos_token, pad_token="<|im_end|>", unk_token="<|endoftext|>")


def idefics3_expansion(rows, cols, n=C.IMAGE_SEQ_LEN):
    if rows == 0 and cols == 0:
        return FAKE + GLOBAL + IMAGE * n + FAKE
    s = ""
    for r in range(rows):
        for c in range(cols):
            s += FAKE + f"<row_{r + 1}_col_{c + 1}>" + IMAGE * n
        s += "\n"
    return s + "\n" + FAKE + GLOBAL + IMAGE * n + FAKE


@dataclass(frozen=True)
class Format:
    """How one layout turns (messages, images) into ids and pixel frames."""
    name: str
    template: str
    frame_kind: str        # which preprocessing: "split" | "nosplit" | "fixed"
    wrap: bool             # idefics3-style <fake><global-img>...<fake> around the image tokens

    def frames(self, pil):
        if self.frame_kind == "split":
            return imageproc.idefics3_frames(pil, True)
        if self.frame_kind == "nosplit":
            return imageproc.idefics3_frames(pil, False)
        return imageproc.fixed_frames(pil), 0, 0

    def expansion(self, rows, cols):
        if self.wrap:
            return idefics3_expansion(rows, cols)
        return IMAGE * C.IMAGE_SEQ_LEN


FORMATS = {
    "idefics3": Format("idefics3", C.SMOLVLM_TEMPLATE, "split", True),
    "idefics3_nosplit": Format("idefics3_nosplit", C.SMOLVLM_TEMPLATE, "nosplit", True),
    "modular": Format("modular", C.SMOLVLM_TEMPLATE, "fixed", True),
    "llava": Format("llava", C.LLAVA_TEMPLATE, "fixed", False),
}


def expand(text, grids, fmt):
    pieces = text.split(IMAGE)
    if len(pieces) - 1 != len(grids):
        raise ValueError(f"{len(pieces) - 1} <image> in the rendered prompt but {len(grids)} images")
    out = pieces[0]
    for (rows, cols), rest in zip(grids, pieces[1:]):
        out += fmt.expansion(rows, cols) + rest
    return out


def encode(tok, fmt, messages, grids, add_generation_prompt):
    """-> token ids of the rendered + expanded conversation."""
    text = render(fmt.template, messages, add_generation_prompt)
    return tok.encode(expand(text, grids, fmt))


def training_ids(tok, fmt, conv, grids):
    """-> (ids, spans): ids of the conversation up to the last answer's <eou>; spans = [start, end)
    of every trained answer (the assistant turns listed in conv.meta["loss_turns"], default the last),
    each ending with its <eou>."""
    full = encode(tok, fmt, conv.messages, grids, False)
    turns = conv.meta.get("loss_turns", [len(conv.messages) - 1])
    spans = []
    for j in turns:
        n_images = sum(1 for m in conv.messages[:j] for p in m["content"] if p["type"] == "image")
        prompt = encode(tok, fmt, conv.messages[:j], grids[:n_images], True)
        if full[:len(prompt)] != prompt:
            raise AssertionError("prompt is not a token prefix of the full conversation")
        spans.append((len(prompt), full.index(C.EOU_ID, len(prompt)) + 1))
    return full[:spans[-1][1]], spans
