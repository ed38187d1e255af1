#!/usr/bin/env bash
# Checks `rotdiag query insights|athena` with real parsers and engines (see check.py):
#
#   scripts/query-check/run.sh            sqlglot parse, DuckDB run, Insights emulation (CI runs this)
#   scripts/query-check/run.sh --spark    also Spark (PyPI pyspark, ~300 MB, needs Java 17)
#   scripts/query-check/run.sh --moto     also step 2's commands through the AWS CLI against moto
#   scripts/query-check/run.sh --all      everything
#
# Installs its Python dependencies into a venv outside the repository
# (ROTDIAG_QUERY_VENV, default ~/.cache/rotdiag/query-check-venv), builds the release binary and the
# generator, generates an S3 export folder into a temporary directory (removed at exit), and exits
# non-zero when a check fails. moto's server listens on 127.0.0.1 only (MOTO_PORT, default 15200)
# and is stopped by check.py.
set -euo pipefail
cd "$(dirname "$0")/../.."

spark=0
moto=0
for a in "$@"; do
    case "$a" in
        --spark) spark=1 ;;
        --moto) moto=1 ;;
        --all) spark=1 moto=1 ;;
        *) echo "usage: $0 [--spark] [--moto] [--all]" >&2; exit 2 ;;
    esac
done

venv="${ROTDIAG_QUERY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rotdiag/query-check-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
pkgs=("sqlglot==30.31.0" "duckdb==2.0.1")
[ "$spark" = 1 ] && pkgs+=("pyspark==4.3.0")
[ "$moto" = 1 ] && pkgs+=("moto[server]==5.2.6" "boto3==1.44.18" "awscli==1.46.3")
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pkgs[@]}"
export PATH="$venv/bin:$PATH"
export SPARK_LOCAL_IP=127.0.0.1

cargo build --release --quiet
cargo build --release --quiet -p rotdiag-gen
bin="$PWD/target/release/rotdiag"
gen="$PWD/target/release/rotdiag-gen"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# 160 objects; a failure rate low enough that a third of them hold none, so a prefilter that
# lists too little is caught (and one that lists everything is visible in the counts).
"$gen" --shape s3-export --files 400 --size 16MiB --seed 3 --gzip --noise 0 --fail-rate 10 \
    --out "$work/export" 2>/dev/null

status=0
py="$venv/bin/python"
check=scripts/query-check/check.py
"$py" "$check" parse --rotdiag "$bin" || status=1
"$py" "$check" duckdb --rotdiag "$bin" --export "$work/export" || status=1
if [ "$moto" = 1 ]; then
    "$py" "$check" insights --rotdiag "$bin" --export "$work/export" --moto "${MOTO_PORT:-15200}" || status=1
else
    "$py" "$check" insights --rotdiag "$bin" --export "$work/export" || status=1
fi
if [ "$spark" = 1 ]; then
    "$py" "$check" spark --rotdiag "$bin" --export "$work/export" || status=1
fi
if [ "$status" = 0 ]; then
    echo "query-check: all checks passed"
else
    echo "query-check: FAILED"
fi
exit "$status"
