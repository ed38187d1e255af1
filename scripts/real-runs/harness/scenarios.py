"""The failure scenarios, each caused for real, and the engines (template x database) they run on.

A scenario puts the database, the secrets and the function into one state and lets Secrets Manager
rotate (or does what a person does: invokes the function by hand, cancels the rotation, puts a
version). Its `cause` is the TRUE cause: what the harness did, not what any tool infers from the logs.
`evidence` strings must occur in the logs the run produced (the harness checks that the scenario
really happened) and are what the corpus case asks rotdiag to show as evidence.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Engine:
    name: str  # pg-single, mariadb-multi, ...
    db: str  # pg | mariadb
    template: str
    engine_value: str  # the secret's "engine"
    multi: bool
    driver: str  # the PyPI requirement the template's package bundles
    module: str  # what the template imports from it

    @property
    def label(self) -> str:
        scheme = "alternating users" if self.multi else "single user"
        server = "PostgreSQL 15" if self.db == "pg" else "MariaDB 10.11"
        return f"{self.template} ({scheme}) against {server}"


PYGRESQL = "PyGreSQL==5.2.5"
PYMYSQL = "PyMySQL==1.0.2"  # the version the AWS template documentation lists

ENGINES = {
    e.name: e
    for e in [
        Engine("pg-single", "pg", "SecretsManagerRDSPostgreSQLRotationSingleUser", "postgres", False, PYGRESQL, "pg"),
        Engine("pg-multi", "pg", "SecretsManagerRDSPostgreSQLRotationMultiUser", "postgres", True, PYGRESQL, "pg"),
        Engine("mariadb-single", "mariadb", "SecretsManagerRDSMariaDBRotationSingleUser", "mariadb", False, PYMYSQL, "pymysql"),
        Engine("mariadb-multi", "mariadb", "SecretsManagerRDSMariaDBRotationMultiUser", "mariadb", True, PYMYSQL, "pymysql"),
        Engine("mysql-single", "mariadb", "SecretsManagerRDSMySQLRotationSingleUser", "mysql", False, PYMYSQL, "pymysql"),
        Engine("mysql-multi", "mariadb", "SecretsManagerRDSMySQLRotationMultiUser", "mysql", True, PYMYSQL, "pymysql"),
    ]
}
MAIN4 = ["pg-single", "pg-multi", "mariadb-single", "mariadb-multi"]
SINGLES = ["pg-single", "mariadb-single"]
MULTIS = ["pg-multi", "mariadb-multi"]


@dataclass(frozen=True)
class Indistinct:
    """The logs of a scenario whose true cause they cannot show: they are those of another cause,
    which a correct reading names first; the true cause must then be among its alternatives."""
    logs_show: str  # the cause the logs point to first
    why: str  # why no line tells the true cause apart


@dataclass
class Scenario:
    name: str
    cause: str  # the true cause id, or "healthy"
    engines: list[str]
    step: str | None  # the step that fails
    what: str  # what the harness does, for the case's description
    run: Callable  # run(ctx) -> None
    evidence: Callable[[object], list[str]] = field(default=lambda ctx: [])
    # What must be in the raw log messages to prove the scenario happened (default: the evidence).
    proof: Callable[[object], list[str]] | None = None
    indistinct: Indistinct | None = None


SCENARIOS: dict[str, Scenario] = {}


def scenario(name, cause, engines, step, what, evidence=None, proof=None, indistinct=None):
    def register(fn):
        SCENARIOS[name] = Scenario(name, cause, engines, step, what, fn, evidence or (lambda ctx: []), proof,
                                   indistinct)
        return fn

    return register


def unable_line(ctx) -> str:
    """The template's setSecret line when no credential logs in."""
    if ctx.engine.multi:
        return "setSecret: Unable to log into database using current credentials"
    return "setSecret: Unable to log into database with previous, current, or pending secret"


def simple(name, cause, engines, step, what, evidence=None, proof=None, standard=None, configure=None,
           function=None, indistinct=None):
    """Registers the common scenario: the state (`standard(ctx)`: keyword arguments of
    `Ctx.standard`), then `configure(ctx)`, the function (`function`, or `function(ctx)`: keyword
    arguments of `Ctx.function`), one rotation."""

    def run(ctx):
        ctx.standard(**(standard(ctx) if standard else {}))
        if configure:
            configure(ctx)
        ctx.function(**(function(ctx) if callable(function) else function or {}))
        ctx.rotate()

    scenario(name, cause, engines, step, what, evidence, proof, indistinct)(run)


def hand_changed() -> str:
    return "changed-by-hand-" + uuid.uuid4().hex[:8]


# --- healthy ----------------------------------------------------------------------------------

simple("healthy", "healthy", list(ENGINES), None, "a rotation that succeeds: every step logs its success")

# --- credentials ------------------------------------------------------------------------------

