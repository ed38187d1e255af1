//! The message catalog (`rules/catalog/*.toml`, schema in its README) and the runtimes' log shapes
//! a catalogued message reaches CloudWatch in.
//!
//! A message is rendered two ways: [`bare`], as people paste it (the text, with the exception's
//! type in front the way the language prints an exception), and [`invocation`], as the events of
//! one invocation of a function in its language's runtime, with the lines the same code path
//! prints before and after it (`preceded_by`, `followed_by`) and the duration it is catalogued
//! with. The shapes are the runtimes' own, as the headers of the catalog's runtime files record
//! them (`python-runtime.toml`, `node-runtime.toml`, `java-runtime.toml`, `go-runtime.toml`,
//! `dotnet-runtime.toml`, `lambda-platform.toml`), and as the real runs (`scripts/real-runs/`)
//! recorded the Python runtime's.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use super::render::Event;

/// One catalogued message, the fields the tests read.
#[derive(Deserialize, Debug, Clone)]
pub struct Message {
    pub id: String,
    pub text: String,
    pub kind: String,
    pub exception: Option<String>,
    pub language: String,
    pub engine: String,
    pub step: String,
    pub phase: String,
    pub cause: Option<String>,
    pub role: Option<String>,
    pub bare_cause: Option<String>,
    /// The logging level of a `kind = "log"` message, where it is not the default (ERROR for a
    /// failure, INFO for a context line).
    pub level: Option<String>,
    #[serde(default)]
    pub preceded_by: Vec<String>,
    #[serde(default)]
    pub followed_by: Vec<String>,
    pub invocation: Option<InvocationFacts>,
    #[serde(default)]
    pub properties: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub caused_by: Vec<Cause>,
    /// Where the message can appear: `bare` (a paste), `invocation` (a function's logs). Both
    /// when absent; `why_contexts` says why one is missing.
    pub contexts: Option<Vec<String>>,
    pub why_contexts: Option<String>,
    /// Stack frames the runtime prints with the exception, where they are evidence.
    #[serde(default)]
    pub frames: Vec<String>,
    pub new_cause: Option<bool>,
    /// The file it is catalogued in.
    #[serde(skip)]
    pub file: String,
}

#[derive(Deserialize, Debug, Clone, Copy)]
pub struct InvocationFacts {
    pub duration_ms: f64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Cause {
    pub exception: String,
    pub text: String,
}

#[derive(Deserialize)]
struct File {
    message: Vec<Message>,
}

impl Message {
    pub fn is_context(&self) -> bool {
        self.role.as_deref() == Some("context")
    }

    /// Can it appear in this context (`bare` or `invocation`)?
    pub fn appears(&self, context: &str) -> bool {
        self.contexts
            .as_ref()
            .is_none_or(|c| c.iter().any(|x| x == context))
    }

    /// The exception's short name: the last part of a dotted type (`java.net.ConnectException`
    /// -> `ConnectException`), kept whole for the Lambda runtime's own `Runtime.*` types.
    fn short_exception(&self) -> &str {
        let e = self.exception.as_deref().unwrap_or("Error");
        if e.starts_with("Runtime.") {
            return e;
        }
        e.rsplit('.').next().unwrap_or(e)
    }
}

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/catalog")
}

/// Every message of every catalog file, in file order.
pub fn load() -> Vec<Message> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir())
        .expect("rules/catalog/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let parsed: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for mut m in parsed.message {
            m.file = name.clone();
            out.push(m);
        }
    }
    out
}

/// The message as people paste it: an exception with its type in front, as the language prints
/// one (`OperationalError: (1045, …)`, `java.net.ConnectException: Connection refused`; Go
/// prints only the text), anything else as it is.
pub fn bare(m: &Message) -> String {
    let typed = m.kind == "exception" && m.language != "go";
    match (typed, m.text.is_empty()) {
        (true, true) => m.exception.clone().unwrap_or_default(),
        (true, false) => format!("{}: {}", m.exception.as_deref().unwrap_or("Error"), m.text),
        (false, _) => m.text.clone(),
    }
}

