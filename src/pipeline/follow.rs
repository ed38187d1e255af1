//! The follow strategy: standard input read as it arrives (`aws logs tail --follow | rotdiag`),
//! each rotation's failure reported as soon as it is decided, and the full report of what was
//! read when the input ends or rotdiag is told to stop (SIGINT, SIGTERM).
//!
//! The batch strategies read a window (megabytes) before they decode it and diagnose a rotation
//! when it closes: when it succeeds, when it has been idle for two hours of log time, or at the
//! end of the input. A live stream gives neither: lines come a few at a time and the input does
//! not end. So here a reader thread hands over whatever stdin gives as it gives it, and the main
//! thread wakes at least every [`TICK`]:
//!
//! * records are decoded up to the last record start (the record after it may still be
//!   growing: a traceback is one record of many lines); once the output is live and the input
//!   has been quiet for [`QUIET`], the rest is decoded too (the runtime writes a record's lines
//!   together; before the output is live, a pause is a writer's, not the end of a record);
//! * then the [`Session`] settles ([`Session::settle`]): invocations whose REPORT was seen close
//!   without waiting for their stream's next START, and those that name no rotation are
//!   placed by what came before them;
//! * every rotation with a failure not yet judged is diagnosed as it stands, and the diagnoses
//!   of causes not yet reported for it go to the [`LiveSink`]; a rotation that succeeds goes there
//!   too.
//!
//! So nothing waits for more than [`QUIET`] plus a [`TICK`] after the line that decides it.
//!
//! ## When a rotation is decided
//!
//! Secrets Manager invokes the function once per step with the same `ClientRequestToken`; when a
//! step fails it retries the whole rotation, createSecret first, with the same token, "multiple
//! times" (the rotation guide; how many and how far apart is not documented: the corpus's
//! retry came 4½ minutes later). A retry runs the same code against the same secret and
//! database, so it fails again unless what failed was passing (a database rebooting, a throttled
//! call): nothing in the logs of the failed step says a retry will succeed, and waiting for the
//! retries to end would hold the diagnosis for minutes to hours. So a rotation is decided:
//!
//! * failed, when one of its steps failed: an invocation ended with an error or an unhandled
//!   exception, or timed out. Its diagnosis is printed then; a retry that fails for a cause
//!   already printed prints nothing more, one that fails for another cause prints that;
//! * succeeded, when finishSecret succeeds (the template's "finishSecret: Successfully set
//!   AWSCURRENT stage" line): a line says so, and how many failed attempts came before.
//!
//! The final report is made as in batch from everything read: a rotation that recovered on a
//! retry is healthy there, as in batch, whatever was printed live.
//!
//! ## Auto and always
//!
//! With [`Live::Always`] (`--live`) the decisions are printed from the start. With
//! [`Live::Auto`] (stdin is a pipe) they are printed once the pipe has stayed open and quiet for
//! [`GO_LIVE_AFTER`]: `cat file | rotdiag` ends before that and prints the batch report alone,
//! unchanged; `aws logs tail --follow | rotdiag` goes live once the history is out. Before it
//! goes live the session is fed exactly as the stream strategy feeds it (no early closing), so a
//! pipe that ends gives the batch report. An input that is no live shape (gzip, UTF-16, an
//! archive, JSON documents; in auto mode anything but `aws logs tail` text) is handed to the
//! batch stream strategy, what was already read first.
//!
//! ## The hand-off
//!
//! A batch read does not need the reader thread: through it, every byte was copied once more
//! (from the thread's reads into the strategy's window) and crossed a channel, 30 M instructions
//! on 16 MiB of JSON beyond a mapped file. So on the hand-off the thread is asked to stop
//! ([`Reader::hand_back`]): after the read it is in, it sends its stdin back on a channel of its
//! own and ends. The batch reader hands on the chunks it read, then, once their channel is
//! disconnected (the thread is gone), takes that stdin and reads it itself, into the strategy's
//! buffer. No byte is lost or read twice: the thread reads only while it owns the handle and
//! sends it after its last read, and the batch reader reads it only once it received it, after
//! every chunk. A read error the thread met is handed on at its place and ends the input as
//! before, also one that ended the sample (the input is then reported as read in part, never as
//! read whole). The handle is a duplicate of stdin's descriptor (the same open pipe), read
//! without std's `Stdin` buffer (no byte can wait in a buffer one reader does not see), and
//! polled before each read, so that a stop request still ends the read of a pipe
//! that never closes. The pipe is widened to a window ([`widen_pipe`]): the thread had let the
//! writer run that far ahead while a window was decoded. Only on Unix: elsewhere the thread reads
//! to the end.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap as HashMap;

