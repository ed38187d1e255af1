//! rotdiag-gen: a deterministic corpus generator for rotdiag's benchmarks and tests. A seeded
//! simulation of rotation functions and unrelated functions writing CloudWatch Logs, rendered in
//! one of the export shapes rotdiag reads ([`SHAPES`]), streamed to a writer or to a folder of
//! many files. It reuses rotdiag's own types: the shapes are [`rotdiag::format::Format`]s, times
//! are formatted by [`rotdiag::time`].
//!
//! Used by the `rotdiag-gen` binary (`cargo run --release -p rotdiag-gen -- --help`), by the
//! criterion benches and by the integration tests (a dev-dependency of rotdiag). What it wrote is
//! returned as a [`Summary`]: the ground truth a run of rotdiag is checked against.
//!
//! Output order. A real S3 export file holds one log stream, whose lines are in time order; users
//! concatenate the files of an export (or of several hourly exports) into one. So the S3 shape is
//! written in windows of [`WINDOW_MS`] of event time: in each window, stream after stream (by the
//! time of their first line in the window), every invocation whole and in one window. Lines of
//! one invocation are therefore never interleaved with other streams' lines (the file carries no
//! stream name to tell them apart), and time never goes back by more than a window.
//! `filter-log-events` interleaves streams by timestamp; that shape is written in exact time order.

mod lambda;
mod rng;
mod scenario;
mod world;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rotdiag::format::Format;
use rotdiag::time::Civil;

use lambda::{Block, Ms, iso_ms, push_iso_ms, push_json_str};
use rng::Rng;
use scenario::{CAUSES, Sim, Stats, cause_index};
use world::World;

/// Event-time window of the S3 shape (see the module docs).
pub const WINDOW_MS: Ms = 10 * 60 * 1000;
/// Mean time between the starts of two episodes (rotations or bursts of API calls).
const MEAN_GAP_MS: Ms = 20_000;
/// Events per `filter-log-events` page (the API's maximum): the default of
/// [`Config::page_events`].
pub const PAGE_EVENTS: usize = 10_000;
const ROTATION_FUNCTIONS: usize = 24;
const SECRETS: usize = 2_000;

/// The shapes the generator writes (rotdiag reads more; see `docs/log-formats.md`):
///
/// * `s3-export`: S3 export task files, `<YYYY-MM-DDTHH:MM:SS.mmmZ> <message>`, a blank line after
///   messages that end in `\n`;
/// * `events-json`: `aws logs filter-log-events` JSON (4-space indent), several pages concatenated;
/// * `events-text`: `filter-log-events --output text`, `EVENTS⇥<eventId>⇥<ingestionTime>⇥
///   <stream>⇥<message>⇥<timestamp>` rows, the message raw (its own newlines included);
/// * `tail`: `aws logs tail` (`--format detailed`), `<ts>+00:00 <stream> <message>`;
/// * `tail-short`: `aws logs tail --format short`, `<ts> <message>` (no fraction, no zone);
/// * `console`: a CloudWatch console copy, `  | <ts> | <message>`;
/// * `raw`: Lambda text without prefixes (Live Tail print-only), each message and a newline.
pub const SHAPES: [Format; 7] = [
    Format::S3Export,
    Format::EventsJson,
    Format::EventsText,
    Format::Tail,
    Format::TailShort,
    Format::Console,
    Format::Raw,
];

/// A shape the generator writes, by the name rotdiag's `--input-format` takes.
pub fn parse_shape(s: &str) -> Result<Format, String> {
    let f: Format = s.parse()?;
    if SHAPES.contains(&f) {
        Ok(f)
    } else {
        let names: Vec<&str> = SHAPES.iter().map(|f| f.name()).collect();
        Err(format!(
            "the generator does not write {f} (it writes {})",
            names.join(", ")
        ))
    }
}

/// `1GiB`, `64MiB`, `512KiB`, `10MB` (decimal), or a number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        u => {
            return Err(format!(
                "unknown size unit '{u}' in '{s}' (use KiB, MiB or GiB)"
            ));
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 64MiB, 1GiB)"))?;
    if n <= 0.0 {
        return Err(format!("size must be positive: '{s}'"));
    }
    Ok((n * mult as f64) as u64)
}

