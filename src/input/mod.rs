//! Bytes in: files (memory-mapped), folders (walked recursively), stdin (streamed), and the
//! transport layers around them (gzip, byte-order marks, UTF-16, terminal colour codes).
//!
//! A regular, uncompressed file is mapped with memmap2 (read into memory when it is small: see
//! [`READ_BELOW`]) and decoded in place, in parallel blocks.
//! Everything else (stdin, `.gz` members, UTF-16 text) is a bounded stream: it is decoded a window
//! at a time, so memory does not grow with the size of the input.

pub(crate) mod archive;
pub(crate) mod guard;
pub mod transport;
pub(crate) mod walk;

use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::progress::Progress;
pub use walk::WalkRules;
pub(crate) use walk::{expand, expand_each};

/// How many bytes of an input (after its transport layers) are sampled for format detection.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Files smaller than this are read into memory rather than mapped. Mapping costs a system call
/// to map, page faults to touch and one to unmap, and in a process with several threads each
/// unmap makes the other cores flush their TLBs: on a folder of many small files (an S3 export
/// holds one object per log stream, about 11 KiB each) that is most of the system time, and it
/// grows with the threads. ripgrep likewise maps only what it searches alone. A file this small
/// is one block of the parallel decoder anyway.
const READ_BELOW: u64 = 256 * 1024;

/// What the user named on the command line, expanded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum InputSpec {
    Stdin,
    File(PathBuf),
}

impl InputSpec {
    pub(crate) fn name(&self) -> String {
        match self {
            InputSpec::Stdin => "<stdin>".to_string(),
            InputSpec::File(p) => p.display().to_string(),
        }
    }
}

/// The log stream an S3 export file belongs to, from its path
/// (`<prefix>/<taskId>/<logStreamName>/000000.gz`, further chunks `000001.gz`, …; unzipped copies
/// without `.gz`). Lambda stream names contain `/`; exports seen in the wild flatten them to
/// `2025-03-11-[$LATEST]5f0d…`, and then the folder is taken as it is. When the `/` were kept, the
/// stream is the folder and the date folders above it: `2025/03/11/[$LATEST]5f0d…`.
pub(crate) fn stream_from_path(spec: &InputSpec) -> Option<String> {
    let InputSpec::File(p) = spec else {
        return None;
    };
    let name = p.file_name()?.to_str()?;
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    if stem.len() != 6 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let dir = p.parent()?;
    let parent = dir.file_name()?.to_str()?;
    if !(parent.contains('[') && parent.contains(']')) {
        return None;
    }
    if parent.starts_with('[') {
        // `…/2025/03/11/[$LATEST]5f0d…/000000.gz`
        let mut up = dir.ancestors().skip(1);
        let mut date = Vec::new();
        for want in [2, 2, 4] {
            match up
                .next()
                .and_then(|a| a.file_name())
                .and_then(|n| n.to_str())
            {
                Some(n) if n.len() == want && n.bytes().all(|b| b.is_ascii_digit()) => date.push(n),
                _ => return Some(parent.to_string()),
            }
        }
        return Some(format!("{}/{}/{}/{parent}", date[2], date[1], date[0]));
    }
    Some(parent.to_string())
}

/// The export task folder an S3 export object sits in (`<prefix>/<taskId>/<stream>/000000.gz`:
/// the `<prefix>/<taskId>` before its stream), or `None` for any other input. One export task is
/// one log group, so objects of different task folders are different log groups (or time ranges
/// of one), whose invocations never belong to one rotation.
pub(crate) fn export_task_of(spec: &InputSpec) -> Option<PathBuf> {
    let stream = stream_from_path(spec)?;
    let InputSpec::File(p) = spec else {
        return None;
    };
    let levels = stream.split('/').count();
    p.parent()?.ancestors().nth(levels).map(Path::to_path_buf)
}

pub(crate) fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// An opened input: mapped bytes (decoded in place), a stream, or an archive of inputs.
pub enum Opened {
    Mapped(Mapped),
    Stream(Box<dyn Read + Send>),
    Archive(archive::Archive),
}

/// A file's bytes in memory, decoded in place: memory-mapped and watched for truncation (see
/// [`guard`]), or, for a small file, read (see [`READ_BELOW`]); for an empty file, nothing.
pub struct Mapped {
    // Declared before `map`: unregistered before the map is unmapped.
    guard: Option<guard::Guard>,
    map: Option<Held>,
    skip: usize,
    file: Option<File>,
}

/// How a file's bytes are held.
enum Held {
    Map(Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for Held {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Held::Map(m) => m,
            Held::Read(v) => v,
        }
    }
}