use super::blocks::{InOrder, STREAM_BLOCK, Spare, decode_window};
use super::session::Session;
use super::{MAX_RECORD_BYTES, Options, Run, conclude, source_id, sources};
use crate::diagnosis::{Aggregator, Diagnosis, Rendered};
use crate::engine;
use crate::format::lines::LineDecoder;
use crate::format::{Decoder, Format, detect};
use crate::input::transport::strip_ansi;
use crate::lambda::rotation::{Rotation, RotationLedger};
use crate::rules::RuleSet;
use crate::summary::{InputReport, Summary};

/// The longest the main thread sleeps: a stop request is seen within this.
pub const TICK: Duration = Duration::from_millis(50);
/// Input quiet this long: the record at the end is complete.
pub const QUIET: Duration = Duration::from_millis(100);
/// In auto mode, a pipe quiet and still open this long is live. Long enough that a writer
/// that is only slow is not taken for a live stream: `aws logs tail --since 2d` fetching its next
/// page, or any writer on a loaded machine (at 500 ms, the test suite's writers were, now and
/// then, under a load average of 5 to 9, and a live pipe decodes on [`QUIET`], which can cut a
/// record where its writer pauses again). A live stream waits this long once, after its history.
pub const GO_LIVE_AFTER: Duration = Duration::from_secs(2);
/// While the input keeps coming, the session still settles this often.
const SETTLE_EVERY: Duration = Duration::from_millis(250);
/// Bytes read from stdin at a time.
const CHUNK: usize = 64 << 10;
/// Reads handed over and not yet taken, at most: 2 MiB, a window of the stream strategy. The
/// reader only needs to stay ahead of the decoder; a deeper queue held 16 MiB of a fast pipe.
const READ_AHEAD: usize = 32;
/// Bytes held before detection (as the stream strategy samples).
const SNIFF: usize = 64 << 10;

/// When follow mode prints what it decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Live {
    /// From the start (`--live`).
    Always,
    /// Once stdin has stayed open and quiet for [`GO_LIVE_AFTER`] (stdin is a pipe).
    Auto,
}

/// What was decided about a rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A step failed: the run holds the diagnoses of causes not reported before for it.
    Failed,
    /// It succeeded, after `failed_attempts` failed steps.
    Succeeded { failed_attempts: usize },
}

/// Where follow mode sends what it decides: the diagnoses (ranked on from the ones sent before)
/// and the rotation as it stands (`found.rotations`, one), made of unredacted data (the report's
/// egress redacts it on the way out).
pub trait LiveSink {
    fn decided(&mut self, outcome: Outcome, found: Run);
}

/// Why follow mode stopped reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The input ended (or could not be read further).
    Ended,
    /// Told to stop (a signal).
    Stopped,
}

/// What the reader thread hands over.
enum Chunk {
    Data(ReadBytes),
    End(Option<io::Error>),
}

/// The reader thread's side of the main thread: its chunks, the request to stop reading, and
/// stdin once the thread gives it back.
struct Reader {
    rx: Receiver<Chunk>,
    hand_back: Arc<AtomicBool>,
    /// Asked to ([`Reader::hand_back`]), the thread stops reading and sends stdin here before it
    /// ends: the batch reader's from there on, and nothing was read from it after the chunks
    /// sent before (so it is taken once `rx` is disconnected, after every chunk).
    back: Receiver<std::fs::File>,
}

impl Reader {
    /// Asks the thread to stop reading and send stdin back, after the read it is in.
    fn hand_back(&self) {
        self.hand_back.store(true, Ordering::Relaxed);
    }
}

