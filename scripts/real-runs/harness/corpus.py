"""Writes a real run's log events as a corpus case, through real clients: the events go into moto's
CloudWatch Logs (`/aws/lambda/<function>`, one stream per execution environment) and come out through
the real AWS CLI v2 (`aws logs tail` for the text log format, `aws logs filter-log-events --output
json` for the JSON log format). Then writes the case's expect.toml: the TRUE cause (what the harness
did), the secret, the failing step and evidence, and, when rotdiag does not meet that today, an
`xfail` mark saying what it reports instead (see corpus/README.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

from scenarios import SCENARIOS

INDEX_BEGIN = "<!-- real-runs: begin (written by scripts/real-runs; do not edit by hand) -->"
INDEX_END = "<!-- real-runs: end -->"


def toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


class CaseWriter:
    def __init__(self, cfg, templates, versions: dict, moto):
        self.cfg, self.templates, self.versions, self.moto = cfg, templates, versions, moto
        self.corpus = cfg.repo / "corpus"
        self.written: list[dict] = []

    # -- one case ------------------------------------------------------------------------------
    def write(self, ctx, sc, start_ms: int) -> str | None:
        events = sorted(ctx.fn.events, key=lambda e: e.ts) if ctx.fn else []
        messages = "\n".join(e.message for e in events)
        missing = [s for s in (sc.proof or sc.evidence)(ctx) if s not in messages]
        if missing:
            dump = self.cfg.work / "not-reproduced" / f"{ctx.engine.name}-{sc.name}-{ctx.log_format}.log"
            dump.parent.mkdir(parents=True, exist_ok=True)
            dump.write_text("\n".join(f"{e.ts} {e.stream} {e.message}" for e in events))
            return f"the logs lack {missing} (they are in {dump})"
        if sc.cause == "healthy" and any(o.status != "success" for _, o in ctx.fn.calls):
            return "the healthy rotation failed"
        shape = "tail" if ctx.log_format == "Text" else "events-json"
        name = f"{sc.cause}--{shape}--real-{ctx.engine.name}-{sc.name}"
        if self.cfg.legacy_platform:
            name += "-legacy-platform"
        case = self.corpus / name
        shutil.rmtree(case, ignore_errors=True)
        case.mkdir(parents=True)
        self._ship(ctx, events)
        group = f"/aws/lambda/{ctx.fn.fn.name}"
        if shape == "tail":
            out = self._cli(["logs", "tail", group, "--since", _iso(start_ms), "--format", "detailed"])
            fname = "tail.txt"
        else:
            out = self._cli(["logs", "filter-log-events", "--log-group-name", group,
                             "--start-time", str(start_ms), "--output", "json"])
            fname = "events.json"
        (case / fname).write_bytes(out)
        (case / "expect.toml").write_text(self._expect(ctx, sc, fname, shape, messages))
        self.written.append({"name": name, "shape": shape, "ctx_engine": ctx.engine, "sc": sc,
                             "format": ctx.log_format, "calls": list(ctx.fn.calls)})
        return None

    def _ship(self, ctx, events):
        logs = self.moto.client("logs")
        group = f"/aws/lambda/{ctx.fn.fn.name}"
        logs.create_log_group(logGroupName=group)
        streams: dict[str, list] = {}
        for e in events:
            streams.setdefault(e.stream, []).append({"timestamp": e.ts, "message": e.message})
        for stream, evs in streams.items():
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            for i in range(0, len(evs), 1000):
                logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=evs[i:i + 1000])

    def _cli(self, args: list[str]) -> bytes:
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""})
        env.pop("AWS_SESSION_TOKEN", None)
        p = subprocess.run([self.cfg.aws_cli, "--endpoint-url", self.moto.endpoint, *args],
                           capture_output=True, env=env)
        if p.returncode != 0:
            raise RuntimeError(f"aws {' '.join(args)}: {p.stderr.decode(errors='replace')}")
        return p.stdout

    def _expect(self, ctx, sc, fname: str, shape: str, messages: str) -> str:
        calls = ", ".join(f"{step} {o.status}" + (f" ({o.error_type})" if o.error_type and o.status != "success" else "")
                          for step, o in ctx.fn.calls)
        server = f"PostgreSQL {self.versions['pg']}" if ctx.engine.db == "pg" else f"MariaDB {self.versions['mariadb']}"
        platform = ", the Lambda platform's legacy timeout line" if self.cfg.legacy_platform else ""
        desc = (f"Real run: {ctx.engine.template} ({'alternating users' if ctx.engine.multi else 'single user'}) "
                f"against {server}, {ctx.log_format} log format{platform}. Caused: {sc.what}. Invocations: {calls}.")
        lines = [
            f"# Written by scripts/real-runs (scenario {sc.name}, engine {ctx.engine.name}) from a real run:",
            f"# template {ctx.engine.template} @ aws-samples/aws-secrets-manager-rotation-lambdas {self.templates.commit},",
            f"# driver {ctx.engine.driver}, {server}, awslambdaric, moto's server, AWS CLI v2 export.",
            f"description = {toml_str(desc)}",
            "",
            f"inputs = [{toml_str(fname)}]",
            "",
        ]
        if sc.cause == "healthy":
            lines += ["exit = 0", f'format = "{shape}"', ""]
            return "\n".join(lines)
        lines += expectation(sc, shape)
        # Only what the logs can tell: no log line names the secret when the function failed before
        # its first, and the step of an invocation whose handler never ran is in no line either.
        if ctx.arn in messages:
            lines.append(f"secret = {toml_str(ctx.arn)}")
        if knowable_step(sc.step, messages):
            lines.append(f"step = {toml_str(sc.step)}")
        ev = sc.evidence(ctx)
        if ev:
            lines.append("evidence = [" + ", ".join(toml_str(e) for e in ev) + "]")
        return "\n".join(lines) + "\n"

    # -- the corpus index --------------------------------------------------------------------------
    def write_index(self):
        index = self.corpus / "INDEX.md"
        text = index.read_text()
        rows = {}
        if INDEX_BEGIN in text:
            head, rest = text.split(INDEX_BEGIN, 1)
            old, tail = rest.split(INDEX_END, 1)
            for line in old.strip().splitlines():
                m = re.match(r"\| `([^`]+)` \|", line)
                if m and (self.corpus / m.group(1)).is_dir():
                    rows[m.group(1)] = line
        else:
            head, tail = text.rstrip("\n") + "\n\n", "\n"
        for w in self.written:
            calls = ", ".join(f"{s} {o.status}" for s, o in w["calls"])
            what = f"real run, {w['ctx_engine'].name}, {w['format']} log format: {w['sc'].what} ({calls})"
            rows[w["name"]] = f"| `{w['name']}` | {w['shape']} (real AWS CLI v2) | {what.replace('|', '/')} |"
        body = "\n".join(rows[k] for k in sorted(rows))
        intro = ("\n## Real runs\n\nWritten by `scripts/real-runs/` (see its README): the real templates against real "
                 "PostgreSQL and MariaDB servers, records written by awslambdaric, exported by the real AWS CLI. "
                 "The folder name's first part is the TRUE cause; `xfail` in expect.toml marks what rotdiag does not get "
                 "right yet.\n\n| case | shape | what it shows |\n| --- | --- | --- |\n")
        index.write_text(head + INDEX_BEGIN + intro + body + "\n" + INDEX_END + tail)

    # -- xfail marks ---------------------------------------------------------------------------------
    def mark_xfail(self, rotdiag: str | None, cases: list[Path] | None = None):
        """Judge the cases written (or `cases`) with rotdiag and mark those it does not meet yet."""
        if not rotdiag:
            subprocess.run(["cargo", "build", "-q"], cwd=self.cfg.repo, check=True)
            rotdiag = str(self.cfg.repo / "target" / "debug" / "rotdiag")
        rotdiag = str(Path(rotdiag).resolve())
        for case in cases if cases is not None else [self.corpus / w["name"] for w in self.written]:
            rejudge(rotdiag, case)


def expectation(sc, shape: str) -> list[str]:
    """The start of a failing case's expectations: the cause the logs must name first, and, for a
    scenario whose logs cannot show its true cause (`Indistinct`), the reason, with the true cause
    required among the first diagnosis' alternatives."""
    head = ["exit = 1", f'format = "{shape}"', ""]
    if sc.indistinct:
        head[-1:] = [f"indistinct = {toml_str(sc.indistinct.why)}", ""]
        return head + ["[[diagnosis]]", f"cause = {toml_str(sc.indistinct.logs_show)}",
                       f"alternatives = [{toml_str(sc.cause)}]"]
    return head + ["[[diagnosis]]", f"cause = {toml_str(sc.cause)}"]


