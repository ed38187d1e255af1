//! Bytes in: files (memory-mapped), folders (walked recursively), stdin (streamed), and the
//! transport layers around them (gzip, byte-order marks, UTF-16, terminal colour codes).
//!
//! A regular, uncompressed file is mapped with memmap2 and decoded in place, in parallel blocks.
//! Everything else (stdin, `.gz` members, UTF-16 text) is a bounded stream: it is decoded a window
//! at a time, so memory does not grow with the size of the input.

pub mod transport;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::problem::{Kind, Problem};
use crate::progress::Progress;

/// How many bytes of an input (after its transport layers) are sampled for format detection.
pub const SNIFF_BYTES: usize = 64 * 1024;

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

/// Expands paths: `-` is stdin, folders are walked recursively (sorted, hidden files skipped).
pub(crate) fn expand(paths: &[PathBuf]) -> (Vec<InputSpec>, Vec<Problem>) {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    if paths.is_empty() {
        specs.push(InputSpec::Stdin);
    }
    for p in paths {
        if p.as_os_str() == "-" {
            specs.push(InputSpec::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => errors.push(Problem::of(
                p.display().to_string(),
                Kind::Path(describe_io(&e)),
            )),
            Ok(m) if m.is_dir() => {
                let mut files = Vec::new();
                for entry in walkdir::WalkDir::new(p)
                    .follow_links(true)
                    .sort_by_file_name()
                {
                    match entry {
                        Ok(e) => {
                            let hidden = e.depth() > 0
                                && e.file_name().to_str().is_some_and(|n| n.starts_with('.'));
                            if hidden {
                                continue;
                            }
                            if e.file_type().is_file() {
                                files.push(InputSpec::File(e.into_path()));
                            }
                        }
                        Err(e) => errors.push(Problem::of(
                            e.path()
                                .map(|p| p.display().to_string())
                                .unwrap_or_else(|| p.display().to_string()),
                            Kind::Path(e.to_string()),
                        )),
                    }
                }
                if files.is_empty() {
                    errors.push(Problem::of(p.display().to_string(), Kind::EmptyFolder));
                }
                specs.extend(files);
            }
            Ok(_) => specs.push(InputSpec::File(p.clone())),
        }
    }
    (specs, errors)
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

pub(crate) fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// An opened input: either mapped bytes (decoded in place) or a stream.
pub enum Opened {
    Mapped(Mapped),
    Stream(Box<dyn Read + Send>),
}

impl Opened {
    /// The input as a reader (a mapped file is read from memory).
    pub(crate) fn into_reader(self) -> Box<dyn Read + Send> {
        match self {
            Opened::Stream(r) => r,
            Opened::Mapped(m) => Box::new(MappedReader { m, pos: 0 }),
        }
    }
}

struct MappedReader {
    m: Mapped,
    pos: usize,
}

impl Read for MappedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.m.bytes()[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// A memory-mapped file (or, for an empty file, nothing).
pub struct Mapped {
    map: Option<Mmap>,
    skip: usize,
}

impl Mapped {
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m[self.skip..],
            None => &[],
        }
    }
}

/// Opens an input and peels off its transport layers. Returns the opened data and a sample of
/// its first (decoded) bytes for format detection.
///
/// What a stream reads (stdin, a FIFO, a compressed file's raw bytes) advances `progress`; a
/// mapped file is counted by its reader, block by block.
pub(crate) fn open(
    spec: &InputSpec,
    progress: &Progress,
) -> io::Result<(Opened, Vec<u8>, transport::Layers)> {
    match spec {
        InputSpec::Stdin => transport::stream(Box::new(progress.reader(io::stdin()))),
        InputSpec::File(p) => open_file(p, progress),
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
            Opened::Mapped(Mapped { map: None, skip: 0 }),
            Vec::new(),
            transport::Layers::default(),
        ));
    }
    // SAFETY: the map is read-only; rotdiag does not guard against the file being truncated by
    // another process while it runs (the same contract as ripgrep's mmap path).
    let map = unsafe { Mmap::map(&file)? };
    let head = &map[..map.len().min(4)];
    if transport::needs_stream(head, &map[..map.len().min(SNIFF_BYTES)]) {
        let reader = MmapReader { map, pos: 0 };
        return transport::stream(Box::new(progress.reader(reader)));
    }
    let skip = if head.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let sample = map[skip..map.len().min(skip + SNIFF_BYTES)].to_vec();
    Ok((
        Opened::Mapped(Mapped {
            map: Some(map),
            skip,
        }),
        sample,
        transport::Layers {
            bom: skip > 0,
            ..Default::default()
        },
    ))
}

/// Reads a mapped file as a stream (for compressed or transcoded content).
struct MmapReader {
    map: Mmap,
    pos: usize,
}

impl Read for MmapReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.map[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