/// One read's bytes. Its buffer goes back to the reader thread when it is dropped (once its bytes
/// are copied out), so that reads reuse a few buffers: a fresh zeroed 64 KiB for every read was
/// 16.9 M instructions of jemalloc's `memset` on 16 MiB of JSON on stdin.
struct ReadBytes {
    bytes: Vec<u8>,
    back: SyncSender<Vec<u8>>,
}

impl AsRef<[u8]> for ReadBytes {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for ReadBytes {
    fn drop(&mut self) {
        // Full, or the reader has ended: the buffer is freed instead.
        let _ = self.back.try_send(std::mem::take(&mut self.bytes));
    }
}

/// Reads stdin until it ends or `stop` is set, reporting decisions to `sink` (see the module
/// doc); returns the run made of everything read, and why it stopped.
pub fn follow(
    rules: &RuleSet,
    opts: &Options,
    live: Live,
    stop: &Arc<AtomicBool>,
    sink: &mut dyn LiveSink,
) -> (Run, Stop) {
    let reader = spawn_reader();
    let rx = &reader.rx;
    let mut input = Pending::default();
    // The sample: until a line is complete and more than a moment passed, or enough came.
    let started = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        input.receive(rx, TICK);
        let waited = started.elapsed() >= QUIET && memchr::memchr(b'\n', &input.buf).is_some();
        if input.eof || input.buf.len() >= SNIFF || waited {
            break;
        }
    }
    // The sample is all that came (a megabyte, when the reader is ahead).
    let ansi = memchr::memmem::find(&input.buf, b"\x1b[").is_some();
    match line_decoder(&input.buf, opts.input_format, live, ansi) {
        Some((format, decoder)) => {
            let mut f = Follower::new(rules, opts, live, format, decoder, ansi);
            f.run(input, rx, stop, sink)
        }
        None => {
            let run = batch(input, reader, rules, opts, stop);
            let why = if stop.load(Ordering::Relaxed) {
                Stop::Stopped
            } else {
                Stop::Ended
            };
            (run, why)
        }
    }
}

/// Not a live shape: the batch stream strategy reads it, from what the sample read on. A read
/// error that ended the sample is handed on after the sample's bytes, as any later one is.
fn batch(
    mut input: Pending,
    reader: Reader,
    rules: &RuleSet,
    opts: &Options,
    stop: &Arc<AtomicBool>,
) -> Run {
    reader.hand_back();
    let from = match (input.eof, input.error.take()) {
        (true, error) => Source::Ended(error),
        (false, _) => Source::Thread {
            rx: reader.rx,
            back: reader.back,
            data: None,
        },
    };
    let rest = BatchStdin {
        from,
        stop: Arc::clone(stop),
    };
    let reader = Box::new(io::Cursor::new(input.buf).chain(rest));
    let outcomes = sources::scan_stdin_reader(reader, rules, opts);
    conclude(outcomes, Vec::new(), rules, opts)
}

/// The decoder to follow a sample with, when it is a line-oriented shape of plain text that can
/// be live (in auto mode, what `aws logs tail` prints); `ansi`: the sample holds colour codes.
fn line_decoder(
    sample: &[u8],
    forced: Option<Format>,
    live: Live,
    ansi: bool,
) -> Option<(Format, LineDecoder)> {
    let plain = !sample.starts_with(&[0x1f, 0x8b])
        && !sample.starts_with(b"\xEF\xBB\xBF")
        && !sample.starts_with(&[0xff, 0xfe])
        && !sample.starts_with(&[0xfe, 0xff])
        && memchr::memchr(0, sample).is_none()
        && crate::input::archive::sniff(sample).is_none();
    if !plain || sample.is_empty() {
        return None;
    }
    // Without colour codes there is nothing to strip: no copy of the sample byte by byte (12 M
    // instructions for a megabyte of JSON that came before the sample was looked at).
    let format = forced.unwrap_or_else(|| {
        if ansi {
            detect::detect(&strip_ansi(sample))
        } else {
            detect::detect(sample)
        }
    });
    let shape = match live {
        Live::Always => true,
        Live::Auto => matches!(format, Format::Tail | Format::TailShort),
    };
    match format.decoder() {
        Decoder::Lines(d) if shape => Some((format, d)),
        _ => None,
    }
}