#[derive(Clone, Debug)]
pub struct Config {
    pub shape: Format,
    /// Bytes to write (uncompressed); the output ends at the first window after this.
    pub size: u64,
    pub seed: u64,
    /// Rotations that fail, per mille.
    pub fail_per_mille: u32,
    /// Share of the bytes written by unrelated functions, in percent.
    pub noise_percent: u32,
    /// Only failures of this cause (every rotation fails): to check one cause's lines.
    pub only: Option<String>,
    /// Events per `filter-log-events` page ([`PAGE_EVENTS`], one API page each); 0: one page
    /// of every event, as the CLI writes it when it follows `nextToken` itself (no
    /// `--max-items`/`--no-paginate`).
    pub page_events: usize,
}

impl Config {
    pub fn new(shape: Format, size: u64, seed: u64) -> Config {
        Config {
            shape,
            size,
            seed,
            fail_per_mille: 100,
            noise_percent: 50,
            only: None,
            page_events: PAGE_EVENTS,
        }
    }
}

/// What was generated: the ground truth benches and the throughput script check results against.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub shape: &'static str,
    pub seed: u64,
    /// Bytes written (uncompressed).
    pub bytes: u64,
    /// Physical lines (`\n`) written.
    pub lines: u64,
    /// CloudWatch events written (records a decoder must find).
    pub events: u64,
    /// Data files written (objects of an S3 export folder; `aws-logs-write-test` probes aside).
    pub files: u64,
    /// Log groups written (export tasks, each with its `aws-logs-write-test` probe), S3 folders
    /// only.
    pub log_groups: u64,
    pub first_event: Ms,
    pub last_event: Ms,
    pub stats: Stats,
    pub functions: usize,
    pub rotation_functions: usize,
    pub secrets: usize,
}

impl Summary {
    /// Failed rotations per cause, every cause listed.
    pub fn failed_by_cause(&self) -> Vec<(&'static str, u64)> {
        CAUSES
            .iter()
            .zip(self.stats.failed_by_cause)
            .map(|((c, _), n)| (*c, n))
            .collect()
    }

    /// `key: value` lines (what the `gen` example prints on stderr).
    pub fn render(&self) -> String {
        let s = &self.stats;
        let mut o = String::new();
        let _ = writeln!(o, "shape: {}", self.shape);
        let _ = writeln!(o, "seed: {}", self.seed);
        let _ = writeln!(o, "bytes: {}", self.bytes);
        let _ = writeln!(o, "lines: {}", self.lines);
        let _ = writeln!(o, "events: {}", self.events);
        let _ = writeln!(o, "files: {}", self.files);
        let _ = writeln!(o, "log_groups: {}", self.log_groups);
        let _ = writeln!(o, "first_event: {}", iso_ms(self.first_event));
        let _ = writeln!(o, "last_event: {}", iso_ms(self.last_event));
        let _ = writeln!(
            o,
            "functions: {} ({} rotation functions)",
            self.functions, self.rotation_functions
        );
        let _ = writeln!(o, "secrets: {}", self.secrets);
        let _ = writeln!(o, "streams: {}", s.streams);
        let _ = writeln!(o, "invocations: {}", s.invocations);
        let _ = writeln!(o, "rotation_invocations: {}", s.rotation_invocations);
        let _ = writeln!(o, "other_invocations: {}", s.other_invocations);
        let _ = writeln!(o, "failing_rotation_invocations: {}", s.failing_invocations);
        let _ = writeln!(o, "template_lines: {}", s.template_lines);
        let _ = writeln!(o, "error_blocks: {}", s.error_blocks);
        let _ = writeln!(o, "print_lines: {}", s.print_lines);
        let _ = writeln!(o, "rotations: {}", s.rotations);
        let _ = writeln!(o, "healthy_rotations: {}", s.healthy);
        let _ = writeln!(o, "recovered_rotations: {}", s.recovered);
        let _ = writeln!(o, "failed_rotations: {}", s.failed);
        for (c, n) in self.failed_by_cause() {
            let _ = writeln!(o, "failed.{c}: {n}");
        }
        o
    }
}

// ---------------------------------------------------------------------------------------------
// Destinations

