#!/usr/bin/env bash
# Throughput of rotdiag against ripgrep, wc and cat on generated CloudWatch exports (issue 4).
#
#   scripts/bench.sh                      # 1 GiB per shape, 5 runs each (takes a while)
#   SIZE=64MiB RUNS=3 scripts/bench.sh    # a quick try
#
# Builds rotdiag and the corpus generator (the rotdiag-gen crate, gen/) in release mode, installs ripgrep with
# `cargo install ripgrep` if `rg` is missing, generates SIZE of each shape into bench-data/ (kept
# and reused while the seed, size and generator source are the same), then in one run:
#   * times `rotdiag --format json FILE`, `rg -c -F -f <rule literals> FILE`, `wc -l FILE` and
#     `cat FILE` RUNS times each on a warm page cache (median reported) for the S3-export text
#     file and the filter-log-events JSON file;
#   * times `cat FILE | rotdiag --format json` on the JSON file (stdin against the mapped file);
#   * times `rotdiag -j 1 DIR` and `rotdiag DIR` on a folder totalling SIZE, laid out as an S3
#     export with `--files FILES` (one object per log stream: at 1 GiB, 94,187 files of ~11 KiB);
#   * measures the peak RSS of `cat FILE | rotdiag` (GNU time -v) for both shapes and for SIZE of
#     records followed by long continuation runs (tracebacks of thousands of lines);
#   * counts the instructions per input byte of `rotdiag -j 1` and of the rg command on 16 MiB of
#     each shape (valgrind --tool=callgrind: repeatable whatever else the machine runs), all told
#     and past start-up (less a 1 MiB run of the same shape);
# prints a table and writes it into BENCHMARKS.md (below the hand-written header).
#
# Environment: SIZE (1GiB), RUNS (5), SEED (42), FILES (200), BENCH_DATA (bench-data),
# CARGO_TARGET_DIR (target), KEEP_RESULTS=1 to leave BENCHMARKS.md alone, ROTDIAG_BIN to time
# another rotdiag binary (a build of an older commit, for a before/after in one session; the
# results are then only printed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SIZE=${SIZE:-1GiB}
RUNS=${RUNS:-5}
SEED=${SEED:-42}
FILES=${FILES:-200}
DATA=${BENCH_DATA:-$ROOT/bench-data}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
KEEP_RESULTS=${KEEP_RESULTS:-0}