def relabel(corpus: Path, case: Path) -> Path:
    """Brings a real-run case written by an earlier harness in line with the scenarios as they are
    now (their true cause, their expectation), as a rerun would, keeping its logs: renames the
    folder (and its row in INDEX.md) after the scenario's cause and rewrites the expectation's head.
    Returns the case's folder."""
    path = case / "expect.toml"
    text = path.read_text()
    m = re.search(r"\(scenario (\S+), engine (\S+)\)", text)
    if not m:
        return case
    sc = SCENARIOS[m.group(1)]
    shape = "tail" if "\ninputs = [\"tail.txt\"]" in text else "events-json"
    if sc.cause != "healthy":
        start = text.index("\nexit = ")
        end = text.index("\n[[diagnosis]]\ncause = ")
        end = text.index("\n", end + len("\n[[diagnosis]]\ncause = "))
        rest = re.sub(r"^alternatives = .*\n", "", text[end + 1:], flags=re.M)
        text = text[:start + 1] + "\n".join(expectation(sc, shape)) + "\n" + rest
        path.write_text(text)
    name = sc.cause + "--" + case.name.split("--", 1)[1]
    if name == case.name:
        return case
    target = corpus / name
    case.rename(target)
    index = corpus / "INDEX.md"
    index.write_text(index.read_text().replace(f"| `{case.name}` |", f"| `{name}` |"))
    return target