/// Counts bytes and newlines on their way to the writer.
struct Counting<W> {
    inner: W,
    bytes: u64,
    lines: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Where the shape writers put their bytes: one stream, or a folder of files of equal share.
trait Dest {
    fn w(&mut self) -> &mut dyn Write;
    /// Called at a point where a new file may begin (before an S3 window, before a JSON page).
    /// `hint` names the first stream about to be written.
    fn boundary(&mut self, hint: &str) -> io::Result<()>;
    /// The current file has its share: the writer should reach a boundary soon.
    fn full(&self) -> bool;
    fn bytes(&self) -> u64;
    fn lines(&self) -> u64;
    fn file_count(&self) -> u64;
    fn finish(&mut self) -> io::Result<()>;
    /// Called before each invocation's events in the S3 shape, with its function and log
    /// stream: a destination of one object per stream ([`ExportTasks`]) switches objects here.
    fn block(&mut self, _function: usize, _stream: &str) -> io::Result<()> {
        Ok(())
    }
    /// The folder of each function's log group (by index), told once before anything is written.
    fn groups(&mut self, _names: Vec<String>) {}
    /// Log groups written (export tasks made).
    fn log_groups(&self) -> u64 {
        0
    }
}

struct One<'a> {
    w: Counting<BufWriter<&'a mut dyn Write>>,
}

impl Dest for One<'_> {
    fn w(&mut self) -> &mut dyn Write {
        &mut self.w
    }
    fn boundary(&mut self, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn full(&self) -> bool {
        false
    }
    fn bytes(&self) -> u64 {
        self.w.bytes
    }
    fn lines(&self) -> u64 {
        self.w.lines
    }
    fn file_count(&self) -> u64 {
        1
    }
    fn finish(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

enum FileW {
    Plain(BufWriter<File>),
    Gz(flate2::write::GzEncoder<BufWriter<File>>),
}

impl Write for FileW {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            FileW::Plain(w) => w.write(buf),
            FileW::Gz(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            FileW::Plain(w) => w.flush(),
            FileW::Gz(w) => w.flush(),
        }
    }
}

impl FileW {
    fn close(self) -> io::Result<()> {
        match self {
            FileW::Plain(mut w) => w.flush(),
            FileW::Gz(w) => w.finish()?.flush(),
        }
    }
}

/// A folder of `files` files, each holding about `size / files` bytes.
struct Folder {
    root: PathBuf,
    shape: Format,
    gzip: bool,
    files: u64,
    size: u64,
    cur: Option<Counting<FileW>>,
    /// Bytes and lines of the files already closed.
    closed_bytes: u64,
    closed_lines: u64,
    opened: u64,
    /// A sink for writes before the first file (never used by the writers).
    void: io::Sink,
}

impl Folder {
    fn new(root: &Path, shape: Format, gzip: bool, files: u64, size: u64) -> Folder {
        Folder {
            root: root.to_path_buf(),
            shape,
            gzip,
            files,
            size,
            cur: None,
            closed_bytes: 0,
            closed_lines: 0,
            opened: 0,
            void: io::sink(),
        }
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some(c) = self.cur.take() {
            self.closed_bytes += c.bytes;
            self.closed_lines += c.lines;
            c.inner.close()?;
        }
        Ok(())
    }

    fn open(&mut self) -> io::Result<()> {
        self.close_current()?;
        self.opened += 1;
        let gz = if self.gzip { ".gz" } else { "" };
        // (S3 exports are written by `ExportTasks`.)
        fs::create_dir_all(&self.root)?;
        let ext = if self.shape == Format::EventsJson {
            "json"
        } else {
            "log"
        };
        let path = self.root.join(format!(
            "{}-{:04}.{ext}{gz}",
            self.shape.name(),
            self.opened
        ));
        let file = BufWriter::with_capacity(1 << 16, File::create(&path)?);
        let w = if self.gzip {
            FileW::Gz(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            ))
        } else {
            FileW::Plain(file)
        };
        self.cur = Some(Counting {
            inner: w,
            bytes: 0,
            lines: 0,
        });
        Ok(())
    }
}

