#!/usr/bin/env bash
# Regenerates corpus/shapes-real-cli/: every output form of the real AWS CLIs (v1 and v2) over
# rotation logs seeded into moto's server on 127.0.0.1 (see README.md beside this script).
#
#   scripts/cli-shapes/run.sh                    # all scenarios, into corpus/shapes-real-cli/
#   OUT=/tmp/shapes scripts/cli-shapes/run.sh    # somewhere else (to compare with the committed files)
#   scripts/cli-shapes/run.sh SCENARIO...        # some scenarios (names: python3 seed.py --list)
#
# Installs what is missing (scripts/aws-local/moto.sh install: moto[server], freezegun, AWS CLI v1
# from PyPI, v2 from Debian), starts a fresh moto on 127.0.0.1:$MOTO_PORT (15000) with its clock
# frozen at $MOTO_CLOCK and its random ids seeded, seeds the scenarios (seed.py, boto3), runs the
# CLIs (capture.py) and stops the server, also on error or Ctrl-C. A rerun with the same tool
# versions writes the same bytes (manifest.tsv records the versions).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MOTO="$ROOT/scripts/aws-local/moto.sh"
OUT=${OUT:-$ROOT/corpus/shapes-real-cli}

export MOTO_PORT=${MOTO_PORT:-15000}
# The scenarios are logged on 2025-04-10 between 09:30 and 10:30 UTC; CloudWatch (and moto)
# refuse events older than 14 days, so the server's clock is frozen shortly after them.
export MOTO_CLOCK=2025-04-10T12:00:00Z
export MOTO_SEED=20250410

die() {
    echo "run.sh: error: $*" >&2
    exit 1
}

"$MOTO" install
if "$MOTO" status >/dev/null 2>&1; then
    die "moto already runs on 127.0.0.1:$MOTO_PORT (started by moto.sh): its state would leak into the outputs; run '$MOTO stop' or set MOTO_PORT"
fi
trap '"$MOTO" stop' EXIT
trap 'exit 130' INT TERM
"$MOTO" start
eval "$("$MOTO" env)"
"$AWS_LOCAL_PYTHON" "$HERE/seed.py" "$@"
mkdir -p "$OUT"
"$AWS_LOCAL_PYTHON" "$HERE/capture.py" "$OUT" "$@"
