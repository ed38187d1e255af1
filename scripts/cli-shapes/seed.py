"""Seeds moto's CloudWatch Logs with the rotation logs of the CLI-shapes scenarios.

    python seed.py            # uses AWS_ENDPOINT_URL etc. from `moto.sh env`
    python seed.py --list     # prints the scenarios (name, log group, expected first cause)

boto3 is used here and only here: to put the scenarios' events into moto (and to create what the
outputs are read back through: an S3 bucket per scenario for the export, a Kinesis stream with a
subscription filter). Every output that is committed is written by the real AWS CLIs
(`capture.py`).

Two scenarios, one log group each, with fixed timestamps (2025-04-10, so moto must run with
MOTO_CLOCK near them: CloudWatch refuses events older than 14 days):

* `database-unreachable--text-log-format`: a PostgreSQL single-user rotation function with the
  text log format. Stream A: setSecret of prod/app/postgres-a1B2c3 cannot log into the database
  after 20 s, twice (Secrets Manager's retry), the runtime's traceback in one multi-line event
  (indented with NO-BREAK SPACEs, as awslambdaric's bootstrap.py writes it: ERROR_LOG_IDENT).
  Stream B, in between: a healthy rotation of prod/billing/postgres-Xy9Zq1, all four steps.
  The lines are those of corpus/database-unreachable--s3-export and corpus/healthy--s3-export.
* `secrets-manager-unreachable--json-log-format`: a MySQL single-user rotation function with
  `LogFormat=JSON`. Stream X: a healthy rotation of prod/reporting/mysql-Lm4Np6 (its user name is
  not ASCII, and awslambdaric's JSON encoder writes it unescaped: ensure_ascii=False). Stream Y,
  twenty minutes later, a new execution environment: the next rotation logs "Found credentials in
  environment variables." and nothing else until the 30 s timeout, twice (Secrets Manager's retry).
  No line of the failing rotation names its secret: the troubleshooting guide's "no activity after
  Found credentials" case, which rotdiag must still count as a rotation whatever else is beside it
  (the export's aws-logs-write-test object).
  Platform records carry no trailing newline; application records end with one (so the CLI's
  `--output text` of `--query 'events[].message'` puts platform records on one line with TABs).

Each invocation's events are put in one PutLogEvents call, so a subscription filter delivers one
Kinesis record per invocation (as Lambda's log batching roughly does).
"""

import argparse
import json
import os
import sys

import boto3

ACCOUNT = "123456789012"
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
RUNTIME_ARN_PY312 = "arn:aws:lambda:us-east-1::runtime:51292edc9238a7b660abaa5d29ab97e471ddf90d1089d37270933c75dda37806"
LAMBDA_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. For "
    "functions using managed runtimes, runtime updates can be triggered by a function change, or "
    "can be applied automatically. To determine if the runtime has been updated, check the runtime "
    "version in the INIT_START log entry. If this error correlates with a change in the runtime "
    "version, you may be able to mitigate this error by temporarily rolling back to the previous "
    "runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)
NBSP = "\u00a0"


def iso(ms):
    """2025-04-10T09:30:58.143Z (what the Python runtime's text format prints)."""
    import datetime

    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ms(text):
    """Epoch milliseconds of an ISO instant such as 2025-04-10T09:30:57.694Z."""
    import datetime

    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(round(t.timestamp() * 1000))


# --- the Lambda text log format ------------------------------------------------------------------