impl Dest for Folder {
    fn w(&mut self) -> &mut dyn Write {
        match &mut self.cur {
            Some(c) => c,
            None => &mut self.void,
        }
    }
    fn boundary(&mut self, _: &str) -> io::Result<()> {
        if self.cur.is_none() || (self.full() && self.opened < self.files) {
            self.open()?;
        }
        Ok(())
    }
    fn full(&self) -> bool {
        let share = self.size * self.opened / self.files;
        self.bytes() >= share
    }
    fn bytes(&self) -> u64 {
        self.closed_bytes + self.cur.as_ref().map_or(0, |c| c.bytes)
    }
    fn lines(&self) -> u64 {
        self.closed_lines + self.cur.as_ref().map_or(0, |c| c.lines)
    }
    fn file_count(&self) -> u64 {
        self.opened
    }
    fn finish(&mut self) -> io::Result<()> {
        self.close_current()
    }
}

/// S3 export folders as CloudWatch Logs writes them, one export task per log group: each task's
/// objects under its own prefix (the CreateExportTask API reference: "You can export logs from
/// multiple log groups or multiple time ranges to the same S3 bucket. To separate log data for
/// each export task, specify a prefix to be used as the Amazon S3 key prefix for all exported
/// objects"), here the default prefix `exportedlogs` followed by the account, the region and the
/// log group's name (one bucket for an organisation's exports; function names repeat across
/// accounts and regions):
///
/// ```text
/// <dir>/exportedlogs/<account>/<region>/aws/lambda/<function>/<taskId>/<stream, '/' as '-'>/000000.gz
/// <dir>/exportedlogs/<account>/<region>/aws/lambda/<function>/aws-logs-write-test
/// ```
///
/// A log stream is one execution environment, and an object holds one stream's events in time
/// order, as an export object does (earlier versions of the generator wrote several streams,
/// overlapping in time, into one object: no export looks like that). A stream longer than the
/// object size (`size / files`) continues in `000001.gz`, `000002.gz`, …, cut between
/// invocations. Objects are written plain while the simulation runs (appended to, one at a time)
/// and gzipped when it ends.
struct ExportTasks {
    root: PathBuf,
    gzip: bool,
    /// Bytes an object holds before the stream continues in the next.
    cap: u64,
    seed: u64,
    /// The folder of each function's log group under `exportedlogs` (`<account>/<region>/<log
    /// group>`), and its export task id (made when first written).
    groups: Vec<String>,
    tasks: Vec<Option<String>>,
    /// Per stream: its folder, the number of its current object and the bytes in it.
    streams: HashMap<Box<str>, (PathBuf, u32, u64)>,
    /// The object being appended to, and its stream.
    cur: Option<(Box<str>, Counting<BufWriter<File>>)>,
    objects: Vec<PathBuf>,
    closed_bytes: u64,
    closed_lines: u64,
    void: io::Sink,
}

impl ExportTasks {
    fn new(root: &Path, gzip: bool, files: u64, size: u64, seed: u64) -> ExportTasks {
        ExportTasks {
            root: root.join("exportedlogs"),
            gzip,
            cap: (size / files.max(1)).max(1),
            seed,
            groups: Vec::new(),
            tasks: Vec::new(),
            streams: HashMap::new(),
            cur: None,
            objects: Vec::new(),
            closed_bytes: 0,
            closed_lines: 0,
            void: io::sink(),
        }
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some((stream, mut c)) = self.cur.take() {
            c.flush()?;
            self.closed_bytes += c.bytes;
            self.closed_lines += c.lines;
            if let Some(e) = self.streams.get_mut(&stream) {
                e.2 += c.bytes;
            }
        }
        Ok(())
    }

    /// The folder of `stream` in its log group's export task (the task made on first use).
    fn stream_dir(&mut self, function: usize, stream: &str) -> PathBuf {
        let group = self
            .groups
            .get(function)
            .cloned()
            .unwrap_or_else(|| format!("aws/lambda/function-{function}"));
        if self.tasks.len() <= function {
            self.tasks.resize(function + 1, None);
        }
        let seed = self.seed;
        let task = self.tasks[function]
            .get_or_insert_with(|| Rng::new(seed, 1000 + function as u64).uuid())
            .clone();
        self.root
            .join(group.trim_start_matches('/'))
            .join(task)
            .join(stream.replace('/', "-"))
    }

