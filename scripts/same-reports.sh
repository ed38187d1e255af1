#!/usr/bin/env bash
# Behaviour check for refactors: the reports of one rotdiag binary, recorded, then compared with
# another's, byte for byte.
#
#   scripts/same-reports.sh record OUT [BIN [GEN]]   # run BIN on every input, keep its outputs in OUT
#   scripts/same-reports.sh check  OUT [BIN [GEN]]   # run BIN again, diff with what OUT holds
#
# BIN defaults to target/release/rotdiag, GEN to target/release/rotdiag-gen (the generator binary).
# Inputs:
#   * every corpus case, run as tests/it/corpus.rs runs it (in the case folder, `--color never`, the
#     case's `args`, its `inputs` or its `stdin` file), as `--format json` and as `--format human`;
#   * every output of the real AWS CLIs in corpus/shapes-real-cli/, one at a time, as JSON;
#   * generated data (written by GEN into OUT/data on `record`; on `check` GEN writes it again and
#     the bytes must be the same): 64 MiB of S3-export text and of filter-log-events JSON (seed 7),
#     and a folder of about 50 small files of several shapes (gzipped S3 exports, events-json,
#     tail, events-text), each run with `-j 1` and with the default thread count.
# For each run the report (stdout), stderr and the exit status are compared. The JSON `version`
# field is left out of the comparison (set IGNORE_VERSION=0 to compare it too). Exit status: 0 when
# everything is identical, 1 otherwise (the differences are printed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-}
OUT=${2:-}
BIN=${3:-$ROOT/target/release/rotdiag}
GEN=${4:-$ROOT/target/release/rotdiag-gen}
IGNORE_VERSION=${IGNORE_VERSION:-1}

usage() {
    sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
[[ $MODE == record || $MODE == check ]] || usage
[[ -n $OUT ]] || usage
[[ -x $BIN ]] || { echo "same-reports.sh: no rotdiag binary at $BIN" >&2; exit 2; }
[[ -x $GEN ]] || { echo "same-reports.sh: no generator binary at $GEN" >&2; exit 2; }
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
BIN=$(realpath "$BIN")
GEN=$(realpath "$GEN")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/same-reports.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if [[ $MODE == record ]]; then
    RESULTS=$OUT/results
    rm -rf "$RESULTS"
else
    RESULTS=$WORK/results
fi
mkdir -p "$RESULTS"

# run NAME DIR STDIN_FILE ARGS...: runs BIN in DIR, keeps stdout, stderr and the exit status.
run() {
    local name=$1 dir=$2 input=$3
    shift 3
    local status=0
    (cd "$dir" && env -u NO_COLOR "$BIN" "$@" <"$input" >"$RESULTS/$name.out" 2>"$RESULTS/$name.err") || status=$?
    echo "$status" >"$RESULTS/$name.status"
    if [[ $IGNORE_VERSION == 1 ]]; then
        sed -i -E '2s/^  "version": "[^"]*",$/  "version": "-",/' "$RESULTS/$name.out"
    fi
}

# Corpus cases: the arguments and stdin of expect.toml, as tests/it/corpus.rs builds them.
for case in "$ROOT"/corpus/*/; do
    [[ -f $case/expect.toml ]] || continue
    name=$(basename "$case")
    mapfile -t spec < <(python3 - "$case/expect.toml" <<'EOF'
import sys, tomllib
e = tomllib.load(open(sys.argv[1], "rb"))
print(e.get("stdin") or "")
for a in e.get("args", []) + e.get("inputs", []):
    print(a)
EOF
)
    stdin=${spec[0]:-}
    [[ -n $stdin ]] && stdin=$case/$stdin || stdin=/dev/null
    for format in json human; do
        run "corpus.$name.$format" "$case" "$stdin" --format "$format" --color never "${spec[@]:1}"
    done
done

# What the real AWS CLIs print (corpus/shapes-real-cli/): every output of every scenario, as
# tests/it/shapes_real_cli.rs runs it (one output at a time).
for scenario in "$ROOT"/corpus/shapes-real-cli/*/; do
    [[ -f $scenario/expected.toml ]] || continue
    for output in "$scenario"*; do
        case $(basename "$output") in
        expected.toml | manifest.tsv | not-produced.tsv) continue ;;
        esac
        run "cli.$(basename "$scenario").$(basename "$output").json" "$scenario" /dev/null \
            --format json --color never "$(basename "$output")"
    done
done

# Generated data.
DATA=$OUT/data
[[ $MODE == check ]] && DATA=$WORK/data
mkdir -p "$DATA"
gen() { "$GEN" "$@" 2>/dev/null; }
gen --shape s3-export --size 64MiB --seed 7 --out "$DATA/s3.log"
gen --shape events-json --size 64MiB --seed 7 --out "$DATA/events.json"
gen --shape s3-export --size 4MiB --seed 11 --files 20 --gzip --out "$DATA/folder/s3"
gen --shape events-json --size 2MiB --seed 12 --files 10 --out "$DATA/folder/json"
gen --shape tail --size 2MiB --seed 13 --files 10 --out "$DATA/folder/tail"
gen --shape events-text --size 2MiB --seed 14 --files 10 --out "$DATA/folder/text"
if [[ $MODE == check ]]; then
    if ! diff -r -q "$OUT/data" "$DATA" >"$WORK/gen.diff"; then
        echo "generated data differs from the recorded data:" >&2
        cat "$WORK/gen.diff" >&2
        exit 1
    fi
fi
for threads in 1 default; do
    j=()
    [[ $threads == default ]] || j=(-j "$threads")
    for input in s3.log events.json folder; do
        run "gen.$input.j$threads.json" "$DATA" /dev/null "${j[@]}" --format json "$input"
    done
    run "gen.s3.log.stdin.j$threads.json" "$DATA" "$DATA/s3.log" "${j[@]}" --format json
done

if [[ $MODE == record ]]; then
    echo "recorded $(find "$RESULTS" -name '*.status' | wc -l) runs in $RESULTS"
    exit 0
fi
if diff -r "$OUT/results" "$RESULTS" >"$WORK/results.diff"; then
    echo "identical: $(find "$RESULTS" -name '*.status' | wc -l) runs (reports, stderr, exit status)"
else
    echo "DIFFERENT:" >&2
    head -200 "$WORK/results.diff" >&2
    exit 1
fi