class Text:
    """Messages of a Python function with the text log format, as CloudWatch stores them."""

    @staticmethod
    def init_start(version="python:3.12.v48", arn=RUNTIME_ARN_PY312):
        return f"INIT_START Runtime Version: {version}\tRuntime Version ARN: {arn}\n"

    @staticmethod
    def start(rid):
        return f"START RequestId: {rid} Version: $LATEST\n"

    @staticmethod
    def app(level, t, rid, msg):
        return f"[{level}]\t{iso(t)}\t{rid}\t{msg}\n"

    @staticmethod
    def unhandled(error_type, message, frames):
        """awslambdaric's text-format error record: lines joined with "\\n", no trailing newline,
        each frame line's leading spaces turned into NO-BREAK SPACEs."""
        lines = [f"[ERROR] {error_type}: {message}", "Traceback (most recent call last):"]
        for frame in frames:
            for line in frame.splitlines():
                stripped = line.lstrip(" ")
                lines.append(NBSP * (len(line) - len(stripped)) + stripped)
        return "\n".join(lines)

    @staticmethod
    def end(rid):
        return f"END RequestId: {rid}\n"

    @staticmethod
    def report(rid, duration, billed, used, init=None):
        s = (
            f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: 128 MB\tMax Memory Used: {used} MB\t"
        )
        if init is not None:
            s += f"Init Duration: {init:.2f} ms\t"
        return s + "\n"


def healthy_text_rotation(stream, init, steps, secret, token, user, host, engine):
    """The four invocations of a successful rotation in the text format, the first in a new
    execution environment (INIT_START at `init`). `steps`: per step, (request id, START instant,
    the instants of the step's lines, END/REPORT instant, REPORT's (duration, billed, max memory,
    init duration or None)). `engine` as the templates name it ("PostgreSQL DB", "MariaDB")."""
    ssl = f"Successfully established SSL/TLS connection as user '{user}' with host: '{host}'"
    lines = [
        ["Found credentials in environment variables.", f"createSecret: Successfully put secret for ARN {secret} and version {token}."],
        [ssl, f"setSecret: Successfully set password for user {user} in {engine} for secret arn {secret}."],
        [ssl, f"testSecret: Successfully signed into {engine} with AWSPENDING secret in {secret}."],
        [f"finishSecret: Successfully set AWSCURRENT stage to version {token} for secret {secret}."],
    ]
    out = []
    for n, ((rid, start, times, end, report), texts) in enumerate(zip(steps, lines)):
        events = [(init, Text.init_start())] if n == 0 else []
        events.append((start, Text.start(rid)))
        events += [(t, Text.app("INFO", ms(t), rid, m)) for t, m in zip(times, texts)]
        events += [(end, Text.end(rid)), (end, Text.report(rid, *report))]
        out.append((stream, [(ms(t), m) for t, m in events]))
    return out