die() {
    echo "bench.sh: error: $*" >&2
    exit 1
}
note() { echo "bench.sh: $*" >&2; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number (got '$RUNS')"
[[ $FILES =~ ^[1-9][0-9]*$ ]] || die "FILES must be a positive number (got '$FILES')"
[[ $SEED =~ ^[0-9]+$ ]] || die "SEED must be a number (got '$SEED')"
[[ $SIZE =~ ^[0-9]+(\.[0-9]+)?(B|KiB|MiB|GiB|KB|MB|GB)?$ ]] ||
    die "SIZE must look like 64MiB or 1GiB (got '$SIZE')"
command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (https://rustup.rs)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rotdiag-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------------------------------------
# Build

note "building rotdiag and the generator (release)"
cargo build --release --quiet -p rotdiag -p rotdiag-gen ||
    die "cargo build failed (see above)"
BIN=${ROTDIAG_BIN:-$TARGET/release/rotdiag}
GEN=$TARGET/release/rotdiag-gen
[[ -n ${ROTDIAG_BIN:-} ]] && KEEP_RESULTS=1
[[ -x $BIN ]] || die "no rotdiag binary at $BIN (is CARGO_TARGET_DIR right?)"
[[ -x $GEN ]] || die "no generator binary at $GEN"

export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v rg >/dev/null; then
    note "ripgrep not found: cargo install ripgrep"
    cargo install --quiet ripgrep || die "cargo install ripgrep failed"
fi
RG=$(command -v rg)
GNU_TIME=/usr/bin/time
[[ -x $GNU_TIME ]] && "$GNU_TIME" -v true >/dev/null 2>&1 || GNU_TIME=""

"$BIN" --list-literals >"$TMP/literals.txt"
[[ -s $TMP/literals.txt ]] || die "rotdiag --list-literals printed nothing"

# ---------------------------------------------------------------------------------------------
# Data

mkdir -p "$DATA"
GEN_HASH=$(cat gen/src/*.rs src/time.rs | cksum | cut -d' ' -f1)

# gen_data SHAPE OUT [--files N]: generate unless OUT and its .summary match seed, size, generator.
gen_data() {
    local shape=$1 out=$2
    shift 2
    local stamp="seed=$SEED size=$SIZE shape=$shape generator=$GEN_HASH $*"
    if [[ -e $out && -f $out.summary ]] && [[ $(head -n1 "$out.summary") == "# $stamp" ]]; then
        note "reusing $out"
        return
    fi
    note "generating $out ($SIZE, $shape)"
    rm -rf "$out" "$out.summary"
    {
        echo "# $stamp"
        # The generator's summary (stderr) goes to the .summary file.
        { "$GEN" --shape "$shape" --size "$SIZE" --seed "$SEED" --out "$out" "$@" >/dev/null; } 2>&1
    } >"$TMP/summary" || die "generator failed: $(tail -n3 "$TMP/summary")"
    mv "$TMP/summary" "$out.summary"
}

# SIZE in bytes (for the free-space check).
size_bytes=$(awk -v s="$SIZE" 'BEGIN {
    n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
    m["B"] = 1; m[""] = 1; m["KiB"] = 1024; m["MiB"] = 1048576; m["GiB"] = 1073741824
    m["KB"] = 1e3; m["MB"] = 1e6; m["GB"] = 1e9
    printf "%d", n * m[u] }')
avail_kb=$(df -Pk "$DATA" | awk 'NR==2 {print $4}')

S3=$DATA/s3-export-$SIZE-seed$SEED.log
JS=$DATA/events-json-$SIZE-seed$SEED.json
# The same events as one page: what `aws logs filter-log-events` prints when it follows
# nextToken itself (its default), so what `aws logs filter-log-events ... | rotdiag` reads.
JS1=$DATA/events-json-one-page-$SIZE-seed$SEED.json
DIR=$DATA/folder-s3-export-$SIZE-${FILES}files-seed$SEED
if [[ ! -e $S3 || ! -e $JS || ! -e $JS1 || ! -e $DIR ]] && ((avail_kb * 1024 < size_bytes * 4 + (256 << 20))); then
    die "not enough free space in $DATA for 4 x $SIZE ($((avail_kb / 1024)) MiB free)"
fi
gen_data s3-export "$S3"
gen_data events-json "$JS"
gen_data events-json "$JS1" --page-events 0
gen_data s3-export "$DIR" --files "$FILES"

# SIZE of S3-export records each followed by a long run of continuation lines (a traceback of
# 4,000 frames): the shape that makes a line-oriented decoder hold a record open the longest.
RUNS_FILE=$DATA/continuation-runs-$SIZE.log
if [[ ! -e $RUNS_FILE ]]; then
    note "writing $RUNS_FILE"
    awk -v size="$size_bytes" 'BEGIN {
        n = 0; r = 0
        while (n < size) {
            head = sprintf("2025-03-28T13:%02d:%02d.%03dZ [ERROR] RuntimeError: frame loop %d\n", int(r / 60) % 60, r % 60, r % 1000, r)
            printf "%s", head; n += length(head)
            for (i = 0; i < 4000 && n < size; i++) {
                line = sprintf("  File \"/var/task/lambda_function.py\", line %d, in handler_%d\n", i, r)
                printf "%s", line; n += length(line)
            }
            r++
        }
    }' >"$RUNS_FILE.tmp" && mv "$RUNS_FILE.tmp" "$RUNS_FILE"
fi

# 16 MiB of each shape for the instruction counts, and 1 MiB of each for what a run costs
# whatever its size (start-up: the rules, the literal DFA built after 64 KiB of scanned text).
S3_SMALL=$DATA/s3-export-16MiB-seed$SEED.log
JS_SMALL=$DATA/events-json-16MiB-seed$SEED.json
S3_FIXED=$DATA/s3-export-1MiB-seed$SEED.log
JS_FIXED=$DATA/events-json-1MiB-seed$SEED.json
SIZE=16MiB gen_data s3-export "$S3_SMALL"
SIZE=16MiB gen_data events-json "$JS_SMALL"
SIZE=1MiB gen_data s3-export "$S3_FIXED"
SIZE=1MiB gen_data events-json "$JS_FIXED"

summary_value() { # FILE KEY
    awk -v k="$2:" '$1 == k {print $2; exit}' "$1.summary"
}

# ---------------------------------------------------------------------------------------------
# Measuring

# measure OKCODES COMMAND: runs COMMAND (bash) RUNS times, prints the median wall time in seconds
# and saves every run in $TMP/runs.
measure() {
    local ok=$1 cmd=$2 i s e rc
    : >"$TMP/runs"
    for ((i = 1; i <= RUNS; i++)); do
        s=$(date +%s%N)
        set +e
        bash -c "$cmd" >/dev/null 2>"$TMP/err"
        rc=$?
        set -e
        e=$(date +%s%N)
        [[ " $ok " == *" $rc "* ]] || die "'$cmd' exited with $rc: $(head -c 600 "$TMP/err")"
        echo $(((e - s) / 1000)) >>"$TMP/runs"
    done
    sort -n "$TMP/runs" | awk '{a[NR] = $1} END {
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%.3f\n", m / 1e6 }'
}

runs_list() { sort -n "$TMP/runs" | awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1 / 1e6}'; }

mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", (t > 0 ? b / t / 1e6 : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
verdict() { if le "$1" "$2"; then echo "met"; else echo "NOT met"; fi; }
verdict_ge() { if le "$2" "$1"; then echo "met"; else echo "NOT met"; fi; }

# A numeric field of the summary of rotdiag's JSON report (the summary comes after the inputs,
# which repeat some of its fields per input, and before the diagnoses, which have none of them).
report_value() { grep -o "\"$2\": [0-9]*" "$1" | tail -n 1 | awk '{print $2 + 0}'; }

ROWS=()
declare -A T
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

bench_file() { # SHAPE FILE
    local shape=$1 f=$2 bytes t
    bytes=$(stat -c %s "$f")
    note "warming the page cache: $f"
    cat "$f" >/dev/null
    local -a names=(rotdiag ripgrep "wc -l" cat)
    local -a cmds=(
        "'$BIN' --format json '$f' > /dev/null"
        "'$RG' -c -F -f '$TMP/literals.txt' '$f'"
        "wc -l '$f'"
        "cat '$f' > /dev/null"
    )
    local name=${f#"$ROOT"/}
    local -a shown=(
        "rotdiag --format json $name > /dev/null"
        "rg -c -F -f literals.txt $name"
        "wc -l $name"
        "cat $name > /dev/null"
    )
    local -a oks=("0 1" "0 1" "0" "0")
    local i
    for i in 0 1 2 3; do
        note "timing ${names[$i]} on $shape ($RUNS runs)"
        t=$(measure "${oks[$i]}" "${cmds[$i]}")
        T["$shape ${names[$i]}"]=$t
        ROWS+=("| $shape | \`${shown[$i]}\` | $t | $(mbps "$bytes" "$t") | $(runs_list) |")
    done
    # What rotdiag found, against what the generator wrote.
    "$BIN" --format json "$f" >"$TMP/report.json" || [[ $? == 1 ]]
    CHECKS+=("| $shape | $(report_value "$TMP/report.json" records) / $(summary_value "$f" events) | $(report_value "$TMP/report.json" invocations) / $(summary_value "$f" invocations) | $(report_value "$TMP/report.json" succeeded_rotations) / $(($(summary_value "$f" healthy_rotations) + $(summary_value "$f" recovered_rotations))) | $(report_value "$TMP/report.json" failed_rotations) / $(summary_value "$f" failed_rotations) | $(grep -c '"rank":' "$TMP/report.json" || true) |")
}

CHECKS=()
bench_file s3-export "$S3"
bench_file events-json "$JS"

# The JSON file on stdin: read from a pipe, not mapped.
js_bytes=$(stat -c %s "$JS")
note "timing cat | rotdiag on events-json ($RUNS runs)"
T[stdin-json]=$(measure "0 1" "cat '$JS' | '$BIN' --format json > /dev/null")
ROWS+=("| events-json | \`cat ${JS#"$ROOT"/} \| rotdiag --format json > /dev/null\` | ${T[stdin-json]} | $(mbps "$js_bytes" "${T[stdin-json]}") | $(runs_list) |")
# One page of every event, mapped and on stdin.
js1_bytes=$(stat -c %s "$JS1")
cat "$JS1" >/dev/null
note "timing rotdiag on one page of events-json, mapped and on stdin ($RUNS runs each)"
T[page-json]=$(measure "0 1" "'$BIN' --format json '$JS1' > /dev/null")
ROWS+=("| events-json, one page | \`rotdiag --format json ${JS1#"$ROOT"/} > /dev/null\` | ${T[page-json]} | $(mbps "$js1_bytes" "${T[page-json]}") | $(runs_list) |")
T[page-stdin]=$(measure "0 1" "cat '$JS1' | '$BIN' --format json > /dev/null")
ROWS+=("| events-json, one page | \`cat ${JS1#"$ROOT"/} \| rotdiag --format json > /dev/null\` | ${T[page-stdin]} | $(mbps "$js1_bytes" "${T[page-stdin]}") | $(runs_list) |")

# Scaling on a folder.
dir_bytes=$(du -sb "$DIR" | cut -f1)
note "warming the page cache: $DIR"
find "$DIR" -type f -exec cat {} + >/dev/null
THREADS=$(nproc)
note "timing rotdiag -j 1 on the folder ($RUNS runs)"
t1=$(measure "0 1" "'$BIN' -j 1 --format json '$DIR' > /dev/null")
runs1=$(runs_list)
note "timing rotdiag (default threads: $THREADS) on the folder ($RUNS runs)"
tn=$(measure "0 1" "'$BIN' --format json '$DIR' > /dev/null")
runsn=$(runs_list)
speedup=$(ratio "$t1" "$tn")

# Peak RSS streaming from stdin.
rss() { # FILE -> "N MiB"
    if [[ -z $GNU_TIME ]]; then
        echo "n/a (GNU time missing: apt-get install time)"
        return
    fi
    set +e
    # A pipe on purpose: rotdiag reads stdin as a stream, not a mapped file.
    # shellcheck disable=SC2002
    cat "$1" | "$GNU_TIME" -v "$BIN" --format json >/dev/null 2>"$TMP/time.txt"
    local rc=$?
    set -e
    [[ $rc == 0 || $rc == 1 ]] || die "cat $1 | rotdiag exited with $rc: $(tail -n5 "$TMP/time.txt")"
    awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$TMP/time.txt"
}
note "peak RSS of cat FILE | rotdiag"
rss_s3=$(rss "$S3")
rss_js=$(rss "$JS")
rss_runs=$(rss "$RUNS_FILE")

# Instructions per input byte (callgrind counts instructions, not seconds): all of a run on 16
# MiB over its bytes, and past start-up, (16 MiB run - 1 MiB run) / (the difference in bytes),
# since a fixed cost of about 10 instructions a byte of 16 MiB hides what each byte costs.
ir_count() { # FILE CMD... -> instructions, or nothing
    local f=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" "$f" >/dev/null 2>"$TMP/cg.txt" || true
    awk '/Collected :/ {print $NF}' "$TMP/cg.txt"
}
ir_per_byte() { # BIG SMALL CMD... -> "N.N (M.M past start-up)" or n/a
    local big=$1 small=$2
    shift 2
    if ! command -v valgrind >/dev/null; then
        echo "n/a (valgrind missing: apt-get install valgrind)"
        return
    fi
    awk -v i="$(ir_count "$big" "$@")" -v j="$(ir_count "$small" "$@")" \
        -v b="$(stat -c %s "$big")" -v c="$(stat -c %s "$small")" \
        'BEGIN {printf "%.1f (%.1f past start-up)", i / b, (i - j) / (b - c)}'
}
note "instructions per byte (callgrind, 16 MiB and 1 MiB)"
ir_s3=$(ir_per_byte "$S3_SMALL" "$S3_FIXED" "$BIN" -j 1 --format json)
ir_js=$(ir_per_byte "$JS_SMALL" "$JS_FIXED" "$BIN" -j 1 --format json)
ir_rg_s3=$(ir_per_byte "$S3_SMALL" "$S3_FIXED" "$RG" -c -F -f "$TMP/literals.txt")
ir_rg_js=$(ir_per_byte "$JS_SMALL" "$JS_FIXED" "$RG" -c -F -f "$TMP/literals.txt")

# ---------------------------------------------------------------------------------------------
# Report

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
s3_ratio=$(ratio "${T[s3-export rotdiag]}" "${T[s3-export ripgrep]}")
js_ratio=$(ratio "${T[events-json rotdiag]}" "${T[events-json ripgrep]}")
js_vs_text=$(ratio "${T[events-json rotdiag]}" "${T[s3-export rotdiag]}")
stdin_vs_mapped=$(ratio "${T[stdin-json]}" "${T[events-json rotdiag]}")
page_stdin_vs_mapped=$(ratio "${T[page-stdin]}" "${T[page-json]}")
stdin_worst=$(awk -v a="$stdin_vs_mapped" -v b="$page_stdin_vs_mapped" 'BEGIN { print (a > b ? a : b) }')
rss_max=$(awk -v a="$rss_s3" -v b="$rss_js" -v c="$rss_runs" 'BEGIN { m = (a > b ? a : b); print (m > c ? m : c) }')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no -- src rules Cargo.toml Cargo.lock 2>/dev/null) ]]; then
    commit="$commit (+ uncommitted changes in src/)"
fi
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || echo unknown)

# The folder's objects (`--files N` writes one per log stream: far more than N), and all its files.
dir_objects=$(find "$DIR" -type f -name '[0-9][0-9][0-9][0-9][0-9][0-9]*' | wc -l)
dir_files=$(find "$DIR" -type f | wc -l)

{
    echo "## Results"
    echo
    echo "Written by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); replaced on each run."
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| machine | $(nproc) cores (\`nproc\`), $cpu, $mem, $(uname -sr) |"
    echo "| load average | $LOAD_START at the start of the timings, $LOAD_END at the end (above $(nproc) means other work competed for the cores) |"
    echo "| rotdiag | commit $commit, \`$(rustc --version 2>/dev/null || echo rustc)\` |"
    echo "| ripgrep | $("$RG" --version | head -n1) |"
    echo "| data | SIZE=$SIZE SEED=$SEED RUNS=$RUNS FILES=$FILES: \`$(basename "$S3")\` $(stat -c %s "$S3") B, \`$(basename "$JS")\` $(stat -c %s "$JS") B (and as one page, \`--page-events 0\`, $(stat -c %s "$JS1") B), \`$(basename "$DIR")/\` $dir_bytes B in $dir_objects objects ($dir_files files) |"
    echo "| continuation runs | \`$(basename "$RUNS_FILE")\` $(stat -c %s "$RUNS_FILE") B: records of one \`[ERROR]\` line and 4,000 traceback lines each (written by this script) |"
    echo "| generator | \`cargo run --release -p rotdiag-gen -- --shape SHAPE --size $SIZE --seed $SEED --out FILE\` (\`--files $FILES\` for the folder) |"
    echo
    echo "### Targets"
    echo
    echo "| target | measured | |"
    echo "| --- | --- | --- |"
    echo "| S3 text, one file: rotdiag time / ripgrep time <= 1.0 ($THREADS threads) | **$s3_ratio** | $(verdict "$s3_ratio" 1.0) |"
    echo "| filter-log-events JSON, one file: rotdiag time / ripgrep time <= 1.0 | **$js_ratio** (JSON / S3-text rotdiag: $js_vs_text) | $(verdict "$js_ratio" 1.0) |"
    echo "| JSON on stdin: \`cat FILE \| rotdiag\` time / mapped-file time <= 1.2 | **$stdin_vs_mapped** (pages of 10,000 events), **$page_stdin_vs_mapped** (one page) | $(verdict "$stdin_worst" 1.2) |"
    echo "| \`cat FILE \| rotdiag\` peak RSS <= 64 MiB | **$rss_s3 MiB** (S3 text), **$rss_js MiB** (JSON), **$rss_runs MiB** (continuation runs) | $(verdict "$rss_max" 64) |"
    echo "| a folder of $dir_files files (S3 export, \`--files $FILES\`): $THREADS threads >= 1.8x 1 thread | **${speedup}x** ($t1 s vs $tn s) | $(verdict_ge "$speedup" 1.8) |"
    echo "| instructions per input byte (callgrind, 16 MiB, \`-j 1\`; past start-up: 16 MiB run - 1 MiB run) | **$ir_s3** S3 text (rg: $ir_rg_s3), **$ir_js** JSON (rg: $ir_rg_js) | reported |"
    echo
    echo "### Times (wall clock, warm page cache, median of $RUNS; MB = 10^6 bytes)"
    echo
    echo "| shape | command | median s | MB/s | runs (s) |"
    echo "| --- | --- | ---: | ---: | --- |"
    printf '%s\n' "${ROWS[@]}"
    echo "| folder | \`rotdiag -j 1 --format json ${DIR#"$ROOT"/} > /dev/null\` | $t1 | $(mbps "$dir_bytes" "$t1") | $runs1 |"
    echo "| folder | \`rotdiag --format json ${DIR#"$ROOT"/} > /dev/null\` ($THREADS threads) | $tn | $(mbps "$dir_bytes" "$tn") | $runsn |"
    echo
    echo "\`rotdiag\` is \`${BIN#"$ROOT"/}\`; \`literals.txt\` is \`rotdiag --list-literals\` ($(wc -l <"$TMP/literals.txt") literals), i.e. \`rg -c -F -f <(rotdiag --list-literals) FILE\`."
    echo "Peak RSS: \`cat FILE | /usr/bin/time -v rotdiag --format json > /dev/null\`, \"Maximum resident set size\"."
    echo
    echo "### What rotdiag found vs. what the generator wrote"
    echo
    echo "| shape | records | invocations | succeeded rotations | failed rotations | diagnoses |"
    echo "| --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${CHECKS[@]}"
} >"$TMP/results.md"

echo
cat "$TMP/results.md"

if [[ $KEEP_RESULTS == 1 ]]; then
    note "KEEP_RESULTS=1: BENCHMARKS.md left as it is"
    exit 0
fi
MARK='<!-- Everything below this line is written by scripts/bench.sh. -->'
if [[ -f BENCHMARKS.md ]] && grep -qF "$MARK" BENCHMARKS.md; then
    awk -v m="$MARK" '{print} $0 == m {exit}' BENCHMARKS.md >"$TMP/bm.md"
else
    [[ -f BENCHMARKS.md ]] && note "BENCHMARKS.md has no results marker: appending one"
    { [[ -f BENCHMARKS.md ]] && cat BENCHMARKS.md || echo "# Benchmarks"; echo; echo "$MARK"; } >"$TMP/bm.md"
fi
{ cat "$TMP/bm.md"; echo; cat "$TMP/results.md"; } >BENCHMARKS.md
note "results written to BENCHMARKS.md"