/// The runtimes (and log formats) an invocation is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// awslambdaric, text log format.
    PythonText,
    /// awslambdaric, `LogFormat=JSON`.
    PythonJson,
    /// The Node.js runtime's text log format (`Invoke Error`).
    Node,
    /// The Java runtime (the exception's report, one event).
    Java,
    /// aws-lambda-go on `provided.al2023` (the standard logger's JSON line).
    Go,
    /// Amazon.Lambda.RuntimeSupport's text log format (`fail`).
    Dotnet,
}

impl Runtime {
    /// The runtimes a message of `language` is rendered in. A service's text (`any`) reaches a
    /// function through an SDK: the Node one surfaces it unchanged, as the error's name and
    /// message.
    pub fn for_language(language: &str, kind: &str) -> &'static [Runtime] {
        match (language, kind) {
            ("python", _) => &[Runtime::PythonText, Runtime::PythonJson],
            // The platform's own lines are the same whatever the function is written in.
            ("any", "platform") => &[Runtime::PythonText],
            ("node" | "any", _) => &[Runtime::Node],
            ("java", _) => &[Runtime::Java],
            ("go", _) => &[Runtime::Go],
            ("dotnet", _) => &[Runtime::Dotnet],
            _ => panic!("unknown language {language}"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Runtime::PythonText => "python-text",
            Runtime::PythonJson => "python-json",
            Runtime::Node => "node",
            Runtime::Java => "java",
            Runtime::Go => "go",
            Runtime::Dotnet => "dotnet",
        }
    }
}

/// The example values of the catalog (templates.toml's header).
pub const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/db-a1B2c3";
pub const TOKEN: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const RID: &str = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a";
const STREAM: &str = "2024/05/01/[$LATEST]0f2857a05dbb83d3c5b81e9557ee81e1";
/// 2024-05-01T12:00:00Z.
const T0: i64 = 1_714_564_800_000;
const RUNTIME_ARN: &str = "arn:aws:lambda:us-east-1::runtime:c6d704f1db22317296020cbbd9634ff328cb1c2b99a3a246d74748220a22d0c4";

/// One invocation: what it printed, in order, and how long it ran.
struct Invocation<'a> {
    runtime: Runtime,
    rid: String,
    seq: Vec<&'a Message>,
    failure: &'a Message,
    duration_ms: f64,
    events: Vec<Event>,
    ts: i64,
}

/// The events of one invocation of `m`'s function in `runtime`: its own lines, the catalogued
/// lines around it, and the platform's.
pub fn invocation(m: &Message, runtime: Runtime, by_id: &BTreeMap<&str, &Message>) -> Vec<Event> {
    let lookup = |ids: &[String]| -> Vec<&Message> {
        ids.iter()
            .map(|id| {
                *by_id
                    .get(id.as_str())
                    .unwrap_or_else(|| panic!("{}: unknown message {id}", m.id))
            })
            .collect()
    };
    let mut seq = lookup(&m.preceded_by);
    seq.push(m);
    seq.extend(lookup(&m.followed_by));
    let duration_ms = m.invocation.map_or(380.0, |i| i.duration_ms);
    // A platform line carries its own request id: the invocation is that one.
    let rid = seq
        .iter()
        .find_map(|x| request_id_in(&x.text))
        .unwrap_or_else(|| RID.to_string());
    let mut inv = Invocation {
        runtime,
        rid,
        seq,
        failure: m,
        duration_ms,
        events: Vec::new(),
        ts: T0,
    };
    inv.render();
    inv.events
}

