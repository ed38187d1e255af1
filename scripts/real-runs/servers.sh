# shellcheck shell=bash
# Start and stop the real servers the real-run harness talks to: PostgreSQL 15, MariaDB 10.11 and
# moto's server, each on 127.0.0.1 only, on the harness's own ports, with data in a run folder that
# is deleted afterwards. Sourced by run.sh; every start_* registers its stop with the EXIT trap.
#
# moto is started by start_moto/stop_moto only. To use the shared scripts/aws-local/ instead, replace
# those two functions with calls to it: nothing else here or in the harness knows how moto runs; the
# harness only reads MOTO_ENDPOINT.

STOPS=()
on_exit() {
    local i
    for ((i = ${#STOPS[@]} - 1; i >= 0; i--)); do eval "${STOPS[$i]}" || true; done
}
trap on_exit EXIT
trap 'exit 130' INT TERM

wait_for_port() { # host port seconds what
    local t=0
    until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
        sleep 0.2
        t=$((t + 1))
        if ((t > $3 * 5)); then
            echo "real-runs: $4 did not listen on $1:$2 within $3 s" >&2
            return 1
        fi
    done
}

port_free() { # port
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A CA and a server certificate for 127.0.0.1 (both servers present it; the templates verify it
# against /etc/pki/tls/cert.pem, which the harness overlays with this CA for the function only).
make_tls() {
    local d="$RUN/tls"
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rotdiag real-runs CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
    mkdir -p "$RUN/etc-layer/pki/tls"
    cp "$d/ca.pem" "$RUN/etc-layer/pki/tls/cert.pem"
}

start_postgres() {
    port_free "$PG_PORT" || { echo "real-runs: port $PG_PORT is taken" >&2; return 1; }
    local d="$RUN/pg"
    mkdir -p "$d"
    cp "$RUN/tls/server.pem" "$d/server.crt"
    cp "$RUN/tls/server.key" "$d/server.key"
    chmod 600 "$d/server.key"
    chown -R postgres:postgres "$d"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$d/data" -U postgres --auth=trust \
        --no-instructions >"$d/initdb.log" 2>&1
    cat >>"$d/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$d'
ssl = on
ssl_cert_file = '$d/server.crt'
ssl_key_file = '$d/server.key'
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'passwordcheck'
include_if_exists = '$d/scenario.conf'
CONF
    : >"$d/scenario.conf"
    chown postgres:postgres "$d/scenario.conf"
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w start >/dev/null
    STOPS+=("runuser -u postgres -- '$PG_BIN/pg_ctl' -D '$d/data' -m immediate -w stop >/dev/null")
}

start_mariadb() {
    port_free "$MARIADB_PORT" || { echo "real-runs: port $MARIADB_PORT is taken" >&2; return 1; }
    local d="$RUN/mariadb"
    mkdir -p "$d"
    mariadb-install-db --no-defaults --datadir="$d/data" --user=root \
        --auth-root-authentication-method=socket >"$d/install.log" 2>&1
    mariadbd --no-defaults --datadir="$d/data" --user=root --port="$MARIADB_PORT" \
        --bind-address=127.0.0.1 --socket="$d/mysqld.sock" --pid-file="$d/mysqld.pid" \
        --skip-name-resolve --log-error="$d/error.log" \
        --ssl-ca="$RUN/tls/ca.pem" --ssl-cert="$RUN/tls/server.pem" --ssl-key="$RUN/tls/server.key" &
    local pid=$!
    STOPS+=("kill $pid; wait $pid")
    wait_for_port 127.0.0.1 "$MARIADB_PORT" 60 MariaDB
}

start_moto() {
    port_free "$MOTO_PORT" || { echo "real-runs: port $MOTO_PORT is taken" >&2; return 1; }
    "$VENV_AWS/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN/moto.log" 2>&1 &
    local pid=$!
    STOPS+=("kill $pid; wait $pid")
    wait_for_port 127.0.0.1 "$MOTO_PORT" 60 moto
    export MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
}

# Packets to these loopback addresses (and nowhere else) are dropped: a database host and a Secrets
# Manager endpoint that never answer. One chain of our own, removed on exit.
start_blackholes() {
    local chain=ROTDIAG_RR
    iptables -N "$chain" 2>/dev/null || iptables -F "$chain"
    iptables -A "$chain" -d "$DROP_DB_HOST/32" -p tcp -j DROP
    iptables -A "$chain" -d "$DROP_SM_HOST/32" -p tcp -j DROP
    iptables -I OUTPUT -d "$DROP_DB_HOST/32" -j "$chain"
    iptables -I OUTPUT -d "$DROP_SM_HOST/32" -j "$chain"
    STOPS+=("iptables -D OUTPUT -d '$DROP_DB_HOST/32' -j $chain; iptables -D OUTPUT -d '$DROP_SM_HOST/32' -j $chain; iptables -F $chain; iptables -X $chain")
}
