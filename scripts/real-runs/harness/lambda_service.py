"""The parts of the AWS Lambda *service* that a rotation function's logs depend on.

Everything the function and its runtime print comes from the real template code and the real
`awslambdaric` (AWS's runtime interface client for Python): this module only does what the Lambda
service itself does around them, because no emulator of it is available from the package registries:

* the Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) that
  awslambdaric polls: `GET /2018-06-01/runtime/invocation/next` hands out one event with its
  `Lambda-Runtime-*` headers; `.../response`, `.../error` and `/runtime/init/error` take the outcome;
* one execution environment at a time (one runtime process, one log stream named as Lambda names
  them, `YYYY/MM/DD/[$LATEST]<32 hex>`), started on first use and replaced after a timeout, a crash
  or an init error, as Lambda does;
* the function timeout: the runtime process is killed when the deadline passes;
* the platform lines Lambda writes (INIT_START, START, END, REPORT, INIT_REPORT, the timeout
  line), in the text or the JSON log format, with durations measured here and the peak resident memory
  of the runtime process (VmHWM). Formats: "Using Amazon CloudWatch Logs with AWS Lambda"
  (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html), "Lambda
  function logs in Python" (https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html),
  the Telemetry API schema for the JSON format's `platform.*` records
  (https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html).

The runtime's log records are read from the telemetry pipe that Lambda hands to the runtime as
`_LAMBDA_TELEMETRY_LOG_FD` (awslambdaric's `FramedTelemetryLogSink`: 4-byte frame type, 4-byte length,
8-byte microsecond timestamp, message). That is what reaches CloudWatch in Lambda: one frame is one
log event (a traceback is one event), stamped with the frame's time. Whatever the process writes to
stdout or stderr outside that pipe becomes one event per line, as Lambda captures it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MEMORY_MB = 128
RUNTIME_VERSION = "python:3.11.v0"  # synthesised: the harness's Python is not a Lambda runtime build
RUNTIME_VERSION_ARN = "arn:aws:lambda:us-east-1::runtime:" + hashlib.sha256(
    b"rotdiag real-runs python 3.11"
).hexdigest()


@dataclass
class Event:
    """One CloudWatch Logs event: epoch milliseconds, log stream, message."""

    ts: int
    stream: str
    message: str


@dataclass
class Outcome:
    """How one invocation ended, as Secrets Manager sees it."""

    status: str  # success | error | timeout
    error_type: str | None = None
    body: str = ""


@dataclass
class _Pending:
    request_id: str
    body: bytes
    deadline_ms: int
    function_arn: str
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None


class RuntimeApi:
    """The Runtime API endpoint on 127.0.0.1 that one runtime process polls at a time."""

    def __init__(self, port: int):
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._by_id: dict[str, _Pending] = {}
        self.polled = threading.Event()  # the runtime asked for work: its init is over
        self.init_error: dict | None = None
        # Bumped for every new runtime process: a poll left hanging by a killed process must not
        # take the next process's event.
        self.generation = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the harness's output readable
                pass

            def _reply(self, code: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._reply(404)
                job = api._next()
                if job is None:  # the process that asked is gone
                    try:
                        self._reply(410)
                    except OSError:
                        pass
                    return
                try:
                    self._reply(
                    200,
                    job.body,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": job.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(job.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": job.function_arn,
                            "Lambda-Runtime-Trace-Id": _trace_id(),
                        },
                    )
                except OSError:
                    api.submit(job)  # never delivered: give it to the next poll

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
                parts = self.path.strip("/").split("/")
                if self.path == "/2018-06-01/runtime/init/error":
                    api.init_error = {
                        "type": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                        "body": body,
                    }
                    return self._reply(202, b'{"status":"OK"}')
                if len(parts) == 5 and parts[2] == "invocation":
                    rid, what = parts[3], parts[4]
                    if what == "response":
                        api._finish(rid, Outcome("success", body=body))
                        return self._reply(202, b'{"status":"OK"}')
                    if what == "error":
                        try:
                            etype = json.loads(body).get("errorType")
                        except ValueError:
                            etype = None
                        api._finish(rid, Outcome("error", etype, body))
                        return self._reply(202, b'{"status":"OK"}')
                self._reply(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{port}"

    def _next(self) -> _Pending | None:
        with self._cond:
            gen = self.generation
            self.polled.set()
            while not self._queue and gen == self.generation:
                self._cond.wait()
            if gen != self.generation:
                return None
            return self._queue.pop(0)

    def new_generation(self):
        with self._cond:
            self.generation += 1
            self.polled.clear()
            self.init_error = None
            self._cond.notify_all()

    def _finish(self, rid: str, outcome: Outcome):
        job = self._by_id.pop(rid, None)
        if job and not job.done.is_set():
            job.outcome = outcome
            job.done.set()

    def submit(self, job: _Pending):
        with self._cond:
            self._by_id[job.request_id] = job
            self._queue.append(job)
            self._cond.notify_all()

    def drop(self, job: _Pending):
        with self._cond:
            if job in self._queue:
                self._queue.remove(job)
            self._by_id.pop(job.request_id, None)

    def close(self):
        self.server.shutdown()


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0;Lineage=1:{secrets.token_hex(4)}:0"


def _iso_ms(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms / 1000)) + f".{ts_ms % 1000:03d}Z"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class FunctionConfig:
    """What `aws lambda create-function` would say about the function."""

    name: str
    package_dir: str  # holds task/: the template and the drivers bundled with it, seen as /var/task
    runtime_layer: str  # holds lang/: a venv with awslambdaric and boto3, seen as /var/lang
    env: dict[str, str]
    timeout_s: int = 30
    log_format: str = "Text"  # Text | JSON
    etc_layer: str | None = None  # overlaid on /etc for the function only (the CA at /etc/pki/tls/cert.pem)
    region: str = "us-east-1"
    account: str = "123456789012"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


class Sandbox:
    """One execution environment: a runtime process and its log stream."""

    def __init__(self, fn: FunctionConfig, api: RuntimeApi, sink: list[Event], stream: str):
        self.fn, self.api, self.sink, self.stream = fn, api, sink, stream
        self.proc: subprocess.Popen | None = None
        self.init_ms: float | None = None  # measured Init Duration, reported by the first REPORT
        self.hwm_mb = 0
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- logging ------------------------------------------------------------------------------
    def emit(self, message: str, ts: int | None = None):
        with self._lock:
            self.sink.append(Event(ts if ts is not None else _now_ms(), self.stream, message))

    def platform(self, text: str, record_type: str, record: dict, ts: int | None = None):
        ts = ts if ts is not None else _now_ms()
        if self.fn.log_format == "JSON":
            if not record_type:  # END has no record of its own in the JSON format
                return
            doc = {"time": _iso_ms(ts), "type": record_type, "record": record}
            self.emit(json.dumps(doc, separators=(",", ":")), ts)
        elif text:
            self.emit(text, ts)

    # -- the runtime process ------------------------------------------------------------------
    def start(self):
        """INIT: start the runtime and wait until it polls for work (or fails)."""
        started = time.monotonic()
        self.platform(
            f"INIT_START Runtime Version: {RUNTIME_VERSION}\tRuntime Version ARN: {RUNTIME_VERSION_ARN}\n",
            "platform.initStart",
            {
                "initializationType": "on-demand",
                "phase": "init",
                "runtimeVersion": RUNTIME_VERSION,
                "runtimeVersionArn": RUNTIME_VERSION_ARN,
                "functionName": self.fn.name,
                "functionVersion": "$LATEST",
            },
        )
        self._spawn()
        while not self.api.polled.is_set():
            self.peak_rss_mb()
            if self.proc.poll() is not None:
                break
            if time.monotonic() - started > self.fn.timeout_s:
                break
            time.sleep(0.005)
        self.init_ms = (time.monotonic() - started) * 1000
        if not self.api.polled.is_set():
            self._wait_readers()
            return False
        return True

    def _spawn(self):
        self.api.new_generation()
        self.hwm_mb = 0
        r, w = os.pipe()
        env = dict(self.fn.env)
        env.update(
            {
                "_LAMBDA_TELEMETRY_LOG_FD": str(w),
                "AWS_LAMBDA_RUNTIME_API": self.api.address,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
                "AWS_LAMBDA_LOG_GROUP_NAME": self.fn.log_group,
                "AWS_LAMBDA_FUNCTION_NAME": self.fn.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "AWS_REGION": self.fn.region,
                "AWS_DEFAULT_REGION": self.fn.region,
                "LAMBDA_TASK_ROOT": "/var/task",
                "_HANDLER": "lambda_function.lambda_handler",
                "PYTHONPATH": "/var/task",
                "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
            }
        )
        if self.fn.log_format == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            env["AWS_LAMBDA_LOG_LEVEL"] = "INFO"
        # A private mount namespace in which, as in Lambda, the package is /var/task, the runtime
        # /var/lang, and /etc has /etc/pki/tls/cert.pem (the CA bundle the templates verify the
        # database against): read-only overlays, so nothing outside the function's process changes.
        layers = f"{self.fn.package_dir}:{self.fn.runtime_layer}:/var"
        mounts = [f"mount -t overlay overlay -o lowerdir={layers} /var"]
        if self.fn.etc_layer:
            mounts.append(f"mount -t overlay overlay -o lowerdir={self.fn.etc_layer}:/etc /etc")
        script = " && ".join(mounts + ["cd /var/task", 'exec "$@"'])
        runtime = ["/var/lang/bin/python", "-m", "awslambdaric", "lambda_function.lambda_handler"]
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"] + runtime
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(w,),
            start_new_session=True,
        )
        os.close(w)
        self._readers = [
            threading.Thread(target=self._read_frames, args=(r,), daemon=True),
            threading.Thread(target=self._read_lines, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._read_lines, args=(self.proc.stderr,), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read_frames(self, fd: int):
        with os.fdopen(fd, "rb", 0) as f:
            while True:
                head = _read_exact(f, 16)
                if head is None:
                    return
                length = int.from_bytes(head[4:8], "big")
                ts_us = int.from_bytes(head[8:16], "big")
                msg = _read_exact(f, length)
                if msg is None:
                    return
                self.emit(msg.decode("utf-8", "replace"), ts_us // 1000)

    def _read_lines(self, pipe):
        for line in iter(pipe.readline, b""):
            self.emit(line.decode("utf-8", "replace"))

    def _wait_readers(self):
        for t in self._readers:
            t.join(timeout=2)

    def peak_rss_mb(self) -> int:
        """The process's peak resident memory, sampled while it runs (a killed process has none)."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.hwm_mb = max(self.hwm_mb, math.ceil(int(line.split()[1]) / 1024))
        except OSError:
            pass
        return self.hwm_mb

    def kill(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self._wait_readers()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _read_exact(f, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class LambdaFunction:
    """Invokes one function the way the Lambda service does, writing its log events to `events`."""

    def __init__(self, fn: FunctionConfig, api: RuntimeApi, legacy_timeout_line: bool = False):
        self.fn, self.api = fn, api
        self.events: list[Event] = []
        self.sandbox: Sandbox | None = None
        self.legacy_timeout_line = legacy_timeout_line
        self.calls: list[tuple[str, Outcome]] = []  # (step, outcome) of every invocation

    def _new_stream(self) -> str:
        return time.strftime("%Y/%m/%d", time.gmtime()) + "/[$LATEST]" + secrets.token_hex(16)

    def invoke(self, event: dict) -> Outcome:
        outcome = self._invoke(event)
        self.calls.append((event.get("Step", "?"), outcome))
        return outcome

    def _invoke(self, event: dict) -> Outcome:
        rid = str(uuid.uuid4())
        first = False
        if self.sandbox is None or not self.sandbox.alive():
            stream = self.sandbox.stream if self.sandbox else self._new_stream()
            self.sandbox = Sandbox(self.fn, self.api, self.events, stream)
            first = True
            if not self.sandbox.start():
                return self._init_failed(rid, event)
        sb = self.sandbox
        init_ms = sb.init_ms if first else None
        return self._run(sb, rid, event, init_ms)

    def _run(self, sb: Sandbox, rid: str, event: dict, init_ms: float | None) -> Outcome:
        start_ts = _now_ms()
        sb.platform(
            f"START RequestId: {rid} Version: $LATEST\n",
            "platform.start",
            {"requestId": rid, "version": "$LATEST"},
            start_ts,
        )
        started = time.monotonic()
        job = _Pending(rid, json.dumps(event).encode(), start_ts + self.fn.timeout_s * 1000, self.fn.arn)
        self.api.submit(job)
        deadline = started + self.fn.timeout_s
        while not job.done.wait(0.01):
            sb.peak_rss_mb()
            if time.monotonic() >= deadline:
                return self._timed_out(sb, job, init_ms)
            if not sb.alive():
                break
        elapsed = (time.monotonic() - started) * 1000
        if job.outcome is None:  # the process died under the invocation
            self.api.drop(job)
            sb.kill()
            outcome = Outcome("error", "Runtime.ExitError")
            self._end(sb, rid, elapsed, init_ms, outcome, ["Status: error", "Error Type: Runtime.ExitError"])
            return outcome
        time.sleep(0.002)  # let the reader threads hand over what the runtime wrote last
        self._end(sb, rid, elapsed, init_ms, job.outcome)
        return job.outcome

    def _end(self, sb: Sandbox, rid, elapsed_ms, init_ms, outcome: Outcome, status: list[str] | None = None):
        """END and REPORT. `status` is what follows the metrics on the REPORT line, if anything."""
        mem = sb.peak_rss_mb()
        billed = math.ceil(elapsed_ms + (init_ms or 0))  # INIT is billed since August 2025
        ts = _now_ms()
        sb.platform(f"END RequestId: {rid}\n", "", {}, ts)
        fields = [
            f"Duration: {elapsed_ms:.2f} ms",
            f"Billed Duration: {billed} ms",
            f"Memory Size: {MEMORY_MB} MB",
            f"Max Memory Used: {mem} MB",
        ]
        if init_ms is not None:
            fields.append(f"Init Duration: {init_ms:.2f} ms")
        text = f"REPORT RequestId: {rid}\t" + "\t".join(fields + (status or [])) + ("" if status else "\t") + "\n"
        metrics = {
            "durationMs": round(elapsed_ms, 3),
            "billedDurationMs": billed,
            "memorySizeMB": MEMORY_MB,
            "maxMemoryUsedMB": mem,
        }
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        record = {"requestId": rid, "metrics": metrics, "status": outcome.status}
        if status and outcome.status == "error" and outcome.error_type:
            record["errorType"] = outcome.error_type
        sb.platform(text, "platform.report", record, ts)

    def _timed_out(self, sb: Sandbox, job: _Pending, init_ms) -> Outcome:
        self.api.drop(job)
        sb.kill()
        outcome = Outcome("timeout", "Sandbox.Timedout")
        elapsed = self.fn.timeout_s * 1000.0
        rid = job.request_id
        if self.legacy_timeout_line:
            # The platform before its 2024/25 log change: no Status on REPORT, a line of its own.
            self._end(sb, rid, elapsed, init_ms, outcome)
            if self.fn.log_format != "JSON":
                sb.emit(f"{_iso_ms(_now_ms())} {rid} Task timed out after {self.fn.timeout_s:.2f} seconds\n")
        else:
            self._end(sb, rid, elapsed, init_ms, outcome, ["Status: timeout"])
        return outcome

    def _init_failed(self, rid: str, event: dict) -> Outcome:
        """Lambda reports the failed init, retries it inside the invocation, then fails the invocation."""
        sb = self.sandbox
        etype = (self.api.init_error or {}).get("type") or "Runtime.ExitError"
        self._init_report(sb, sb.init_ms, "init", etype)
        sb.kill()
        # Lambda runs the init again during the invoke phase, in the same environment.
        retry = Sandbox(self.fn, self.api, self.events, sb.stream)
        self.sandbox = retry
        t0 = time.monotonic()
        retry._spawn()
        while not retry.api.polled.is_set() and retry.proc.poll() is None:
            retry.peak_rss_mb()
            if time.monotonic() - t0 > self.fn.timeout_s:
                break
            time.sleep(0.005)
        init2 = (time.monotonic() - t0) * 1000
        if retry.api.polled.is_set():  # the second init worked (it does not for a broken package)
            return self._run(retry, rid, event, init2)
        retry._wait_readers()
        etype = (self.api.init_error or {}).get("type") or etype
        self._init_report(retry, init2, "invoke", etype)
        start_ts = _now_ms()
        retry.platform(f"START RequestId: {rid} Version: $LATEST\n", "platform.start", {"requestId": rid, "version": "$LATEST"}, start_ts)
        outcome = Outcome("error", etype)
        self._end(retry, rid, init2, None, outcome, ["Status: error", f"Error Type: {etype}"])
        retry.kill()
        self.sandbox = None
        return outcome

    def _init_report(self, sb: Sandbox, ms: float, phase: str, etype: str):
        sb.platform(
            f"INIT_REPORT Init Duration: {ms:.2f} ms\tPhase: {phase}\tStatus: error\tError Type: {etype}\n",
            "platform.initReport",
            {
                "initializationType": "on-demand",
                "phase": phase,
                "status": "error",
                "errorType": etype,
                "metrics": {"durationMs": round(ms, 3)},
            },
        )

    def shutdown(self):
        if self.sandbox:
            self.sandbox.kill()
