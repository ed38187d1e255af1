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
from pathlib import Path

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
        missing = [s for s in sc.evidence(ctx) if s not in messages]
        if missing:
            dump = self.cfg.work / "not-reproduced" / f"{ctx.engine.name}-{sc.name}-{ctx.log_format}.log"
            dump.parent.mkdir(parents=True, exist_ok=True)
            dump.write_text("\n".join(f"{e.ts} {e.stream} {e.message}" for e in events))
            return f"the logs lack {missing} (they are in {dump})"
        if sc.cause == "healthy" and any(o.status != "success" for _, o in ctx.fn.calls):
            return "the healthy rotation failed"
        shape = "tail" if ctx.log_format == "Text" else "events-json"
        name = f"{sc.cause}--{shape}--real-{ctx.engine.name}-{sc.name}"
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
        (case / "expect.toml").write_text(self._expect(ctx, sc, fname, shape))
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

    def _expect(self, ctx, sc, fname: str, shape: str) -> str:
        calls = ", ".join(f"{step} {o.status}" + (f" ({o.error_type})" if o.error_type and o.status != "success" else "")
                          for step, o in ctx.fn.calls)
        server = f"PostgreSQL {self.versions['pg']}" if ctx.engine.db == "pg" else f"MariaDB {self.versions['mariadb']}"
        desc = (f"Real run: {ctx.engine.template} ({'alternating users' if ctx.engine.multi else 'single user'}) "
                f"against {server}, {ctx.log_format} log format. Caused: {sc.what}. Invocations: {calls}.")
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
        lines += ["exit = 1", f'format = "{shape}"', "", "[[diagnosis]]", f"cause = {toml_str(sc.cause)}",
                  f"secret = {toml_str(ctx.arn)}"]
        if sc.step:
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
    def mark_xfail(self, rotdiag: str | None):
        if not rotdiag:
            subprocess.run(["cargo", "build", "-q"], cwd=self.cfg.repo, check=True)
            rotdiag = str(self.cfg.repo / "target" / "debug" / "rotdiag")
        for w in self.written:
            case = self.corpus / w["name"]
            expect = (case / "expect.toml").read_text()
            verdict = judge(rotdiag, case, w)
            if verdict:
                expect = expect.replace("\ninputs = ", f"\nxfail = {toml_str(verdict)}\n\ninputs = ", 1)
                (case / "expect.toml").write_text(expect)


def judge(rotdiag: str, case: Path, w) -> str | None:
    """None when rotdiag meets the case's expectations, else what it reports instead (the xfail reason)."""
    sc = w["sc"]
    fname = "tail.txt" if w["shape"] == "tail" else "events.json"
    p = subprocess.run([rotdiag, "--format", "json", "--color", "never", fname], cwd=case, capture_output=True)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        return f"rotdiag printed no JSON report (exit {p.returncode})"
    diags = doc.get("diagnoses") or []
    top = diags[0] if diags else None
    said = f"{top['cause']} ({top['confidence']:.2f})" if top else "no diagnosis"
    if sc.cause == "healthy":
        return None if p.returncode == 0 and not diags else f"rotdiag today: {said}, exit {p.returncode}"
    expect = (case / "expect.toml").read_text()
    secret = re.search(r'^secret = "(.*)"$', expect, re.M).group(1)
    problems = []
    if p.returncode != 1:
        problems.append(f"exit {p.returncode}")
    if not top or top["cause"] != sc.cause:
        problems.append(f"top cause {said}")
    else:
        if top.get("secret") != secret:
            problems.append(f"secret {top.get('secret')}")
        if sc.step and top.get("step") != sc.step:
            problems.append(f"step {top.get('step')}")
        texts = [e.get("text", "") for e in top.get("evidence") or []]
        step_ev = re.search(r"^evidence = \[(.*)\]$", expect, re.M)
        for ev in json.loads("[" + step_ev.group(1) + "]") if step_ev else []:
            if not any(ev in t for t in texts):
                problems.append(f"no evidence line with {ev!r}")
    return None if not problems else "rotdiag today: " + "; ".join(problems)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + "Z"
