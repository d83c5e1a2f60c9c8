"""A byte-level BPE tokenizer trained by the kit and saved as a HuggingFace ``tokenizer.json``.

The encoder here mirrors the HuggingFace ``tokenizers`` semantics that transformers.js and
DJL implement: added tokens are split out first (leftmost-longest match), every other segment
is pre-tokenized with ``Digits(individual_digits=True)`` then GPT-2's ``ByteLevel`` regex, and
each pre-token is merged by merge rank. The peer check (transformers.js) and the Java tests
(DJL) compare against ids produced here, so any divergence shows up as a failing test.
"""
import json
import unicodedata
from collections import Counter

import regex

from . import config as C

GPT2_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()
U2B = {v: k for k, v in B2U.items()}


def pre_tokenize(text):
    """Digits(individual) then ByteLevel(use_regex) -> list of byte-level strings."""
    pieces, cur = [], ""
    for ch in text:
        if ch.isnumeric():
            if cur:
                pieces.append(cur)
                cur = ""
            pieces.append(ch)
        else:
            cur += ch
    if cur:
        pieces.append(cur)
    out = []
    for piece in pieces:
        for m in GPT2_PATTERN.findall(piece):
            out.append("".join(B2U[b] for b in m.encode("utf-8")))
    return out


# Qwen2's pre-tokenizer (tokenizer.json of the Qwen2 / Qwen2-VL / Qwen2.5-VL tokenizers): NFC, then one
# Split regex (contractions, letters with one leading non-letter, single digits, punctuation runs,
# newlines, spaces), then ByteLevel without its own regex.
QWEN2_PATTERN_TEXT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                      r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = regex.compile(QWEN2_PATTERN_TEXT)


def pre_tokenize_qwen2(text):
    """NFC + Split(QWEN2_PATTERN, Isolated) + ByteLevel(use_regex=false) -> byte-level strings."""
    return ["".join(B2U[b] for b in m.encode("utf-8"))
            for m in QWEN2_PATTERN.findall(unicodedata.normalize("NFC", text))]


def pre_tokenize_bart(text):
    """BART / RoBERTa / GPT-2: ByteLevel(add_prefix_space=false, use_regex=true) alone (no Digits split)."""
    return ["".join(B2U[b] for b in m.encode("utf-8")) for m in GPT2_PATTERN.findall(text)]


PRE_TOKENIZERS = {"kit": pre_tokenize, "qwen2": pre_tokenize_qwen2, "bart": pre_tokenize_bart}


def train_merges(texts, num_merges, style="kit"):
    """Classic BPE training over pre-token frequencies; ties broken by pair text."""
    words = Counter()
    for t in texts:
        words.update(PRE_TOKENIZERS[style](t))
    seqs = {w: list(w) for w in words}
    vocab = set(B2U.values())
    merges = []
    while len(merges) < num_merges:
        pairs = Counter()
        for w, f in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += f
        if not pairs:
            break
        best = None
        for (a, b), f in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
            if a + b not in vocab:
                best = (a, b)
                break
        if best is None:
            break
        a, b = best
        merges.append(best)
        vocab.add(a + b)
        for w in words:
            s = seqs[w]
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return merges


