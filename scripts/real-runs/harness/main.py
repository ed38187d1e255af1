"""Runs the real-run scenarios and writes their logs as corpus cases. Started by run.sh, which has
installed what is needed and started the servers; see ../README.md.

    main.py --repo DIR [--only ENGINE:SCENARIO ...] [--formats text,json] [--retries N] [--list]
            [--no-xfail-marks] [--rotdiag PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from aws_side import ACCOUNT, REGION, Moto, SecretsManagerService  # noqa: E402
from corpus import CaseWriter  # noqa: E402
from databases import MariaDB, Postgres  # noqa: E402
from lambda_service import FunctionConfig, LambdaFunction, RuntimeApi  # noqa: E402
from scenarios import ENGINES, SCENARIOS, Engine, Scenario  # noqa: E402

FAKE_CREDENTIALS = {  # what Lambda puts in the environment: the role's temporary credentials
    "AWS_ACCESS_KEY_ID": "ASIAREALRUNSEXAMPLE1",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class Config:
    repo: Path
    work: Path
    run_dir: str
    pg_port: int
    mariadb_port: int
    moto_endpoint: str
    rapi_port: int
    refused_port: int
    drop_db_host: str
    drop_sm_host: str
    pg_bin: str
    aws_cli: str
    venv_runtime: str
    retries: int
    legacy_platform: bool = False

    @classmethod
    def from_env(cls, repo: str, retries: int) -> "Config":
        e = os.environ
        return cls(Path(repo), Path(e["WORK"]), e["RUN"], int(e["PG_PORT"]), int(e["MARIADB_PORT"]),
                   e["MOTO_ENDPOINT"], int(e["RAPI_PORT"]), int(e["REFUSED_PORT"]), e["DROP_DB_HOST"],
                   e["DROP_SM_HOST"], e["PG_BIN"], e["AWS_CLI_V2"], e["VENV_RUNTIME"], retries)


class Templates:
    """The rotation templates, read from a git dir (TEMPLATES_GIT) or a checkout (TEMPLATES_DIR)."""

    def __init__(self):
        self.git = os.environ.get("TEMPLATES_GIT")
        self.dir = os.environ.get("TEMPLATES_DIR")
        if self.git:
            self.commit = self._git("rev-parse", "HEAD").decode().strip()
        else:
            p = subprocess.run(["git", "-C", self.dir, "rev-parse", "HEAD"], capture_output=True, text=True)
            self.commit = p.stdout.strip() if p.returncode == 0 else "unknown"

    def _git(self, *args) -> bytes:
        return subprocess.run(["git", "--git-dir", self.git, *args], check=True, capture_output=True).stdout

    def source(self, template: str) -> bytes:
        path = f"{template}/lambda_function.py"
        if self.git:
            return self._git("show", f"{self.commit}:{path}")
        return Path(self.dir, path).read_bytes()


class Packages:
    """Function packages as Lambda runs them: the template and, unless left out, its driver."""

    def __init__(self, cfg: Config, templates: Templates):
        self.cfg, self.templates = cfg, templates

    def get(self, engine: Engine, with_driver: bool) -> str:
        kind = engine.driver.replace("==", "-") if with_driver else "no-driver"
        d = self.cfg.work / "functions" / f"{engine.template}@{self.templates.commit[:12]}" / kind
        task = d / "task"  # mounted as /var/task for the function
        if not (d / ".complete").exists():
            shutil.rmtree(d, ignore_errors=True)
            task.mkdir(parents=True)
            (task / "lambda_function.py").write_bytes(self.templates.source(engine.template))
            if with_driver:
                pip = os.path.join(self.cfg.venv_runtime, "bin", "pip")
                subprocess.run([pip, "install", "-q", "--no-deps", "--target", str(task), engine.driver], check=True)
            (d / ".complete").write_text("")
        return str(d)


class Ctx:
    """One case: the engine, the servers, the secrets and the function a scenario works with."""

    def __init__(self, cfg, engine: Engine, log_format: str, db, moto: Moto, api: RuntimeApi,
                 packages: Packages, templates: Templates):
        self.cfg, self.engine, self.log_format, self.db = cfg, engine, log_format, db
        self.moto, self.api, self.packages, self.templates = moto, api, packages, templates
        self.sm = SecretsManagerService(moto, retries=cfg.retries)
        self.fn: LambdaFunction | None = None
        self.arn = self.master_arn = self.function_arn = None
        self.user = "appuser"
        self._secret: dict = {}

    # -- state -------------------------------------------------------------------------------
    def port(self) -> int:
        return self.cfg.pg_port if self.engine.db == "pg" else self.cfg.mariadb_port

    def _value(self, user: str, password: str) -> dict:
        return {
            "engine": self.engine.engine_value,
            "host": "127.0.0.1",
            "username": user,
            "password": password,
            "dbname": "postgres" if self.engine.db == "pg" else "appdb",
            "port": self.port(),
        }

    def standard(self, user: str | None = None, db_password: str | None = None,
                 master_db_password: str | None = None, master_can_create_users: bool = True,
                 secret_over: dict | None = None):
        """The database user (and for alternating users the master) and their secrets.

        `db_password`/`master_db_password`: the password the database really has, when it is not
        the one in the secret. `secret_over`: keys to change in the user's secret (None drops one).
        """
        self.user = user or "appuser"
        password = "initial-" + uuid.uuid4().hex
        self.db.create_user(self.user, db_password or password)
        base = {"pg": "postgres", "mariadb": self.engine.engine_value}[self.engine.db]
        value = self._value(self.user, password)
        if self.engine.multi:
            master_password = "master-" + uuid.uuid4().hex
            self.db.create_master("rotmaster", master_db_password or master_password, master_can_create_users)
            master = self._value("rotmaster", master_password)
            master.pop("dbname")
            self.master_arn = self.sm.create_secret(f"prod/app/{base}-master", master)
            value["masterarn"] = self.master_arn
        for k, v in (secret_over or {}).items():
            if v is None:
                value.pop(k, None)
            else:
                value[k] = v
        self._secret = value
        self.arn = self.sm.create_secret(f"prod/app/{base}" + ("-app" if self.engine.multi else ""), value)

    def secret_value(self) -> dict:
        return dict(self._secret)

    def function(self, timeout_s: int = 30, env: dict | None = None, with_driver: bool = True):
        name = self.engine.template
        self.function_arn = self.moto.create_function(name, timeout_s, self.templates.source(self.engine.template))
        fenv = dict(FAKE_CREDENTIALS)
        fenv.update({
            "SECRETS_MANAGER_ENDPOINT": self.cfg.moto_endpoint,
            # Any other AWS client the template makes (rds, on replica checks) goes to moto too.
            "AWS_ENDPOINT_URL": self.cfg.moto_endpoint,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        })
        fenv.update(env or {})
        cfg = FunctionConfig(
            name=name,
            package_dir=self.packages.get(self.engine, with_driver),
            runtime_layer=os.path.dirname(self.cfg.venv_runtime),
            env=fenv,
            timeout_s=timeout_s,
            log_format=self.log_format,
            etc_layer=os.path.join(self.cfg.run_dir, "etc-layer"),
            region=REGION,
            account=ACCOUNT,
        )
        self.fn = LambdaFunction(cfg, self.api, legacy_timeout_line=self.cfg.legacy_platform)

    def rotate(self, after_step=None) -> bool:
        return self.sm.rotate(self.fn, self.arn, self.function_arn, after_step)


def selected(only: list[str]) -> list[tuple[Engine, Scenario]]:
    out = []
    for sc in SCENARIOS.values():
        for en in sc.engines:
            key = f"{en}:{sc.name}"
            if not only or any(key == o or o in (en, sc.name) for o in only):
                out.append((ENGINES[en], sc))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--only", action="append", default=[], help="ENGINE:SCENARIO, ENGINE or SCENARIO")
    ap.add_argument("--formats", default="text,json")
    ap.add_argument("--retries", type=int, default=1, help="Secrets Manager's retries of a failed rotation")
    ap.add_argument("--platform", choices=["current", "legacy"], default="current",
                    help="legacy: a timeout is logged as 'Task timed out after N seconds' after a REPORT without Status")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--no-xfail-marks", action="store_true")
    ap.add_argument("--rotdiag", help="the rotdiag binary that sets xfail marks (default: cargo build)")
    a = ap.parse_args()

    todo = selected(a.only)
    formats = [f.strip() for f in a.formats.split(",") if f.strip()]
    if a.list:
        for en, sc in todo:
            print(f"{en.name}:{sc.name}\t{sc.cause}")
        return 0

    cfg = Config.from_env(a.repo, a.retries)
    cfg.legacy_platform = a.platform == "legacy"
    templates = Templates()
    packages = Packages(cfg, templates)
    moto = Moto(cfg.moto_endpoint)
    api = RuntimeApi(cfg.rapi_port)
    dbs = {"pg": Postgres(cfg.run_dir, cfg.pg_port, cfg.pg_bin), "mariadb": MariaDB(cfg.run_dir, cfg.mariadb_port)}
    versions = {k: v.version() for k, v in dbs.items()}
    writer = CaseWriter(cfg, templates, versions, moto)
    failures = []
    t0 = time.monotonic()
    for fmt in formats:
        log_format = {"text": "Text", "json": "JSON"}[fmt]
        for en, sc in todo:
            label = f"{en.name}:{sc.name} ({fmt})"
            print(f"real-runs: {label} ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            moto.reset()
            db = dbs[en.db]
            db.reset()
            ctx = Ctx(cfg, en, log_format, db, moto, api, packages, templates)
            start_ms = int(time.time() * 1000) - 1000
            try:
                sc.run(ctx)
            finally:
                if ctx.fn:
                    ctx.fn.shutdown()
                db.reset()
            err = writer.write(ctx, sc, start_ms)
            took = time.monotonic() - started
            if err:
                failures.append(f"{label}: {err}")
                print(f"real-runs: {label}: NOT REPRODUCED: {err}", file=sys.stderr)
            else:
                print(f"real-runs: {label}: done in {took:.1f} s", file=sys.stderr)
    api.close()
    writer.write_index()
    if not a.no_xfail_marks:
        writer.mark_xfail(a.rotdiag)
    print(f"real-runs: {len(todo) * len(formats) - len(failures)} cases written in {time.monotonic() - t0:.0f} s",
          file=sys.stderr)
    for f in failures:
        print(f"real-runs: FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