simple("wrong-password", "database-credentials-invalid", MAIN4 + ["mysql-single", "mysql-multi"], "setSecret",
       "the user's password in the database was changed by hand, so the secret's AWSCURRENT password is wrong",
       evidence=lambda ctx: [unable_line(ctx)], standard=lambda ctx: {"db_password": hand_changed()})

simple("wrong-master-password", "database-credentials-invalid", MULTIS, "setSecret",
       "the master secret holds a wrong password for the master user",
       evidence=lambda ctx: ["setSecret: Unable to log into database using credentials in master secret"],
       standard=lambda ctx: {"master_db_password": hand_changed()})

# --- network ----------------------------------------------------------------------------------

simple("packets-dropped", "database-unreachable", MAIN4, "setSecret",
       "the secret's host is a loopback address whose packets iptables drops: every connect waits for the driver's 5 s timeout",
       evidence=lambda ctx: [unable_line(ctx)], standard=lambda ctx: {"secret_over": {"host": ctx.cfg.drop_db_host}})

# The templates swallow the driver's error (PyGreSQL's InternalError, PyMySQL's OperationalError) and
# log the same line, as fast, for a refused port, a TLS requirement and a wrong password: what
# these runs print is, line for line, what wrong-password prints (README, "What it could not
# reproduce"). No reading of these logs can name their true cause first; a correct one names the
# wrong password first (the likelier cause by the troubleshooting guide) and keeps the true cause
# among the alternatives.
SWALLOWED = ("the template catches the driver's error and logs only \"Unable to log into database\", within a few "
             "hundred milliseconds, exactly as for a wrong password (the wrong-password case of this engine has "
             "the same lines): the logs cannot tell {what} from bad credentials")

simple("port-refused", "database-unreachable", MAIN4, "setSecret",
       "nothing listens on the secret's port: every connect is refused at once",
       evidence=lambda ctx: [unable_line(ctx)], standard=lambda ctx: {"secret_over": {"port": ctx.cfg.refused_port}},
       indistinct=Indistinct("database-credentials-invalid", SWALLOWED.format(what="a refused port")))

simple("tls-required", "database-requires-tls", MAIN4, "setSecret",
       "the server accepts only TLS connections (PostgreSQL: `hostssl` lines only in pg_hba.conf; MariaDB: require_secure_transport=ON) and the secret says \"ssl\": false",
       evidence=lambda ctx: [unable_line(ctx)], standard=lambda ctx: {"secret_over": {"ssl": False}},
       configure=lambda ctx: ctx.db.configure(tls_only=True),
       indistinct=Indistinct("database-credentials-invalid", SWALLOWED.format(what="a TLS requirement")))

# --- the secret -------------------------------------------------------------------------------

simple("missing-key", "secret-json-missing-key", MAIN4, None,
       "a key the template needs is not in the secret JSON (single user: `host`; alternating users: `masterarn`)",
       evidence=lambda ctx: ["KeyError", "'masterarn'"] if ctx.engine.multi else ["host key is missing from secret JSON"],
       standard=lambda ctx: {"secret_over": {"masterarn" if ctx.engine.multi else "host": None}})

simple("master-secret-deleted", "master-secret-not-found", MULTIS, "setSecret",
       "the master secret that `masterarn` names was deleted (force-delete-without-recovery)",
       evidence=lambda ctx: ["ResourceNotFoundException", "GetSecretValue"],
       configure=lambda ctx: ctx.sm.sm.delete_secret(SecretId=ctx.master_arn, ForceDeleteWithoutRecovery=True))


def long_user(ctx) -> dict:
    """A user whose `_clone` name passes the template's limit."""
    if ctx.engine.name == "pg-multi":
        return {"user": "svc_" + "reporting_" * 5 + "ro_x"}  # 58 characters: 64 with _clone > 63
    if ctx.engine.name == "mariadb-multi":
        return {"user": "svc_" + "reporting_" * 7 + "ro_x"}  # 78 characters: 84 with _clone > 80
    return {"user": "orders_service"}  # orders_service_clone: 20 > the template's USERNAME_CHARACTER_LIMIT, 16


simple("clone-username-too-long", "clone-username-invalid", ["pg-multi", "mariadb-multi", "mysql-multi"], "createSecret",
       "the user name is so long that the template's `_clone` name would pass the engine's limit (PostgreSQL 63, MariaDB template 80, MySQL template 16 characters)",
       evidence=lambda ctx: ["Unable to clone user, username length with _clone appended would exceed"],
       standard=long_user)

# --- privileges -------------------------------------------------------------------------------

simple("missing-privileges", "database-privileges-insufficient", MULTIS + ["mysql-multi"], "setSecret",
       "the master user can log in but may not create users or pass privileges on (PostgreSQL: no CREATEROLE; MariaDB: no GRANT OPTION)",
       evidence=lambda ctx: ["permission denied to create role"] if ctx.engine.db == "pg" else ["Access denied for user 'rotmaster'"],
       standard=lambda ctx: {"master_can_create_users": False})