def text_scenario():
    group = "/aws/lambda/SecretsManagerPgRotation"
    a = "2025/04/10/[$LATEST]3db9c7b88382e6481e072f78fa8c352e"
    b = "2025/04/10/[$LATEST]8f1e2d3c4b5a69788796a5b4c3d2e1f0"
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/app/postgres-a1B2c3"
    healthy = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/billing/postgres-Xy9Zq1"
    token_a = "a6952795-8d77-4c20-b42e-731080ae0ed3"
    token_b = "5d0c6f3e-91a2-4b7e-8c1d-2f3a4b5c6d7e"
    failure = f"Unable to log into database with previous, current, or pending secret of secret arn {secret}"
    frames = [
        '  File "/var/task/lambda_function.py", line 77, in lambda_handler\n    set_secret(service_client, arn, token)\n',
        '  File "/var/task/lambda_function.py", line 193, in set_secret\n'
        '    raise ValueError("Unable to log into database with previous, current, or pending secret of secret arn %s" % arn)\n',
    ]
    host = "prod-billing-db.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"
    e = []  # (stream, [(ts, message)]) per invocation, in the order they were logged

    def inv(stream, events):
        e.append((stream, [(ms(t), m) for t, m in events]))

    def set_secret_unreachable(rid, start, error, end, report):
        """setSecret after its connect timeouts: the template's error line, then 1 ms later the
        runtime's LAMBDA_WARNING and its error record with the traceback."""
        after = iso(ms(error) + 1)
        return [
            (start, Text.start(rid)),
            (error, Text.app("ERROR", ms(error), rid, f"setSecret: {failure}")),
            (after, Text.app("WARNING", ms(after), rid, LAMBDA_WARNING)),
            (after, Text.unhandled("ValueError", failure, frames)),
            (end, Text.end(rid)),
            (end, Text.report(rid, *report)),
        ]

    # Stream A, first attempt: createSecret succeeds, setSecret times out connecting (20 s).
    r1, r2 = "b2f4685b-daa2-4835-bd58-bf5c727e5a37", "c8c29336-e6e3-46bf-883e-f6c5f2a65f87"
    inv(a, [
        ("2025-04-10T09:30:57.694Z", Text.init_start()),
        ("2025-04-10T09:30:58.114Z", Text.start(r1)),
        ("2025-04-10T09:30:58.143Z", Text.app("INFO", ms("2025-04-10T09:30:58.143Z"), r1, "Found credentials in environment variables.")),
        ("2025-04-10T09:30:58.743Z", Text.app("INFO", ms("2025-04-10T09:30:58.743Z"), r1, f"createSecret: Successfully put secret for ARN {secret} and version {token_a}.")),
        ("2025-04-10T09:30:58.748Z", Text.end(r1)),
        ("2025-04-10T09:30:58.748Z", Text.report(r1, 632.62, 1046, 85, 412.47)),
    ])
    inv(a, set_secret_unreachable(r2, "2025-04-10T09:30:59.460Z", "2025-04-10T09:31:19.455Z", "2025-04-10T09:31:19.474Z", (20011.36, 20012, 86)))
    # Stream B: a healthy rotation of another secret, in another execution environment.
    e += healthy_text_rotation(b, "2025-04-10T09:32:40.120Z", [
        ("0f6d1c2e-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "2025-04-10T09:32:40.541Z", ["2025-04-10T09:32:40.577Z", "2025-04-10T09:32:41.034Z"], "2025-04-10T09:32:41.040Z", (499.18, 917, 86, 417.66)),
        ("1e7c2b3a-4d5e-4f60-9172-83a4b5c6d7e8", "2025-04-10T09:32:41.702Z", ["2025-04-10T09:32:42.629Z", "2025-04-10T09:32:42.676Z"], "2025-04-10T09:32:42.681Z", (978.52, 979, 87)),
        ("2d8b3a4c-5e6f-4071-8283-94a5b6c7d8e9", "2025-04-10T09:32:43.140Z", ["2025-04-10T09:32:43.429Z", "2025-04-10T09:32:43.440Z"], "2025-04-10T09:32:43.446Z", (305.07, 306, 87)),
        ("3c9a4b5d-6f70-4182-9394-a5b6c7d8e9f0", "2025-04-10T09:32:44.005Z", ["2025-04-10T09:32:44.241Z"], "2025-04-10T09:32:44.247Z", (241.93, 242, 88)),
    ], healthy, token_b, "billing", host, "PostgreSQL DB")
    # Stream A, Secrets Manager's retry: the same 20 s failure.
    r3, r4 = "887f2124-56fa-4f30-8a20-130b81fba1e9", "0a993a77-e35f-4b7a-ad09-311a513812c5"
    inv(a, [
        ("2025-04-10T09:34:37.207Z", Text.start(r3)),
        ("2025-04-10T09:34:37.710Z", Text.app("INFO", ms("2025-04-10T09:34:37.710Z"), r3, f"createSecret: Successfully retrieved secret for {secret}.")),
        ("2025-04-10T09:34:37.720Z", Text.end(r3)),
        ("2025-04-10T09:34:37.720Z", Text.report(r3, 511.19, 512, 87)),
    ])
    inv(a, set_secret_unreachable(r4, "2025-04-10T09:34:38.296Z", "2025-04-10T09:34:58.287Z", "2025-04-10T09:34:58.305Z", (20007.92, 20008, 88)))
    return group, e


# --- the Lambda JSON log format ------------------------------------------------------------------

FUNCTION = "SecretsManagerMySQLRotation"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}"
RUNTIME_ARN_PY312_V62 = "arn:aws:lambda:us-east-1::runtime:11911d64799162c035b9e32a310891eb565e4bbee97a16e88f48dab4f3d65f72"


