//! The message catalog (`rules/catalog/`), diagnosed: every failure message real code prints must
//! yield the cause the catalog gives it, on its own as people paste it (`bare_cause` where the
//! paste lacks what decides it) and inside an invocation of its language's runtime (Python in
//! both log formats, Node.js, Java, Go, .NET), with the lines printed around it and the duration
//! it is catalogued with. A message that cannot appear in one of those places says so in the
//! catalog (`contexts`, `why_contexts`). No title may show a fact nobody found (`<step>`). Every
//! miss is reported at once, with a summary per cause.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::util::catalog::{self, Message, Runtime};
use crate::util::render::{Shape, render_one};
use crate::util::run::in_process;

/// The causes the rules define (`rules/causes/<id>.toml`).
fn rule_causes() -> BTreeSet<String> {
    fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/causes"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            p.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

/// What rotdiag reports first for `input`, or `(none)`.
fn top_cause(dir: &Path, name: &str, input: &[u8]) -> (String, Value) {
    let path = dir.join(name);
    fs::write(&path, input).unwrap();
    let (_, doc) = in_process(&[&path]);
    let top = doc["diagnoses"][0]["cause"]
        .as_str()
        .unwrap_or("(none)")
        .to_string();
    (top, doc)
}

/// A title that shows a fact nobody found (`<step> failed …`): titles fall back to a variant
/// without the fact instead.
fn title_gap(doc: &Value) -> Option<String> {
    doc["diagnoses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["title"].as_str())
        .find(|t| {
            t.split('<').skip(1).any(|rest| {
                rest.split_once('>').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
            })
        })
        .map(str::to_owned)
}

/// The other causes of the top diagnosis, for the report of a miss.
fn also(doc: &Value) -> String {
    let alts: Vec<String> = doc["diagnoses"][0]["alternatives"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} {:.2}",
                a["cause"].as_str().unwrap_or("?"),
                a["confidence"].as_f64().unwrap_or(0.0)
            )
        })
        .collect();
    if alts.is_empty() {
        String::new()
    } else {
        format!(" (then {})", alts.join(", "))
    }
}

/// Counts per cause: messages, bare right / tried, in an invocation right / tried.
#[derive(Default)]
struct Tally {
    messages: usize,
    bare: (usize, usize),
    invocation: (usize, usize),
}

/// The catalog itself holds together: unique ids, the lines it names exist, contexts are known
/// and explained, every cause is one the rules define.
#[test]
fn the_catalog_is_consistent() {
    let messages = catalog::load();
    assert!(messages.len() > 300, "only {} messages", messages.len());
    let causes = rule_causes();
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    for m in &messages {
        let at = format!("{}:{}", m.file, m.id);
        if !ids.insert(m.id.as_str()) {
            problems.push(format!("{at}: duplicate id"));
        }
        match (&m.cause, m.is_context()) {
            (Some(_), true) => problems.push(format!("{at}: a context line has no cause")),
            (None, false) => problems.push(format!("{at}: no cause")),
            (Some(c), false) if !causes.contains(c) => {
                problems.push(format!("{at}: cause {c} is not in rules/causes/"));
            }
            _ => {}
        }
        if let Some(b) = &m.bare_cause
            && !causes.contains(b)
        {
            problems.push(format!("{at}: bare_cause {b} is not in rules/causes/"));
        }
        if m.new_cause.is_some() {
            problems.push(format!(
                "{at}: new_cause is for causes not in rules/causes/ yet"
            ));
        }
        if m.kind == "exception" && m.exception.is_none() {
            problems.push(format!("{at}: an exception needs `exception`"));
        }
        if let Some(c) = &m.contexts {
            if c.is_empty() || c.iter().any(|x| x != "bare" && x != "invocation") {
                problems.push(format!("{at}: contexts are `bare` and `invocation`"));
            }
            if m.why_contexts
                .as_deref()
                .is_none_or(|w| w.trim().is_empty())
            {
                problems.push(format!("{at}: `contexts` needs `why_contexts`"));
            }
        }
    }
    for m in &messages {
        for id in m.preceded_by.iter().chain(&m.followed_by) {
            if !ids.contains(id.as_str()) {
                problems.push(format!("{}:{}: names unknown message {id}", m.file, m.id));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_catalogued_message_yields_its_cause() {
    let messages = catalog::load();
    let by_id: BTreeMap<&str, &Message> = messages.iter().map(|m| (m.id.as_str(), m)).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for m in messages.iter().filter(|m| !m.is_context()) {
        let cause = m.cause.clone().unwrap();
        let t = tally.entry(cause.clone()).or_default();
        t.messages += 1;
        if m.appears("bare") {
            let want = m.bare_cause.as_deref().unwrap_or(&cause);
            let paste = format!("{}\n", catalog::bare(m));
            let (got, doc) = top_cause(dir.path(), "paste.txt", paste.as_bytes());
            if let Some(title) = title_gap(&doc) {
                misses.push(format!(
                    "{}:{} bare: the title shows a gap: {title}",
                    m.file, m.id
                ));
            }
            t.bare.1 += 1;
            if got == want {
                t.bare.0 += 1;
            } else {
                misses.push(format!(
                    "{}:{} bare: want {want}, got {got}{}\n    {}",
                    m.file,
                    m.id,
                    also(&doc),
                    paste.trim_end().replace('\n', "\n    ")
                ));
            }
        }
        if m.appears("invocation") {
            for &rt in Runtime::for_language(&m.language, &m.kind) {
                let events = catalog::invocation(m, rt, &by_id);
                let json = render_one(Shape::FilterLogEvents, &events);
                let (got, doc) = top_cause(dir.path(), "events.json", &json);
                if let Some(title) = title_gap(&doc) {
                    misses.push(format!(
                        "{}:{} in a {} invocation: the title shows a gap: {title}",
                        m.file,
                        m.id,
                        rt.name()
                    ));
                }
                t.invocation.1 += 1;
                if got == cause {
                    t.invocation.0 += 1;
                } else {
                    let shown: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
                    misses.push(format!(
                        "{}:{} in a {} invocation: want {cause}, got {got}{}\n    {}",
                        m.file,
                        m.id,
                        rt.name(),
                        also(&doc),
                        shown.join("\n    ")
                    ));
                }
            }
        }
    }
    let summary = summary(&tally);
    println!("{summary}");
    assert!(
        misses.is_empty(),
        "{} misses:\n\n{}\n\n{summary}",
        misses.len(),
        misses.join("\n\n")
    );
}

/// The table of right answers per cause.
fn summary(tally: &BTreeMap<String, Tally>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:40} {:>5} {:>9} {:>11}",
        "cause", "msgs", "bare", "invocation"
    );
    let mut total = Tally::default();
    for (cause, t) in tally {
        let _ = writeln!(
            s,
            "{cause:40} {:>5} {:>4}/{:<4} {:>5}/{:<5}",
            t.messages, t.bare.0, t.bare.1, t.invocation.0, t.invocation.1
        );
        total.messages += t.messages;
        total.bare.0 += t.bare.0;
        total.bare.1 += t.bare.1;
        total.invocation.0 += t.invocation.0;
        total.invocation.1 += t.invocation.1;
    }
    let _ = writeln!(
        s,
        "{:40} {:>5} {:>4}/{:<4} {:>5}/{:<5}",
        "TOTAL", total.messages, total.bare.0, total.bare.1, total.invocation.0, total.invocation.1
    );
    s
}
