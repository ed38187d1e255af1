#!/usr/bin/env python3
"""Checks `rotdiag query athena|insights` against engines that speak the same language.

Run by scripts/query-check/run.sh, which installs the dependencies into a venv outside the repo,
builds rotdiag and the generator, and generates an S3 export folder. Subcommands:

  parse     sqlglot parses the Athena DDL (Hive DDL) and query (Trino SQL) strictly, with dialects
            athena and trino; the LIKE literals in the parsed tree are exactly the literals of the
            Insights query's regex (two renderings of one signal set agree).
  duckdb    DuckDB runs the query (transpiled by sqlglot from athena) over the export folder,
            "$path" as DuckDB's filename column.
  spark     Spark (local[2], Hive support) runs the DDL itself over the folder and the query
            (transpiled from athena; "$path" as input_file_name()).
  insights  the two-step Insights path on a local emulation of the query subset rotdiag uses
            (filter like /regex/, stats by, @logStream in [...], the start/end time range):
            step 1 over the export's events, `rotdiag query insights --events --from-results`,
            step 2, then rotdiag over step 2's get-query-results JSON; with --moto, step 2's
            printed commands are run unchanged by the AWS CLI against moto's server.

Each SQL engine's listing must hold every export object that rotdiag's own diagnosis of the whole
folder cites as evidence; diagnosing only the listed objects must give the same diagnoses.
"""

import argparse
import datetime
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

TS = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print(f"FAIL: {msg}", flush=True)