/// Reads stdin on a thread of its own, handing over each read as it returns.
fn spawn_reader() -> Reader {
    let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
    let (back_tx, back) = mpsc::sync_channel(1);
    let hand_back = Arc::new(AtomicBool::new(false));
    let asked = Arc::clone(&hand_back);
    std::thread::spawn(move || read_stdin(&tx, &asked, &back_tx));
    Reader {
        rx,
        hand_back,
        back,
    }
}

fn read_stdin(tx: &SyncSender<Chunk>, hand_back: &AtomicBool, back: &SyncSender<std::fs::File>) {
    #[cfg(unix)]
    if let Ok(fd) = std::os::fd::AsFd::as_fd(&io::stdin()).try_clone_to_owned() {
        if let Some(file) = read_chunks(std::fs::File::from(fd), tx, Some(hand_back)) {
            let _ = back.send(file);
        }
        return;
    }
    // No handle to send back: read to the end.
    let _ = (hand_back, back);
    read_chunks(io::stdin().lock(), tx, None);
}

/// Sends `stdin`'s reads until it ends, or, once `hand_back` is set, returns it (after the read
/// it was in, whose bytes are sent first).
fn read_chunks<R: Read>(
    mut stdin: R,
    tx: &SyncSender<Chunk>,
    hand_back: Option<&AtomicBool>,
) -> Option<R> {
    let (back, returned) = mpsc::sync_channel(READ_AHEAD + 2);
    loop {
        if hand_back.is_some_and(|h| h.load(Ordering::Relaxed)) {
            return Some(stdin);
        }
        let mut buf: Vec<u8> = returned.try_recv().unwrap_or_default();
        // Zeroes only what the buffer's last read did not fill.
        buf.resize(CHUNK, 0);
        match stdin.read(&mut buf) {
            Ok(0) => {
                let _ = tx.send(Chunk::End(None));
                return None;
            }
            Ok(n) => {
                buf.truncate(n);
                let data = ReadBytes {
                    bytes: buf,
                    back: back.clone(),
                };
                if tx.send(Chunk::Data(data)).is_err() {
                    return None;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.send(Chunk::End(Some(e)));
                return None;
            }
        }
    }
}

/// Bytes received and not yet decoded.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    eof: bool,
    error: Option<io::Error>,
    /// When the last bytes came.
    last_data: Option<Instant>,
}

impl Pending {
    /// Waits up to `wait` for input, then takes whatever else is already there.
    fn receive(&mut self, rx: &Receiver<Chunk>, wait: Duration) {
        if self.eof {
            return;
        }
        let first = match rx.recv_timeout(wait) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => Chunk::End(None),
        };
        self.take(first);
        while !self.eof && self.buf.len() < 16 * CHUNK {
            match rx.try_recv() {
                Ok(c) => self.take(c),
                Err(_) => break,
            }
        }
    }

    fn take(&mut self, c: Chunk) {
        match c {
            Chunk::Data(d) => {
                self.buf.extend_from_slice(d.as_ref());
                self.last_data = Some(Instant::now());
            }
            Chunk::End(e) => {
                self.eof = true;
                self.error = e;
            }
        }
    }

    /// Has nothing come for `d`?
    fn quiet_for(&self, d: Duration) -> bool {
        self.last_data.is_none_or(|t| t.elapsed() >= d)
    }
}

/// The rest of stdin for the batch strategy: the reader thread's chunks, then stdin itself once
/// the thread sent it back (see the module doc); it ends where a signal asks to stop.
struct BatchStdin {
    from: Source,
    stop: Arc<AtomicBool>,
}

/// Where [`BatchStdin`] reads from.
enum Source {
    /// The reader thread's chunks; `data` the one being handed on; `back`, stdin once the
    /// thread is done.
    Thread {
        rx: Receiver<Chunk>,
        back: Receiver<std::fs::File>,
        data: Option<io::Cursor<ReadBytes>>,
    },
    /// Stdin, handed back by the thread.
    #[cfg(unix)]
    Direct(std::fs::File),
    /// The end; with the read error that ended the sample while it is still to be handed on.
    Ended(Option<io::Error>),
}