/// How a mapped file changed while it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// It is shorter now; reads past its new end saw zeros (or, when `faulted` is false, the
    /// data had been read before it went).
    Shrank { from: u64, to: u64, faulted: bool },
    /// It is longer now; what was appended was not read.
    Grew { from: u64, to: u64 },
    /// Same size, but part of it went while it was read (truncated and written again).
    Replaced,
}

impl Change {
    /// Was data that rotdiag meant to read lost?
    pub(crate) fn lost_data(self) -> bool {
        !matches!(
            self,
            Change::Grew { .. } | Change::Shrank { faulted: false, .. }
        )
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Shrank { from, to, faulted: true } => write!(
                f,
                "changed while being read: it shrank from {from} to {to} bytes; what was read before byte {to} is kept, the rest was not read"
            ),
            Change::Shrank { from, to, faulted: false } => write!(
                f,
                "changed while being read: it shrank from {from} to {to} bytes after its data was read"
            ),
            Change::Grew { from, to } => write!(
                f,
                "changed while being read: it grew from {from} to {to} bytes; the {} bytes added were not read",
                to - from
            ),
            Change::Replaced => f.write_str(
                "changed while being read: it was truncated and written again; what was read before the change is kept"
            ),
        }
    }
}

impl Mapped {
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m[self.skip..],
            None => &[],
        }
    }

    /// The first bytes, for format detection: [`SNIFF_BYTES`] at most.
    pub(crate) fn sample(&self) -> &[u8] {
        let bytes = self.bytes();
        &bytes[..bytes.len().min(SNIFF_BYTES)]
    }

    /// How the file changed since it was mapped, if it did.
    pub(crate) fn change(&self) -> Option<Change> {
        let (map, file) = (self.map.as_ref()?, self.file.as_ref()?);
        let from = map.len() as u64;
        let to = file.metadata().map(|m| m.len()).unwrap_or(0);
        let faulted = self.guard.as_ref().is_some_and(guard::Guard::changed);
        match to.cmp(&from) {
            std::cmp::Ordering::Less => Some(Change::Shrank { from, to, faulted }),
            std::cmp::Ordering::Greater => Some(Change::Grew { from, to }),
            std::cmp::Ordering::Equal if faulted => Some(Change::Replaced),
            std::cmp::Ordering::Equal => None,
        }
    }
}

/// Opens an input and peels off its transport layers. Returns the opened data and a sample of
/// its first (decoded) bytes for format detection; a file held in memory is its own sample
/// ([`Mapped::sample`], not copied), and the sample returned for it is empty.
///
/// What a stream reads (stdin, a FIFO, a compressed file's raw bytes) advances `progress`; a
/// mapped file is counted by its reader, block by block.
pub(crate) fn open(
    spec: &InputSpec,
    progress: &Progress,
) -> io::Result<(Opened, Vec<u8>, transport::Layers)> {
    match spec {
        InputSpec::Stdin => transport::stream(Box::new(progress.reader(Fused::new(io::stdin())))),
        InputSpec::File(p) => open_file(p, progress),
    }
}

/// A reader that stays at its end once it reached it. A terminal's end of input is one Ctrl-D: a
/// `read` that returns 0 once, after which the next `read` waits for more typing. The decoders
/// may read again after an end (to fill a window, to look for another gzip member), so without
/// this the user would have to press Ctrl-D three times.
pub(crate) struct Fused<R> {
    inner: R,
    done: bool,
}

impl<R> Fused<R> {
    pub(crate) fn new(inner: R) -> Fused<R> {
        Fused { inner, done: false }
    }
}

impl<R: Read> Read for Fused<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.done = n == 0;
        Ok(n)
    }
}