def real_cases(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.iterdir() if "--real-" in p.name and (p / "expect.toml").is_file())


def rejudge(rotdiag: str, case: Path):
    """Set the case's xfail mark from what rotdiag reports now, keeping only the secret and step
    the logs can tell (see `CaseWriter._expect`)."""
    path = case / "expect.toml"
    text = re.sub(r"^xfail = .*\n\n?", "", path.read_text(), flags=re.M)
    exp = tomllib.loads(text)
    logs = "\n".join((case / f).read_text(errors="replace") for f in exp["inputs"])
    for d in exp.get("diagnosis", []):
        if "secret" in d and d["secret"] not in logs:
            text = re.sub(r"^secret = .*\n", "", text, flags=re.M)
        if "step" in d and not knowable_step(d["step"], logs):
            text = re.sub(r"^step = .*\n", "", text, flags=re.M)
    verdict = judge(rotdiag, case, tomllib.loads(text))
    if verdict:
        text = text.replace("\ninputs = ", f"\nxfail = {toml_str(verdict)}\n\ninputs = ", 1)
    path.write_text(text)


STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]
SNAKE = {"createSecret": "create_secret", "setSecret": "set_secret", "testSecret": "test_secret",
         "finishSecret": "finish_secret"}


def knowable_step(step: str | None, messages: str) -> bool:
    """The logs name the step (a template line, a traceback frame), or the step before it succeeded."""
    if not step:
        return False
    if step in messages or f"in {SNAKE[step]}" in messages:
        return True
    i = STEPS.index(step)
    return i > 0 and f"{STEPS[i - 1]}: Successfully" in messages


def judge(rotdiag: str, case: Path, exp: dict) -> str | None:
    """None when rotdiag meets the expectations `exp` (an expect.toml) for the case, else what it
    reports instead: the xfail reason. The same checks as tests/it/corpus.rs, for the keys the
    harness writes."""
    p = subprocess.run([rotdiag, "--format", "json", "--color", "never", *exp["inputs"]], cwd=case,
                       capture_output=True)
    try:
        diags = json.loads(p.stdout).get("diagnoses") or []
    except ValueError:
        return f"rotdiag printed no JSON report (exit {p.returncode})"
    top = diags[0] if diags else None
    said = f"{top['cause']} ({top['confidence']:.2f})" if top else "no diagnosis"
    wants = exp.get("diagnosis") or []
    if not wants:
        return None if p.returncode == exp["exit"] and not diags else f"rotdiag today: {said}, exit {p.returncode}"
    want = wants[0]
    problems = []
    if p.returncode != exp["exit"]:
        problems.append(f"exit {p.returncode}")
    if not top or top["cause"] != want["cause"]:
        problems.append(f"top cause {said}")
    else:
        alternatives = [a.get("cause") for a in top.get("alternatives") or []]
        for alt in want.get("alternatives", []):
            if alt not in alternatives:
                problems.append(f"{alt} not among the alternatives")
        for key in ("secret", "step"):
            if key in want and top.get(key) != want[key]:
                problems.append(f"{key} {top.get(key)}")
        texts = [e.get("text", "") for e in top.get("evidence") or []]
        for ev in want.get("evidence", []):
            if not any(ev in t for t in texts):
                problems.append(f"no evidence line with {ev!r}")
    return None if not problems else "rotdiag today: " + "; ".join(problems)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + "Z"