simple("password-policy", "password-policy-rejected", MAIN4, "setSecret",
       "the function generates passwords without punctuation and digits (EXCLUDE_PUNCTUATION and EXCLUDE_NUMBERS = true) that the database's password policy refuses (PostgreSQL passwordcheck; MariaDB simple_password_check)",
       evidence=lambda ctx: ["password must contain both letters and nonletters"] if ctx.engine.db == "pg"
       else ["does not satisfy the current policy requirements"],
       configure=lambda ctx: ctx.db.configure(password_policy=True) if ctx.engine.db == "mariadb" else None,
       function={"env": {"EXCLUDE_PUNCTUATION": "true", "EXCLUDE_NUMBERS": "true"}})

# --- staging labels and rotation state ------------------------------------------------------------

@scenario("pending-label-moved", "version-stage-mismatch", SINGLES, "setSecret",
          "after createSecret someone put a new value by hand with the AWSPENDING label (put-secret-value --version-stages AWSPENDING), moving the label off the rotation's version",
          evidence=lambda ctx: ["not set as AWSPENDING for rotation of secret"])
def pending_label_moved(ctx):
    ctx.standard()
    ctx.function()

    def meddle(step):
        if step == "createSecret":
            value = ctx.secret_value()
            ctx.sm.sm.put_secret_value(SecretId=ctx.arn, SecretString=__import__("json").dumps(value),
                                       VersionStages=["AWSPENDING"])

    ctx.rotate(after_step=meddle)


@scenario("unknown-token", "version-stage-mismatch", SINGLES, "createSecret",
          "the function is invoked by hand (a console test event) with a ClientRequestToken that is no version of the secret",
          evidence=lambda ctx: ["has no stage for rotation of secret"])
def unknown_token(ctx):
    ctx.standard()
    ctx.function()
    ctx.fn.invoke({"SecretId": ctx.arn, "ClientRequestToken": str(uuid.uuid4()), "Step": "createSecret"})


@scenario("rotation-cancelled", "rotation-not-enabled", SINGLES, "setSecret",
          "rotation is turned off (cancel-rotate-secret) after createSecret; the next step is invoked for the rotation's token",
          evidence=lambda ctx: ["is not enabled for rotation"])
def rotation_cancelled(ctx):
    ctx.standard()
    ctx.function()
    token = ctx.sm.start_rotation(ctx.arn, ctx.function_arn)
    ctx.fn.invoke({"SecretId": ctx.arn, "ClientRequestToken": token, "Step": "createSecret"})
    ctx.sm.sm.cancel_rotate_secret(SecretId=ctx.arn)
    ctx.fn.invoke({"SecretId": ctx.arn, "ClientRequestToken": token, "Step": "setSecret"})


# --- Secrets Manager endpoint -------------------------------------------------------------------

simple("sm-endpoint-dropped", "secrets-manager-unreachable", SINGLES, "createSecret",
       "SECRETS_MANAGER_ENDPOINT names a loopback address whose packets iptables drops: the first API call hangs until the 30 s function timeout",
       evidence=lambda ctx: ["Found credentials in environment variables"],
       function=lambda ctx: {"env": {"SECRETS_MANAGER_ENDPOINT": f"https://{ctx.cfg.drop_sm_host}"}})

simple("sm-endpoint-refused", "secrets-manager-unreachable", SINGLES, "createSecret",
       "SECRETS_MANAGER_ENDPOINT names a loopback port where nothing listens: botocore retries, then gives up",
       evidence=lambda ctx: ["Could not connect to the endpoint URL"],
       function=lambda ctx: {"env": {"SECRETS_MANAGER_ENDPOINT": f"http://127.0.0.1:{ctx.cfg.refused_port}"}})

# --- the function ------------------------------------------------------------------------------


def timeout_line(ctx) -> str:
    return "Task timed out after 3.00 seconds" if ctx.cfg.legacy_platform else "Status: timeout"


def slow_logins(ctx):
    if ctx.engine.db == "pg":
        ctx.db.configure(post_auth_delay_s=3)
    else:
        ctx.db.configure(init_connect="DO SLEEP(3)")


simple("timeout-3s-slow-db", "lambda-timeout-too-short", MAIN4, "setSecret",
       "the function timeout is Lambda's default 3 s and every login takes 3 s more (PostgreSQL post_auth_delay = 3; MariaDB init_connect = 'DO SLEEP(3)')",
       evidence=lambda ctx: [timeout_line(ctx)],  # rotdiag shows JSON platform records as text lines
       proof=lambda ctx: [timeout_line(ctx)] if ctx.log_format == "Text" else ['"status":"timeout"'],
       configure=slow_logins, function={"timeout_s": 3})

simple("driver-missing", "function-package-broken", MAIN4, "createSecret",
       "the function's package holds the template but not its database driver",
       evidence=lambda ctx: ["Runtime.ImportModuleError", f"No module named '{ctx.engine.module}'"],
       function={"with_driver": False})
