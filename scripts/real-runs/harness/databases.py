"""Administration of the real database servers that run.sh started: users, privileges and the server
settings a scenario needs, through the servers' own command-line clients over their local sockets
(PostgreSQL `psql` as the `postgres` superuser, MariaDB `mariadb` as root by unix-socket auth).

Every scenario starts from `reset()`: the harness's users dropped, the default settings back.
"""

from __future__ import annotations

import os
import subprocess

USERS = ["appuser", "appuser_clone", "rotmaster"]


def _run(cmd: list[str], sql: str, what: str) -> str:
    p = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed: {p.stderr.strip()}\n--- sql ---\n{sql}")
    return p.stdout


def quote_literal(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


class _Server:
    """What both servers share: the users a scenario made beyond the usual ones, dropped on reset."""

    def __init__(self):
        self.extra_users: list[str] = []

    def _track(self, user: str):
        if user not in USERS:
            self.extra_users.append(user)


class Postgres(_Server):
    kind = "pg"

    def __init__(self, run_dir: str, port: int, pg_bin: str):
        super().__init__()
        self.dir = os.path.join(run_dir, "pg")
        self.port = port
        self.pg_bin = pg_bin

    def sql(self, sql: str) -> str:
        cmd = ["runuser", "-u", "postgres", "--", os.path.join(self.pg_bin, "psql"), "-X", "-q", "-v",
               "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-At"]
        return _run(cmd, sql, "psql")

    def version(self) -> str:
        return self.sql("SHOW server_version;").strip()

    def _hba(self, tls_only: bool):
        host = "hostssl" if tls_only else "host"
        with open(os.path.join(self.dir, "data", "pg_hba.conf"), "w") as f:
            f.write("local all postgres trust\n")
            f.write(f"{host} all all 127.0.0.1/32 scram-sha-256\n")

    def configure(self, tls_only: bool = False, post_auth_delay_s: int = 0):
        """pg_hba (TLS required or not) and the scenario's server settings, then a reload."""
        self._hba(tls_only)
        with open(os.path.join(self.dir, "scenario.conf"), "w") as f:
            if post_auth_delay_s:
                f.write(f"post_auth_delay = {post_auth_delay_s}\n")
        self.sql("SELECT pg_reload_conf();")

    def reset(self):
        self.configure()
        for u in USERS + self.extra_users:
            self.sql(f'DROP OWNED BY "{u}" CASCADE;' if self._exists(u) else "SELECT 1;")
            self.sql(f'DROP ROLE IF EXISTS "{u}";')
        self.extra_users = []

    def _exists(self, user: str) -> bool:
        return self.sql(f"SELECT 1 FROM pg_roles WHERE rolname = {quote_literal(user)};").strip() == "1"

    def create_user(self, user: str, password: str):
        self.sql(f'CREATE ROLE "{user}" WITH LOGIN PASSWORD {quote_literal(password)};'
                 f'GRANT CONNECT ON DATABASE postgres TO "{user}";')
        self._track(user)

    def create_master(self, user: str, password: str, can_create_users: bool = True):
        attrs = "LOGIN CREATEROLE" if can_create_users else "LOGIN"
        self.sql(f'CREATE ROLE "{user}" WITH {attrs} PASSWORD {quote_literal(password)};')
        self._track(user)


class MariaDB(_Server):
    kind = "mariadb"

    def __init__(self, run_dir: str, port: int):
        super().__init__()
        self.socket = os.path.join(run_dir, "mariadb", "mysqld.sock")
        self.port = port

    def sql(self, sql: str) -> str:
        return _run(["mariadb", "--no-defaults", "-S", self.socket, "-u", "root", "-N", "-B"], sql, "mariadb")

    def version(self) -> str:
        return self.sql("SELECT VERSION();").strip()

    def configure(self, tls_only: bool = False, init_connect: str = "", password_policy: bool = False):
        """TLS required or not, SQL run at every login, the simple_password_check plugin (its
        defaults: 8 characters with a digit, an upper- and a lower-case letter and another character)."""
        self.sql(f"SET GLOBAL require_secure_transport = {'ON' if tls_only else 'OFF'};"
                 f"SET GLOBAL init_connect = {quote_literal(init_connect)};"
                 + ("INSTALL SONAME 'simple_password_check';" if password_policy
                    else "UNINSTALL SONAME IF EXISTS 'simple_password_check';"))

    def reset(self):
        self.configure()
        for u in USERS + self.extra_users:
            self.sql(f"DROP USER IF EXISTS {quote_literal(u)}@'%';")
        self.sql("CREATE DATABASE IF NOT EXISTS appdb;")
        self.extra_users = []

    def create_user(self, user: str, password: str):
        self.sql(f"CREATE USER {quote_literal(user)}@'%' IDENTIFIED BY {quote_literal(password)};"
                 f"GRANT SELECT, INSERT, UPDATE, DELETE ON appdb.* TO {quote_literal(user)}@'%';")
        self._track(user)

    def create_master(self, user: str, password: str, can_create_users: bool = True):
        u = f"{quote_literal(user)}@'%'"
        if can_create_users:
            grant = f"GRANT ALL PRIVILEGES ON *.* TO {u} WITH GRANT OPTION;"
        else:
            # Can log in, read the grant tables and create users, but cannot pass privileges on.
            grant = f"GRANT SELECT, CREATE USER ON *.* TO {u};"
        self.sql(f"CREATE USER {u} IDENTIFIED BY {quote_literal(password)};{grant}")
        self._track(user)
