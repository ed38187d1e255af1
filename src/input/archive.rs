//! Archives of exports: tar (plain or compressed, any transport layer around it) and zip,
//! recognised by content, each member read as an input of its own named
//! `archive.tar.gz:member/path`.
//!
//! The `tar` and `zip` crates hand out members that borrow the archive reader and are not
//! `Send`, while the pipeline decodes an input on several threads. So the archive is read on a
//! thread of its own, which sends each member's bytes in chunks over a short channel: a member
//! arrives as an ordinary `Read + Send` stream, memory stays at a few chunks whatever the member
//! sizes, and members are read in archive order, one at a time. A member the consumer stops
//! reading is skipped by the producer.
//!
//! Directories, links and special files are not inputs; hidden members (a path component
//! starting with `.`, macOS `__MACOSX/` resource forks) are skipped unless `--hidden`, as in a
//! folder walk.

use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// The containers rotdiag opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tar,
    Zip,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tar => "tar",
            Kind::Zip => "zip",
        }
    }
}

/// Is `sample` (the first bytes after any transport layer) an archive?
pub fn sniff(sample: &[u8]) -> Option<Kind> {
    if sample.starts_with(b"PK\x03\x04") || sample.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip);
    }
    // POSIX ustar and GNU tar both put "ustar" at offset 257 of the first header.
    if sample.len() >= 262 && &sample[257..262] == b"ustar" {
        return Some(Kind::Tar);
    }
    None
}

/// Where an archive's bytes come from: a file (zip reads its central directory), or a stream.
pub enum Source {
    File(File),
    Stream(Box<dyn Read + Send>),
}

/// An archive to read member by member.
pub struct Archive {
    pub kind: Kind,
    source: Source,
}

/// One member: its path inside the archive and its bytes.
pub struct Member {
    pub path: String,
    pub reader: Box<dyn Read + Send>,
}

/// Bytes per chunk sent from the archive thread, and chunks in flight.
const CHUNK: usize = 256 << 10;
const IN_FLIGHT: usize = 4;

impl Archive {
    pub fn new(kind: Kind, source: Source) -> Archive {
        Archive { kind, source }
    }

    /// The members, in archive order; `Err` ends the listing (a corrupt archive).
    pub fn members(self, hidden: bool) -> Members {
        let (tx, rx) = sync_channel(0);
        let kind = self.kind;
        std::thread::spawn(move || {
            let sent = match (kind, self.source) {
                (Kind::Tar, Source::File(f)) => tar_members(f, hidden, &tx),
                (Kind::Tar, Source::Stream(r)) => tar_members(r, hidden, &tx),
                (Kind::Zip, Source::File(f)) => zip_file_members(f, hidden, &tx),
                (Kind::Zip, Source::Stream(r)) => zip_stream_members(r, hidden, &tx),
            };
            if let Err(Stop::Failed(e)) = sent {
                let _ = tx.send(Err(e));
            }
        });
        Members { rx }
    }
}

/// The members of an archive, as they are read.
pub struct Members {
    rx: Receiver<Result<Member, String>>,
}

