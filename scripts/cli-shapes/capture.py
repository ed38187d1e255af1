"""Runs every output form of the real AWS CLIs (v1 and v2) against moto and keeps what they print.

    python capture.py OUT_DIR [SCENARIO...]     # after seed.py, with `moto.sh env` exported

For each scenario (see seed.py) it writes, into OUT_DIR/<scenario>/:
* one file per CLI form, named `<cli>-<command>-<output>[-<variant>][-query-<query>].txt`, holding
  exactly what the CLI wrote to stdout (several commands append to one file where a user would:
  pages fetched one after another, one log stream after another);
* `<cli>-s3-sync/`: the whole export bucket as `aws s3 sync` brings it;
* `manifest.tsv`: for every file, the exact command lines that produced it, in order
  (`file<TAB>cli version<TAB>command`; setup commands whose output is not kept have file `-`).
  The endpoint is written as `$AWS_LOCAL_ENDPOINT` and the CLIs as `aws`;
* `not-produced.tsv`: forms the CLI or moto refused, with the error (kept so a rerun shows the
  same gaps).

This script never writes an output itself: every byte in the files is the CLI's stdout. Which
forms exist: CLI v1 has no `yaml` / `yaml-stream` output and no `aws logs tail`.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENDPOINT = os.environ.get("AWS_LOCAL_ENDPOINT", "")
CLIS = {"v1": os.environ.get("AWS_CLI_V1", ""), "v2": os.environ.get("AWS_CLI_V2", "")}
OUTPUTS = {"v1": ["json", "text", "table"], "v2": ["json", "text", "yaml", "yaml-stream", "table"]}
QUERIES = {
    "message": "events[].message",
    "tuple": "events[].[timestamp,logStreamName,message]",
    "object": "events[*].{t:timestamp,m:message}",
}
INSIGHTS = {
    "all-fields": "fields @timestamp, @message, @logStream, @log | sort @timestamp desc | limit 10000",
    "timestamp-message": "fields @timestamp, @message | sort @timestamp desc | limit 10000",
}
MAX_ITEMS = 10
PAGE_SIZE = 7
LIMIT = 10
SINCE_ISO = "2025-04-10T09:00:00Z"
# `aws logs tail --since` also takes a duration before the client's own clock (not moto's frozen
# one): 1000 weeks reaches back to 2006, so the output is the same whatever day it runs.
SINCE_RELATIVE = "1000w"


def die(msg):
    sys.exit(f"capture.py: error: {msg}")


class Capture:
    def __init__(self, out, scenario):
        self.out = out
        self.s = scenario
        self.manifest = []
        self.refused = []
        self.versions = {}
        for cli, path in CLIS.items():
            v = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)
            self.versions[cli] = (v.stdout or v.stderr).split()[0]

    def argv(self, cli, args):
        return [CLIS[cli], "--endpoint-url", ENDPOINT, *args]

    def shown(self, cli, args):
        return shlex.join(["aws", "--endpoint-url", "$AWS_LOCAL_ENDPOINT", *args]).replace(
            "'$AWS_LOCAL_ENDPOINT'", "$AWS_LOCAL_ENDPOINT"
        )

    def call(self, cli, args, check=True, timeout=120, stop_after=None):
        """Runs one CLI command; returns (exit status, stdout bytes, stderr text)."""
        try:
            p = subprocess.run(
                self.argv(cli, args),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=stop_after or timeout,
            )
            code, out, err = p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            if stop_after is None:
                die(f"{self.shown(cli, args)}: no answer in {timeout} s")
            # `--follow` runs until interrupted: what it printed until then is the output.
            code, out, err = 0, e.stdout or b"", (e.stderr or b"").decode("utf-8", "replace")
        if check and code != 0:
            die(f"{self.shown(cli, args)} exited {code}: {err.strip()}")
        return code, out, err

    def setup(self, cli, args):
        """A command whose output is not kept (recorded in the manifest with file `-`)."""
        _, out, _ = self.call(cli, args)
        self.manifest.append(("-", self.versions[cli], self.shown(cli, args)))
        return out

    def keep(self, name, cli, commands, stop_after=None):
        """Runs commands in order and writes their stdout, appended, to `name`. A refusal is
        recorded in not-produced.tsv and leaves no file."""
        data = b""
        for args in commands:
            code, out, err = self.call(cli, args, check=False, stop_after=stop_after)
            if code != 0:
                first = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
                self.refused.append((name, self.versions[cli], self.shown(cli, args), first))
                return False
            data += out
        (self.out / name).write_bytes(data)
        for args in commands:
            self.manifest.append((name, self.versions[cli], self.shown(cli, args)))
        return True

    def json_call(self, cli, args):
        return json.loads(self.call(cli, [*args, "--output", "json"])[1] or b"{}")

    # --- filter-log-events ----------------------------------------------------------------------

    def filter_log_events(self, cli):
        # CloudWatch always interleaves the streams of a group (the flag is ignored since 2019);
        # moto does only when asked, so the flag is passed to get what CloudWatch returns.
        base = ["logs", "filter-log-events", "--log-group-name", self.s["group"], "--interleaved"]
        tokens = self.max_items_tokens(cli, base)
        for out in OUTPUTS[cli]:
            o = ["--output", out]
            self.keep(f"{cli}-filter-log-events-{out}.txt", cli, [base + o])
            self.keep(f"{cli}-filter-log-events-{out}-no-paginate.txt", cli, [base + o + ["--no-paginate"]])
            self.keep(f"{cli}-filter-log-events-{out}-page-size-{PAGE_SIZE}.txt", cli, [base + o + ["--page-size", str(PAGE_SIZE)]])
            pages = [base + o + ["--max-items", str(MAX_ITEMS)] + (["--starting-token", t] if t else []) for t in tokens]
            self.keep(f"{cli}-filter-log-events-{out}-max-items-{MAX_ITEMS}-pages.txt", cli, pages)
            for q, expr in QUERIES.items():
                self.keep(f"{cli}-filter-log-events-{out}-query-{q}.txt", cli, [base + o + ["--query", expr]])
        # Without --interleaved moto answers stream by stream (as CloudWatch did before 2019).
        plain = base[:-1]
        for out in ("json", "text"):
            self.keep(f"{cli}-filter-log-events-{out}-stream-by-stream.txt", cli, [plain + ["--output", out]])

    def max_items_tokens(self, cli, base):
        """The --starting-token of each page of `--max-items` (None for the first)."""
        tokens, token = [None], None
        while True:
            doc = self.json_call(cli, base + ["--max-items", str(MAX_ITEMS)] + (["--starting-token", token] if token else []))
            token = doc.get("NextToken")
            if not token:
                return tokens
            tokens.append(token)

    # --- get-log-events -------------------------------------------------------------------------

    def get_log_events(self, cli):
        def base(stream):
            return ["logs", "get-log-events", "--log-group-name", self.s["group"], "--log-stream-name", stream, "--start-from-head"]

        # get-log-events has no CLI pagination: users loop on nextForwardToken with --limit, and
        # stop when it comes back unchanged.
        pages = []
        for stream in self.s["streams"]:
            token = None
            while True:
                args = base(stream) + ["--limit", str(LIMIT)] + (["--next-token", token] if token else [])
                doc = self.json_call(cli, args)
                if not doc.get("events"):
                    break
                pages.append(args)
                if doc.get("nextForwardToken") in (None, token):
                    break
                token = doc["nextForwardToken"]
        for out in OUTPUTS[cli]:
            o = ["--output", out]
            self.keep(f"{cli}-get-log-events-{out}.txt", cli, [base(s) + o for s in self.s["streams"]])
            self.keep(f"{cli}-get-log-events-{out}-limit-{LIMIT}-pages.txt", cli, [p + o for p in pages])
            for q, expr in QUERIES.items():
                self.keep(f"{cli}-get-log-events-{out}-query-{q}.txt", cli, [base(s) + o + ["--query", expr] for s in self.s["streams"]])

    # --- tail (v2 only) -------------------------------------------------------------------------

    def tail(self):
        base = ["logs", "tail", self.s["group"]]
        for fmt in ("detailed", "short", "json"):
            self.keep(f"v2-tail-{fmt}-since-iso.txt", "v2", [base + ["--format", fmt, "--since", SINCE_ISO]])
            self.keep(f"v2-tail-{fmt}-since-relative.txt", "v2", [base + ["--format", fmt, "--since", SINCE_RELATIVE]])
        # --follow never ends: stopped after 12 s (two polls), what it printed is kept.
        self.keep("v2-tail-detailed-follow.txt", "v2", [base + ["--follow", "--since", SINCE_ISO]], stop_after=12)

    # --- export to S3, then sync ----------------------------------------------------------------

    def export(self):
        prefix = "exportedlogs"
        self.setup("v2", [
            "logs", "create-export-task", "--task-name", f"{self.s['scenario']}-export",
            "--log-group-name", self.s["group"], "--from", str(self.s["first_ms"] - 60_000),
            "--to", str(self.s["last_ms"] + 60_000), "--destination", self.s["bucket"],
            "--destination-prefix", prefix,
        ])
        for cli in CLIS:
            d = self.out / f"{cli}-s3-sync"
            args = ["s3", "sync", f"s3://{self.s['bucket']}", str(d), "--no-progress"]
            _, _, _ = self.call(cli, args)
            self.manifest.append((f"{cli}-s3-sync/", self.versions[cli], self.shown(cli, args).replace(str(d), f"{cli}-s3-sync")))

    # --- Logs Insights --------------------------------------------------------------------------

    def insights(self, cli):
        start = str(self.s["first_ms"] // 1000 - 60)
        end = str(self.s["last_ms"] // 1000 + 60)
        for name, query in INSIGHTS.items():
            for out in OUTPUTS[cli]:
                args = ["logs", "start-query", "--log-group-name", self.s["group"], "--start-time", start,
                        "--end-time", end, "--query-string", query, "--query", "queryId", "--output", "text"]
                qid = self.setup(cli, args).decode().strip()
                self.keep(f"{cli}-get-query-results-{out}-{name}.txt", cli,
                          [["logs", "get-query-results", "--query-id", qid, "--output", out]])

    # --- subscription filter to Kinesis ---------------------------------------------------------

    def kinesis(self, cli):
        for out in OUTPUTS[cli]:
            it = self.setup(cli, ["kinesis", "get-shard-iterator", "--stream-name", self.s["kinesis"],
                                  "--shard-id", "shardId-000000000000", "--shard-iterator-type", "TRIM_HORIZON",
                                  "--query", "ShardIterator", "--output", "text"]).decode().strip()
            self.keep(f"{cli}-kinesis-get-records-{out}.txt", cli,
                      [["kinesis", "get-records", "--shard-iterator", it, "--output", out]])

    def write_manifests(self):
        with open(self.out / "manifest.tsv", "w", encoding="utf-8") as f:
            f.write("# file\tcli\tcommand (run in this order; outputs appended)\n")
            for row in self.manifest:
                f.write("\t".join(row) + "\n")
        with open(self.out / "not-produced.tsv", "w", encoding="utf-8") as f:
            f.write("# file\tcli\tcommand\terror\n")
            for row in self.refused:
                f.write("\t".join(row) + "\n")


def scenarios(names):
    args = [sys.executable, str(HERE / "seed.py"), "--list", *names]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def main():
    if len(sys.argv) < 2:
        die("usage: capture.py OUT_DIR [SCENARIO...]")
    if not ENDPOINT.startswith("http://127.0.0.1:"):
        die("AWS_LOCAL_ENDPOINT must point at moto on 127.0.0.1 (eval \"$(scripts/aws-local/moto.sh env)\")")
    for cli, path in CLIS.items():
        if not path:
            die(f"AWS CLI {cli} not found (scripts/aws-local/moto.sh install)")
    root = Path(sys.argv[1])
    for s in scenarios(sys.argv[2:]):
        out = root / s["scenario"]
        # Only the CLI outputs are replaced; expected.toml (hand-written) stays.
        if out.is_dir():
            for p in out.iterdir():
                if p.name.startswith(("v1-", "v2-")) or p.name in ("manifest.tsv", "not-produced.tsv"):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        out.mkdir(parents=True, exist_ok=True)
        c = Capture(out, s)
        for cli in CLIS:
            c.filter_log_events(cli)
            c.get_log_events(cli)
            c.insights(cli)
            c.kinesis(cli)
        c.tail()
        c.export()
        c.write_manifests()
        kept = sum(1 for p in out.iterdir() if p.name.startswith(("v1-", "v2-")))
        print(f"capture.py: {s['scenario']}: {kept} outputs, {len(c.refused)} refused", file=sys.stderr)


if __name__ == "__main__":
    main()
