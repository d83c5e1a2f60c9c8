#!/usr/bin/env bash
# Model load time only ("Model load" in BENCHMARKS.md): vlm4j (LoadTime) against transformers.js
# 4.3.1 (src/test/node/bench-transformersjs-load.mjs), a fresh process per load, rounds alternating.
# Build first: mvn -B -DskipTests package. The folder comes from families.sh's or florence.sh's generator.
#
#   bash benchmarks/load.sh /tmp/vlm4j-lfm2-vl-450m-shaped vlm
#   bash benchmarks/load.sh /tmp/vlm4j-florence2-base-shaped florence
#   knobs: ROUNDS (3), THREADS (2), LOAD_MAX (3: wait while the 1-min load average is at or above it),
#          LOAD_WAIT (60 s at most), JARS ("vlm4j=benchmarks/target/benchmarks.jar"; several
#          label=jar pairs compare builds, e.g. "before=/tmp/old.jar after=benchmarks/target/benchmarks.jar")
# Prints one line per load: contender, round, load_ms, 1-min load average before and after, seconds waited.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
DIR=$(cd "$1" && pwd) KIND=$2
ROUNDS=${ROUNDS:-3} THREADS=${THREADS:-2} LOAD_MAX=${LOAD_MAX:-3} LOAD_WAIT=${LOAD_WAIT:-60}
JARS=${JARS:-vlm4j=benchmarks/target/benchmarks.jar}
la() { cut -d' ' -f1 /proc/loadavg; }
echo "contender,round,load_ms,load_start,load_end,waited_s"
for r in $(seq 1 "$ROUNDS"); do
  for c in $JARS tjs; do
    waited=0
    while awk -v m="$LOAD_MAX" '{exit !($1 >= m)}' /proc/loadavg && [ $waited -lt "$LOAD_WAIT" ]; do
      sleep 5; waited=$((waited + 5))
    done
    l0=$(la)
    if [ "$c" = tjs ]; then
      ms=$(cd src/test/node && node bench-transformersjs-load.mjs "$DIR" "$KIND" "$THREADS" | awk '/^load_ms/ {print $2}')
      label=transformers.js
    else
      label=${c%%=*}
      ms=$(java -cp "${c#*=}" io.github.vlm4j.benchmarks.LoadTime "$DIR" "$KIND" "$THREADS" 2>/dev/null \
        | awk '/^load_ms/ {print $2}')
    fi
    echo "$label,$r,$ms,$l0,$(la),$waited"
  done
done