class Tokenizer:
    def __init__(self, merges, head=None, tail=None, vocab_size=None, style="kit", post_processor=None):
        """Vocabulary layout: `head` specials, the 256 byte tokens, one token per merge, unused
        padding up to `vocab_size - len(tail)`, then the `tail` specials. Defaults: the shared
        kit layout of config.py; `vocab_size=None` with a custom layout means no padding.
        `style`: the pre-tokenizer, "kit" (Digits + ByteLevel regex), "qwen2" or "bart" (PRE_TOKENIZERS).
        `post_processor`: the tokenizer.json "post_processor" object (None: no special tokens added)."""
        self.style = style
        self.post_processor = post_processor
        head = C.SPECIAL_HEAD if head is None else list(head)
        tail = C.SPECIAL_TAIL if tail is None else list(tail)
        if vocab_size is None:
            vocab_size = C.VOCAB_SIZE if tail is C.SPECIAL_TAIL else len(head) + 256 + len(merges) + len(tail)
        self.merges = list(merges)
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        vocab = {}
        for i, t in enumerate(head):
            vocab[t] = i
        for b in range(256):
            vocab[B2U[b]] = len(vocab)
        for a, b in self.merges:
            vocab[a + b] = len(vocab)
        first_tail = vocab_size - len(tail)
        assert len(vocab) <= first_tail, (len(vocab), first_tail)
        # Pad unused slots (only if training produced fewer merges than planned).
        k = 0
        while len(vocab) < first_tail:
            vocab[f"<|unused_{k}|>"] = len(vocab)
            k += 1
        for t in tail:
            vocab[t] = len(vocab)
        assert len(vocab) == vocab_size
        self.vocab = vocab
        self.inv = {i: t for t, i in vocab.items()}
        self.added = list(head) + list(tail)
        self.added_sorted = sorted(self.added, key=len, reverse=True)
        self.cache = {}

    # --------------------------------------------------------------- encode / decode
    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        s = list(word)
        while len(s) > 1:
            best, bi = None, -1
            for i in range(len(s) - 1):
                r = self.ranks.get((s[i], s[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            s = s[:bi] + [s[bi] + s[bi + 1]] + s[bi + 2:]
        ids = [self.vocab[t] for t in s]
        self.cache[word] = ids
        return ids

    def encode_plain(self, text):
        """Tokenize text with no added-token matching (special strings stay text)."""
        ids = []
        for w in PRE_TOKENIZERS[self.style](text):
            ids += self._bpe(w)
        return ids

    def encode(self, text):
        """HF semantics: added tokens split out first (leftmost-longest), rest BPE'd."""
        ids, i, start = [], 0, 0
        while i < len(text):
            hit = None
            if text[i] == "<":
                for t in self.added_sorted:
                    if text.startswith(t, i):
                        hit = t
                        break
            if hit:
                if start < i:
                    ids += self.encode_plain(text[start:i])
                ids.append(self.vocab[hit])
                i += len(hit)
                start = i
            else:
                i += 1
        if start < len(text):
            ids += self.encode_plain(text[start:])
        return ids

    def decode(self, ids, skip_special=True):
        out, buf = [], []
        for i in ids:
            t = self.inv[i]
            if t in self.added:
                if buf:
                    out.append(bytes(buf).decode("utf-8", errors="replace"))
                    buf = []
                if not skip_special:
                    out.append(t)
            else:
                buf += [U2B[c] for c in t]
        if buf:
            out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)

    # --------------------------------------------------------------- serialisation
    def to_json(self):
        added = [{"id": self.vocab[t], "content": t, "single_word": False, "lstrip": False,
                  "rstrip": False, "normalized": False, "special": True} for t in self.added]
        added.sort(key=lambda a: a["id"])
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": {"type": "NFC"} if self.style == "qwen2" else None,
            "pre_tokenizer": self._pre_tokenizer_json(),
            "post_processor": self.post_processor,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges]},
        }

    def _pre_tokenizer_json(self):
        if self.style == "bart":
            return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        if self.style == "qwen2":
            return {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN_TEXT}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
        return {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, ensure_ascii=False, indent=1)
            f.write("\n")

    @staticmethod
    def load(path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        return Tokenizer([tuple(m.split(" ")) for m in j["model"]["merges"]])


def tokenizer_config(chat_template, eos_token="<end_of_utterance>"):
    """tokenizer_config.json in the SmolVLM style (chat template included)."""
    added = {}
    tok = {t: i for i, t in enumerate(C.SPECIAL_HEAD)}
    tok.update({t: C.special_id(t) for t in C.SPECIAL_TAIL})
    for t, i in sorted(tok.items(), key=lambda kv: kv[1]):
        added[str(i)] = {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": False, "special": True}
    return {
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": ["<fake_token_around_image>", "<image>", "<end_of_utterance>"],
        "bos_token": "<|im_start|>",
        "chat_template": chat_template,
        "clean_up_tokenization_spaces": False,
        "eos_token": eos_token,
        "legacy": False,
        "model_max_length": C.TEXT["max_positions"],
        "pad_token": "<|im_end|>",
        "tokenizer_class": "GPT2Tokenizer",
        "truncation_side": "left",
        "unk_token": "<|endoftext|>",
        "vocab_size": C.VOCAB_SIZE,
    }