impl Iterator for Members {
    type Item = Result<Member, String>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

enum Stop {
    /// The consumer is gone.
    Gone,
    Failed(String),
}

type Tx = SyncSender<Result<Member, String>>;

/// Is a member path hidden (`.git/x`, `dir/.DS_Store`, `__MACOSX/…`)?
pub fn is_hidden_path(path: &str) -> bool {
    path.split('/')
        .any(|c| (c.starts_with('.') && c != "." && c != "..") || c == "__MACOSX")
}

/// Sends one member and streams its bytes.
fn send(path: String, data: &mut dyn Read, tx: &Tx) -> Result<(), Stop> {
    let (ctx, crx) = sync_channel(IN_FLIGHT);
    let member = Member {
        path,
        reader: Box::new(Chunks {
            rx: crx,
            chunk: Vec::new(),
            pos: 0,
        }),
    };
    tx.send(Ok(member)).map_err(|_| Stop::Gone)?;
    loop {
        let mut buf = vec![0; CHUNK];
        let n = match read_full(data, &mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => {
                let _ = ctx.send(Err(e));
                return Ok(());
            }
        };
        buf.truncate(n);
        if ctx.send(Ok(buf)).is_err() {
            // The consumer stopped reading this member: skip the rest of it.
            return Ok(());
        }
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if n > 0 => {
                // Deliver what was read; the error comes again on the next read.
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn tar_members(r: impl Read, hidden: bool, tx: &Tx) -> Result<(), Stop> {
    let mut archive = tar::Archive::new(r);
    let entries = archive
        .entries()
        .map_err(|e| Stop::Failed(format!("not a readable tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Stop::Failed(format!("tar archive is corrupt: {e}")))?;
        if !matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            continue;
        }
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| String::from_utf8_lossy(&entry.path_bytes()).into_owned());
        if !hidden && is_hidden_path(&path) {
            continue;
        }
        send(path, &mut entry, tx)?;
    }
    Ok(())
}

fn zip_file_members(f: File, hidden: bool, tx: &Tx) -> Result<(), Stop> {
    let mut archive = zip::ZipArchive::new(f)
        .map_err(|e| Stop::Failed(format!("not a readable zip archive: {e}")))?;
    for i in 0..archive.len() {
        let file = archive
            .by_index(i)
            .map_err(|e| Stop::Failed(format!("zip member {i} cannot be read: {e}")))?;
        send_zip_member(file, hidden, tx)?;
    }
    Ok(())
}

/// Sends a zip member that is a file (and not hidden, unless `hidden`).
fn send_zip_member<R: Read>(
    mut file: zip::read::ZipFile<'_, R>,
    hidden: bool,
    tx: &Tx,
) -> Result<(), Stop> {
    if !file.is_file() {
        return Ok(());
    }
    let path = file.name().map_or_else(
        |_| String::from_utf8_lossy(file.name_raw()).into_owned(),
        |n| n.into_owned(),
    );
    if !hidden && is_hidden_path(&path) {
        return Ok(());
    }
    send(path, &mut file, tx)
}

/// A zip read front to back from its local headers (stdin, or inside gzip): members whose sizes
/// only follow their data (written by a streaming zipper) cannot be read this way.
fn zip_stream_members(mut r: Box<dyn Read + Send>, hidden: bool, tx: &Tx) -> Result<(), Stop> {
    loop {
        let file = zip::read::read_zipfile_from_stream(&mut r).map_err(|e| {
            Stop::Failed(format!(
                "zip member cannot be read from a stream ({e}); save the archive to a file and give rotdiag its path"
            ))
        })?;
        let Some(file) = file else {
            return Ok(());
        };
        send_zip_member(file, hidden, tx)?;
    }
}

/// A member's bytes as they arrive from the archive thread.
struct Chunks {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = (self.chunk.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn read_members(a: Archive, hidden: bool) -> Vec<(String, Vec<u8>)> {
        a.members(hidden)
            .map(|m| {
                let mut m = m.unwrap();
                let mut v = Vec::new();
                m.reader.read_to_end(&mut v).unwrap();
                (m.path, v)
            })
            .collect()
    }

    #[test]
    fn tar_members_in_order_hidden_skipped() {
        let big = vec![b'x'; 3 * CHUNK + 5];
        let data = tar_of(&[("a/1.log", b"one"), ("a/.git/x", b"no"), ("b.log", &big)]);
        assert_eq!(sniff(&data), Some(Kind::Tar));
        let got = read_members(
            Archive::new(
                Kind::Tar,
                Source::Stream(Box::new(Cursor::new(data.clone()))),
            ),
            false,
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], ("a/1.log".to_string(), b"one".to_vec()));
        assert_eq!(got[1].1.len(), big.len());
        let all = read_members(
            Archive::new(Kind::Tar, Source::Stream(Box::new(Cursor::new(data)))),
            true,
        );
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn zip_members_from_a_file_and_from_a_stream() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        w.start_file("logs/1.log", opts).unwrap();
        w.write_all(b"one").unwrap();
        w.start_file("__MACOSX/logs/._1.log", opts).unwrap();
        w.write_all(b"fork").unwrap();
        let data = w.finish().unwrap().into_inner();
        assert_eq!(sniff(&data), Some(Kind::Zip));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.zip");
        std::fs::write(&p, &data).unwrap();
        let from_file = read_members(
            Archive::new(Kind::Zip, Source::File(File::open(&p).unwrap())),
            false,
        );
        assert_eq!(from_file, [("logs/1.log".to_string(), b"one".to_vec())]);
        let from_stream = read_members(
            Archive::new(Kind::Zip, Source::Stream(Box::new(Cursor::new(data)))),
            false,
        );
        assert_eq!(from_stream, from_file);
    }

    #[test]
    fn a_consumer_that_stops_reading_does_not_block_the_next_member() {
        let big = vec![b'x'; 20 * CHUNK];
        let data = tar_of(&[("big", &big), ("small", b"s")]);
        let mut members =
            Archive::new(Kind::Tar, Source::Stream(Box::new(Cursor::new(data)))).members(false);
        let mut first = members.next().unwrap().unwrap();
        let mut two = [0u8; 2];
        first.reader.read_exact(&mut two).unwrap();
        drop(first);
        let mut second = members.next().unwrap().unwrap();
        let mut v = Vec::new();
        second.reader.read_to_end(&mut v).unwrap();
        assert_eq!((second.path.as_str(), v.as_slice()), ("small", &b"s"[..]));
        assert!(members.next().is_none());
    }

    #[test]
    fn a_corrupt_archive_is_an_error() {
        let mut data = tar_of(&[("a", b"one")]);
        data[148] ^= 0x55; // the header checksum
        let mut members =
            Archive::new(Kind::Tar, Source::Stream(Box::new(Cursor::new(data)))).members(false);
        assert!(members.next().unwrap().is_err());
    }
}