fn open_file(p: &Path, progress: &Progress) -> io::Result<(Opened, Vec<u8>, transport::Layers)> {
    let file = File::open(p)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        // FIFOs, devices: read as a stream.
        return transport::stream(Box::new(progress.reader(file)));
    }
    if meta.len() == 0 {
        return Ok((
            Opened::Mapped(Mapped {
                guard: None,
                map: None,
                skip: 0,
                file: None,
            }),
            Vec::new(),
            transport::Layers::default(),
        ));
    }
    let (map, guard) = if meta.len() < READ_BELOW {
        (Held::Read(read_whole(&file, meta.len())?), None)
    } else {
        // SAFETY: the map is read-only. A truncation by another process while it is read would
        // raise SIGBUS: `guard` turns that into zero pages and a report naming the file.
        let map = unsafe { Mmap::map(&file)? };
        // Read front to back: the kernel maps pages ahead of the reader in bigger runs, so a
        // page fault (a tenth of the CPU of a run on a cached file, measured) is taken far less
        // often.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        let guard = guard::Guard::new(map.as_ptr(), map.len());
        (Held::Map(map), guard)
    };
    let head = &map[..map.len().min(4)];
    let sample_end = map.len().min(SNIFF_BYTES);
    if let Some(kind) = archive::sniff(&map[..sample_end]) {
        // The archive readers start from the file's first byte; only a read moved the offset.
        if matches!(map, Held::Read(_)) {
            (&file).rewind()?;
        }
        let source = match kind {
            archive::Kind::Zip => archive::Source::File(file),
            archive::Kind::Tar => archive::Source::Stream(Box::new(progress.reader(file))),
        };
        return Ok((
            Opened::Archive(archive::Archive::new(kind, source)),
            Vec::new(),
            transport::Layers::default(),
        ));
    }
    let unguarded = matches!(map, Held::Map(_)) && guard.is_none();
    if unguarded || transport::needs_stream(head, &map[..sample_end]) {
        // Compressed or transcoded: read through the file (a truncation then ends the stream
        // early, which the decoders report), not through the map.
        drop(guard);
        return match map {
            // Already in memory: read from there, not from the file again.
            Held::Read(bytes) => {
                transport::stream(Box::new(progress.reader(io::Cursor::new(bytes))))
            }
            Held::Map(_) => transport::stream(Box::new(progress.reader(file))),
        };
    }
    let skip = if head.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    Ok((
        Opened::Mapped(Mapped {
            guard,
            map: Some(map),
            skip,
            file: Some(file),
        }),
        Vec::new(),
        transport::Layers {
            bom: skip > 0,
            ..Default::default()
        },
    ))
}

