#!/usr/bin/env bash
# Follow mode's latency: from writing the line that decides a rotation (the REPORT of its failed
# setSecret, from corpus/database-unreachable--tail--real-pg-single-packets-dropped) to reading the
# first line of its diagnosis on rotdiag's stdout, through a pipe kept open, over 20 rotations
# (each with its own token and request ids); prints the median and the max. A release build.
#
#   scripts/follow-latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test it follow::follow_latency -- --ignored --nocapture 2>&1 |
    grep -E 'follow latency|test result'
