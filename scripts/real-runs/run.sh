#!/usr/bin/env bash
# Runs the real AWS Secrets Manager rotation templates against real PostgreSQL and MariaDB servers on
# this machine, with moto's server standing in for Secrets Manager and CloudWatch Logs and AWS's
# Lambda runtime interface client (awslambdaric) writing the function's log records, for every
# scenario in harness/scenarios.py; ships the records to moto's CloudWatch Logs and exports them with
# the real AWS CLI into corpus/ cases. See README.md beside this file.
#
#   TEMPLATES_GIT=/path/to/aws-secrets-manager-rotation-lambdas/.git scripts/real-runs/run.sh [harness args]
#   TEMPLATES_DIR=/path/to/checkout scripts/real-runs/run.sh --only pg-single:wrong-password
#
# Needs root (apt, iptables, a private mount namespace for the function, servers run as their users).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

: "${WORK:=${XDG_CACHE_HOME:-$HOME/.cache}/rotdiag-real-runs}"
: "${PG_PORT:=15432}" "${MARIADB_PORT:=13306}" "${MOTO_PORT:=15100}" "${RAPI_PORT:=19001}"
: "${REFUSED_PORT:=15439}" "${DROP_DB_HOST:=127.0.0.42}" "${DROP_SM_HOST:=127.0.0.43}"
: "${PG_BIN:=/usr/lib/postgresql/15/bin}" "${AWS_CLI_V2:=/usr/bin/aws}"
: "${PYTHON:=python3}"
export WORK PG_PORT MARIADB_PORT MOTO_PORT RAPI_PORT REFUSED_PORT DROP_DB_HOST DROP_SM_HOST PG_BIN AWS_CLI_V2

if [[ $(id -u) != 0 ]]; then
    echo "real-runs: run as root (apt, iptables, mount namespace, servers as their own users)" >&2
    exit 2
fi
if [[ -z ${TEMPLATES_GIT:-} && -z ${TEMPLATES_DIR:-} ]]; then
    echo "real-runs: set TEMPLATES_GIT (a git dir of aws-samples/aws-secrets-manager-rotation-lambdas) or TEMPLATES_DIR (a checkout)" >&2
    exit 2
fi

# --- what the machine needs ---------------------------------------------------------------------
need_debs=()
[[ -x $PG_BIN/postgres ]] || need_debs+=(postgresql-15)
command -v mariadbd >/dev/null || need_debs+=(mariadb-server)
command -v mariadb >/dev/null || need_debs+=(mariadb-client)
command -v psql >/dev/null || need_debs+=(postgresql-client-15)
command -v pg_config >/dev/null || need_debs+=(libpq-dev)
command -v iptables >/dev/null || need_debs+=(iptables)
command -v openssl >/dev/null || need_debs+=(openssl)
command -v gcc >/dev/null || need_debs+=(gcc)
[[ -x $AWS_CLI_V2 ]] || need_debs+=(awscli)
if ((${#need_debs[@]})); then
    echo "real-runs: installing ${need_debs[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_debs[@]}"
fi
# Debian's postgresql-common starts a cluster on install and mariadb-server a server: we start our own.

mkdir -p "$WORK"
VENV_AWS="$WORK/venv-aws"         # moto's server and the harness's own AWS client
# What Lambda's python runtime has (awslambdaric, boto3): the function sees this venv as /var/lang.
VENV_RUNTIME="$WORK/runtime-layer/lang"
export VENV_AWS VENV_RUNTIME
if [[ ! -x $VENV_AWS/bin/moto_server ]]; then
    "$PYTHON" -m venv "$VENV_AWS"
    "$VENV_AWS/bin/pip" install -q "moto[server]==5.2.*" "boto3"
fi
if ! "$VENV_RUNTIME/bin/python" -c 'import awslambdaric, boto3' 2>/dev/null; then
    mkdir -p "$(dirname "$VENV_RUNTIME")"
    "$PYTHON" -m venv "$VENV_RUNTIME"
    "$VENV_RUNTIME/bin/pip" install -q "awslambdaric==4.2.*" "boto3"
fi

# --- one run folder, deleted on exit ------------------------------------------------------------
RUN="$(mktemp -d /tmp/rotdiag-real-runs.XXXXXX)"
chmod 755 "$RUN"
export RUN
# shellcheck source=servers.sh
source "$HERE/servers.sh"
STOPS+=("rm -rf '$RUN'")

make_tls
start_postgres
start_mariadb
start_moto
start_blackholes

"$VENV_AWS/bin/python" "$HERE/harness/main.py" --repo "$REPO" "$@"