/// A request id a platform or runtime line names (`RequestId: <id>`, `<ts>\t<id>\t`, `<ts> <id> `).
fn request_id_in(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    let candidates = [
        first.split("RequestId: ").nth(1),
        first.split(['\t', ' ']).nth(1),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|s| s.get(..36).unwrap_or(""))
        .find(|s| is_uuid(s))
        .map(str::to_owned)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Invocation<'_> {
    fn push(&mut self, message: impl Into<String>) {
        self.ts += 7;
        self.events.push(Event::new(self.ts, STREAM, message));
    }

    fn iso(&self) -> String {
        rotdiag::time::format_iso(self.ts + 7)
    }

    fn init(&self) -> bool {
        self.failure.step == "init"
    }

    fn json(&self) -> bool {
        self.runtime == Runtime::PythonJson
    }

    fn render(&mut self) {
        if self.init() {
            self.init_phase();
        } else {
            self.start();
            self.event_dump();
            for i in 0..self.seq.len() {
                self.line(self.seq[i]);
            }
        }
        self.end();
    }

    /// A cold start whose init failed: INIT_START, the error, INIT_REPORT with its status, then
    /// the invocation, which fails with the same error (the real runs' Python shape).
    fn init_phase(&mut self) {
        let version = match self.runtime {
            Runtime::PythonText | Runtime::PythonJson => "python:3.12.v48",
            Runtime::Node => "nodejs:20.v30",
            Runtime::Java => "java:21.v22",
            Runtime::Go => "provided:al2023.v80",
            Runtime::Dotnet => "dotnet:8.v35",
        };
        if self.json() {
            self.push(json!({"time": self.iso(), "type": "platform.initStart", "record": {"initializationType": "on-demand", "phase": "init", "runtimeVersion": version, "runtimeVersionArn": RUNTIME_ARN, "functionName": "SecretsManagerRotationFunction", "functionVersion": "$LATEST"}}).to_string());
        } else {
            self.push(format!(
                "INIT_START Runtime Version: {version}\tRuntime Version ARN: {RUNTIME_ARN}"
            ));
        }
        let seq = self.seq.clone();
        for m in &seq {
            self.line(m);
        }
        let error_type = self.error_type();
        if !seq.iter().any(|m| m.text.starts_with("INIT_REPORT")) {
            if self.json() {
                self.push(json!({"time": self.iso(), "type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init", "status": "error", "errorType": error_type, "metrics": {"durationMs": 246.37}}}).to_string());
            } else {
                self.push(format!("INIT_REPORT Init Duration: 246.37 ms\tPhase: init\tStatus: error\tError Type: {error_type}"));
            }
        }
        self.start();
    }

    /// The error type the platform reports for a failed init.
    fn error_type(&self) -> String {
        match self.failure.exception.as_deref() {
            Some(e) if e.starts_with("Runtime.") => e.to_string(),
            _ => "Runtime.Unknown".to_string(),
        }
    }

    fn start(&mut self) {
        let rid = self.rid.clone();
        if self.json() {
            self.push(json!({"time": self.iso(), "type": "platform.start", "record": {"requestId": rid, "version": "$LATEST"}}).to_string());
        } else {
            self.push(format!("START RequestId: {rid} Version: $LATEST"));
        }
    }

    /// END and REPORT, unless the catalogued lines hold the platform's own (a REPORT with a
    /// status, the legacy timeout line, which follows REPORT).
    fn end(&mut self) {
        let rid = self.rid.clone();
        let has_report = self.seq.iter().any(|m| m.text.starts_with("REPORT "));
        if has_report {
            return;
        }
        let d = self.duration_ms;
        let timed_out = self
            .seq
            .iter()
            .any(|m| m.text.contains("Task timed out after"));
        if self.json() {
            let status = if self.seq.iter().any(|m| m.kind == "exception") {
                "error"
            } else {
                "success"
            };
            self.push(json!({"time": self.iso(), "type": "platform.report", "record": {"requestId": rid, "metrics": {"durationMs": d, "billedDurationMs": d.ceil(), "memorySizeMB": 128, "maxMemoryUsedMB": 86}, "status": status}}).to_string());
            return;
        }
        self.push(format!("END RequestId: {rid}"));
        let report = format!(
            "REPORT RequestId: {rid}\tDuration: {d:.2} ms\tBilled Duration: {:.0} ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB\t",
            d.ceil()
        );
        if timed_out {
            // The legacy timeout line comes after REPORT; it is in the sequence already.
            let at = self
                .events
                .iter()
                .position(|e| e.message.contains("Task timed out after"))
                .unwrap();
            let line = self.events.remove(at);
            self.push(report);
            self.events.push(line);
        } else {
            self.push(report);
        }
    }

    /// How a function of this runtime logs the rotation event it was invoked with, as real ones
    /// do (the templates do not; custom functions usually do).
    fn event_dump(&mut self) {
        let step = match self.failure.step.as_str() {
            "any" | "init" => "setSecret",
            s => s,
        };
        let (ts, rid) = (self.iso(), self.rid.clone());
        let line = match self.runtime {
            Runtime::PythonText | Runtime::PythonJson => return,
            // console.log(event): util.inspect breaks an object longer than 72 characters.
            Runtime::Node => format!(
                "{ts}\t{rid}\tINFO\t{{\n  SecretId: '{SECRET}',\n  ClientRequestToken: '{TOKEN}',\n  Step: '{step}'\n}}"
            ),
            // context.getLogger().log("Event: " + event): Lombok's toString of
            // aws-lambda-java-events' SecretsManagerRotationEvent.
            Runtime::Java => format!(
                "Event: SecretsManagerRotationEvent(step={step}, secretId={SECRET}, clientRequestToken={TOKEN})"
            ),
            // aws-lambda-go's README_SecretsManager_SecretRotationEvent.md sample.
            Runtime::Go => format!("rotating secret {SECRET} with token {TOKEN}"),
            // context.Logger.LogInformation(JsonSerializer.Serialize(input)).
            Runtime::Dotnet => format!(
                "{ts}\t{rid}\tinfo\t{{\"SecretId\":\"{SECRET}\",\"ClientRequestToken\":\"{TOKEN}\",\"Step\":\"{step}\"}}"
            ),
        };
        self.push(line);
    }

    /// One catalogued line in this runtime's shape.
    fn line(&mut self, m: &Message) {
        match m.kind.as_str() {
            "platform" => {
                let text = m.text.trim_end_matches('\n').to_string();
                self.push(text);
            }
            "log" => self.log(m),
            "exception" => self.exception(m),
            k => panic!("{}: unknown kind {k}", m.id),
        }
    }

    fn log(&mut self, m: &Message) {
        let level = m
            .level
            .as_deref()
            .unwrap_or(if m.is_context() { "INFO" } else { "ERROR" });
        let (ts, rid) = (self.iso(), self.rid.clone());
        let line = match self.runtime {
            Runtime::PythonText => format!("[{level}]\t{ts}\t{rid}\t{}", m.text),
            Runtime::PythonJson => json!({"timestamp": python_json_ts(self.ts), "level": level, "message": m.text, "logger": "root", "requestId": rid}).to_string(),
            Runtime::Node => format!("{ts}\t{rid}\t{level}\t{}", m.text),
            Runtime::Dotnet => {
                let label = match level {
                    "ERROR" => "fail",
                    "WARNING" => "warn",
                    _ => "info",
                };
                format!("{ts}\t{rid}\t{label}\t{}", m.text)
            }
            Runtime::Java => m.text.clone(),
            Runtime::Go => format!("{} {}", go_ts(self.ts), m.text),
        };
        self.push(line);
    }

    fn exception(&mut self, m: &Message) {
        match self.runtime {
            Runtime::PythonText => self.python_text(m),
            Runtime::PythonJson => self.python_json(m),
            Runtime::Node => self.node(m),
            Runtime::Java => self.java(m),
            Runtime::Go => self.go(m),
            Runtime::Dotnet => self.dotnet(m),
        }
    }

    /// awslambdaric's unhandled error record: `[ERROR] Type: message`, then the traceback with
    /// NO-BREAK SPACE indentation, one event; at init, after the LAMBDA_WARNING record.
    fn python_text(&mut self, m: &Message) {
        if self.init() {
            self.lambda_warning();
        }
        let mut text = if m.text.is_empty() {
            format!("[ERROR] {}", m.short_exception())
        } else {
            format!("[ERROR] {}: {}", m.short_exception(), m.text)
        };
        text.push_str("\nTraceback (most recent call last):");
        for frame in python_frames(m) {
            // awslambdaric replaces each frame's leading spaces with NO-BREAK SPACEs.
            let code = frame.trim_start_matches(' ');
            text.push('\n');
            text.push_str(&"\u{a0}".repeat(frame.len() - code.len()));
            text.push_str(code);
        }
        self.push(text);
    }

    fn python_json(&mut self, m: &Message) {
        if self.init() {
            self.lambda_warning();
        }
        let frames: Vec<String> = python_frames(m)
            .chunks(2)
            .map(|c| format!("{}\n", c.join("\n")))
            .collect();
        let rid = if self.init() {
            String::new()
        } else {
            self.rid.clone()
        };
        self.push(json!({"timestamp": python_json_ts(self.ts), "log_level": "ERROR", "errorMessage": m.text, "errorType": m.short_exception(), "requestId": rid, "stackTrace": frames}).to_string());
    }

    fn lambda_warning(&mut self) {
        const WARNING: &str = "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If this error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily rolling back to the previous runtime version. For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html";
        let ts = self.iso();
        if self.json() {
            self.push(json!({"timestamp": python_json_ts(self.ts), "level": "WARNING", "message": format!("{WARNING}\r"), "logger": "root", "requestId": ""}).to_string());
        } else {
            self.push(format!("[WARNING]\t{ts}\t\t{WARNING}\r"));
        }
    }

    /// `console.error('Invoke Error', '\t' + JSON.stringify(error))`: `errorType` (the error's
    /// name), `errorMessage`, its enumerable properties, the stack as lines; at init, `Uncaught
    /// Exception` with the request id `undefined`.
    fn node(&mut self, m: &Message) {
        let name = m
            .properties
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or(m.exception.as_deref().unwrap_or("Error"))
            .to_string();
        let mut obj = serde_json::Map::new();
        obj.insert("errorType".into(), json!(name));
        obj.insert("errorMessage".into(), json!(m.text));
        for (k, v) in &m.properties {
            obj.insert(k.clone(), toml_to_json(v));
        }
        let first = m.text.lines().next().unwrap_or("");
        let mut stack = vec![format!("{name}: {first}")];
        stack.extend(m.text.lines().skip(1).map(str::to_owned));
        stack.extend(m.frames.iter().map(|f| format!("    {f}")));
        stack.push(format!(
            "    at {} (/var/task/index.js:61:38)",
            js_step(&m.step)
        ));
        stack.push("    at async Runtime.handler (/var/task/index.js:17:7)".into());
        obj.insert("stack".into(), json!(stack));
        let body = Value::Object(obj).to_string();
        let ts = self.iso();
        let line = if self.init() {
            format!("{ts}\tundefined\tERROR\tUncaught Exception \t{body}")
        } else {
            format!("{ts}\t{}\tERROR\tInvoke Error \t{body}", self.rid)
        };
        self.push(line);
    }

    /// UserFault.reportableError: `<message>: <class>\n<printStackTrace>`, one event, no prefix.
    fn java(&mut self, m: &Message) {
        let class = m
            .exception
            .as_deref()
            .unwrap_or("java.lang.RuntimeException");
        let message = if m.text.is_empty() {
            class
        } else {
            m.text.as_str()
        };
        let header = if m.text.is_empty() {
            class.to_string()
        } else {
            format!("{class}: {}", m.text)
        };
        let step = js_step(&m.step);
        let mut s = format!("{message}: {class}\n{header}\n");
        for f in &m.frames {
            s.push_str(&format!("\t{f}\n"));
        }
        s.push_str(&format!("\tat example.RotationHandler.{step}(RotationHandler.java:88)\n\tat example.RotationHandler.handleRequest(RotationHandler.java:41)\n"));
        for c in &m.caused_by {
            s.push_str(&format!(
                "Caused by: {}: {}\n\t... 12 more\n",
                c.exception, c.text
            ));
        }
        self.push(s);
    }

    /// aws-lambda-go's `log.Printf` of the error it posts: date, time, and the JSON.
    fn go(&mut self, m: &Message) {
        let body = json!({"errorMessage": m.text, "errorType": m.short_exception()}).to_string();
        // encoding/json escapes <, > and & (HTML-safe).
        let body = body
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        self.push(format!("{} {body}", go_ts(self.ts)));
    }

    /// The runtime's error log line: `<ts>\t<rid>\tfail\t<Exception.ToString()>`.
    fn dotnet(&mut self, m: &Message) {
        let class = m.exception.as_deref().unwrap_or("System.Exception");
        let mut s = format!("{}\t{}\tfail\t{class}: {}", self.iso(), self.rid, m.text);
        for c in &m.caused_by {
            s.push_str(&format!("\n ---> {}: {}", c.exception, c.text));
        }
        if !m.caused_by.is_empty() {
            s.push_str("\n   --- End of inner exception stack trace ---");
        }
        for f in &m.frames {
            s.push_str(&format!("\n   {f}"));
        }
        s.push_str("\n   at Rotation.Function.FunctionHandler(RotationEvent input, ILambdaContext context) in /src/Rotation/Function.cs:line 41");
        self.push(s);
    }
}

