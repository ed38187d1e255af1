#!/usr/bin/env bash
# A stand-in AWS on loopback: moto's server plus the environment both AWS CLIs need to talk to it.
#
#   scripts/aws-local/moto.sh install        # install what is missing (moto[server], AWS CLI v1 and v2)
#   scripts/aws-local/moto.sh start          # start moto's server on 127.0.0.1:$MOTO_PORT (idempotent)
#   scripts/aws-local/moto.sh stop           # stop the server this script started (its pid file)
#   scripts/aws-local/moto.sh status         # running or not, with the URL
#   eval "$(scripts/aws-local/moto.sh env)"  # export the client environment into this shell
#   scripts/aws-local/moto.sh run -- CMD...  # start, run CMD with the environment, stop (even on error)
#
# The environment (`env`) never holds real credentials and never points anywhere but loopback:
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   fake keys moto accepts ("testing")
#   AWS_DEFAULT_REGION                         $AWS_LOCAL_REGION (us-east-1)
#   AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE   files in the state folder, so ~/.aws is never read
#   AWS_ENDPOINT_URL                           http://127.0.0.1:$MOTO_PORT (read by boto3 and CLI v1;
#                                              CLI v2 2.9 predates it: pass --endpoint-url "$AWS_LOCAL_ENDPOINT")
#   AWS_LOCAL_ENDPOINT                         the same URL, for --endpoint-url
#   AWS_CLI_V1 / AWS_CLI_V2                    the two CLIs' paths (v1: PyPI `awscli`, v2: Debian `awscli`)
#   AWS_LOCAL_PYTHON                           a python with boto3 and moto
#   AWS_PAGER="" (v2 pages through `less` otherwise), AWS_EC2_METADATA_DISABLED=true, TZ=UTC
#
# Settings (environment): MOTO_PORT (15000), AWS_LOCAL_REGION (us-east-1), AWS_LOCAL_STATE (the
# state folder: pid file, server log, client config; default ${TMPDIR:-/tmp}/rotdiag-aws-local-$MOTO_PORT),
# AWS_LOCAL_VENV (where `install` puts what pip installs: ${XDG_CACHE_HOME:-~/.cache}/rotdiag-aws-local/venv),
# MOTO_CLOCK (an instant, e.g. 2025-04-10T12:00:00Z: the server's clock is frozen there, see
# frozen_clock.py; needed to seed logs older than 14 days, and makes server-stamped times repeatable),
# MOTO_SEED (a number: seeds moto's random ids, task and query ids among them, right after start).
#
# moto runs with TZ=UTC: its CloudWatch export writes each line's timestamp in the server's local
# time. Only 127.0.0.1 is ever used: the server binds to it, every client is pointed at it.
set -euo pipefail

MOTO_PORT=${MOTO_PORT:-15000}
REGION=${AWS_LOCAL_REGION:-us-east-1}
STATE=${AWS_LOCAL_STATE:-${TMPDIR:-/tmp}/rotdiag-aws-local-$MOTO_PORT}
VENV=${AWS_LOCAL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rotdiag-aws-local/venv}
URL="http://127.0.0.1:$MOTO_PORT"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PIDFILE="$STATE/moto.pid"

die() {
    echo "moto.sh: error: $*" >&2
    exit 1
}
note() { echo "moto.sh: $*" >&2; }

[[ $MOTO_PORT =~ ^[0-9]+$ ]] || die "MOTO_PORT must be a port number (got '$MOTO_PORT')"
[[ -z ${MOTO_SEED:-} || $MOTO_SEED =~ ^[0-9]+$ ]] || die "MOTO_SEED must be a number (got '$MOTO_SEED')"

