#!/usr/bin/env bash
# Reruns the "Florence-2-base shape (issue 16)" figures of BENCHMARKS.md: vlm4j (FlorenceComparison)
# vs unmodified transformers.js 4.3.1 (src/test/node/bench-transformersjs-florence2.mjs) on a
# random-weight Florence-2 folder with Florence-2-base's language-model widths and a 768 x 768 image
# (577 image tokens). Build first: mvn -B -DskipTests package
#
#   bash benchmarks/florence.sh                      3 rounds, 2 threads, both contenders (~5 min)
#   ROUNDS=5 THREADS=1 bash benchmarks/florence.sh   knobs: ROUNDS (3), THREADS (2), NEW (32 new tokens),
#                                                    TASK (OD: a FlorenceTask name), ONLY ("vlm4j tjs";
#                                                    also tjs-nospin: transformers.js without ORT's spinning,
#                                                    as vlm4j runs), LOAD_MAX (2.5), LOAD_WAIT (120 s),
#                                                    APPEND (0: 1 keeps earlier rows), FIRST_ROUND (1), KEEP (0),
#                                                    NAME (florence: the results' file names)
#
# The model is generated first if missing (~1.5 min, 1.1 GB; the kit's Python packages, see
# src/test/README.md) into $FLORENCE (default /tmp/vlm4j-florence2-base-shaped) and deleted at the end
# unless KEEP=1. Each contender runs in its own process per round: load, 1 warm-up + 1 measured run of
# TASK on bench/scene_768x768.png (no resize), greedy, NEW new tokens (no early </s>: the folder's eos
# bias and vlm4j's eos ids; the last token is ForcedEOS's </s>). Rounds alternate the contenders' order.
# Before each run the script waits up to LOAD_WAIT seconds for the 1-minute load average to drop below
# LOAD_MAX (the machine is shared); the load average before and after each run goes to
# benchmarks/results/florence-load.csv (with whether the wait timed out). Results:
# benchmarks/results/florence.csv (FlorenceComparison's columns, one row per contender and round),
# florence-ids.txt (prompt and generated ids: the script fails unless they agree), then the markdown table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
JAR=${JAR:-benchmarks/target/benchmarks.jar}
OUT=benchmarks/results
FLORENCE=${FLORENCE:-/tmp/vlm4j-florence2-base-shaped}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
NEW=${NEW:-32}
TASK=${TASK:-OD}
ONLY=${ONLY:-vlm4j tjs}
LOAD_MAX=${LOAD_MAX:-2.5}
LOAD_WAIT=${LOAD_WAIT:-120}
load() { cut -d' ' -f1-3 /proc/loadavg; }
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

[ -f "$FLORENCE/onnx/decoder_model_merged.onnx" ] || \
  (cd src/test/python && /usr/bin/python3 -m refmodels.florence2_bench_model --out "$FLORENCE")
FLORENCE=$(abs "$FLORENCE")
IMG=$FLORENCE/bench/scene_768x768.png
mkdir -p $OUT
NAME=${NAME:-florence}
CSV=$(abs $OUT/$NAME.csv) IDS=$(abs $OUT/$NAME-ids.txt) LOADS=$(abs $OUT/$NAME-load.csv)
if [ "${APPEND:-0}" != 1 ] || [ ! -f "$LOADS" ]; then
  rm -f "$CSV" "$IDS"
  echo "contender,round,threads,load_start,load_end,waited_s,wait_timed_out" > "$LOADS"
fi

wait_for_quiet() {   # sets WAITED (seconds) and TIMED_OUT (0/1)
  WAITED=0 TIMED_OUT=0
  while awk -v m="$LOAD_MAX" '{exit !($1 >= m)}' /proc/loadavg; do
    if [ $WAITED -ge "$LOAD_WAIT" ]; then TIMED_OUT=1; return; fi
    sleep 5; WAITED=$((WAITED + 5))
  done
}

run() {   # contender round
  local who=$1 name l0
  wait_for_quiet
  l0=$(load)
  echo "## round $2: $who, $THREADS thread(s), load $l0 (waited ${WAITED} s$([ $TIMED_OUT = 1 ] && echo ', timed out'))"
  case $who in
    vlm4j)
      name=vlm4j
      java -cp $JAR io.github.vlm4j.benchmarks.FlorenceComparison "$FLORENCE" "$IMG" "$NEW" "$THREADS" \
        --task "$TASK" --warmup 1 --reps 1 --csv "$CSV" --ids "$IDS" 2>/tmp/vlm4j-florence-bench.log | tail -1 ;;
    tjs|tjs-nospin)
      name=transformers.js; [ "$who" = tjs-nospin ] && name=transformers.js-nospin
      (cd src/test/node && node bench-transformersjs-florence2.mjs --model "$FLORENCE" --image "$IMG" \
        --task "<$TASK>" --new "$NEW" --reps 1 --warmup 1 --threads "$THREADS" --csv "$CSV" --ids "$IDS" \
        $([ "$who" = tjs-nospin ] && echo --no-spin) | tail -1) ;;
  esac
  echo "$name,$2,$THREADS,$l0,$(load),$WAITED,$TIMED_OUT" >> "$LOADS"
}

set -- $ONLY
n=$#
for round in $(seq "${FIRST_ROUND:-1}" $(( ${FIRST_ROUND:-1} + ROUNDS - 1 ))); do
  order=""   # rotate the contenders' order between rounds
  for i in $(seq 0 $((n - 1))); do j=$(( (i + round - 1) % n + 1 )); order="$order ${!j}"; done
  for who in $order; do run "$who" "$round"; done
done

require=$(for w in $ONLY; do case $w in vlm4j) echo vlm4j;; tjs) echo transformers.js;; tjs-nospin) echo transformers.js-nospin;; esac; done | paste -sd,)
python3 benchmarks/check-ids.py "$IDS" --require "$require"
python3 benchmarks/florence_report.py "$CSV" "$LOADS"
[ "${KEEP:-0}" = 1 ] || rm -rf "$FLORENCE"
