#!/usr/bin/env bash
# Reruns the "New families at realistic shapes (issue 16)" figures of BENCHMARKS.md: vlm4j
# (FamilyComparison) vs transformers.js (src/test/node/bench-transformersjs-generate.mjs) on random-weight
# folders with the real models' widths. Build first: mvn -B -DskipTests package
#
#   bash benchmarks/families.sh                        both families, 2 threads (~40 min on 2 cores)
#   FAMILIES=gemma3 bash benchmarks/families.sh        one family (lfm2_vl gemma3)
#   THREADS="2 1" ROUNDS=5 bash benchmarks/families.sh
#   APPEND=1 FAMILIES=lfm2_vl bash benchmarks/families.sh   keep the earlier results, add these
#
# Each folder is generated first if missing (src/test/python/refmodels/family_bench_model.py; needs the
# kit's Python packages, see src/test/README.md): $LFM2 (default /tmp/vlm4j-lfm2-vl-450m-shaped, ~1.5 min,
# 2.1 GB, full depth) and $GEMMA3 (default /tmp/vlm4j-gemma3-4b-shaped, GEMMA3_LAYERS / GEMMA3_VISION_DEPTH
# decoder / vision layers, default 8 and 4 of 34 and 27; ~6.5 min, 8.7 GB). The images are the generator's bench/*.png.
# Each contender runs in its own process, one process per round: load, 1 warm-up + 1 measured run,
# 32 new tokens, no EOS; ROUNDS (default 3) rounds per configuration alternate the order of the two
# contenders; medians over the rounds.
# Results (benchmarks/results/): families.csv (FamilyComparison's columns), families-<family>-ids.txt
# (prompt and generated ids per contender: the script fails unless both contenders' agree),
# families-load.csv (the 1/5/15-min load average before and after each process), then the tables
# (QwenReport --contenders vlm4j,transformers.js).
# Run on an otherwise idle machine: on 2 cores any other load distorts every figure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
JAR=${JAR:-benchmarks/target/benchmarks.jar}
OUT=benchmarks/results
FAMILIES=${FAMILIES:-lfm2_vl gemma3}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
NEW=32
LFM2=${LFM2:-/tmp/vlm4j-lfm2-vl-450m-shaped}
GEMMA3=${GEMMA3:-/tmp/vlm4j-gemma3-4b-shaped}
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
folder() { case $1 in lfm2_vl) echo "$LFM2" ;; gemma3) echo "$GEMMA3" ;; *) echo "unknown family $1" >&2; exit 2 ;; esac; }

mkdir -p $OUT
CSV=$(abs $OUT/families.csv) LOADS=$(abs $OUT/families-load.csv)
if [ "${APPEND:-0}" != 1 ] || [ ! -f "$LOADS" ]; then
  rm -f "$CSV" $OUT/families-*-ids.txt
  echo "family,contender,image,threads,load_start,load_end" > "$LOADS"
fi

run() {   # family folder contender image threads ids
  local fam=$1 dir=$2 who=$3 img=$4 t=$5 ids=$6 l0 size
  size=$(basename "$img" .png); size=${size#scene_}
  l0=$(load)
  echo "## $fam, $who, $size, $t thread(s), load $l0"
  case $who in
    vlm4j)
      java -cp "$JAR" io.github.vlm4j.benchmarks.FamilyComparison "$dir" "$img" $NEW 1 "$t" --warmup 1 \
        --csv "$CSV" --ids "$ids" ;;
    transformers.js)
      (cd src/test/node && node bench-transformersjs-generate.mjs --model "$dir" --image "$img" --new $NEW \
        --reps 1 --warmup 1 --threads "$t" --csv "$CSV" --ids "$ids" --load-column) ;;
  esac
  echo "$fam,$who,$size,$t,$l0,$(load)" >> "$LOADS"
}

k=0
for fam in $FAMILIES; do
  dir=$(folder "$fam")
  case $fam in
    lfm2_vl) args="" ;;
    gemma3) args="--layers ${GEMMA3_LAYERS:-8} --vision-depth ${GEMMA3_VISION_DEPTH:-4}" ;;
  esac
  [ -f "$dir/bench.json" ] || \
    (cd src/test/python && /usr/bin/python3 -m refmodels.family_bench_model --family "$fam" --out "$dir" $args)
  dir=$(abs "$dir")
  ids=$(abs $OUT/families-$fam-ids.txt)
  for t in $THREADS; do for img in "$dir"/bench/scene_*.png; do for round in $(seq 1 "$ROUNDS"); do
    if [ $((k % 2)) = 0 ]; then order="vlm4j transformers.js"; else order="transformers.js vlm4j"; fi
    k=$((k + 1))
    for who in $order; do run "$fam" "$dir" "$who" "$img" "$t" "$ids"; done
  done; done; done
  # both contenders' prompt ids and generated ids must agree per (image, threads)
  python3 benchmarks/check-ids.py "$ids" --require vlm4j,transformers.js
done

java -cp "$JAR" io.github.vlm4j.benchmarks.QwenReport "$CSV" "$LOADS" --contenders vlm4j,transformers.js