# The first of the given commands whose `--version` starts with the given prefix.
find_cli() {
    local prefix=$1 c
    shift
    for c in "$@"; do
        [[ -n $c ]] || continue
        if command -v "$c" >/dev/null 2>&1 && "$c" --version 2>&1 | grep -q "^$prefix"; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

aws_v1() { find_cli aws-cli/1. "${AWS_CLI_V1:-}" "$VENV/bin/aws" aws; }
aws_v2() { find_cli aws-cli/2. "${AWS_CLI_V2:-}" /usr/bin/aws /usr/local/bin/aws aws; }

# A python that imports boto3 and moto's server.
moto_python() {
    local p
    for p in "${AWS_LOCAL_PYTHON:-}" "$VENV/bin/python" python3 python; do
        [[ -n $p ]] || continue
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import boto3, moto.server' 2>/dev/null; then
            command -v "$p"
            return 0
        fi
    done
    return 1
}

cmd_install() {
    if ! moto_python >/dev/null || ! aws_v1 >/dev/null; then
        local py
        py=$(command -v python3 || command -v python) || die "no python3 to install moto and AWS CLI v1 with"
        if [[ ! -x $VENV/bin/python ]]; then
            note "creating $VENV"
            "$py" -m venv "$VENV"
        fi
        note "pip install moto[server] boto3 awscli (v1) into $VENV"
        "$VENV/bin/python" -m pip install --quiet 'moto[server]>=5,<6' boto3 'awscli>=1.29,<2'
    fi
    if [[ -n ${MOTO_CLOCK:-} ]]; then
        local mp
        mp=$(moto_python)
        if ! "$mp" -c 'import freezegun' 2>/dev/null; then
            note "pip install freezegun for $mp (MOTO_CLOCK)"
            "$mp" -m pip install --quiet 'freezegun>=1.2'
        fi
    fi
    if ! aws_v2 >/dev/null; then
        command -v apt-get >/dev/null 2>&1 || die "AWS CLI v2 is missing and there is no apt-get to install Debian's awscli"
        note "apt-get install awscli (AWS CLI v2)"
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq awscli
    fi
    aws_v1 >/dev/null || die "AWS CLI v1 still not found after installing"
    aws_v2 >/dev/null || die "AWS CLI v2 still not found after installing"
    moto_python >/dev/null || die "moto still not importable after installing"
}

alive() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

answering() { curl -fsS -o /dev/null --max-time 2 "$URL/moto-api/data.json" 2>/dev/null; }

port_taken() {
    # Anything already listening there (another helper's server): never reuse or kill it.
    (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null
}

write_client_config() {
    mkdir -p "$STATE"
    printf '[default]\nregion = %s\noutput = json\ns3 =\n    addressing_style = path\n' "$REGION" >"$STATE/config"
    printf '[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n' >"$STATE/credentials"
}

cmd_start() {
    mkdir -p "$STATE"
    write_client_config
    if alive; then
        answering || die "moto (pid $(cat "$PIDFILE")) runs but does not answer on $URL; see $STATE/moto.log"
        return 0
    fi
    port_taken && die "127.0.0.1:$MOTO_PORT is already in use by something this script did not start (set MOTO_PORT)"
    local py
    py=$(moto_python) || die "moto is not installed: run '$0 install'"
    local server=(-m moto.server)
    if [[ -n ${MOTO_CLOCK:-} ]]; then
        "$py" -c 'import freezegun' 2>/dev/null || die "MOTO_CLOCK needs freezegun: run '$0 install' with MOTO_CLOCK set"
        server=("$HERE/frozen_clock.py" "$MOTO_CLOCK")
    fi
    # setsid: the server gets its own process group, so `stop` ends it and its children only.
    TZ=UTC setsid "$py" "${server[@]}" -H 127.0.0.1 -p "$MOTO_PORT" >"$STATE/moto.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local i
    for i in $(seq 1 100); do
        if answering; then
            if [[ -n ${MOTO_SEED:-} ]]; then
                curl -fsS -o /dev/null -X POST "$URL/moto-api/seed?a=$MOTO_SEED" || die "could not seed moto's random ids"
            fi
            note "moto $("$py" -c 'import moto; print(moto.__version__)') on $URL (pid $(cat "$PIDFILE"), log $STATE/moto.log)"
            return 0
        fi
        alive || die "moto exited at start; see $STATE/moto.log: $(tail -n 5 "$STATE/moto.log")"
        sleep 0.2
    done
    cmd_stop
    die "moto did not answer on $URL within 20 s; see $STATE/moto.log"
}

cmd_stop() {
    if ! alive; then
        rm -f "$PIDFILE"
        return 0
    fi
    local pid i
    pid=$(cat "$PIDFILE")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    note "stopped moto on $URL (pid $pid)"
}

cmd_status() {
    if alive && answering; then
        echo "running on $URL (pid $(cat "$PIDFILE"))"
    else
        echo "not running ($URL)"
        return 1
    fi
}

cmd_env() {
    write_client_config
    local v1 v2 py
    v1=$(aws_v1 || true)
    v2=$(aws_v2 || true)
    py=$(moto_python || true)
    cat <<EOF
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SECURITY_TOKEN
export AWS_DEFAULT_REGION=$REGION
export AWS_REGION=$REGION
export AWS_CONFIG_FILE=$STATE/config
export AWS_SHARED_CREDENTIALS_FILE=$STATE/credentials
export AWS_ENDPOINT_URL=$URL
export AWS_LOCAL_ENDPOINT=$URL
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""
export TZ=UTC
export AWS_CLI_V1=$v1
export AWS_CLI_V2=$v2
export AWS_LOCAL_PYTHON=$py
EOF
}

cmd_run() {
    [[ ${1:-} == -- ]] && shift
    [[ $# -gt 0 ]] || die "usage: $0 run -- COMMAND [ARGS...]"
    # Stop on the way out only a server this call started (one already running is left alone).
    if ! alive; then
        trap cmd_stop EXIT
        trap 'exit 130' INT TERM
    fi
    cmd_start
    eval "$(cmd_env)"
    "$@"
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
run)
    shift
    cmd_run "$@"
    ;;
*)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
