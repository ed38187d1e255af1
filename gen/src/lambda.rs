//! What a Lambda function writes to CloudWatch: the platform lines (INIT_START, START, END,
//! REPORT, the legacy timeout line, INIT_REPORT), the Python runtime's `[LEVEL]` lines and
//! unhandled-error blocks, and their Lambda JSON log format equivalents. Every string is the one
//! the Lambda runtime prints (aws/aws-lambda-python-runtime-interface-client,
//! `awslambdaric/bootstrap.py`; `docs/log-formats.md`, "What Lambda writes"), byte for byte: TABs,
//! the trailing TAB of older REPORT lines, U+00A0 traceback indentation, `\r` after LAMBDA_WARNING.

use std::fmt::Write as _;
use std::rc::Rc;

use rotdiag::time::{self, Civil, EpochMs};

use super::rng::Rng;

// ---------------------------------------------------------------------------------------------
// Time

/// Event time: milliseconds since the Unix epoch (UTC), as rotdiag reads it.
pub type Ms = EpochMs;

/// `2025-04-10T09:31:22.507Z`
pub fn iso_ms(ms: Ms) -> String {
    time::format_iso(ms)
}

pub fn push_iso_ms(s: &mut String, ms: Ms) {
    time::push_iso(s, ms);
}

/// `2025-04-10T09:31:22Z` (the Lambda JSON log format's second precision).
pub fn iso_s(ms: Ms) -> String {
    let c = Civil::of(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `2025/04/10`, the date part of a Lambda log stream name.
pub fn ymd_slash(ms: Ms) -> String {
    let c = Civil::of(ms);
    format!("{:04}/{:02}/{:02}", c.year, c.month, c.day)
}

/// Hundredths of a millisecond, printed as REPORT prints durations: `20011.36`.
pub fn ms2(centi: i64) -> String {
    format!("{}.{:02}", centi / 100, centi % 100)
}

// ---------------------------------------------------------------------------------------------
// JSON strings

/// Appends `s` as a JSON string literal the way Python's `json.dumps(ensure_ascii=False)` writes
/// it: `"`, `\` and control characters escaped, everything else (U+00A0, accents) raw.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_json_str(&mut out, s);
    out
}

// ---------------------------------------------------------------------------------------------
// Functions and their execution environments

/// How the runtime reports an unhandled exception's LAMBDA_WARNING: it changed over the releases of
/// aws/aws-lambda-python-runtime-interface-client (`awslambdaric/bootstrap.py`, `log_error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning {
    /// python3.8–3.11, RIC < 2.0.9, or 3.1.1+ (invoke errors): no warning line.
    None,
    /// RIC 2.0.10–3.0.0: a raw event `LAMBDA_WARNING: …\r`.
    Raw,
    /// RIC 3.0.1–3.1.0: `[WARNING]\t<ts>\t<id>\tLAMBDA_WARNING: …\r\n`.
    Prefixed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Python,
    Node,
}

/// A Lambda function and how its logs look.
pub struct Function {
    pub name: String,
    pub region: &'static str,
    pub account: String,
    pub role: String,
    pub runtime: Runtime,
    /// `python:3.12.v48`
    pub runtime_version: String,
    pub runtime_arn: String,
    /// `3.12`: where botocore lives in tracebacks.
    pub py: &'static str,
    pub memory_mb: u32,
    pub timeout_ms: i64,
    /// LoggingConfig LogFormat=JSON.
    pub json_logs: bool,
    /// The platform before mid-2025: `Task timed out after N.NN seconds`, no `Status:` field.
    pub legacy_platform: bool,
    /// Success REPORT lines end with a TAB (older platform builds).
    pub report_tab: bool,
    pub warning: Warning,
}

impl Function {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account, self.name
        )
    }

    /// Where botocore is installed: bundled in /var/runtime before python3.12.
    pub fn botocore_dir(&self) -> String {
        match self.py {
            "3.12" | "3.13" => format!("/var/lang/lib/python{}/site-packages/botocore", self.py),
            _ => "/var/runtime/botocore".to_string(),
        }
    }
}

/// One execution environment of a function: one log stream.
pub struct Env {
    pub stream: Rc<str>,
    pub function: usize,
    /// The next invocation is the environment's first (INIT_START, Init Duration).
    pub cold: bool,
    /// botocore's credential line was printed already (once per environment).
    pub creds_logged: bool,
    /// Event time after which the environment is free again.
    pub busy_until: Ms,
}