def compact(obj):
    """The platform's records: compact JSON, no trailing newline."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Json:
    """Messages of a Python function with `LogFormat=JSON`, as CloudWatch stores them."""

    @staticmethod
    def init_start(t, stream):
        return compact({"time": iso(t), "type": "platform.initStart", "record": {
            "initializationType": "on-demand", "phase": "init", "runtimeVersion": "python:3.12.v62",
            "runtimeVersionArn": RUNTIME_ARN_PY312_V62, "functionName": FUNCTION,
            "functionVersion": "$LATEST", "instanceId": stream.replace("[$LATEST]", f"{FUNCTION}[$LATEST]"),
            "instanceMaxMemory": 134217728}})

    @staticmethod
    def start(t, rid):
        return compact({"time": iso(t), "type": "platform.start", "record": {
            "requestId": rid, "functionArn": FUNCTION_ARN, "version": "$LATEST"}})

    @staticmethod
    def app(t, level, msg, rid, logger="root"):
        """awslambdaric's JsonFormatter: json.JSONEncoder(ensure_ascii=False) with the default
        ", " / ": " separators, whole-second timestamps, a trailing newline."""
        whole = iso(t)[:19] + "Z"
        return json.dumps({"timestamp": whole, "level": level, "message": msg, "logger": logger,
                           "requestId": rid}, ensure_ascii=False) + "\n"

    @staticmethod
    def report(t, rid, duration, billed, used, status="success", init=None):
        metrics = {"durationMs": duration, "billedDurationMs": billed, "memorySizeMB": 128, "maxMemoryUsedMB": used}
        if init is not None:
            metrics["initDurationMs"] = init
        return compact({"time": iso(t), "type": "platform.report", "record": {
            "requestId": rid, "metrics": metrics, "status": status}})


def json_scenario():
    group = f"/aws/lambda/{FUNCTION}"
    x = "2025/04/10/[$LATEST]5c1f0a9d2b3e4f60718293a4b5c6d7e8"
    y = "2025/04/10/[$LATEST]d4e5f60718293a4b5c6d7e8f9a0b1c2d"
    healthy = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/reporting/mysql-Lm4Np6"
    token_h = "7e3d9c1b-2a4f-4e6d-8b0c-5f1a2e3d4c5b"
    host = "prod-reporting.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"
    user = "reporting_zo\u00eb"
    e = []

    def inv(stream, events):
        out = []
        for t, make in events:
            out.append((ms(t), make(ms(t))))
        e.append((stream, out))

    h = [
        "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "7b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e",
        "8c3d4e5f-6a7b-4c8d-8e9f-1a2b3c4d5e6f",
        "9d4e5f6a-7b8c-4d9e-9f0a-2b3c4d5e6f7a",
    ]
    inv(x, [
        ("2025-04-10T10:00:03.120Z", lambda t: Json.init_start(t, x)),
        ("2025-04-10T10:00:03.541Z", lambda t: Json.start(t, h[0])),
        ("2025-04-10T10:00:03.577Z", lambda t: Json.app(t, "INFO", "Found credentials in environment variables.", h[0], "botocore.credentials")),
        ("2025-04-10T10:00:04.102Z", lambda t: Json.app(t, "INFO", f"createSecret: Successfully put secret for ARN {healthy} and version {token_h}.", h[0])),
        ("2025-04-10T10:00:04.110Z", lambda t: Json.report(t, h[0], 568.81, 990, 86, init=420.37)),
    ])
    inv(x, [
        ("2025-04-10T10:00:04.702Z", lambda t: Json.start(t, h[1])),
        ("2025-04-10T10:00:05.344Z", lambda t: Json.app(t, "INFO", f"Successfully established SSL/TLS connection as user '{user}' with host: '{host}'", h[1])),
        ("2025-04-10T10:00:05.391Z", lambda t: Json.app(t, "INFO", f"setSecret: Successfully set password for user {user} in MySQL DB for secret arn {healthy}.", h[1])),
        ("2025-04-10T10:00:05.398Z", lambda t: Json.report(t, h[1], 695.02, 696, 87)),
    ])
    inv(x, [
        ("2025-04-10T10:00:05.960Z", lambda t: Json.start(t, h[2])),
        ("2025-04-10T10:00:06.201Z", lambda t: Json.app(t, "INFO", f"Successfully established SSL/TLS connection as user '{user}' with host: '{host}'", h[2])),
        ("2025-04-10T10:00:06.212Z", lambda t: Json.app(t, "INFO", f"testSecret: Successfully signed into MySQL DB with AWSPENDING secret in {healthy}.", h[2])),
        ("2025-04-10T10:00:06.219Z", lambda t: Json.report(t, h[2], 258.4, 259, 87)),
    ])
    inv(x, [
        ("2025-04-10T10:00:06.804Z", lambda t: Json.start(t, h[3])),
        ("2025-04-10T10:00:07.033Z", lambda t: Json.app(t, "INFO", f"finishSecret: Successfully set AWSCURRENT stage to version {token_h} for secret {healthy}.", h[3])),
        ("2025-04-10T10:00:07.040Z", lambda t: Json.report(t, h[3], 235.77, 236, 87)),
    ])
    # Twenty minutes later, after a change of the function's network configuration, every new
    # execution environment hangs after the credential lookup: the function cannot reach Secrets
    # Manager, so no step logs anything naming the secret. Secrets Manager retries 6 minutes later;
    # the runtime is re-initialised after a timeout (a new INIT in the same stream).
    r = ["5c6d7e8f-90a1-4b2c-8d3e-4f5a6b7c8d9e", "7e8f90a1-b2c3-4d4e-8f5a-6b7c8d9e0f1a"]
    inv(y, [
        ("2025-04-10T10:20:12.061Z", lambda t: Json.init_start(t, y)),
        ("2025-04-10T10:20:12.488Z", lambda t: Json.start(t, r[0])),
        ("2025-04-10T10:20:12.524Z", lambda t: Json.app(t, "INFO", "Found credentials in environment variables.", r[0], "botocore.credentials")),
        ("2025-04-10T10:20:42.488Z", lambda t: Json.report(t, r[0], 30000.0, 30427, 85, "timeout", 426.91)),
    ])
    inv(y, [
        ("2025-04-10T10:26:44.580Z", lambda t: Json.init_start(t, y)),
        ("2025-04-10T10:26:45.003Z", lambda t: Json.start(t, r[1])),
        ("2025-04-10T10:26:45.039Z", lambda t: Json.app(t, "INFO", "Found credentials in environment variables.", r[1], "botocore.credentials")),
        ("2025-04-10T10:27:15.003Z", lambda t: Json.report(t, r[1], 30000.0, 30418, 84, "timeout", 417.3)),
    ])
    return group, e


def text_hang_scenario():
    group = "/aws/lambda/mariadb-shop-rotation"
    p = "2025/04/10/[$LATEST]0b1c2d3e4f5a69788796a5b4c3d2e1f0"
    q = "2025/04/10/[$LATEST]7f6e5d4c3b2a19080716253443526170"
    healthy = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/shop/mariadb-Ty7Ui9"
    token = "0e9d8c7b-6a5f-4e3d-9c2b-1a0f9e8d7c6b"
    host = "shop-db.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"
    e = []

    def inv(stream, events):
        e.append((stream, [(ms(t), m) for t, m in events]))

    def app(t, level, rid, msg):
        return (t, Text.app(level, ms(t), rid, msg))

    # A healthy rotation of the shop database in the morning.
    e += healthy_text_rotation(p, "2025-04-10T11:00:02.310Z", [
        ("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "2025-04-10T11:00:02.733Z", ["2025-04-10T11:00:02.769Z", "2025-04-10T11:00:03.208Z"], "2025-04-10T11:00:03.214Z", (481.05, 905, 85, 423.18)),
        ("b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e", "2025-04-10T11:00:03.790Z", ["2025-04-10T11:00:04.402Z", "2025-04-10T11:00:04.455Z"], "2025-04-10T11:00:04.461Z", (671.24, 672, 86)),
        ("c3d4e5f6-a7b8-4c9d-8e1f-2a3b4c5d6e7f", "2025-04-10T11:00:05.020Z", ["2025-04-10T11:00:05.266Z", "2025-04-10T11:00:05.279Z"], "2025-04-10T11:00:05.285Z", (265.93, 266, 86)),
        ("d4e5f6a7-b8c9-4d0e-9f2a-3b4c5d6e7f80", "2025-04-10T11:00:05.851Z", ["2025-04-10T11:00:06.090Z"], "2025-04-10T11:00:06.096Z", (245.11, 246, 87)),
    ], healthy, token, "shop", host, "MariaDB")
    # Later, new execution environments hang after the credential lookup until the 30 s timeout:
    # the first attempt of the next rotation and Secrets Manager's retry. Nothing names a secret.
    r = ["e5f6a7b8-c9d0-4e1f-8a3b-4c5d6e7f8091", "f6a7b8c9-d0e1-4f2a-9b4c-5d6e7f8091a2"]
    for rid, (t0, t1, t2, t3), init, billed in (
        (r[0], ("2025-04-10T11:24:31.118Z", "2025-04-10T11:24:31.540Z", "2025-04-10T11:24:31.577Z", "2025-04-10T11:25:01.540Z"), 421.87, 30422),
        (r[1], ("2025-04-10T11:30:47.902Z", "2025-04-10T11:30:48.331Z", "2025-04-10T11:30:48.369Z", "2025-04-10T11:31:18.331Z"), 428.6, 30429),
    ):
        inv(q, [
            (t0, Text.init_start()),
            (t1, Text.start(rid)),
            app(t2, "INFO", rid, "Found credentials in environment variables."),
            (t3, Text.end(rid)),
            (t3, Text.report(rid, 30000.0, billed, 84, init)[:-1] + "Status: timeout\n"),
        ])
    return group, e


SCENARIOS = {
    "database-unreachable--text-log-format": text_scenario,
    "secrets-manager-unreachable--json-log-format": json_scenario,
    "secrets-manager-unreachable--text-log-format": text_hang_scenario,
}


def names(scenario):
    """The AWS resources of a scenario (shared with capture.py through `--list`)."""
    group, invocations = SCENARIOS[scenario]()
    streams = []
    for s, _ in invocations:
        if s not in streams:
            streams.append(s)
    times = [t for _, evs in invocations for t, _ in evs]
    short = scenario.replace("--", "-").replace("-log-format", "")
    return {
        "scenario": scenario,
        "group": group,
        "streams": streams,
        "first_ms": min(times),
        "last_ms": max(times),
        "bucket": f"rotation-logs-{short}",
        "kinesis": f"rotation-logs-{short}",
    }


def seed(scenario, logs, s3, kinesis):
    n = names(scenario)
    group, invocations = SCENARIOS[scenario]()
    logs.create_log_group(logGroupName=group)
    s3.create_bucket(Bucket=n["bucket"])
    kinesis.create_stream(StreamName=n["kinesis"], ShardCount=1)
    stream_arn = kinesis.describe_stream(StreamName=n["kinesis"])["StreamDescription"]["StreamARN"]
    # Before any event: moto (like CloudWatch) delivers to a subscription only what is put after it.
    logs.put_subscription_filter(
        logGroupName=group,
        filterName="rotation-logs-to-kinesis",
        filterPattern="",
        destinationArn=stream_arn,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/CWLtoKinesisRole",
    )
    for stream in n["streams"]:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    for stream, events in invocations:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": t, "message": m} for t, m in events],
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="print the scenarios as JSON lines and exit")
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = ap.parse_args()
    for s in args.scenarios:
        if s not in SCENARIOS:
            sys.exit(f"seed.py: unknown scenario {s!r} (known: {', '.join(SCENARIOS)})")
    if args.list:
        for s in args.scenarios:
            print(json.dumps(names(s)))
        return
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if not endpoint.startswith("http://127.0.0.1:"):
        sys.exit("seed.py: AWS_ENDPOINT_URL must point at moto on 127.0.0.1 (eval \"$(scripts/aws-local/moto.sh env)\")")
    kw = {"endpoint_url": endpoint, "region_name": REGION}
    logs, s3, kinesis = (boto3.client(c, **kw) for c in ("logs", "s3", "kinesis"))
    for s in args.scenarios:
        seed(s, logs, s3, kinesis)


if __name__ == "__main__":
    main()