    fn object(dir: &Path, n: u32) -> PathBuf {
        dir.join(format!("{n:06}"))
    }
}

impl Dest for ExportTasks {
    fn w(&mut self) -> &mut dyn Write {
        match &mut self.cur {
            Some((_, c)) => c,
            None => &mut self.void,
        }
    }
    fn boundary(&mut self, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn full(&self) -> bool {
        false
    }
    fn bytes(&self) -> u64 {
        self.closed_bytes + self.cur.as_ref().map_or(0, |(_, c)| c.bytes)
    }
    fn lines(&self) -> u64 {
        self.closed_lines + self.cur.as_ref().map_or(0, |(_, c)| c.lines)
    }
    fn file_count(&self) -> u64 {
        self.objects.len() as u64
    }
    fn groups(&mut self, names: Vec<String>) {
        self.groups = names;
    }
    fn log_groups(&self) -> u64 {
        self.tasks.iter().filter(|t| t.is_some()).count() as u64
    }
    fn block(&mut self, function: usize, stream: &str) -> io::Result<()> {
        let same = self.cur.as_ref().is_some_and(|(s, _)| &**s == stream);
        let used = self.cur.as_ref().map_or(0, |(_, c)| c.bytes);
        let done = self.streams.get(stream).map_or(0, |e| e.2);
        if same && done + used < self.cap {
            return Ok(());
        }
        self.close_current()?;
        let (path, new) = match self.streams.get_mut(stream) {
            Some((dir, n, bytes)) if *bytes >= self.cap => {
                *n += 1;
                *bytes = 0;
                (Self::object(dir, *n), true)
            }
            Some((dir, n, _)) => (Self::object(dir, *n), false),
            None => {
                let dir = self.stream_dir(function, stream);
                fs::create_dir_all(&dir)?;
                self.streams.insert(stream.into(), (dir.clone(), 0, 0));
                (Self::object(&dir, 0), true)
            }
        };
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        if new {
            self.objects.push(path);
        }
        self.cur = Some((
            stream.into(),
            Counting {
                inner: BufWriter::with_capacity(1 << 16, file),
                bytes: 0,
                lines: 0,
            },
        ));
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.close_current()?;
        // The permission probe every export task leaves at its prefix.
        for (group, task) in self.groups.iter().zip(&self.tasks) {
            if task.is_some() {
                let dir = self.root.join(group.trim_start_matches('/'));
                fs::write(
                    dir.join("aws-logs-write-test"),
                    "Permission Check Successful",
                )?;
            }
        }
        if self.gzip {
            for path in &self.objects {
                let data = fs::read(path)?;
                let gz = path.with_file_name(format!(
                    "{}.gz",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ));
                let mut enc = flate2::write::GzEncoder::new(
                    BufWriter::new(File::create(&gz)?),
                    flate2::Compression::default(),
                );
                enc.write_all(&data)?;
                enc.finish()?.flush()?;
                fs::remove_file(path)?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Shape writers

/// Buffers the blocks of the episodes in progress and writes them once no later episode can add
/// anything before them.
trait ShapeWriter {
    fn accept(&mut self, blocks: Vec<Block>);
    /// Writes everything that is complete: nothing written later is earlier than `horizon`.
    fn flush_until(&mut self, horizon: Ms, dest: &mut dyn Dest) -> io::Result<()>;
    fn finish(&mut self, dest: &mut dyn Dest) -> io::Result<()>;
    fn events(&self) -> u64;
    fn span(&self) -> (Ms, Ms);
}

/// Writes stream after stream per window (S3 export files; raw text, which carries no stream).
struct S3Writer {
    raw: bool,
    windows: BTreeMap<Ms, Vec<Block>>,
    events: u64,
    first: Ms,
    last: Ms,
    line: String,
}

impl S3Writer {
    fn write_window(&mut self, mut blocks: Vec<Block>, dest: &mut dyn Dest) -> io::Result<()> {
        blocks.sort_by_key(|b| b.ts);
        let mut order: Vec<(Rc<str>, Vec<Block>)> = Vec::new();
        let mut index: HashMap<Rc<str>, usize> = HashMap::new();
        for b in blocks {
            match index.get(&b.stream) {
                Some(&i) => order[i].1.push(b),
                None => {
                    index.insert(b.stream.clone(), order.len());
                    order.push((b.stream.clone(), vec![b]));
                }
            }
        }
        let Some((first, _)) = order.first() else {
            return Ok(());
        };
        dest.boundary(first)?;
        for (_, blocks) in order {
            for b in blocks {
                dest.block(b.function, &b.stream)?;
                for (ts, msg) in &b.events {
                    self.line.clear();
                    if !self.raw {
                        push_iso_ms(&mut self.line, *ts);
                        self.line.push(' ');
                    }
                    self.line.push_str(msg);
                    self.line.push('\n');
                    dest.w().write_all(self.line.as_bytes())?;
                    self.events += 1;
                    self.first = self.first.min(*ts);
                    self.last = self.last.max(*ts);
                }
            }
        }
        Ok(())
    }
}

impl ShapeWriter for S3Writer {
    fn accept(&mut self, blocks: Vec<Block>) {
        for b in blocks {
            self.windows
                .entry(b.ts.div_euclid(WINDOW_MS))
                .or_default()
                .push(b);
        }
    }

    fn flush_until(&mut self, horizon: Ms, dest: &mut dyn Dest) -> io::Result<()> {
        while let Some(entry) = self.windows.first_entry() {
            if (entry.key() + 1) * WINDOW_MS > horizon {
                break;
            }
            let blocks = entry.remove();
            self.write_window(blocks, dest)?;
        }
        Ok(())
    }

    fn finish(&mut self, dest: &mut dyn Dest) -> io::Result<()> {
        self.flush_until(Ms::MAX, dest)
    }

    fn events(&self) -> u64 {
        self.events
    }

    fn span(&self) -> (Ms, Ms) {
        (self.first, self.last)
    }
}

struct Ev {
    ts: Ms,
    seq: u64,
    stream: Rc<str>,
    msg: String,
}

impl PartialEq for Ev {
    fn eq(&self, o: &Ev) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Ev) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    fn cmp(&self, o: &Ev) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(o.ts, o.seq))
    }
}

/// Writes every event in time order: `filter-log-events` JSON pages, or `aws logs tail` and
/// console lines.
struct JsonWriter {
    shape: Format,
    heap: BinaryHeap<Reverse<Ev>>,
    seq: u64,
    rng: Rng,
    page_open: bool,
    page_events: usize,
    /// Events per page ([`Config::page_events`]; `usize::MAX`: one page).
    page_max: usize,
    pages: u64,
    events: u64,
    first: Ms,
    last: Ms,
    buf: String,
}

impl JsonWriter {
    fn close_page(&mut self, dest: &mut dyn Dest, next_token: bool) -> io::Result<()> {
        if !self.page_open {
            return Ok(());
        }
        self.buf.clear();
        self.buf
            .push_str("\n    ],\n    \"searchedLogStreams\": []");
        if next_token {
            let tok = self.rng.alnum(108);
            let _ = write!(self.buf, ",\n    \"nextToken\": \"{tok}\"");
        }
        self.buf.push_str("\n}\n");
        dest.w().write_all(self.buf.as_bytes())?;
        self.page_open = false;
        self.page_events = 0;
        Ok(())
    }

    fn write_line(&mut self, ev: Ev, dest: &mut dyn Dest) -> io::Result<()> {
        if !self.page_open {
            dest.boundary(&ev.stream)?;
            self.page_open = true;
            self.pages += 1;
        }
        self.buf.clear();
        if self.shape == Format::EventsText {
            let ingest = ev.ts + self.rng.range(40, 900);
            let _ = writeln!(
                self.buf,
                "EVENTS\t{}\t{ingest}\t{}\t{}\t{}",
                self.rng.digits(56),
                ev.stream,
                ev.msg,
                ev.ts
            );
            return self.finish_line(ev.ts, dest);
        }
        // `aws logs tail` writes `message.rstrip() + "\n"`; the console shows the message the same.
        let msg = ev.msg.trim_end();
        let c = Civil::of(ev.ts);
        let (y, mo, d, h, mi, se) = (c.year, c.month, c.day, c.hour, c.minute, c.second);
        match self.shape {
            Format::Tail => {
                let _ = write!(
                    self.buf,
                    "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}.{:03}000+00:00 {} {msg}",
                    c.milli, ev.stream
                );
            }
            Format::TailShort => {
                let _ = write!(
                    self.buf,
                    "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02} {msg}"
                );
            }
            _ => {
                self.buf.push_str("  | ");
                push_iso_ms(&mut self.buf, ev.ts);
                self.buf.push_str(" | ");
                self.buf.push_str(msg);
            }
        }
        self.buf.push('\n');
        self.finish_line(ev.ts, dest)
    }

    fn finish_line(&mut self, ts: Ms, dest: &mut dyn Dest) -> io::Result<()> {
        dest.w().write_all(self.buf.as_bytes())?;
        if dest.full() {
            self.page_open = false;
        }
        self.events += 1;
        self.first = self.first.min(ts);
        self.last = self.last.max(ts);
        Ok(())
    }

    fn write_event(&mut self, ev: Ev, dest: &mut dyn Dest) -> io::Result<()> {
        if self.shape != Format::EventsJson {
            return self.write_line(ev, dest);
        }
        if self.page_open && (self.page_events >= self.page_max || dest.full()) {
            let more = self.page_events >= self.page_max && !dest.full();
            self.close_page(dest, more)?;
        }
        self.buf.clear();
        if !self.page_open {
            dest.boundary(&ev.stream)?;
            self.buf.push_str("{\n    \"events\": [\n");
            self.page_open = true;
            self.pages += 1;
        } else {
            self.buf.push_str(",\n");
        }
        self.buf
            .push_str("        {\n            \"logStreamName\": ");
        push_json_str(&mut self.buf, &ev.stream);
        let _ = write!(
            self.buf,
            ",\n            \"timestamp\": {},\n            \"message\": ",
            ev.ts
        );
        push_json_str(&mut self.buf, &ev.msg);
        let ingest = ev.ts + self.rng.range(40, 900);
        let _ = write!(
            self.buf,
            ",\n            \"ingestionTime\": {ingest},\n            \"eventId\": \"{}\"\n        }}",
            self.rng.digits(56)
        );
        dest.w().write_all(self.buf.as_bytes())?;
        self.page_events += 1;
        self.events += 1;
        self.first = self.first.min(ev.ts);
        self.last = self.last.max(ev.ts);
        Ok(())
    }
}

impl ShapeWriter for JsonWriter {
    fn accept(&mut self, blocks: Vec<Block>) {
        for b in blocks {
            for (ts, msg) in b.events {
                self.seq += 1;
                self.heap.push(Reverse(Ev {
                    ts,
                    seq: self.seq,
                    stream: b.stream.clone(),
                    msg,
                }));
            }
        }
    }

    fn flush_until(&mut self, horizon: Ms, dest: &mut dyn Dest) -> io::Result<()> {
        while self.heap.peek().is_some_and(|Reverse(e)| e.ts < horizon) {
            let Reverse(ev) = self.heap.pop().unwrap();
            self.write_event(ev, dest)?;
        }
        Ok(())
    }

    fn finish(&mut self, dest: &mut dyn Dest) -> io::Result<()> {
        self.flush_until(Ms::MAX, dest)?;
        if self.shape != Format::EventsJson {
            return Ok(());
        }
        if self.pages == 0 {
            dest.boundary("empty")?;
            dest.w()
                .write_all(b"{\n    \"events\": [],\n    \"searchedLogStreams\": []\n}\n")?;
            return Ok(());
        }
        self.close_page(dest, false)
    }

    fn events(&self) -> u64 {
        self.events
    }

    fn span(&self) -> (Ms, Ms) {
        (self.first, self.last)
    }
}

// ---------------------------------------------------------------------------------------------
// Running

fn run(cfg: &Config, dest: &mut dyn Dest) -> io::Result<Summary> {
    if let Err(e) = parse_shape(cfg.shape.name()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, e));
    }
    rng::check_reference();
    let only = match &cfg.only {
        Some(c) => Some(cause_index(c).ok_or_else(|| {
            let names: Vec<&str> = CAUSES.iter().map(|c| c.0).collect();
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown cause '{c}' (one of: {})", names.join(", ")),
            )
        })?),
        None => None,
    };
    let mut rng = Rng::new(cfg.seed, 1);
    // 2025-01-06T00:00:00Z plus up to ~100 days.
    let start: Ms = 1_736_121_600_000 + rng.range(0, 100) * 86_400_000 + rng.range(0, 86_400_000);
    let world = World::new(&mut rng, ROTATION_FUNCTIONS, SECRETS, start);
    let (functions, secrets) = (world.functions.len(), world.secrets.len());
    dest.groups(
        world
            .functions
            .iter()
            .map(|f| format!("{}/{}/aws/lambda/{}", f.account, f.region, f.name))
            .collect(),
    );
    let mut sim = Sim {
        rng,
        world,
        out: Vec::new(),
        stats: Stats::default(),
        fail_per_mille: cfg.fail_per_mille,
        noise_percent: cfg.noise_percent,
        only,
    };
    let mut writer: Box<dyn ShapeWriter> = match cfg.shape {
        Format::S3Export | Format::Raw => Box::new(S3Writer {
            raw: cfg.shape == Format::Raw,
            windows: BTreeMap::new(),
            events: 0,
            first: Ms::MAX,
            last: Ms::MIN,
            line: String::with_capacity(4096),
        }),
        Format::EventsJson
        | Format::EventsText
        | Format::Tail
        | Format::TailShort
        | Format::Console => Box::new(JsonWriter {
            shape: cfg.shape,
            heap: BinaryHeap::new(),
            seq: 0,
            rng: Rng::new(cfg.seed, 7),
            page_open: false,
            page_events: 0,
            page_max: match cfg.page_events {
                0 => usize::MAX,
                n => n,
            },
            pages: 0,
            events: 0,
            first: Ms::MAX,
            last: Ms::MIN,
            buf: String::with_capacity(4096),
        }),
        other => unreachable!("checked above: the generator writes no {other}"),
    };
    let mut t = start;
    while dest.bytes() < cfg.size {
        t += sim.rng.range(0, 2 * MEAN_GAP_MS);
        sim.episode(t);
        writer.accept(std::mem::take(&mut sim.out));
        writer.flush_until(t, dest)?;
    }
    writer.finish(dest)?;
    dest.finish()?;
    let (first, last) = writer.span();
    Ok(Summary {
        shape: cfg.shape.name(),
        seed: cfg.seed,
        bytes: dest.bytes(),
        lines: dest.lines(),
        events: writer.events(),
        files: dest.file_count(),
        log_groups: dest.log_groups(),
        first_event: first,
        last_event: last,
        stats: sim.stats,
        functions,
        rotation_functions: ROTATION_FUNCTIONS,
        secrets,
    })
}