impl Read for BatchStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Source::Thread { data: Some(d), .. } = &mut self.from {
                let n = d.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
            }
            if self.stop.load(Ordering::Relaxed) && !matches!(self.from, Source::Ended(_)) {
                self.from = Source::Ended(None);
            }
            match &mut self.from {
                Source::Ended(error) => return error.take().map_or(Ok(0), Err),
                Source::Thread { rx, back, data } => match rx.recv_timeout(TICK) {
                    Ok(Chunk::Data(d)) => *data = Some(io::Cursor::new(d)),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => self.from = handed_back(back),
                    Ok(Chunk::End(None)) => self.from = Source::Ended(None),
                    Ok(Chunk::End(Some(e))) => {
                        self.from = Source::Ended(None);
                        return Err(e);
                    }
                },
                #[cfg(unix)]
                Source::Direct(file) => {
                    if !readable(file, TICK) {
                        continue;
                    }
                    match file.read(buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            self.from = Source::Ended(None);
                            return Err(e);
                        }
                        Ok(n) => return Ok(n),
                    }
                }
            }
        }
    }
}

/// Where to read on once the reader thread is gone: stdin, if it sent it back, else nowhere.
fn handed_back(back: &Receiver<std::fs::File>) -> Source {
    #[cfg(unix)]
    if let Ok(file) = back.try_recv() {
        widen_pipe(&file);
        return Source::Direct(file);
    }
    let _ = back;
    Source::Ended(None)
}

/// Lets the writer of a pipe run a megabyte ahead (a window), not the 64 KiB a pipe holds by
/// default: the reader thread kept that much read ahead while the window was decoded. Best
/// effort: a pipe that cannot be widened (or no pipe) is read as it is.
#[cfg(unix)]
fn widen_pipe(file: &std::fs::File) {
    #[cfg(target_os = "linux")]
    let _ = rustix::pipe::fcntl_setpipe_size(file, 1 << 20);
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Waits up to `wait` for `file` to have something to read (bytes, its end, or an error the
/// read reports); false when the wait ran out or a signal came, so that the caller looks at its
/// stop flag. A blocking read would not return for a signal (signal-hook restarts it).
#[cfg(unix)]
fn readable(file: &std::fs::File, wait: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(file, PollFlags::IN)];
    let timeout = Timespec::try_from(wait).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    });
    match poll(&mut fds, Some(&timeout)) {
        Ok(ready) => ready > 0,
        Err(e) => e != rustix::io::Errno::INTR,
    }
}

/// How the input's text decodes: its shape's decoder, and whether its colours are stripped
/// (`aws logs tail --color on`).
struct Text {
    decoder: LineDecoder,
    ansi: bool,
}

/// The follow loop's state.
struct Follower<'r> {
    rules: &'r RuleSet,
    opts: &'r Options,
    live: Live,
    going_live: bool,
    session: Session<'r>,
    report: InputReport,
    text: Text,
    spare: Spare,
    /// Bytes decoded so far, and lines.
    offset: u64,
    lines: u64,
    /// Records fed since the session last settled.
    unsettled: bool,
    /// Only blank lines read so far.
    blank: bool,
    last_settle: Instant,
    judged: Judged,
}

