#!/usr/bin/env bash
# Runs the Spark job (scripts/spark/rotdiag_job.py) in local mode over a generated archive and
# checks that its merged report is the report of one direct run over the same archive.
#
#   scripts/spark/run-local.sh                      1.2 GiB, 36 log groups, one object per stream (BENCHMARKS.md)
#   SIZE=16MiB FILES=40 scripts/spark/run-local.sh  a small version
#
# Environment: SIZE (uncompressed bytes, default 1200MiB), FILES (at least this many objects: a
# stream continues in a new object after SIZE/FILES bytes; 1.2 GiB makes 110,478, one per stream),
# SEED (default 42), GZIP=1 (gzip the objects, as real exports are), MASTER (default local[2]),
# JOB_BIN (the binary shipped to the executors, e.g. the static musl build; default the release
# build that makes the direct run),
# DATA (where the archive is kept between runs, default ~/.cache/rotdiag/spark-data),
# ROTDIAG_SPARK_VENV (the venv PySpark is installed into, default ~/.cache/rotdiag/spark-venv).
#
# Installs PyPI pyspark (needs Java 17) into the venv, builds the release binaries, generates the
# archive unless it is there already (one export task per log group, one object per stream:
# `rotdiag-gen --files`), runs `rotdiag --format json ARCHIVE` (the direct run) and the job with
# `--master $MASTER`, and compares the two JSON documents whole (`cmp`: byte for byte). Prints
# both wall-clock times and the load average sampled every 5 s during each. Spark listens on
# 127.0.0.1 only (SPARK_LOCAL_IP) and stops with the job. Exits non-zero when they differ.
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZE="${SIZE:-1200MiB}"
FILES="${FILES:-240}"
SEED="${SEED:-42}"
MASTER="${MASTER:-local[2]}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/rotdiag"
DATA="${DATA:-$cache/spark-data}"
venv="${ROTDIAG_SPARK_VENV:-$cache/spark-venv}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "pyspark==4.3.0"
export SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON="$venv/bin/python"

cargo build --release --quiet
cargo build --release --quiet -p rotdiag-gen
bin="$PWD/target/release/rotdiag"
job_bin="${JOB_BIN:-$bin}"

gz=""
[ "${GZIP:-0}" = 1 ] && gz="--gzip"
archive="$DATA/archive-$SIZE-$FILES-seed$SEED${gz:+-gz}"
if [ ! -f "$archive.summary" ]; then
    rm -rf "$archive"
    mkdir -p "$archive"
    target/release/rotdiag-gen --shape s3-export --size "$SIZE" --seed "$SEED" --files "$FILES" $gz \
        --out "$archive" 2> "$archive.summary.tmp"
    mv "$archive.summary.tmp" "$archive.summary"
fi
objects=$(find "$archive" -type f -name '[0-9][0-9][0-9][0-9][0-9][0-9]*' | wc -l)
groups=$(find "$archive" -type f -name aws-logs-write-test | wc -l)
bytes=$(du -sb "$archive" | cut -f1)
echo "archive: $archive: $bytes bytes on disk, $objects objects, $groups log groups"
grep -E '^(bytes|events|rotations|failed_rotations):' "$archive.summary" | sed 's/^/  generated /'

work=$(mktemp -d)
sampler=""
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# timed LABEL COMMAND...: runs COMMAND, prints its wall time and the load averages seen meanwhile.
timed() {
    local label=$1
    shift
    (while sleep 5; do cut -d' ' -f1 /proc/loadavg; done) > "$work/load-$label" &
    sampler=$!
    local t0 t1 status=0
    t0=$(date +%s.%N)
    "$@" || status=$?
    t1=$(date +%s.%N)
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    sampler=""
    local loads
    loads=$(tr '\n' ' ' < "$work/load-$label")
    printf '%s: %.1f s (status %d); 1-min load average every 5 s: %s\n' \
        "$label" "$(echo "$t1 - $t0" | bc)" "$status" "${loads:-n/a}"
    return 0
}

echo "shipped to the executors: $job_bin ($(file -b "$job_bin" | cut -d, -f1-2))"
echo "before: $(uptime)"
timed direct sh -c "'$bin' --format json --no-progress '$archive' > '$work/direct.json'"
timed spark "$venv/bin/python" scripts/spark/rotdiag_job.py --master "$MASTER" \
    --rotdiag "$job_bin" --input "$archive" --out "$work/merged.json" --partials "$work/partials"
echo "after: $(uptime)"
echo "partial reports: $(ls "$work/partials" | wc -l)"
if cmp -s "$work/direct.json" "$work/merged.json"; then
    echo "merged report = direct report ($(stat -c %s "$work/direct.json") bytes, $(grep -c '"rank"' "$work/direct.json") diagnoses)"
else
    echo "MERGED REPORT DIFFERS FROM THE DIRECT RUN:" >&2
    diff "$work/direct.json" "$work/merged.json" | head -40 >&2
    exit 1
fi