/// Writes the corpus to `out` (one file or stdin-like stream).
pub fn generate(cfg: &Config, out: &mut dyn Write) -> io::Result<Summary> {
    let mut dest = One {
        w: Counting {
            inner: BufWriter::with_capacity(1 << 16, out),
            bytes: 0,
            lines: 0,
        },
    };
    run(cfg, &mut dest)
}

/// Writes the corpus as a folder. The S3 shape is written as CloudWatch exports it
/// ([`ExportTasks`]): one export task per log group, one object per log stream, a stream
/// continuing in a new object after `size / files` bytes (so at least `files` objects, and one per
/// stream). Other shapes are written as `files` files of about equal size
/// (`filter-log-events-NNNN.json[.gz]`, …).
pub fn generate_folder(cfg: &Config, dir: &Path, files: u64, gzip: bool) -> io::Result<Summary> {
    if cfg.shape == Format::S3Export {
        let mut dest = ExportTasks::new(dir, gzip, files, cfg.size, cfg.seed);
        return run(cfg, &mut dest);
    }
    let mut dest = Folder::new(dir, cfg.shape, gzip, files.max(1), cfg.size);
    run(cfg, &mut dest)
}

/// Generates into memory (for the benches).
pub fn generate_vec(cfg: &Config) -> (Vec<u8>, Summary) {
    let mut v = Vec::with_capacity(cfg.size as usize + (1 << 20));
    let s = generate(cfg, &mut v).expect("writing to memory cannot fail");
    (v, s)
}