/// The Python JSON format's timestamp: whole seconds (`%Y-%m-%dT%H:%M:%SZ`).
fn python_json_ts(ts: i64) -> String {
    let iso = rotdiag::time::format_iso(ts);
    format!("{}Z", &iso[..19])
}

/// Go's `log.LstdFlags`: `2006/01/02 15:04:05`.
fn go_ts(ts: i64) -> String {
    let iso = rotdiag::time::format_iso(ts);
    format!("{} {}", iso[..10].replace('-', "/"), &iso[11..19])
}

/// A step's function name in the templates (`set_secret`) or camel case for other languages.
fn js_step(step: &str) -> &str {
    match step {
        "createSecret" | "setSecret" | "testSecret" | "finishSecret" => step,
        _ => "handleRequest",
    }
}

fn toml_to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The traceback frames (pairs of `  File …` and the code line) of a Python message: the
/// handler's call of the step, the step function, then where it raised: the message's own
/// `frames` where the catalog gives them, the Secrets Manager call for a botocore error, the driver
/// call for a driver's error, a `raise` for the template's own.
fn python_frames(m: &Message) -> Vec<String> {
    if m.step == "init" {
        return Vec::new();
    }
    let step_fn = match m.step.as_str() {
        "createSecret" => Some("create_secret"),
        "setSecret" => Some("set_secret"),
        "testSecret" => Some("test_secret"),
        "finishSecret" => Some("finish_secret"),
        _ => None,
    };
    let mut frames = Vec::new();
    let handler = r#"  File "/var/task/lambda_function.py", line 77, in lambda_handler"#;
    if let Some(f) = step_fn {
        frames.push(handler.to_string());
        frames.push(format!("    {f}(service_client, arn, token)"));
    }
    if !m.frames.is_empty() {
        for f in &m.frames {
            let indent = if f.starts_with("File ") { "  " } else { "    " };
            frames.push(format!("{indent}{f}"));
        }
        return frames;
    }
    let here = step_fn.unwrap_or("lambda_handler");
    if step_fn.is_none() {
        frames.push(handler.to_string());
    } else {
        frames.push(format!(
            r#"  File "/var/task/lambda_function.py", line 190, in {here}"#
        ));
    }
    match m.file.as_str() {
        "botocore.toml" => frames.extend(botocore_frames(m, step_fn.is_some())),
        "python-drivers.toml" => {
            if m.phase == "after-login" {
                frames.push("    cur.execute(alter_role + \" WITH PASSWORD %s\", (pending_dict['password'],))".into());
            } else {
                frames.push("    conn = get_connection(current_dict)".into());
                frames.push(
                    r#"  File "/var/task/lambda_function.py", line 360, in get_connection"#.into(),
                );
                frames.push("    conn = connect(secret_dict)".into());
            }
            frames.extend(driver_frames(&m.engine, m.phase == "after-login"));
        }
        _ => frames.push(format!("    raise {}(...)", m.short_exception())),
    }
    frames
}