impl Env {
    pub fn new(rng: &mut Rng, function: usize, at: Ms) -> Env {
        let version = if rng.chance(60) {
            rng.range(2, 40).to_string()
        } else {
            "$LATEST".to_string()
        };
        Env {
            stream: Rc::from(format!("{}/[{version}]{}", ymd_slash(at), rng.hex(32))),
            function,
            cold: true,
            creds_logged: false,
            busy_until: at,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Traceback frames

/// One traceback frame: file, line, function, source line.
#[derive(Clone)]
pub struct Frame {
    pub file: String,
    pub line: u32,
    pub func: &'static str,
    pub code: String,
}

pub fn frame(file: &str, line: u32, func: &'static str, code: &str) -> Frame {
    Frame {
        file: file.to_string(),
        line,
        func,
        code: code.to_string(),
    }
}

/// The frames botocore adds under a client call that got an error response.
pub fn botocore_client_error(f: &Function) -> Vec<Frame> {
    let b = f.botocore_dir();
    vec![
        frame(
            &format!("{b}/client.py"),
            569,
            "_api_call",
            "return self._make_api_call(operation_name, kwargs)",
        ),
        frame(
            &format!("{b}/client.py"),
            1023,
            "_make_api_call",
            "raise error_class(parsed_response, operation_name)",
        ),
    ]
}

/// The long chain of frames botocore adds when a connection fails after its retries
/// (EndpointConnectionError / ConnectTimeoutError): the retry handler, hooks and HTTP session.
pub fn botocore_connection_error(f: &Function, raise: &str) -> Vec<Frame> {
    let b = f.botocore_dir();
    let frames: [(&str, u32, &'static str, &str); 19] = [
        (
            "client.py",
            569,
            "_api_call",
            "return self._make_api_call(operation_name, kwargs)",
        ),
        (
            "client.py",
            1005,
            "_make_api_call",
            "http, parsed_response = self._make_request(",
        ),
        (
            "client.py",
            1029,
            "_make_request",
            "return self._endpoint.make_request(operation_model, request_dict)",
        ),
        (
            "endpoint.py",
            119,
            "make_request",
            "return self._send_request(request_dict, operation_model)",
        ),
        (
            "endpoint.py",
            200,
            "_send_request",
            "while self._needs_retry(",
        ),
        (
            "endpoint.py",
            360,
            "_needs_retry",
            "responses = self._event_emitter.emit(",
        ),
        (
            "hooks.py",
            412,
            "emit",
            "return self._emitter.emit(aliased_event_name, **kwargs)",
        ),
        (
            "hooks.py",
            256,
            "emit",
            "return self._emit(event_name, kwargs)",
        ),
        ("hooks.py", 239, "_emit", "response = handler(**kwargs)"),
        (
            "retryhandler.py",
            207,
            "__call__",
            "if self._checker(**checker_kwargs):",
        ),
        (
            "retryhandler.py",
            284,
            "__call__",
            "should_retry = self._should_retry(",
        ),
        (
            "retryhandler.py",
            320,
            "_should_retry",
            "return self._checker(attempt_number, response, caught_exception)",
        ),
        (
            "retryhandler.py",
            363,
            "__call__",
            "checker_response = checker(",
        ),
        (
            "retryhandler.py",
            247,
            "__call__",
            "return self._check_caught_exception(",
        ),
        (
            "retryhandler.py",
            416,
            "_check_caught_exception",
            "raise caught_exception",
        ),
        (
            "endpoint.py",
            279,
            "_do_get_response",
            "http_response = self._send(request)",
        ),
        (
            "endpoint.py",
            383,
            "_send",
            "return self.http_session.send(request)",
        ),
        ("httpsession.py", 493, "send", raise),
        ("", 0, "", ""),
    ];
    frames
        .iter()
        .filter(|(file, ..)| !file.is_empty())
        .map(|&(file, line, func, code)| {
            let line = if file == "httpsession.py" && raise.contains("ConnectTimeout") {
                500
            } else {
                line
            };
            frame(&format!("{b}/{file}"), line, func, code)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One invocation

/// The events of one invocation (with the INIT lines of a cold start before it), in order.
pub struct Block {
    pub stream: Rc<str>,
    /// The function whose log group holds the stream (an index into the world's functions).
    pub function: usize,
    /// Time of the first event.
    pub ts: Ms,
    pub events: Vec<(Ms, String)>,
}

/// How an invocation ended.
pub enum End {
    /// The handler returned or raised: REPORT without a status.
    Returned,
    /// Killed at the function timeout.
    Timeout,
    /// The runtime died (out of memory): `Runtime exited with error: signal: killed`.
    OutOfMemory,
    /// Init failed before the handler ran (`Status: error`, `Error Type: <type>`).
    InitError(&'static str),
}

/// Writes one invocation's events. Created by [`Inv::begin`], finished by [`Inv::end`].
pub struct Inv<'f> {
    pub f: &'f Function,
    pub rid: String,
    /// The time of the last event (a cursor that log calls advance).
    pub t: Ms,
    start: Ms,
    init_centi: Option<i64>,
    block: Block,
    /// Lines written (events); counted by the caller.
    pub lines: u32,
    /// The configured timeout the platform enforces.
    pub timeout_ms: Ms,
    /// The handler raised (an unhandled-error block was written).
    pub raised: bool,
}

const LAMBDA_WARNING: &str = "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If this error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily rolling back to the previous runtime version. For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html";

impl<'f> Inv<'f> {
    /// Starts an invocation in `env` no earlier than `at`: INIT_START first when the environment
    /// is cold (the START then follows the init phase).
    pub fn begin(rng: &mut Rng, f: &'f Function, env: &mut Env, at: Ms) -> Inv<'f> {
        let mut inv = Inv {
            f,
            rid: rng.uuid(),
            t: at,
            start: at,
            init_centi: None,
            block: Block {
                stream: env.stream.clone(),
                function: env.function,
                ts: at,
                events: Vec::with_capacity(8),
            },
            lines: 0,
            timeout_ms: f.timeout_ms,
            raised: false,
        };
        if env.cold {
            env.cold = false;
            inv.init_start(at);
            let init = rng.range(36_000, 62_000);
            inv.init_centi = Some(init);
            inv.t = at + init / 100 + rng.range(1, 12);
        }
        inv.start = inv.t;
        inv.start_line();
        inv
    }

    /// An init phase that fails (ImportModuleError): the error, INIT_REPORT Phase: init, the
    /// suppressed retry during the invoke (error again, INIT_REPORT Phase: invoke), then START.
    pub fn begin_init_failure(
        rng: &mut Rng,
        f: &'f Function,
        env: &mut Env,
        at: Ms,
        error_type: &'static str,
        error: &str,
    ) -> Inv<'f> {
        let mut inv = Inv {
            f,
            rid: rng.uuid(),
            t: at,
            start: at,
            init_centi: None,
            block: Block {
                stream: env.stream.clone(),
                function: env.function,
                ts: at,
                events: Vec::with_capacity(10),
            },
            lines: 0,
            timeout_ms: f.timeout_ms,
            raised: false,
        };
        env.cold = false;
        inv.init_start(at);
        for phase in ["init", "invoke"] {
            let init = rng.range(19_000, 26_000);
            inv.t += init / 100;
            let text = format!("[ERROR] {error_type}: {error}\nTraceback (most recent call last):");
            if f.json_logs {
                let mut s = String::with_capacity(200);
                s.push_str("{\"timestamp\": \"");
                s.push_str(&iso_s(inv.t));
                s.push_str("\", \"log_level\": \"ERROR\", \"errorMessage\": ");
                push_json_str(&mut s, error);
                s.push_str(", \"errorType\": ");
                push_json_str(&mut s, error_type);
                s.push_str(", \"requestId\": \"\", \"stackTrace\": []}");
                inv.push(inv.t, s);
            } else {
                inv.push(inv.t, text);
            }
            inv.t += 3;
            let line = if f.json_logs {
                format!(
                    "{{\"time\":\"{}\",\"type\":\"platform.initReport\",\"record\":{{\"initializationType\":\"on-demand\",\"phase\":\"{phase}\",\"status\":\"error\",\"errorType\":\"{error_type}\",\"metrics\":{{\"durationMs\":{}}}}}}}",
                    iso_ms(inv.t),
                    ms2(init)
                )
            } else {
                format!(
                    "INIT_REPORT Init Duration: {} ms\tPhase: {phase}\tStatus: error\tError Type: {error_type}\n",
                    ms2(init)
                )
            };
            inv.push(inv.t, line);
            inv.t += rng.range(150, 240);
        }
        inv.t += 1;
        inv.start = inv.t;
        inv.start_line();
        inv
    }

    fn push(&mut self, t: Ms, msg: String) {
        self.block.events.push((t, msg));
        self.lines += 1;
    }

    fn init_start(&mut self, at: Ms) {
        let f = self.f;
        let line = if f.json_logs {
            format!(
                "{{\"time\":\"{}\",\"type\":\"platform.initStart\",\"record\":{{\"initializationType\":\"on-demand\",\"phase\":\"init\",\"runtimeVersion\":\"{}\",\"runtimeVersionArn\":\"{}\",\"functionName\":\"{}\",\"functionVersion\":\"$LATEST\",\"instanceId\":\"{}\",\"instanceMaxMemory\":{}}}}}",
                iso_ms(at),
                f.runtime_version,
                f.runtime_arn,
                f.name,
                self.block.stream,
                f.memory_mb as u64 * 1024 * 1024
            )
        } else {
            format!(
                "INIT_START Runtime Version: {}\tRuntime Version ARN: {}\n",
                f.runtime_version, f.runtime_arn
            )
        };
        self.push(at, line);
    }

    fn start_line(&mut self) {
        let line = if self.f.json_logs {
            format!(
                "{{\"time\":\"{}\",\"type\":\"platform.start\",\"record\":{{\"requestId\":\"{}\",\"functionArn\":\"{}\",\"version\":\"$LATEST\"}}}}",
                iso_ms(self.t),
                self.rid,
                self.f.arn()
            )
        } else {
            format!("START RequestId: {} Version: $LATEST\n", self.rid)
        };
        self.push(self.t, line);
    }

    /// botocore's credential line printed at import time (a module-level client): no request id,
    /// before the START line.
    pub fn init_credentials(&mut self, env: &mut Env) {
        if env.creds_logged {
            return;
        }
        env.creds_logged = true;
        let Some((start_t, _)) = self.block.events.last() else {
            return;
        };
        let t = start_t - 3;
        let line = if self.f.json_logs {
            format!(
                "{{\"timestamp\": \"{}\", \"level\": \"INFO\", \"message\": \"Found credentials in environment variables.\", \"logger\": \"botocore.credentials\"}}\n",
                iso_s(t)
            )
        } else {
            format!(
                "[INFO]\t{}\t\tFound credentials in environment variables.\n",
                iso_ms(t)
            )
        };
        let at = self.block.events.len() - 1;
        self.block.events.insert(at, (t, line));
        self.lines += 1;
    }

    /// Advances the cursor by `dt` ms.
    pub fn wait(&mut self, dt: Ms) {
        self.t += dt;
    }

    /// A Python `logging` record: `[LEVEL]\t<ts>\t<request id>\t<msg>\n`, or its JSON record.
    pub fn log(&mut self, dt: Ms, level: &str, logger: &str, msg: &str) {
        self.t += dt;
        let t = self.t;
        let line = match (self.f.runtime, self.f.json_logs) {
            (Runtime::Node, false) => {
                let mut s = String::with_capacity(msg.len() + 64);
                push_iso_ms(&mut s, t);
                let lvl = if level == "WARNING" { "WARN" } else { level };
                let _ = writeln!(s, "\t{}\t{lvl}\t{msg}", self.rid);
                s
            }
            (_, true) => {
                let mut s = String::with_capacity(msg.len() + 128);
                s.push_str("{\"timestamp\": \"");
                s.push_str(&iso_s(t));
                s.push_str("\", \"level\": \"");
                s.push_str(level);
                s.push_str("\", \"message\": ");
                push_json_str(&mut s, msg);
                s.push_str(", \"logger\": \"");
                s.push_str(logger);
                s.push_str("\", \"requestId\": \"");
                s.push_str(&self.rid);
                s.push_str("\"}\n");
                s
            }
            (Runtime::Python, false) => {
                let mut s = String::with_capacity(msg.len() + 64);
                s.push('[');
                s.push_str(level);
                s.push_str("]\t");
                push_iso_ms(&mut s, t);
                s.push('\t');
                s.push_str(&self.rid);
                s.push('\t');
                s.push_str(msg);
                s.push('\n');
                s
            }
        };
        self.push(t, line);
    }

    pub fn info(&mut self, dt: Ms, msg: &str) {
        self.log(dt, "INFO", "root", msg);
    }

    pub fn error(&mut self, dt: Ms, msg: &str) {
        self.log(dt, "ERROR", "root", msg);
    }

    /// `print()` output: the text as is.
    pub fn print(&mut self, dt: Ms, msg: &str) {
        self.t += dt;
        self.push(self.t, format!("{msg}\n"));
    }

    /// botocore's credential line, on an environment's first boto3 client.
    pub fn credentials(&mut self, env: &mut Env, dt: Ms) {
        if !env.creds_logged {
            env.creds_logged = true;
            self.log(
                dt,
                "INFO",
                "botocore.credentials",
                "Found credentials in environment variables.",
            );
        }
    }

    /// An unhandled exception, as the runtime prints it: the LAMBDA_WARNING (depending on the
    /// runtime build), then `[ERROR] <type>: <message>` and the traceback indented with U+00A0.
    pub fn unhandled(&mut self, dt: Ms, etype: &str, emsg: &str, frames: &[Frame]) {
        self.t += dt;
        self.raised = true;
        let t = self.t;
        match (self.f.warning, self.f.json_logs) {
            (Warning::None, _) => {}
            (Warning::Raw, _) => self.push(t, format!("{LAMBDA_WARNING}\r")),
            (Warning::Prefixed, false) => {
                let mut s = String::with_capacity(LAMBDA_WARNING.len() + 80);
                s.push_str("[WARNING]\t");
                push_iso_ms(&mut s, t);
                let _ = write!(s, "\t{}\t{LAMBDA_WARNING}\r\n", self.rid);
                self.push(t, s);
            }
            (Warning::Prefixed, true) => {
                let mut s = String::with_capacity(LAMBDA_WARNING.len() + 160);
                let _ = write!(
                    s,
                    "{{\"timestamp\": \"{}\", \"level\": \"WARNING\", \"message\": ",
                    iso_s(t)
                );
                push_json_str(&mut s, &format!("{LAMBDA_WARNING}\r"));
                let _ = writeln!(
                    s,
                    ", \"logger\": \"root\", \"requestId\": \"{}\"}}",
                    self.rid
                );
                self.push(t, s);
            }
        }
        let line = if self.f.json_logs {
            let mut s = String::with_capacity(256 + frames.len() * 120);
            s.push_str("{\"timestamp\": \"");
            s.push_str(&iso_s(t));
            s.push_str("\", \"log_level\": \"ERROR\", \"errorMessage\": ");
            push_json_str(&mut s, emsg);
            s.push_str(", \"errorType\": ");
            push_json_str(&mut s, etype);
            let _ = write!(s, ", \"requestId\": \"{}\", \"stackTrace\": [", self.rid);
            for (i, fr) in frames.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                push_json_str(
                    &mut s,
                    &format!(
                        "  File \"{}\", line {}, in {}\n    {}\n",
                        fr.file, fr.line, fr.func, fr.code
                    ),
                );
            }
            s.push_str("]}");
            s
        } else {
            let mut s = String::with_capacity(128 + frames.len() * 120);
            s.push_str("[ERROR] ");
            s.push_str(etype);
            if !emsg.is_empty() {
                s.push_str(": ");
                s.push_str(emsg);
            }
            s.push_str("\nTraceback (most recent call last):");
            for fr in frames {
                let _ = write!(
                    s,
                    "\n\u{a0}\u{a0}File \"{}\", line {}, in {}\n\u{a0}\u{a0}\u{a0}\u{a0}{}",
                    fr.file, fr.line, fr.func, fr.code
                );
            }
            s
        };
        self.push(t, line);
    }

    /// A Node.js unhandled rejection (`ERROR\tInvoke Error \t{…}`).
    pub fn node_invoke_error(&mut self, dt: Ms, etype: &str, emsg: &str, stack: &[&str]) {
        self.t += dt;
        self.raised = true;
        let mut s = String::with_capacity(256);
        push_iso_ms(&mut s, self.t);
        let _ = write!(
            s,
            "\t{}\tERROR\tInvoke Error \t{{\"errorType\":{},\"errorMessage\":{},\"stack\":[",
            self.rid,
            json_str(etype),
            json_str(emsg)
        );
        for (i, l) in stack.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_json_str(&mut s, l);
        }
        s.push_str("]}\n");
        self.push(self.t, s);
    }

    /// Ends the invocation: END and REPORT (or the JSON platform.report), and the legacy timeout
    /// line. Returns the finished block; the environment is busy until its last event.
    pub fn end(mut self, rng: &mut Rng, env: &mut Env, how: End) -> Block {
        let f = self.f;
        let timeout = self.timeout_ms;
        let (end_t, centi) = match how {
            End::Timeout if f.legacy_platform => {
                let c = timeout * 100 + rng.range(100, 4000);
                (self.start + c / 100, c)
            }
            End::Timeout => (self.start + timeout, timeout * 100),
            _ => {
                let t = self.t + rng.range(2, 12);
                let c = (t - self.start) * 100 + rng.range(0, 100);
                (t, c)
            }
        };
        let billed = match (&how, f.legacy_platform) {
            (End::Timeout, true) => timeout,
            (_, legacy) => {
                let mut c = centi;
                if !legacy && let Some(i) = self.init_centi {
                    c += i;
                }
                (c + 99) / 100
            }
        };
        let used = match how {
            End::OutOfMemory => f.memory_mb as i64 - 1,
            End::InitError(_) => rng.range(38, 44),
            _ => rng.range(78, 92).min(f.memory_mb as i64 - 20),
        };
        if let End::OutOfMemory = how {
            let text = format!(
                "RequestId: {} Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n",
                self.rid
            );
            self.push(end_t, text);
        }
        if f.json_logs {
            let status = match how {
                End::Returned => "\"status\":\"success\"".to_string(),
                End::Timeout => "\"status\":\"timeout\"".to_string(),
                End::OutOfMemory => {
                    "\"status\":\"error\",\"errorType\":\"Runtime.OutOfMemory\"".to_string()
                }
                End::InitError(t) => format!("\"status\":\"error\",\"errorType\":\"{t}\""),
            };
            let init = self
                .init_centi
                .map(|i| format!(",\"initDurationMs\":{}", ms2(i)))
                .unwrap_or_default();
            let line = format!(
                "{{\"time\":\"{}\",\"type\":\"platform.report\",\"record\":{{\"requestId\":\"{}\",\"metrics\":{{\"durationMs\":{},\"billedDurationMs\":{billed},\"memorySizeMB\":{},\"maxMemoryUsedMB\":{used}{init}}},{status}}}}}",
                iso_ms(end_t),
                self.rid,
                ms2(centi),
                f.memory_mb
            );
            self.push(end_t, line);
        } else {
            self.push(end_t, format!("END RequestId: {}\n", self.rid));
            let mut r = String::with_capacity(200);
            let _ = write!(
                r,
                "REPORT RequestId: {}\tDuration: {} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {used} MB",
                self.rid,
                ms2(centi),
                f.memory_mb
            );
            if let Some(i) = self.init_centi {
                let _ = write!(r, "\tInit Duration: {} ms", ms2(i));
            }
            let status = match how {
                End::Returned => None,
                End::Timeout if f.legacy_platform => None,
                End::Timeout => Some("\tStatus: timeout".to_string()),
                End::OutOfMemory => Some("\tStatus: error\tError Type: Runtime.OutOfMemory".into()),
                End::InitError(t) => Some(format!("\tStatus: error\tError Type: {t}")),
            };
            match status {
                Some(s) => {
                    r.push_str(&s);
                    r.push('\n');
                }
                None if f.report_tab || f.legacy_platform => r.push_str("\t\n"),
                None => r.push('\n'),
            }
            self.push(end_t, r);
            if matches!(how, End::Timeout) && f.legacy_platform {
                let mut s = String::with_capacity(100);
                push_iso_ms(&mut s, end_t - 1);
                let _ = writeln!(
                    s,
                    " {} Task timed out after {} seconds",
                    self.rid,
                    ms2(centi / 1000)
                );
                self.push(end_t, s);
            }
        }
        env.busy_until = end_t;
        self.block
    }
}
