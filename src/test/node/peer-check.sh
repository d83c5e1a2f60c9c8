#!/usr/bin/env bash
# Peer check: unmodified transformers.js (Node, onnxruntime-node CPU) must reproduce the PyTorch
# goldens of vlm4j-tiny-idefics3 and vlm4j-tiny-llava: identical prompt ids and greedy ids.
#
#   bash src/test/node/peer-check.sh [--models DIR] [--json OUT]
#   bash src/test/node/peer-check.sh --smart-resize [--table FILE]   # smart-resize-check.mjs: transformers.js's
#        own smart_resize on the kit's 350-row table (strips, 7x5, 200:1, budgets)
#   bash src/test/node/peer-check.sh --qwen [--models DIR] [--only NAME] [--json OUT]   # peer-check-qwen.mjs:
#        the tiny Qwen-VL folders (prompt ids, first-step logits, greedy ids; see that script's header):
#        vlm4j-tiny-qwen2-vl, vlm4j-tiny-qwen2_5-vl and vlm4j-tiny-qwen3-vl. vlm4j-tiny-qwen3-vl-deepstack is
#        excluded: transformers.js 4.3.1 runs qwen3_vl without DeepStack and cannot feed deepstack_embeds.
#   bash src/test/node/peer-check.sh --lfm2 [--models DIR] [--dtypes fp32,fp16,q8] [--json OUT]   # peer-check-lfm2.mjs:
#        vlm4j-tiny-lfm2-vl (hybrid conv/KV cache; prompt ids, spatial shapes, pixels, first-step logits, greedy ids)
#   bash src/test/node/peer-check.sh --gemma3 [--models DIR] [--dtypes fp32,fp16,q8] [--json OUT]   # peer-check-gemma3.mjs:
#        vlm4j-tiny-gemma3 (template text, prompt ids, pixels, first-step logits, greedy ids; pan-and-scan goldens
#        are skipped: transformers.js has no pan-and-scan)
#   bash src/test/node/peer-check.sh --gemma3-bidi [--models DIR] [--dtypes ...]   # contract-check-gemma3-bidi.mjs:
#        vlm4j-tiny-gemma3-bidi's graphs (decoder with token_type_ids) run directly with onnxruntime-node
#   bash src/test/node/peer-check.sh --florence2 [--models DIR] [--dtypes ...] [--json OUT] [--write-post-processed]   # peer-check-florence2.mjs:
#        vlm4j-tiny-florence2 (encoder-decoder, merged decoder with use_cache_branch; task prompts, prompt ids, pixels,
#        step-1/2 logits, greedy ids, decoded text, post_process_generation; --write-post-processed stores tjs's results)
#   bash src/test/node/peer-check.sh --qwen3-deepstack [--models DIR] [--dtypes ...]   # contract-check-qwen3-deepstack.mjs:
#        vlm4j-tiny-qwen3-vl-deepstack's graphs run directly with onnxruntime-node against its goldens
#   bash src/test/node/peer-check.sh --florence-post [--corpus FILE] [--json OUT]   # florence-post-check.mjs:
#        transformers.js's Florence2Processor (construct_prompts, post_process_generation) on the corpus
#        src/test/resources/fixtures/florence_post_corpus.json; no model involved
#
# Installs @huggingface/transformers (pinned in package-lock.json) into src/test/node/node_modules
# on first use. ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's postinstall would try to download
# GPU binaries; the CPU runtime ships in the package. No model is fetched from the network.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export ORT_DISABLE_TELEMETRY=1
export ONNXRUNTIME_NODE_INSTALL=skip
export HF_HUB_OFFLINE=1
if [ ! -d node_modules/@huggingface/transformers ]; then
  echo "peer-check: installing @huggingface/transformers (npm ci) ..." >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
script=peer-check.mjs
if [ "${1:-}" = "--qwen" ]; then script=peer-check-qwen.mjs; shift; fi
if [ "${1:-}" = "--smart-resize" ]; then script=smart-resize-check.mjs; shift; fi
if [ "${1:-}" = "--lfm2" ]; then script=peer-check-lfm2.mjs; shift; fi
if [ "${1:-}" = "--gemma3" ]; then script=peer-check-gemma3.mjs; shift; fi
if [ "${1:-}" = "--gemma3-bidi" ]; then script=contract-check-gemma3-bidi.mjs; shift; fi
if [ "${1:-}" = "--florence2" ]; then script=peer-check-florence2.mjs; shift; fi
if [ "${1:-}" = "--qwen3-deepstack" ]; then script=contract-check-qwen3-deepstack.mjs; shift; fi
if [ "${1:-}" = "--florence-post" ]; then script=florence-post-check.mjs; shift; fi
exec node "$script" "$@"