def ok(msg):
    print(f"ok: {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)


def rotdiag_out(rotdiag, *args):
    p = run([rotdiag, *args])
    if p.returncode != 0:
        sys.exit(f"rotdiag {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p.stdout


def report(rotdiag, paths):
    p = run([rotdiag, "--format", "json", "--no-progress", *map(str, paths)])
    if p.returncode not in (0, 1):
        sys.exit(f"rotdiag {paths}: exit {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)


def diagnoses(rep):
    return sorted({(d["cause"], d.get("secret") or "") for d in rep["diagnoses"]})


def evidence_objects(rep):
    return {os.path.realpath(e["source"]) for d in rep["diagnoses"] for e in d["evidence"]}


def export_objects(export):
    return sorted(str(p) for p in Path(export).rglob("*") if p.is_file())


# ---------------------------------------------------------------- the Insights query, unescaped


def insights_regex(query):
    """The `like /…/` regex of the find query, as Python reads it."""
    start = query.index("like /") + len("like /")
    i = start
    while query[i] != "/":
        i += 2 if query[i] == "\\" else 1
    return query[start:i]


def regex_literals(rx):
    """The literals of an alternation of escaped literals."""
    out, cur, i = [], [], 0
    while i < len(rx):
        c = rx[i]
        if c == "\\":
            n = rx[i + 1]
            cur.append({"t": "\t", "n": "\n", "r": "\r"}.get(n, n))
            i += 2
            continue
        if c == "|":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


# ---------------------------------------------------------------- parse


def cmd_parse(a):
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    ddl = rotdiag_out(a.rotdiag, "query", "athena", "--ddl", "--location", "s3://amzn-s3-demo-bucket/exportedlogs/")
    sql = rotdiag_out(a.rotdiag, "query", "athena")
    ins = rotdiag_out(a.rotdiag, "query", "insights")
    for name, text, dialects in (("DDL", ddl, ("athena", "hive")), ("query", sql, ("athena", "trino"))):
        for d in dialects:
            try:
                tree = sqlglot.parse_one(text, read=d, error_level=ErrorLevel.RAISE)
            except Exception as e:  # noqa: BLE001 - report whatever the parser says
                fail(f"{name} does not parse as {d}: {e}")
                continue
            again = sqlglot.parse_one(tree.sql(dialect=d), read=d, error_level=ErrorLevel.RAISE)
            if again != tree:
                fail(f"{name}: {d} round trip changed the tree")
            ok(f"{name} parses as {d} ({type(tree).__name__})")
    # The parser is strict: a broken statement is refused (the check can fail).
    for broken in (sql.replace("'%", "'%'", 1), sql.replace("GROUP BY", "GROUP", 1)):
        try:
            sqlglot.parse_one(broken, read="athena", error_level=ErrorLevel.RAISE)
            fail("a broken query parsed: the parse check cannot fail")
        except Exception:  # noqa: BLE001
            pass
    ok("broken variants are refused")
    tree = sqlglot.parse_one(sql, read="athena", error_level=ErrorLevel.RAISE)
    likes = []
    for node in tree.find_all(exp.Escape):
        like = node.this
        pat = like.expression.this
        esc = node.expression.this
        if not (pat.startswith("%") and pat.endswith("%")):
            fail(f"LIKE pattern not %…%: {pat!r}")
        body, lit, i = pat[1:-1], [], 0
        while i < len(body):
            if body[i] == esc:
                lit.append(body[i + 1])
                i += 2
            else:
                if body[i] in "%_":
                    fail(f"unescaped wildcard in {pat!r}")
                lit.append(body[i])
                i += 1
        likes.append("".join(lit))
    lits = regex_literals(insights_regex(ins))
    if sorted(likes) != sorted(lits):
        fail(f"Athena LIKE literals and Insights regex literals differ: {set(likes) ^ set(lits)}")
    else:
        ok(f"{len(likes)} LIKE literals = the Insights regex's literals")
    for lit in lits:
        if not re.fullmatch(insights_regex(ins), lit) and not re.search(insights_regex(ins), lit):
            fail(f"Insights regex does not match its own literal {lit!r}")
    print(f"lengths: insights {len(ins.rstrip())} chars (limit 10000), athena query {len(sql.rstrip())} chars "
          f"(limit 262144), DDL {len(ddl.rstrip())} chars, {len(lits)} signals")


# ---------------------------------------------------------------- SQL engines


def mutant(sql, keep=10):
    """The query with only its first `keep` signals: a prefilter that forgot most of them, which
    the check must catch."""
    out, n = [], 0
    for ln in sql.split("\n"):
        if " LIKE " in ln:
            n += 1
            if n > keep:
                continue
        out.append(ln)
    return "\n".join(out)


def listed_vs_truth(engine, listed, a):
    full = report(a.rotdiag, [a.export])
    truth = evidence_objects(full)
    listed = {os.path.realpath(p.removeprefix("file:")) for p in listed}
    objects = export_objects(a.export)
    missed = truth - listed
    print(f"{engine}: {len(objects)} objects, {len(listed)} listed, {len(truth)} cited as evidence "
          f"by rotdiag's {len(full['diagnoses'])} diagnoses, {len(missed)} missed")
    if missed:
        fail(f"{engine} missed objects rotdiag diagnoses: {sorted(missed)[:5]}")
    else:
        ok(f"{engine}: every object rotdiag diagnoses is listed")
    # Diagnose only what was listed, as a user would after copying it down.
    with tempfile.TemporaryDirectory() as tmp:
        for p in listed:
            rel = os.path.relpath(p, a.export)
            dst = Path(tmp, rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dst)
        part = report(a.rotdiag, [tmp])
    if diagnoses(part) != diagnoses(full):
        fail(f"{engine}: diagnosing the listed objects gives other diagnoses: "
             f"{set(diagnoses(part)) ^ set(diagnoses(full))}")
    else:
        ok(f"{engine}: the listed objects give the same {len(diagnoses(full))} (cause, secret) diagnoses")


def cmd_duckdb(a):
    import duckdb
    import sqlglot

    sql = rotdiag_out(a.rotdiag, "query", "athena")
    table = "rotdiag_export_lines"
    duck = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
    con = duckdb.connect()
    # One VARCHAR column per line, as the Hive text table reads it (no quoting, no delimiter).
    con.execute(
        f"""CREATE VIEW {table} AS SELECT line, filename AS "$path" FROM read_csv(
            '{a.export}/**', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', escape='',
            header=false, filename=true, auto_detect=false, null_padding=true, strict_mode=false)"""
    )
    t = time.time()
    rows = con.execute(duck).fetchall()
    print(f"duckdb: query ran in {time.time() - t:.1f} s")
    listed_vs_truth("duckdb", [r[0] for r in rows], a)
    # The check can fail: a query without the common signals misses diagnosed objects.
    weak = sqlglot.transpile(mutant(sql), read="athena", write="duckdb")[0]
    listed = {os.path.realpath(r[0]) for r in con.execute(weak).fetchall()}
    missed = evidence_objects(report(a.rotdiag, [a.export])) - listed
    if missed:
        ok(f"duckdb: a query with only its first 10 signals misses {len(missed)} diagnosed objects (caught)")
    else:
        fail("duckdb: a crippled query missed nothing: the data cannot tell a bad prefilter")


def cmd_spark(a):
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # loopback only, before the JVM starts
    import sqlglot
    from pyspark.sql import SparkSession

    work = tempfile.mkdtemp(prefix="rotdiag-spark-")
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("rotdiag-query-check")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.warehouse.dir", f"{work}/warehouse")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
        .config("spark.hadoop.mapreduce.input.fileinputformat.input.dir.recursive", "true")
        .config("spark.hadoop.hive.mapred.supports.subdirectories", "true")
        .config("spark.sql.hive.convertMetastoreTextfile", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        placeholder = "s3://amzn-s3-demo-bucket/exportedlogs/"
        ddl = rotdiag_out(a.rotdiag, "query", "athena", "--ddl", "--location", placeholder)
        # The statement runs as printed; only the location points at the local folder.
        spark.sql(ddl.replace(f"'{placeholder}'", f"'file://{os.path.realpath(a.export)}/'"))
        sql = rotdiag_out(a.rotdiag, "query", "athena")
        query = sqlglot.transpile(sql, read="athena", write="spark")[0].replace("`$path`", "input_file_name()")
        t = time.time()
        rows = spark.sql(query).collect()
        print(f"spark: query ran in {time.time() - t:.1f} s")
        listed_vs_truth("spark", [r["object"] for r in rows], a)
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- Insights


def export_events(export):
    """(log group, stream, object) -> [(ms, message)] from an S3 export folder: a line starting with
    a timestamp starts an event; the lines up to the next one are its message (with its newlines)."""
    out = {}
    for obj in export_objects(export):
        parts = Path(obj).relative_to(export).parts
        if len(parts) < 3:
            continue  # aws-logs-write-test
        group = f"/aws/lambda/rot-{parts[0][:8]}"
        stream = parts[-2]
        opener = gzip.open if obj.endswith(".gz") else open
        with opener(obj, "rb") as f:
            data = f.read()
        events, cur = [], None
        for line in data.split(b"\n"):
            m = TS.match(line)
            if m:
                if cur:
                    events.append(cur)
                ts = datetime.datetime.strptime(m.group(1).decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
                ms = int(ts.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
                cur = [ms, line[m.end():]]
            elif cur:
                cur[1] += b"\n" + line
        if cur:
            events.append(cur)
        # The generator writes the lines of several execution environments one after the other
        # into one object; in CloudWatch each is its own stream (a stream is one environment,
        # which runs one invocation at a time), and Insights would interleave them by time. So an
        # INIT_START begins a new stream here.
        k = 0
        for ms, msg in events:
            if msg.startswith(b"INIT_START") and out.get((group, f"{stream}.{k}", obj)):
                k += 1
            text = msg.decode("utf-8", "replace").rstrip("\n")
            out.setdefault((group, f"{stream}.{k}", obj), []).append((ms, text))
    return out


DISCOVER = [
    re.compile(rf"^(?:START|END|REPORT) RequestId: ({UUID})"),
    re.compile(rf"^\[[A-Z]+\]\t\S+\t({UUID})\t"),
    re.compile(rf"^\S+\t({UUID})\t"),
    re.compile(rf"^\S+ ({UUID}) Task timed out"),
    re.compile(rf"^RequestId: ({UUID}) "),
    re.compile(rf'"requestId": ?"({UUID})"'),
]


def discovered_request_id(msg):
    for r in DISCOVER:
        m = r.search(msg)
        if m:
            return m.group(1)
    return None


def insights_time(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def step1(events, regex):
    """`filter @message like /regex/ | stats count(*), min/max(@timestamp), max(@duration) by
    @log, @logStream, @requestId`, as get-query-results returns it."""
    rx = re.compile(regex)
    groups = defaultdict(lambda: [0, None, None, None])
    for (group, stream, _), evs in events.items():
        for ms, msg in evs:
            if not rx.search(msg):
                continue
            g = groups[(group, stream, discovered_request_id(msg))]
            g[0] += 1
            g[1] = ms if g[1] is None else min(g[1], ms)
            g[2] = ms if g[2] is None else max(g[2], ms)
            d = re.search(r"^REPORT .*?\tDuration: ([0-9.]+) ms", msg)
            if d:
                g[3] = max(g[3] or 0.0, float(d.group(1)))
    rows = []
    for (group, stream, rid), (n, first, last, dur) in sorted(groups.items(), key=lambda kv: kv[1][1]):
        row = [
            {"field": "@log", "value": f"123456789012:{group}"},
            {"field": "@logStream", "value": stream},
            {"field": "signal_lines", "value": str(n)},
            {"field": "first_signal", "value": insights_time(first)},
            {"field": "last_signal", "value": insights_time(last)},
        ]
        if rid:
            row.insert(2, {"field": "@requestId", "value": rid})
        if dur is not None:
            row.append({"field": "duration_ms", "value": str(dur)})
        rows.append(row)
    return {"results": rows, "statistics": {}, "status": "Complete"}


def parse_command(cmd):
    import shlex

    argv = shlex.split(cmd)
    assert argv[:3] == ["aws", "logs", "start-query"], argv
    groups, opts, i = [], {}, 3
    while i < len(argv):
        if argv[i] == "--log-group-names":
            i += 1
            while i < len(argv) and not argv[i].startswith("--"):
                groups.append(argv[i])
                i += 1
        else:
            opts[argv[i]] = argv[i + 1]
            i += 2
    return groups, int(opts["--start-time"]), int(opts["--end-time"]), opts["--query-string"]


WINDOW = re.compile(r'\(@logStream = ("(?:[^"\\]|\\.)*") and toMillis\(@timestamp\) >= (\d+) and '
                    r'toMillis\(@timestamp\) <= (\d+)\)')


def windows_of(query):
    """The (stream, start ms, end ms) conditions of a step 2 query, `or`-ed."""
    body = query.split("| filter ", 1)[1].split(" | sort ", 1)[0]
    found = [(json.loads(m.group(1)), int(m.group(2)), int(m.group(3))) for m in WINDOW.finditer(body)]
    rest = WINDOW.sub("", body).replace(" or ", "").strip()
    assert not rest, f"unexpected filter text: {rest!r}"
    return found


def step2(events, cmd):
    """`fields … | filter (@logStream = … and toMillis(@timestamp) >= … and … <= …) or … |
    sort @timestamp asc | limit 10000` over the command's log groups and time range (epoch
    seconds, both ends inclusive)."""
    groups, start, end, query = parse_command(cmd)
    wins = windows_of(query)
    rows = []
    for (group, stream, _), evs in events.items():
        if group not in groups:
            continue
        mine = [(s, e) for (st, s, e) in wins if st == stream]
        for ms, msg in evs:
            if start * 1000 <= ms <= end * 1000 + 999 and any(s <= ms <= e for s, e in mine):
                rows.append((ms, group, stream, msg))
    rows.sort(key=lambda r: r[0])
    return rows


def cmd_insights(a):
    events = export_events(a.export)
    query = rotdiag_out(a.rotdiag, "query", "insights")
    n_events = sum(len(v) for v in events.values())
    found = step1(events, insights_regex(query))
    work = Path(tempfile.mkdtemp(prefix="rotdiag-insights-"))
    try:
        (work / "found.json").write_text(json.dumps(found))
        streams_found = {(r[0]["value"].split(":", 1)[1], r[1]["value"]) for r in found["results"]}
        print(f"insights step 1: {n_events} events in {len(events)} streams -> {len(found['results'])} rows "
              f"in {len(streams_found)} streams")
        full = report(a.rotdiag, [a.export])
        truth = evidence_objects(full)
        by_obj = {os.path.realpath(o): (g, s) for (g, s, o) in events}
        streams_found = {(g, st.rsplit(".", 1)[0]) for (g, st) in streams_found} | streams_found
        missed = {(g, st.rsplit(".", 1)[0]) for (g, st) in (by_obj[o] for o in truth if o in by_obj)} - streams_found
        if missed:
            fail(f"insights step 1 missed streams rotdiag diagnoses: {sorted(missed)[:5]}")
        else:
            ok(f"insights step 1: every one of the {len(truth)} streams rotdiag diagnoses is found")
        p = run([a.rotdiag, "query", "insights", "--events", "--from-results", str(work / "found.json"),
                 *a.step2.split()])
        if p.returncode != 0:
            fail(f"--events --from-results: exit {p.returncode}: {p.stderr}")
            return
        commands = p.stdout.splitlines()
        print(f"insights step 2: {p.stderr.strip()}")
        results, biggest = [], 0
        for i, cmd in enumerate(commands):
            rows = step2(events, cmd)
            biggest = max(biggest, len(rows))
            if len(rows) > 10_000:
                fail(f"step 2 query {i} returns {len(rows)} rows, over Insights' 10,000")
            doc = {"results": [[
                {"field": "@timestamp", "value": insights_time(ms)},
                {"field": "@message", "value": msg},
                {"field": "@logStream", "value": stream},
                {"field": "@log", "value": f"123456789012:{group}"},
                {"field": "@ptr", "value": f"p{i}-{j}"},
            ] for j, (ms, group, stream, msg) in enumerate(rows[:10_000])], "status": "Complete"}
            path = work / f"events-{i:04}.json"
            path.write_text(json.dumps(doc))
            results.append(path)
        print(f"insights step 2: {len(commands)} queries, largest result {biggest} rows")
        # Every evidence line of every diagnosis of the whole export is among step 2's events
        # (same object, same millisecond): step 2 fetched what proves each diagnosis.
        fetched = defaultdict(set)
        for path in results:
            for row in json.loads(path.read_text())["results"]:
                f = {x["field"]: x["value"] for x in row}
                ms = int(datetime.datetime.strptime(f["@timestamp"], "%Y-%m-%d %H:%M:%S.%f")
                         .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)
                fetched[(f["@logStream"].rsplit(".", 1)[0], ms)].add(f["@message"])
        lines, missing = 0, []
        for d in full["diagnoses"]:
            for e in d["evidence"]:
                obj = os.path.realpath(e["source"])
                if obj not in by_obj or not e.get("timestamp"):
                    continue
                stream = by_obj[obj][1].rsplit(".", 1)[0]
                ts = datetime.datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
                ms = int(ts.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)
                lines += 1
                texts = fetched.get((stream, ms), set())
                # The text may be rotdiag's rendering (a JSON log record, CloudTrail) or redacted:
                # an event of the same object and millisecond is the line.
                if not texts:
                    missing.append((d["cause"], e["source"][-50:], e["line"], e["text"][:80]))
        if missing:
            fail(f"insights: {len(missing)} of {lines} evidence lines are not among step 2's events: {missing[:3]}")
        else:
            ok(f"insights: all {lines} evidence lines of the {len(full['diagnoses'])} diagnoses are among step 2's events")
        got = report(a.rotdiag, results)
        same = set(diagnoses(got)) & set(diagnoses(full))
        print(f"insights: rotdiag over step 2's events: {len(diagnoses(got))} (cause, secret) diagnoses, "
              f"{len(same)} of the export's {len(diagnoses(full))} among them (the generator writes several "
              f"execution environments into one object with overlapping times, which Insights' time order "
              f"interleaves: not a property of the prefilter)")
        if a.moto:
            moto_check(a, events, commands, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def moto_check(a, events, commands, work):
    """Step 2's first command, as printed, run by the AWS CLI against moto's server on 127.0.0.1.

    moto's Insights subset (moto/logs/logs_query/query_parser.py) reads only `fields`, `sort` and
    `limit` and ignores `filter` and `stats`: it returns every event of the named log groups in the
    time range. And it drops events older than 14 days, so the loaded events and the command's
    `--start-time`/`--end-time` are shifted to the last hours (nothing else in the command changes).
    What this proves is the plumbing: the command line runs unchanged through the real AWS CLI,
    moto takes its log groups and time range, and rotdiag reads `get-query-results` as moto's API
    shapes it (same diagnoses as the same events written in Insights' own shape)."""
    import boto3

    port = a.moto
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        logs = boto3.client("logs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
        for _ in range(100):
            try:
                logs.describe_log_groups()
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        cmd = commands[0]
        groups, start, end, query = parse_command(cmd)
        streams = {w[0] for w in windows_of(query)}
        chosen = {k: v for k, v in events.items() if k[0] in groups and k[1] in streams}
        newest = max(ms for evs in chosen.values() for ms, _ in evs)
        shift = (int(time.time()) - 3600) * 1000 - (newest // 1000) * 1000
        loaded = []
        for (group, stream, _), evs in chosen.items():
            try:
                logs.create_log_group(logGroupName=group)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            ordered = sorted((ms + shift, msg) for ms, msg in evs)
            for k in range(0, len(ordered), 5000):
                r = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                    {"timestamp": ms, "message": msg} for ms, msg in ordered[k:k + 5000]])
                if r.get("rejectedLogEventsInfo"):
                    fail(f"moto rejected events: {r['rejectedLogEventsInfo']}")
            loaded += [(ms, group, stream, msg) for ms, msg in ordered]
        shifted = cmd.replace(f"--start-time {start} --end-time {end} ",
                              f"--start-time {start + shift // 1000} --end-time {end + shift // 1000} ")
        assert shifted != cmd
        p = subprocess.run(["sh", "-c", shifted + " --query queryId --output text"], env=env,
                           capture_output=True, text=True, check=False)
        if p.returncode != 0:
            fail(f"moto: the printed start-query command failed: {p.stderr}")
            return
        qid = p.stdout.strip()
        res = subprocess.run(["aws", "logs", "get-query-results", "--query-id", qid], env=env,
                             capture_output=True, text=True, check=False)
        if res.returncode != 0:
            fail(f"moto: get-query-results failed: {res.stderr}")
            return
        out = work / "moto-results.json"
        out.write_text(res.stdout)
        n = len(json.loads(res.stdout)["results"])
        lo, hi = (start + shift // 1000) * 1000, (end + shift // 1000) * 1000
        expected = sorted(r for r in loaded if lo <= r[0] <= hi)[:10_000]
        ref = work / "moto-expected.json"
        ref.write_text(json.dumps({"results": [[
            {"field": "@timestamp", "value": insights_time(ms)},
            {"field": "@message", "value": msg},
            {"field": "@logStream", "value": stream},
            {"field": "@log", "value": f"123456789012:{group}"},
        ] for ms, group, stream, msg in expected]}))
        got, want = report(a.rotdiag, [out]), report(a.rotdiag, [ref])
        print(f"moto: loaded {len(loaded)} events of {len(chosen)} streams; the printed command ran; "
              f"{n} rows back, {len(expected)} in its log groups and time range")
        if n != len(expected):
            fail(f"moto returned {n} rows, the command's log groups and range hold {len(expected)}")
        elif diagnoses(got) != diagnoses(want):
            fail(f"moto: rotdiag over moto's results differs: {set(diagnoses(got)) ^ set(diagnoses(want))}")
        else:
            ok(f"moto: rotdiag reads moto's get-query-results: the same {len(diagnoses(got))} diagnoses")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("check", choices=["parse", "duckdb", "spark", "insights"])
    p.add_argument("--rotdiag", required=True)
    p.add_argument("--export", help="an S3 export folder (<prefix>/<taskId>/<stream>/000000.gz)")
    p.add_argument("--moto", type=int, metavar="PORT", help="with insights: run step 2 against moto on this port")
    p.add_argument("--step2", default="", metavar="ARGS",
                   help="with insights: more arguments of step 2 (`--context 5m --windows-per-query 1`)")
    a = p.parse_args()
    if a.export:
        a.export = os.path.realpath(a.export)
    {"parse": cmd_parse, "duckdb": cmd_duckdb, "spark": cmd_spark, "insights": cmd_insights}[a.check](a)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
