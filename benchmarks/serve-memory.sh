#!/usr/bin/env bash
# Resident memory of `vlm4j serve` for one model, on loopback: after loading (idle), after one image
# request, and after ROUNDS rounds of CONCURRENT image requests at once; then stops it (SIGTERM).
# Prints VmRSS and VmHWM (peak) of the server process and the batching counters from /metrics.
#
#   bash benchmarks/serve-memory.sh [--model DIR] [--concurrent N] [--rounds N] [--max-tokens N]
#                                   [--split] [-- extra serve flags...]
#
# Needs examples/target/vlm4j.jar (mvn -B -o -q -pl examples -am -DskipTests package), curl, jq.
# Without --model: the built-in tiny model. Images are sent without splitting (one 512 px frame)
# unless --split. Environment: JAVA_OPTS (e.g. -Xmx1g), MALLOC_ARENA_MAX are passed through.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model=""; concurrent=4; rounds=3; max_tokens=16; split=false; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --concurrent) concurrent="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --max-tokens) max_tokens="$2"; shift 2 ;;
    --split) split=true; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
jar="$root/examples/target/vlm4j.jar"
[ -f "$jar" ] || { echo "build $jar first" >&2; exit 2; }
log="$(mktemp)"; body="$(mktemp)"
args=(serve --port 0 --model-id m)
[ -n "$model" ] && args+=(--model "$model")
# shellcheck disable=SC2086
java ${JAVA_OPTS:-} -jar "$jar" "${args[@]}" "${extra[@]}" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log" "$body"' EXIT
port=""
for _ in $(seq 1 600); do
  port="$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$port" ] || { echo "serve did not listen within 120 s" >&2; exit 1; }
rss() { awk -v w="$1" '$1 == w":" {printf "%d MiB", $2 / 1024}' /proc/$pid/status; }
img="$(base64 -w0 "$root/src/test/resources/models/vlm4j-tiny-idefics3/goldens/scene_colours_wide_0.png")"
printf '{"model":"m","max_tokens":%d,"temperature":0,"image_splitting":%s,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,%s"}},{"type":"text","text":"Describe the image."}]}]}' \
  "$max_tokens" "$split" "$img" > "$body"
ask() { curl -s -o /dev/null -w '%{http_code} ' -H 'Content-Type: application/json' --data-binary @"$body" \
  "http://127.0.0.1:$port/v1/chat/completions"; }
echo "model ${model:-built-in tiny}; serve ${extra[*]:-}; JAVA_OPTS=${JAVA_OPTS:-}; MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-}"
echo "loaded, idle:          VmRSS $(rss VmRSS), VmHWM $(rss VmHWM)"
t0=$(date +%s.%N); ask >/dev/null; t1=$(date +%s.%N)
echo "after 1 request:       VmRSS $(rss VmRSS), VmHWM $(rss VmHWM) ($(echo "$t1 - $t0" | bc) s)"
for r in $(seq 1 "$rounds"); do
  t0=$(date +%s.%N)
  codes="$(for _ in $(seq 1 "$concurrent"); do ask & done; wait)"
  t1=$(date +%s.%N)
  echo "after round $r ($concurrent at once, statuses ${codes% }): VmRSS $(rss VmRSS), VmHWM $(rss VmHWM) ($(echo "$t1 - $t0" | bc) s)"
done
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^vlm4j_batch_(steps|row_steps|joins)_total' | tr '\n' ' '; echo
kill -TERM $pid; wait $pid || true
