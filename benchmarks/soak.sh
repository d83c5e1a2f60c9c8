#!/usr/bin/env bash
# The long soak of issue #11 (RELIABILITY.md): 16 threads on the three committed tiny models, a seeded
# mix of generate / streaming / classify / few-shot requests, cancellations and session closes from
# other threads, bad inputs, and the models closed under running requests. Every output is checked
# against the goldens or the single-thread result; RSS, heap, threads and file descriptors are sampled
# and the RSS slope after the warm-up is fitted (MB/min and MB per 1000 requests).
#
#   bash benchmarks/soak.sh [--minutes 20] [--caches on|off] [--threads 16] [--seed 11]
#                           [--warmup-minutes 5] [--sample-seconds 10] [--lenient-cancel-race]
#                           [--cpu-arena true|false] [--allocator glibc|arena2|jemalloc] [--nmt] [--xmx 1g] [--out DIR] [--no-build]
#
#   --allocator arena2     MALLOC_ARENA_MAX=2 (glibc keeps at most 2 malloc arenas instead of 8 per core)
#   --allocator jemalloc   LD_PRELOAD of libjemalloc.so.2 (apt-get install -y libjemalloc2)
#   --nmt                  -XX:NativeMemoryTracking=summary; the report ends with the JVM's native
#                          memory diff between the end of the warm-up and the end of the run
#   --xmx 1g               the heap: -Xms = -Xmx with -XX:+AlwaysPreTouch, so that RSS growth is growth
#                          outside the Java heap (the report also gives RSS minus committed heap)
#   --lenient-cancel-race  only count "Exiting due to terminate flag" after a cancel (code before the fix)
#   --no-build             skip the Maven build (for several soaks at once from one checkout: build once)
#   JAVA_OPTS              extra JVM options (e.g. -XX:TrimNativeHeapInterval=5000)
#
# Writes DIR/soak-<caches>-<allocator>.txt (the report, also printed) and .txt.csv (the samples);
# DIR defaults to benchmarks/results/soak. Exit status 1 on mismatches, unexpected errors or hangs.
# Builds the test classes with Maven (offline) first; run `nice -n 10` on a shared machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
export DJL_CACHE_DIR=${DJL_CACHE_DIR:-$(pwd)/target/cache/djl}
root=$(pwd)
args=() allocator=glibc nmt="" xmx=1g out=benchmarks/results/soak caches=on build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --allocator) allocator=$2; shift 2 ;;
    --nmt) nmt="-XX:NativeMemoryTracking=summary"; shift ;;
    --no-build) build=""; shift ;;
    --xmx) xmx=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --caches) caches=$2; args+=("$1" "$2"); shift 2 ;;
    --lenient-cancel-race|--no-diagnostics) args+=("$1"); shift ;;
    --*) args+=("$1" "$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$allocator" in
  glibc) ;;
  arena2) export MALLOC_ARENA_MAX=2 ;;
  jemalloc)
    lib=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1 || true)
    [ -n "$lib" ] || { echo "libjemalloc.so.2 not found (apt-get install -y libjemalloc2)" >&2; exit 2; } ;;
  *) echo "--allocator must be glibc, arena2 or jemalloc" >&2; exit 2 ;;
esac
mkdir -p "$out"
cpfile=src/test/target/soak.classpath
[ -z "$build" ] || mvn -B -o -q -pl src/test -am test-compile \
  org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath \
  -Dmdep.outputFile=target/soak.classpath -Dmdep.includeScope=test
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r src/test/target/test-classes "$tmp/classes"   # a rebuild during the run cannot change its classes
report="$out/soak-$caches-$allocator${nmt:+-nmt}.txt"
preload=()
[ "$allocator" = jemalloc ] && preload=(env "LD_PRELOAD=$lib")
echo "soak: caches $caches, allocator $allocator ${MALLOC_ARENA_MAX:+(MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX)} ${nmt:+with NMT}, -Xmx$xmx, report $report"
"${preload[@]}" java -Xms"$xmx" -Xmx"$xmx" -XX:+AlwaysPreTouch $nmt ${JAVA_OPTS:-} \
  -cp "$tmp/classes:$(cat $cpfile)" \
  -Dvlm4j.root="$root" -Doffline=true -Djava.io.tmpdir="$tmp" \
  io.github.vlm4j.it.soak.SoakMain "${args[@]}" --report "$report"