/// Reads a small file from where it is to its end, `size` (its length when it was looked at) a
/// guess: a file that grew since is read to its new end, one that shrank to where it ends now.
///
/// Hand-written, as small files are most of what a folder of S3 export objects costs: not
/// `Read::read_to_end` on the `File`, which first asks the file for its length and its offset
/// again (an `fstat` and an `lseek`, for what `size` already says: two of the nine system calls
/// an 11 KiB object cost), nor the generic `read_to_end` (through `Take`), which reads 8 KiB at a
/// time until reads come back full. One read of `size` bytes, into room for one byte more, then
/// the read that finds the end. Zeroing the room first (safe code) costs less than those calls.
fn read_whole(mut file: &File, size: u64) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; size as usize + 1];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            bytes.resize(bytes.len() * 2, 0);
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// A terminal: each `read` returns what the next chunk holds, an empty chunk standing for
    /// one Ctrl-D (then it would wait for more typing).
    struct Tty(Vec<&'static [u8]>);

    impl Read for Tty {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let chunk = self.0.remove(0);
            buf[..chunk.len()].copy_from_slice(chunk);
            Ok(chunk.len())
        }
    }

    #[test]
    fn one_end_of_input_ends_it_for_good() {
        let mut r = Fused::new(Tty(vec![b"line\n", b"", b"typed after the end\n"]));
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"line\n");
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
    }

    /// Small files are read and big ones mapped; either way the bytes past a BOM come back, and a
    /// small gzip file is read as a stream from the bytes already read.
    #[test]
    fn small_files_are_read_big_ones_mapped_and_both_give_their_bytes() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let progress = Progress::new(false, 0, None);
        let line = b"2024-05-01T12:00:00.000Z START RequestId: x\n";
        for (name, lines, mapped) in [("small.log", 10, false), ("big.log", 10_000, true)] {
            let path = dir.path().join(name);
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            (0..lines).for_each(|_| bytes.extend_from_slice(line));
            fs::write(&path, &bytes).unwrap();
            let (opened, sample, layers) = open(&InputSpec::File(path), &progress).unwrap();
            let Opened::Mapped(m) = opened else {
                panic!("{name}: not held in memory")
            };
            assert_eq!(matches!(m.map, Some(Held::Map(_))), mapped, "{name}");
            assert_eq!(m.bytes(), &bytes[3..], "{name}");
            assert!(sample.is_empty(), "{name}: held in memory, its own sample");
            assert!(
                layers.bom && m.sample().starts_with(b"2024-05-01"),
                "{name}"
            );
            assert_eq!(m.change(), None, "{name}");
        }
        let gz = dir.path().join("small.log.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(line).unwrap();
        fs::write(&gz, enc.finish().unwrap()).unwrap();
        let (opened, sample, layers) = open(&InputSpec::File(gz), &progress).unwrap();
        assert!(matches!(opened, Opened::Stream(_)));
        assert_eq!((layers.gzip, &sample[..]), (1, &line[..]));
    }

    /// A small file is read to the end it has when read, whatever length it had when looked at
    /// (it grew or shrank in between), in one read and the read that finds the end.
    #[test]
    fn a_small_file_is_read_to_its_end_whatever_its_length_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        let bytes: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &bytes).unwrap();
        for size in [0, 1, 8191, 19_999, 20_000, 20_001, 100_000] {
            let got = read_whole(&File::open(&path).unwrap(), size).unwrap();
            assert_eq!(got, bytes, "looked at as {size} bytes");
        }
        fs::write(&path, b"").unwrap();
        assert!(
            read_whole(&File::open(&path).unwrap(), 10)
                .unwrap()
                .is_empty()
        );
    }

    /// An empty file is held as nothing (and never asked again whether it changed); a FIFO is
    /// read as a stream; a zip held in memory after its sniff is read from its first byte.
    #[cfg(unix)]
    #[test]
    fn empty_files_fifos_and_small_zips_open_as_what_they_are() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let progress = Progress::new(false, 0, None);
        let empty = dir.path().join("empty.log");
        fs::write(&empty, b"").unwrap();
        let (opened, sample, _) = open(&InputSpec::File(empty), &progress).unwrap();
        let Opened::Mapped(m) = opened else {
            panic!("an empty file is not held")
        };
        assert!(m.bytes().is_empty() && m.sample().is_empty() && sample.is_empty());
        assert_eq!(m.change(), None);

        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let writer = std::thread::spawn({
            let fifo = fifo.clone();
            move || fs::write(fifo, b"2024-05-01T12:00:00.000Z START RequestId: x\n").unwrap()
        });
        let (opened, sample, _) = open(&InputSpec::File(fifo), &progress).unwrap();
        writer.join().unwrap();
        assert!(matches!(opened, Opened::Stream(_)));
        assert!(sample.starts_with(b"2024-05-01"));

        let line = b"2024-05-01T12:00:00.000Z START RequestId: x\n";
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        w.start_file("a.log", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(line).unwrap();
        let zip = w.finish().unwrap().into_inner();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(line.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "a.log", &line[..]).unwrap();
        let tar = b.into_inner().unwrap();
        for (name, bytes) in [("logs.zip", zip), ("logs.tar", tar)] {
            let path = dir.path().join(name);
            fs::write(&path, bytes).unwrap();
            let (opened, ..) = open(&InputSpec::File(path), &progress).unwrap();
            let Opened::Archive(a) = opened else {
                panic!("{name}: not an archive")
            };
            let mut members = a.members(false);
            let mut member = members.next().unwrap().unwrap();
            assert_eq!(member.path, "a.log", "{name}");
            let mut text = Vec::new();
            member.reader.read_to_end(&mut text).unwrap();
            assert_eq!(text, line, "{name}");
            assert!(members.next().is_none(), "{name}");
        }
    }

    #[test]
    fn s3_export_paths_name_their_stream() {
        let s = |p: &str| stream_from_path(&InputSpec::File(PathBuf::from(p)));
        assert_eq!(
            s("exportedlogs/2f3a/2025-03-11-[$LATEST]5f0d2c9a/000000.gz").as_deref(),
            Some("2025-03-11-[$LATEST]5f0d2c9a")
        );
        assert_eq!(
            s("exportedlogs/2f3a/2025-03-11-[$LATEST]5f0d2c9a/000001.gz").as_deref(),
            Some("2025-03-11-[$LATEST]5f0d2c9a")
        );
        assert_eq!(
            s("x/2025/03/11/[$LATEST]5f0d/000001").as_deref(),
            Some("2025/03/11/[$LATEST]5f0d")
        );
        assert_eq!(
            s("x/11/[$LATEST]5f0d/000002.gz").as_deref(),
            Some("[$LATEST]5f0d")
        );
        assert_eq!(
            s("2025/03/11/[$LATEST]5f0d/000000.gz").as_deref(),
            Some("2025/03/11/[$LATEST]5f0d")
        );
        assert_eq!(s("x/[$LATEST]5f0d/0000001.gz"), None);
        assert_eq!(s("x/[$LATEST]5f0d/00000a.gz"), None);
        assert_eq!(s("logs/app.log"), None);
        assert_eq!(s("exportedlogs/aws-logs-write-test"), None);
        assert_eq!(stream_from_path(&InputSpec::Stdin), None);
    }

    #[test]
    fn s3_export_objects_name_their_export_task() {
        let t = |p: &str| export_task_of(&InputSpec::File(PathBuf::from(p)));
        let task = Some(PathBuf::from("exportedlogs/aws/lambda/Fn/2f3a"));
        assert_eq!(
            t("exportedlogs/aws/lambda/Fn/2f3a/2025-03-11-[$LATEST]5f0d/000001.gz"),
            task
        );
        assert_eq!(
            t("exportedlogs/aws/lambda/Fn/2f3a/2025/03/11/[$LATEST]5f0d/000000"),
            task
        );
        assert_eq!(t("exportedlogs/aws/lambda/Fn/aws-logs-write-test"), None);
        assert_eq!(t("logs/stream-a.log"), None);
    }
}
