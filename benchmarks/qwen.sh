#!/usr/bin/env bash
# Reruns the "Qwen2.5-VL-3B widths" figures of BENCHMARKS.md (issue 15): vlm4j vs the raw ONNX
# Runtime loop (QwenRawOrtLoop) vs transformers.js on a random-weight Qwen2.5-VL folder with the 3B
# model's widths at reduced depth. Build first: mvn -B -DskipTests package
#
#   bash benchmarks/qwen.sh                    2 and 1 threads, both images, 3 contenders (~2 h on 2 cores)
#   THREADS=2 bash benchmarks/qwen.sh          2 threads only
#   ONLY="raw tjs" bash benchmarks/qwen.sh     a subset of the contenders (vlm4j raw tjs)
#   APPEND=1 THREADS=1 bash benchmarks/qwen.sh keep the earlier results, add these (the last row per
#                                              contender and configuration counts in the tables)
#
# The model is generated first if missing (~4 min, 5.7 GB, peak RSS ~10 GB; needs the kit's Python
# packages, see src/test/README.md) into $QWEN (default /tmp/vlm4j-qwen2_5-vl-3b-shaped), with
# LAYERS decoder layers and VISION_DEPTH vision blocks (default 8 and 8; the 3B model has 36 and 32).
# Each contender runs in its own process (~7 GB each: two copies of the weights do not fit next to
# each other on a 24 GB machine), one process per round: 1 warm-up + 1 measured run, 32 new tokens,
# no EOS; ROUNDS (default 3) rounds per configuration cycle through the contenders (the order
# rotating), so that a change in the machine's load hits all of them alike; medians over the rounds.
# Results: benchmarks/results/qwen.csv (QwenComparison's columns), qwen-ids.txt (prompt and generated
# ids per contender: the script fails unless they agree), qwen-load.csv (the 1/5/15-min load average
# before and after each contender), then the markdown tables (QwenReport).
# Run on an otherwise idle machine: on 2 cores any other load distorts every figure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
JAR=${JAR:-benchmarks/target/benchmarks.jar}
OUT=benchmarks/results
QWEN=${QWEN:-/tmp/vlm4j-qwen2_5-vl-3b-shaped}
THREADS=${THREADS:-2 1}
ONLY=${ONLY:-vlm4j raw tjs}
ROUNDS=${ROUNDS:-3}
NEW=32
IMAGES="scene_448x448.png scene_896x672.png"   # written by the generator: 256 and 768 image tokens, no resize
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

[ -f "$QWEN/onnx/decoder_model_merged.onnx_data" ] || \
  (cd src/test/python && /usr/bin/python3 -m refmodels.qwen_bench_model --out "$QWEN" \
    --layers "${LAYERS:-8}" --vision-depth "${VISION_DEPTH:-8}")
mkdir -p $OUT
CSV=$(abs $OUT/qwen.csv) IDS=$(abs $OUT/qwen-ids.txt) LOADS=$(abs $OUT/qwen-load.csv) QWEN=$(abs "$QWEN")
if [ "${APPEND:-0}" != 1 ] || [ ! -f $LOADS ]; then
  rm -f $CSV $IDS
  echo "contender,image,threads,load_start,load_end" > $LOADS
fi

run() {   # contender image threads
  local who=$1 img=$QWEN/bench/$2 t=$3 l0 name size
  size=$(basename "$2" .png); size=${size#scene_}
  l0=$(load)
  echo "## $who, $size, $t thread(s), load $l0"
  case $who in
    vlm4j|raw)
      name=$who; [ "$who" = raw ] && name=raw-ort
      if ! java -cp $JAR io.github.vlm4j.benchmarks.QwenComparison "$QWEN" "$img" $NEW 1 "$t" --only "$who" \
          --warmup 1 --csv $CSV --ids $IDS 2>/tmp/vlm4j-qwen-$who.log; then
        echo "$who failed (vlm4j without the qwen2_5_vl family?):"; grep -m3 -E "Exception|Error" /tmp/vlm4j-qwen-$who.log
        return 0
      fi ;;
    tjs)
      name=transformers.js
      (cd src/test/node && node bench-transformersjs-generate.mjs --model "$QWEN" --image "$img" \
        --new $NEW --reps 1 --warmup 1 --threads "$t" --csv "$CSV" --ids "$IDS") ;;
  esac
  echo "$name,$size,$t,$l0,$(load)" >> $LOADS
}

k=0
for t in $THREADS; do for img in $IMAGES; do for round in $(seq 1 "$ROUNDS"); do
  # rotate the order of the contenders between rounds
  set -- $ONLY; n=$#; order=""
  for i in $(seq 0 $((n - 1))); do j=$(( (i + k) % n + 1 )); order="$order ${!j}"; done
  k=$((k + 1))
  for who in $order; do run "$who" "$img" "$t"; done
done; done; done

# every contender's prompt ids and generated ids must agree per (image, threads)
python3 benchmarks/check-ids.py "$IDS"
java -cp $JAR io.github.vlm4j.benchmarks.QwenReport $CSV $LOADS
echo; echo "best round per contender (wall clock):"
java -cp $JAR io.github.vlm4j.benchmarks.QwenReport $CSV $LOADS --best