impl<'r> Follower<'r> {
    fn new(
        rules: &'r RuleSet,
        opts: &'r Options,
        live: Live,
        format: Format,
        decoder: LineDecoder,
        ansi: bool,
    ) -> Follower<'r> {
        let id = source_id(0, 0);
        let session = Session::new(rules, id, opts);
        let mut report = InputReport::new("<stdin>".to_string());
        report.format = format.name().to_string();
        if ansi {
            report.transport.push("ansi".to_string());
        }
        Follower {
            rules,
            opts,
            live,
            going_live: live == Live::Always,
            session,
            report,
            text: Text { decoder, ansi },
            spare: Spare::default(),
            offset: 0,
            lines: 0,
            unsettled: false,
            blank: true,
            last_settle: Instant::now(),
            judged: Judged::new(id),
        }
    }

    fn run(
        &mut self,
        mut input: Pending,
        rx: &Receiver<Chunk>,
        stop: &AtomicBool,
        sink: &mut dyn LiveSink,
    ) -> (Run, Stop) {
        let why = loop {
            let end = input.eof;
            self.decode(&mut input);
            if !self.going_live && self.live == Live::Auto && !end && input.quiet_for(GO_LIVE_AFTER)
            {
                self.going_live = true;
            }
            let due = input.quiet_for(TICK) || self.last_settle.elapsed() >= SETTLE_EVERY;
            if self.going_live && self.unsettled && due {
                self.settle(sink);
            }
            // A signal that came with the end of the input (Ctrl-C in a terminal reaches
            // `aws logs tail` too, which closes the pipe) is what stopped it.
            if stop.load(Ordering::Relaxed) {
                break Stop::Stopped;
            }
            if end {
                break Stop::Ended;
            }
            input.receive(rx, TICK);
        };
        if why == Stop::Stopped {
            // What arrived is decoded whole: the report is of everything read.
            input.eof = true;
            self.decode(&mut input);
        }
        if let Some(e) = input.error.take() {
            self.report
                .incomplete(crate::problem::Problem::read(Some(self.offset), &e));
        }
        (self.finish(), why)
    }

    /// Decodes what is complete in `input`: up to the last record start, or everything once the
    /// input is over, or quiet while the output is live. Before then a quiet pipe is only a
    /// writer that paused (`cat FILE | rotdiag` on a loaded machine), perhaps inside a record:
    /// cutting there would make two records of one, and the batch report would depend on when
    /// the writer paused.
    fn decode(&mut self, input: &mut Pending) {
        let cut = if input.eof {
            input.buf.len()
        } else if self.going_live && input.quiet_for(QUIET) {
            memchr::memrchr(b'\n', &input.buf).map_or(0, |i| i + 1)
        } else {
            match last_record_start(&input.buf, &self.text.decoder) {
                Some(c) => c,
                // Lines keep coming and none starts a record: memory stays bounded.
                None if input.buf.len() > 2 * MAX_RECORD_BYTES => {
                    memchr::memrchr(b'\n', &input.buf).map_or(input.buf.len(), |i| i + 1)
                }
                None => 0,
            }
        };
        if cut == 0 {
            return;
        }
        let text: Vec<u8> = input.buf.drain(..cut).collect();
        self.blank &= text.iter().all(u8::is_ascii_whitespace);
        // Offsets and the input's byte count are of the text decoded, colours stripped, as
        // when the same bytes are read from a file (`transport::stream`'s layers).
        let text = if self.text.ansi {
            strip_ansi(&text)
        } else {
            text
        };
        let decoded = text.len() as u64;
        let blocks = decode_window(
            &text,
            &self.text.decoder,
            self.offset,
            STREAM_BLOCK,
            self.session.rules,
            &self.spare,
        );
        let mut order = InOrder {
            session: &mut self.session,
            line_base: self.lines,
            spare: &self.spare,
        };
        order.assemble(blocks);
        self.lines = order.line_base;
        self.offset += decoded;
        self.unsettled = true;
    }

    fn settle(&mut self, sink: &mut dyn LiveSink) {
        let (rules, judged) = (self.rules, &mut self.judged);
        let mut decided = Vec::new();
        self.session.settle(&mut |rot, closed| {
            if let Some(d) = judged.judge(rot, closed, rules) {
                decided.push(d);
            }
        });
        for (outcome, found) in decided {
            sink.decided(outcome, found);
        }
        self.unsettled = false;
        self.last_settle = Instant::now();
    }

    fn finish(&mut self) -> Run {
        let session = std::mem::replace(&mut self.session, Session::new(self.rules, 0, self.opts));
        let mut report = std::mem::replace(&mut self.report, InputReport::new(String::new()));
        report.bytes = self.offset;
        let mut outcome = session.end(report);
        sources::settle(&mut outcome.report, self.blank, self.opts.input_format);
        conclude(vec![outcome], Vec::new(), self.rules, self.opts)
    }
}