/// A botocore error's frames: the client call the text names (in a step, through
/// get_secret_dict; before any step, the handler's DescribeSecret), then botocore's own, as the
/// real runs print them.
fn botocore_frames(m: &Message, in_step: bool) -> Vec<String> {
    let operation = m
        .text
        .split("when calling the ")
        .nth(1)
        .and_then(|r| r.split(' ').next());
    let call = match operation {
        Some("GetSecretValue") => {
            "secret = service_client.get_secret_value(SecretId=arn, VersionStage=stage)"
        }
        Some("PutSecretValue") => {
            "service_client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current_dict), VersionStages=['AWSPENDING'])"
        }
        Some("DescribeDBInstances") => {
            "response = rds_client.describe_db_instances(DBInstanceIdentifier=instance_id)"
        }
        Some("RotateSecret") => "service_client.rotate_secret(SecretId=arn)",
        _ if in_step => {
            "secret = service_client.get_secret_value(SecretId=arn, VersionStage=stage)"
        }
        _ => "metadata = service_client.describe_secret(SecretId=arn)",
    };
    let mut frames = Vec::new();
    if in_step && operation == Some("GetSecretValue") {
        frames
            .push("    current_dict = get_secret_dict(service_client, arn, \"AWSCURRENT\")".into());
        frames
            .push(r#"  File "/var/task/lambda_function.py", line 448, in get_secret_dict"#.into());
    }
    frames.push(format!("    {call}"));
    frames.push(r#"  File "/var/lang/lib/python3.12/site-packages/botocore/client.py", line 569, in _api_call"#.into());
    frames.push("    return self._make_api_call(operation_name, kwargs)".into());
    frames.push(r#"  File "/var/lang/lib/python3.12/site-packages/botocore/client.py", line 1023, in _make_api_call"#.into());
    frames.push("    raise error_class(parsed_response, operation_name)".into());
    frames
}

/// Where each engine's driver raises (the real runs' PyGreSQL and PyMySQL frames; the others'
/// modules as their packages lay them out).
fn driver_frames(engine: &str, execute: bool) -> Vec<String> {
    let (file, function, code) = match (engine, execute) {
        ("postgresql" | "redshift", false) => (
            "/var/task/pgdb.py",
            "connect",
            "cnx = _connect(dbname, user, passwd, host, port, opt)",
        ),
        ("postgresql" | "redshift", true) => (
            "/var/task/pgdb.py",
            "executemany",
            "rows = self._src.execute(sql)",
        ),
        ("mysql" | "mariadb", false) => (
            "/var/task/pymysql/connections.py",
            "connect",
            "self._request_authentication()",
        ),
        ("mysql" | "mariadb", true) => (
            "/var/task/pymysql/err.py",
            "raise_mysql_exception",
            "raise errorclass(errno, errval)",
        ),
        ("sqlserver", _) => (
            "src/pymssql/_pymssql.pyx",
            "pymssql._pymssql.connect",
            "raise OperationalError(e.args[0])",
        ),
        ("oracle", _) => (
            "/var/task/oracledb/connection.py",
            "__init__",
            "impl.connect(params_impl)",
        ),
        ("db2", _) => (
            "/var/task/ibm_db_dbi.py",
            "connect",
            "conn = ibm_db.connect(dsn, '', '', conn_options)",
        ),
        ("mongodb", _) => (
            "/var/task/pymongo/topology.py",
            "_select_servers_loop",
            "raise ServerSelectionTimeoutError(",
        ),
        ("redis", _) => (
            "/var/task/redis/connection.py",
            "connect",
            "raise ConnectionError(self._error_message(e))",
        ),
        _ => return Vec::new(),
    };
    vec![
        format!(r#"  File "{file}", line 150, in {function}"#),
        format!("    {code}"),
    ]
}
