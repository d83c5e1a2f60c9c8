#!/usr/bin/env bash
# Spark rows/s (issue 14): VlmTransformer.generate in local[1] and local[2] against the library
# called directly, on the tiny model, over the kit's inspection images (SparkBenchmark). Each line is
# a fresh JVM; the configurations are interleaved over ROUNDS rounds. Appends to benchmarks/results/spark.csv.
#   bash benchmarks/spark.sh [ROUNDS]       (~2 min per round on 2 idle cores)
# Builds the benchmarks jar and writes Spark's classpath first (Maven, offline).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
ROUNDS=${1:-3}
mvn -B -o -q -pl benchmarks,integrations/spark -am -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true \
  package dependency:build-classpath -Dmdep.excludeGroupIds=io.github.vlm4j -Dmdep.outputFile=target/spark.classpath
OPTS=$(sed -n 's:.*<vlm4j.spark.jvmOptions>\(.*\)</vlm4j.spark.jvmOptions>.*:\1:p' pom.xml)
CP="$(cat integrations/spark/target/spark.classpath):benchmarks/target/benchmarks.jar"
M=src/test/resources/models/vlm4j-tiny-idefics3
I=src/test/resources/fewshot/inspection
OUT=benchmarks/results/spark.csv
[ -f $OUT ] || echo "mode,group,rows,new_tokens,threads,spinning,median_s,rows_per_s,ms_per_row,library_ms_per_row,tokens,load_before,load_after,peak_rss_mib" > $OUT
for r in $(seq "$ROUNDS"); do
  for args in "direct 1" "local[1] 1" "direct 8" "local[1] 8" "local[2] 4" "local[2] 8" \
      "direct 8 --threads 1" "local[1] 8 --threads 1" "local[2] 4 --threads 1"; do
    # shellcheck disable=SC2086
    java $OPTS -cp "$CP" io.github.vlm4j.benchmarks.SparkBenchmark $M $I 160 16 3 $args 2>/dev/null | tail -1 | tee -a $OUT
  done
done