/// Where the last record of `buf` starts (after its first line), when a record start follows a
/// complete line.
fn last_record_start(buf: &[u8], decoder: &LineDecoder) -> Option<usize> {
    let mut from = buf.len().saturating_sub(64 << 10).max(1);
    let mut last = None;
    loop {
        while let Some(b) = decoder.boundary(buf, from) {
            if b == 0 || b >= buf.len() {
                break;
            }
            last = Some(b);
            from = b + 1;
        }
        if last.is_some() || from <= 1 {
            return last;
        }
        // No record start in the tail: look from the beginning.
        from = 1;
    }
}

/// What was already reported about each rotation still followed.
struct Judged {
    source: u64,
    seen: HashMap<String, Seen>,
    /// Diagnoses sent so far (they are numbered on).
    sent: usize,
}

#[derive(Default)]
struct Seen {
    /// Failed invocations already judged.
    failed: usize,
    /// Causes already reported.
    causes: Vec<String>,
}

impl Judged {
    fn new(source: u64) -> Judged {
        Judged {
            source,
            seen: HashMap::default(),
            sent: 0,
        }
    }

    /// What is newly decided about `rot` (see the module doc), if anything.
    fn judge(&mut self, rot: &Rotation, closed: bool, rules: &RuleSet) -> Option<(Outcome, Run)> {
        let key = key(rot);
        let failed = rot.invocations.iter().filter(|i| i.failed()).count();
        let seen = self.seen.entry(key.clone()).or_default();
        let mut out = None;
        if !rot.succeeded && failed > seen.failed {
            seen.failed = failed;
            let found = engine::evaluate(rot, rules);
            let best = best(&found);
            let mut agg = Aggregator::default();
            for o in found {
                agg.add(Rendered::new(o, rules));
            }
            let sources = [(self.source, "<stdin>".to_string())];
            let mut new: Vec<Diagnosis> = agg
                .finish(rules, &sources)
                .into_iter()
                .filter(|d| !seen.causes.contains(&d.cause))
                .collect();
            for d in &mut new {
                seen.causes.push(d.cause.clone());
                self.sent += 1;
                d.rank = self.sent;
            }
            if !new.is_empty() {
                out = Some((Outcome::Failed, one(rot, rules, best, new)));
            }
        }
        if closed {
            let failed_attempts = self.seen.remove(&key).map_or(0, |s| s.failed);
            if rot.succeeded {
                let found = one(rot, rules, None, Vec::new());
                out = Some((Outcome::Succeeded { failed_attempts }, found));
            }
        }
        out
    }
}

/// A rotation's identity while it is followed: its token, else its secret, else where it began.
fn key(rot: &Rotation) -> String {
    match (&rot.token, &rot.secret, rot.invocations.first()) {
        (Some(t), _, _) => format!("token:{t}"),
        (None, Some(s), _) => format!("secret:{s}"),
        (None, None, Some(i)) => format!("line:{}", i.first_line),
        (None, None, None) => String::new(),
    }
}

/// The cause and confidence of the best occurrence.
fn best(found: &[engine::Occurrence]) -> Option<(usize, f64)> {
    found
        .iter()
        .map(|o| (o.cause, o.confidence))
        .reduce(|a, b| if b.1 > a.1 { b } else { a })
}

