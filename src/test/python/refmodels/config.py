"""Every size, id and hyper-parameter of the reference model kit, in one place.

The kit trains ONE tiny vision-language model and exports it in three folder layouts
(idefics3 / llava / modular). All numbers that the exported JSON configs state are taken
from here, so the configs and the graphs cannot disagree.
"""

SEED = 20261123

# ---------------------------------------------------------------- images and vision tower
TILE = 64                 # vision encoder input (max_image_size.longest_edge); one frame
LONGEST_EDGE = 128        # idefics3 size.longest_edge: 128-px images split into 2x2 tiles + global
PATCH = 8                 # ViT patch size -> (64/8)^2 = 64 patches per frame
SCALE_FACTOR = 2          # idefics3 pixel shuffle -> 64 / 2^2 = 16 image tokens per frame
PATCHES_PER_FRAME = (TILE // PATCH) ** 2
IMAGE_SEQ_LEN = PATCHES_PER_FRAME // (SCALE_FACTOR ** 2)
SCENE_SIZE = 128          # scenes are drawn at 128 px (longest edge)
PART_SIZE = 64            # inspection parts are drawn at 64 px

VIT = dict(hidden=64, layers=3, heads=4, mlp=256, eps=1e-6, conv_stem=True)

# ---------------------------------------------------------------- decoder (Llama-style)
TEXT = dict(hidden=128, layers=4, heads=4, kv_heads=2, head_dim=32, intermediate=384,
            rms_eps=1e-5, rope_theta=10000.0, max_positions=1024)

# ---------------------------------------------------------------- gated cross-modal adapters
ADAPTER_RANK = 64
ADAPTER_TASKS = ("inspection", "counting")

# ---------------------------------------------------------------- tokenizer
VOCAB_SIZE = 768
SPECIAL_HEAD = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]          # ids 0, 1, 2
ROW_COL_TOKENS = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
SPECIAL_TAIL = ["<global-img>"] + ROW_COL_TOKENS + ["<fake_token_around_image>", "<image>",
                                                    "<end_of_utterance>"]
NUM_MERGES = VOCAB_SIZE - len(SPECIAL_HEAD) - 256 - len(SPECIAL_TAIL)


def special_id(token):
    """Id of a special token in the fixed vocabulary layout."""
    if token in SPECIAL_HEAD:
        return SPECIAL_HEAD.index(token)
    return VOCAB_SIZE - len(SPECIAL_TAIL) + SPECIAL_TAIL.index(token)


IMAGE_TOKEN_ID = special_id("<image>")
EOU_ID = special_id("<end_of_utterance>")
FAKE_ID = special_id("<fake_token_around_image>")
GLOBAL_ID = special_id("<global-img>")
IM_END_ID = special_id("<|im_end|>")

# ---------------------------------------------------------------- chat templates
# SmolVLM's template, byte for byte (onnx-contracts.md section 2.5).
SMOLVLM_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

# A LLaVA-1.5-style template (USER: / ASSISTANT:), written with whitespace control so that
# the same string renders identically with or without trim_blocks/lstrip_blocks.
LLAVA_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{{ 'USER: ' }}{%- else -%}{{ 'ASSISTANT: ' }}{%- endif -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{ '<image>\\n' }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if message['role'] == 'user' -%}{{ ' ' }}{%- else -%}{{ eos_token }}{{ '\\n' }}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}"
)

# ---------------------------------------------------------------- training budget
# (steps are per stage; --quick divides them, for smoke runs only)
VIT_STEPS = 1400
VIT_BATCH = 96
VIT_WARM_STEPS = 300   # single-shape pictures and parts only, before the scene objectives
LM_STEPS = 1400
LM_TOKENS_PER_BATCH = 2048
ADAPTER_STEPS = 250
LR_VIT = 2e-3
LR_LM = 2e-3
LR_ADAPTER = 2e-3

# ---------------------------------------------------------------- held-out evaluation
EVAL_PER_TASK = 100
GOLDEN_MAX_NEW_TOKENS = 24

# ---------------------------------------------------------------- decoder vocabulary
MODEL_VOCAB = VOCAB_SIZE  # rows of embed_tokens / lm_head (a preset may make it larger than the tokenizer)

# ---------------------------------------------------------------- benchmark preset
# VLM4J_KIT_PRESET=smolvlm-256m (set by `python3 -m refmodels.bench_model`, never by the kit itself):
# SmolVLM-256M-Instruct's shapes — SigLIP-B/16 at 512 px (12 layers, width 768), pixel shuffle 4 -> 64
# tokens per tile, images resized to 2048 px and cut into 512-px tiles, a 30-layer 576-wide decoder with
# 9 heads / 3 KV heads (head size 64), intermediate 1536, vocabulary 49280. Random weights: speed
# depends on shapes only. The tokenizer stays the kit's (its ids are a subset of the 49280 rows).
import os as _os  # noqa: E402

if _os.environ.get("VLM4J_KIT_PRESET") == "smolvlm-256m":
    TILE, LONGEST_EDGE, PATCH, SCALE_FACTOR = 512, 2048, 16, 4
    PATCHES_PER_FRAME = (TILE // PATCH) ** 2
    IMAGE_SEQ_LEN = PATCHES_PER_FRAME // (SCALE_FACTOR ** 2)
    VIT = dict(hidden=768, layers=12, heads=12, mlp=3072, eps=1e-6)
    TEXT = dict(hidden=576, layers=30, heads=9, kv_heads=3, head_dim=64, intermediate=1536,
                rms_eps=1e-5, rope_theta=100000.0, max_positions=8192)
    MODEL_VOCAB = 49280