/// A run holding `diagnoses` and the one rotation `rot` as it stands.
fn one(
    rot: &Rotation,
    rules: &RuleSet,
    best: Option<(usize, f64)>,
    diagnoses: Vec<Diagnosis>,
) -> Run {
    let mut ledger = RotationLedger::default();
    ledger.record(rot, rules, best);
    let rotations = ledger.finish(rules);
    Run {
        summary: Summary {
            inputs: Vec::new(),
            invocations: rot.invocations.len() as u64,
            rotations: rotations.counts(),
            settings: Default::default(),
        },
        diagnoses: diagnoses.into(),
        rotations,
        timeline: None,
        trace: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::InputState;
    use crate::testing::rules;

    /// A real run's `aws logs tail` output: setSecret cannot reach PostgreSQL (20 s), retried.
    const UNREACHABLE: &str = include_str!(
        "../../corpus/database-unreachable--tail--real-pg-single-packets-dropped/tail.txt"
    );

    fn tail() -> LineDecoder {
        let Decoder::Lines(d) = Format::Tail.decoder() else {
            panic!("tail is line-oriented")
        };
        d
    }

    /// Decodes `text` whole (as once the input is quiet), settles, and returns what was decided.
    fn feed(f: &mut Follower, text: &str) -> Vec<(Outcome, Vec<String>)> {
        struct Collect(Vec<(Outcome, Vec<String>)>);
        impl LiveSink for Collect {
            fn decided(&mut self, outcome: Outcome, found: Run) {
                let causes = found
                    .diagnoses
                    .into_vec()
                    .into_iter()
                    .map(|d| d.cause)
                    .collect();
                self.0.push((outcome, causes));
            }
        }
        let mut input = Pending {
            buf: text.as_bytes().to_vec(),
            ..Pending::default()
        };
        f.decode(&mut input);
        assert!(input.buf.is_empty());
        let mut sink = Collect(Vec::new());
        f.settle(&mut sink);
        sink.0
    }

    /// The file's lines `from..to` (1-based, `to` included).
    fn lines(from: usize, to: usize) -> String {
        let all: Vec<&str> = UNREACHABLE.split_inclusive('\n').collect();
        all[from - 1..to].concat()
    }

    #[test]
    fn a_failed_step_is_decided_at_its_report_and_a_retry_for_the_same_cause_adds_nothing() {
        let opts = Options::default();
        let mut f = Follower::new(rules(), &opts, Live::Always, Format::Tail, tail(), false);
        // Through the failed setSecret's END: its REPORT (duration, status) is still to come.
        assert_eq!(feed(&mut f, &lines(1, 15)), []);
        let decided = feed(&mut f, &lines(16, 16));
        assert_eq!(
            decided,
            [(Outcome::Failed, vec!["database-unreachable".to_string()])]
        );
        // The retry fails the same way: nothing new.
        let total = UNREACHABLE.split_inclusive('\n').count();
        assert_eq!(feed(&mut f, &lines(17, total)), []);
        let run = f.finish();
        assert_eq!(run.diagnoses.len(), 1);
        assert_eq!(run.diagnoses.into_vec()[0].cause, "database-unreachable");
        assert_eq!(run.summary.inputs[0].records, 20);
    }

    /// A run of the batch hand-off on `buf`, as the sample ended it (`error`: with a read error).
    fn handed_to_batch(buf: &[u8], error: Option<io::Error>) -> Run {
        let (_tx, rx) = mpsc::sync_channel(1);
        let (_back_tx, back) = mpsc::sync_channel(1);
        let reader = Reader {
            rx,
            hand_back: Arc::new(AtomicBool::new(false)),
            back,
        };
        let input = Pending {
            buf: buf.to_vec(),
            eof: true,
            error,
            last_data: None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        batch(input, reader, rules(), &Options::default(), &stop)
    }

    #[test]
    fn a_read_error_that_ended_the_sample_leaves_the_input_incomplete() {
        // filter-log-events JSON is no live shape: the sample goes to the batch strategy.
        let page = include_bytes!(
            "../../corpus/database-credentials-invalid--events-json--multi-user/filter-log-events.json"
        );
        let whole = handed_to_batch(page, None);
        let input = &whole.summary.inputs[0];
        assert_eq!((input.state, input.errors.len()), (InputState::Read, 0));
        let cut = handed_to_batch(page, Some(io::Error::other("Input/output error")));
        let input = &cut.summary.inputs[0];
        assert_eq!(input.state, InputState::Incomplete, "{:?}", input.errors);
        assert!(!input.errors.is_empty());
        // What was read is still diagnosed.
        assert_eq!(cut.diagnoses.len(), whole.diagnoses.len());
        assert!(!cut.diagnoses.is_empty());
    }

    #[test]
    fn the_last_record_waits_until_a_record_starts_after_it() {
        let text = lines(1, 10);
        // Line 9 starts the traceback's record; line 10 continues it.
        let at = last_record_start(text.as_bytes(), &tail()).unwrap();
        assert!(text[at..].starts_with("2026-12-06T02:57:09.240000+00:00"));
        assert!(text[at..].contains("ValueError"), "{}", &text[at..]);
        assert_eq!(last_record_start(lines(1, 1).as_bytes(), &tail()), None);
    }
}
