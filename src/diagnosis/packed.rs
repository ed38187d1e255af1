//! The texts of diagnoses' representatives, deflated in batches while the run goes on.
//!
//! Why: the diagnoses are what a run keeps to the end, and grow with the input (1 GiB of
//! S3-export text makes 11,812, each with its evidence lines and its title, explanation, fixes
//! and reasons filled in with the ARNs of the logs: 22 MB of text, tracebacks and commands that
//! repeat from one diagnosis to the next). On stdin they were the largest part of the peak RSS
//! (benches/HISTORY.md, "Peak RSS on stdin"). Deflated they take a tenth: 1.87 MB in 23 batches at
//! 1 GiB, with jemalloc's one arena (`main.rs`), where memory freed on one thread serves the
//! other.
//!
//! Why batches: a deflate stream costs about 300,000 instructions to set up (miniz_oxide clears
//! its tables) and its Huffman tables cost as much again, against about 2 KB of text a
//! diagnosis: packed one at a time, on the fold's thread, they cost 14 % more instructions on
//! 16 MiB of S3-export text. A batch of [`BATCH`] representatives is one stream. A representative
//! replaced later (rare: 405 of 12,200 at 1 GiB) leaves its texts in its batch until the batch
//! goes. The report makes its diagnoses a chunk at a time (`Diagnoses`), and unpacks each batch
//! once per chunk that has one of its representatives; with many chunks the texts are first
//! repacked in rank order ([`Batches`], `repack`), so that a chunk unpacks its own batches.
//!
//! Why a batch is deflated on the pool ([`Batch::deflating`]): with two threads, the fold's
//! thread is the serial stage, and at the end of a run over a folder of S3 export objects it
//! deflated batches there (about a seventh of its 0.25 s inside `Fold::finish`, perf at `-j 2`)
//! while the pool's threads sat half idle. The batch is handed to the pool with its texts, and
//! deflated there, or by the first thread that reads it before the pool got to it; either way
//! from the same texts in the same order, so the bytes are the same.

use std::sync::{Mutex, OnceLock, PoisonError};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// A filled-in template: `None` when no fact went into it (the template itself is shown).
pub(super) type Filled = Option<Box<str>>;

/// The texts of a representative, as it is made and as the report takes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Texts {
    /// The text of each evidence line, in order.
    pub(super) evidence: Vec<Box<str>>,
    pub(super) title: Filled,
    pub(super) symptom_title: Filled,
    pub(super) explanation: Filled,
    /// The cause's remediation, then the candidate's.
    pub(super) remediation: Vec<Filled>,
    /// The reasons that weighed in, in words.
    pub(super) why: Vec<Box<str>>,
}

/// Representatives packed together (see the module doc).
pub(super) const BATCH: usize = 512;

/// The [`Texts`] of a batch of representatives, deflated: their count, then each text as a
/// 4-byte length (`u32::MAX`: none) and its bytes, each list after its count (raw deflate, the
/// fastest level).
#[derive(Debug)]
pub(super) struct Packed(Box<[u8]>);

/// Marks an absent text.
const NONE: u32 = u32::MAX;

fn put(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        None => out.extend_from_slice(&NONE.to_le_bytes()),
    }
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

impl Texts {
    /// The texts one after the other, as [`Packed`] holds them before deflating.
    fn serialize(&self, out: &mut Vec<u8>) {
        put_count(out, self.evidence.len());
        for e in &self.evidence {
            put(out, Some(e));
        }
        for f in [&self.title, &self.symptom_title, &self.explanation] {
            put(out, f.as_deref());
        }
        put_count(out, self.remediation.len());
        for r in &self.remediation {
            put(out, r.as_deref());
        }
        put_count(out, self.why.len());
        for w in &self.why {
            put(out, Some(w));
        }
    }
}

impl Packed {
    /// The texts of `batch`, deflated together.
    pub(super) fn pack(batch: &[&Texts]) -> Packed {
        let mut packer = Packer::new(batch.len());
        let mut plain = Vec::new();
        for t in batch {
            plain.clear();
            t.serialize(&mut plain);
            packer.push(&plain);
        }
        packer.finish()
    }

    fn pack_boxed(batch: &[Box<Texts>]) -> Packed {
        let texts: Vec<&Texts> = batch.iter().map(|t| &**t).collect();
        Packed::pack(&texts)
    }
}

/// A batch deflated as its representatives come, each already serialized (taken from another
/// batch by [`Packed::serialized`]): the report's repacking in rank order (`repack`).
pub(super) struct Packer {
    deflate: Compress,
    out: Vec<u8>,
    /// How many it holds, of how many it was made for.
    placed: u32,
    count: u32,
}

impl Packer {
    /// A batch of `count` representatives (its count comes first, as [`Packed::pack`] writes it).
    pub(super) fn new(count: usize) -> Packer {
        let mut p = Packer {
            deflate: Compress::new(Compression::fast(), false),
            out: Vec::new(),
            placed: 0,
            count: count as u32,
        };
        let mut head = Vec::new();
        put_count(&mut head, count);
        p.feed(&head);
        p
    }

    /// Adds a representative's serialized texts; its place in the batch.
    pub(super) fn push(&mut self, serialized: &[u8]) -> u32 {
        assert!(
            self.placed < self.count,
            "a batch takes the count it was made for"
        );
        self.feed(serialized);
        self.placed += 1;
        self.placed - 1
    }

    fn is_full(&self) -> bool {
        self.placed == self.count
    }

    fn feed(&mut self, mut plain: &[u8]) {
        while !plain.is_empty() {
            self.out.reserve(plain.len() / 2 + 64);
            let read = self.deflate.total_in();
            self.deflate
                .compress_vec(plain, &mut self.out, FlushCompress::None)
                .expect("deflating into memory cannot fail");
            plain = &plain[(self.deflate.total_in() - read) as usize..];
        }
    }

    pub(super) fn finish(mut self) -> Packed {
        assert_eq!(
            self.placed, self.count,
            "a batch holds the count it was made for"
        );
        loop {
            self.out.reserve(self.out.len().max(256));
            let status = self
                .deflate
                .compress_vec(&[], &mut self.out, FlushCompress::Finish)
                .expect("deflating into memory cannot fail");
            if status == Status::StreamEnd {
                break;
            }
        }
        Packed(self.out.into_boxed_slice())
    }
}

/// Batches written as representatives come, [`BATCH`] to a batch as [`Packed::pack`] makes
/// them (so that inflating one holds as much plain text as before), one batch written at a time.
pub(super) struct Batches {
    /// How many are still to come after those the batch being written is made for.
    left: usize,
    packer: Packer,
    done: Vec<Packed>,
}

impl Batches {
    /// Batches for `count` representatives in all.
    pub(super) fn new(count: usize) -> Batches {
        let first = count.min(BATCH);
        Batches {
            left: count - first,
            packer: Packer::new(first),
            done: Vec::new(),
        }
    }

    /// Adds a representative's serialized texts; the batch it is in (counted from 0) and its
    /// place there.
    pub(super) fn push(&mut self, serialized: &[u8]) -> (usize, u32) {
        if self.packer.is_full() {
            let next = self.left.min(BATCH);
            self.left -= next;
            let full = std::mem::replace(&mut self.packer, Packer::new(next));
            self.done.push(full.finish());
        }
        (self.done.len(), self.packer.push(serialized))
    }

    pub(super) fn finish(mut self) -> Vec<Packed> {
        assert_eq!(self.left, 0, "batches hold the count they were made for");
        self.done.push(self.packer.finish());
        self.done
    }
}

/// A batch of representatives' texts: deflated ([`Packed`]), or to be deflated by the first
/// thread that asks for it ([`Batch::packed`]), the pool's or a reader's.
#[derive(Debug)]
pub(super) struct Batch {
    packed: OnceLock<Packed>,
    /// The texts, until they are deflated. Boxed as the aggregator's entries hold them
    /// (`Held::Fresh`): unboxed, each would be copied and its box freed on the fold's thread.
    #[allow(clippy::vec_box, reason = "moved out of the entries as they are")]
    texts: Mutex<Vec<Box<Texts>>>,
}

impl From<Packed> for Batch {
    fn from(packed: Packed) -> Batch {
        Batch {
            packed: OnceLock::from(packed),
            texts: Mutex::default(),
        }
    }
}

impl Batch {
    /// `texts` deflated here and now.
    #[allow(clippy::vec_box, reason = "moved out of the entries as they are")]
    pub(super) fn pack(texts: Vec<Box<Texts>>) -> Batch {
        Batch::from(Packed::pack_boxed(&texts))
    }

    /// `texts`, deflated on the pool (see the module doc): only with a pool of more than one
    /// thread (with one, the job would wait for the thread asking, and the texts stay whole).
    #[allow(clippy::vec_box, reason = "moved out of the entries as they are")]
    pub(super) fn deflating(texts: Vec<Box<Texts>>) -> std::sync::Arc<Batch> {
        if rayon::current_num_threads() <= 1 {
            return std::sync::Arc::new(Batch::pack(texts));
        }
        let batch = std::sync::Arc::new(Batch {
            packed: OnceLock::new(),
            texts: Mutex::new(texts),
        });
        let job = std::sync::Arc::clone(&batch);
        rayon::spawn(move || {
            job.packed();
        });
        batch
    }

    /// The batch deflated: by this thread if nobody did yet, waiting for the one deflating it.
    pub(super) fn packed(&self) -> &Packed {
        self.packed.get_or_init(|| {
            let texts =
                std::mem::take(&mut *self.texts.lock().unwrap_or_else(PoisonError::into_inner));
            Packed::pack_boxed(&texts)
        })
    }
}

/// Reads [`Texts::serialize`]'s output back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> u32 {
        let (n, rest) = self.0.split_at(4);
        self.0 = rest;
        u32::from_le_bytes(n.try_into().expect("4 bytes"))
    }

    fn text(&mut self) -> Option<Box<str>> {
        let n = self.u32();
        if n == NONE {
            return None;
        }
        let (s, rest) = self.0.split_at(n as usize);
        self.0 = rest;
        Some(std::str::from_utf8(s).expect("packed from a str").into())
    }

    fn texts(&mut self) -> Texts {
        let evidence = self.list(|r| r.text().unwrap_or_default());
        let (title, symptom_title, explanation) = (self.text(), self.text(), self.text());
        Texts {
            evidence,
            title,
            symptom_title,
            explanation,
            remediation: self.list(Reader::text),
            why: self.list(|r| r.text().unwrap_or_default()),
        }
    }

    /// Reads past a representative's texts.
    fn skip_texts(&mut self) {
        let skip_list = |r: &mut Self| {
            for _ in 0..r.u32() {
                r.skip_text();
            }
        };
        skip_list(self);
        for _ in 0..3 {
            self.skip_text();
        }
        skip_list(self);
        skip_list(self);
    }

    fn skip_text(&mut self) {
        let n = self.u32();
        if n != NONE {
            self.0 = &self.0[n as usize..];
        }
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.u32() as usize;
        (0..n).map(|_| item(self)).collect()
    }
}

impl Packed {
    /// The texts it was packed from, in order.
    #[cfg(test)]
    fn unpack(&self) -> Vec<Texts> {
        Reader(&self.inflate()).list(Reader::texts)
    }

    /// The texts of the representatives at `wanted` (place in the batch, and a tag handed back
    /// with them), the others only read past: a report makes its diagnoses a chunk at a time
    /// and each chunk takes a few of a batch's.
    pub(super) fn unpack_some<T>(&self, mut wanted: Vec<(u32, T)>) -> Vec<(T, Texts)> {
        wanted.sort_unstable_by_key(|(i, _)| std::cmp::Reverse(*i));
        let plain = self.inflate();
        let mut r = Reader(&plain);
        let n = r.u32();
        let mut out = Vec::with_capacity(wanted.len());
        for i in 0..n {
            match wanted.last() {
                None => break,
                Some((w, _)) if *w == i => {
                    let (_, tag) = wanted.pop().expect("just seen");
                    out.push((tag, r.texts()));
                }
                Some(_) => r.skip_texts(),
            }
        }
        assert!(wanted.is_empty(), "each wanted place is in the batch");
        out
    }

    /// Each representative's texts as [`Texts::serialize`] wrote them, with its place, in order
    /// (for a [`Packer`]).
    #[cfg(test)]
    fn each_serialized(&self, mut f: impl FnMut(u32, &[u8])) {
        let (plain, places) = self.serialized();
        for (i, at) in places.into_iter().enumerate() {
            f(i as u32, &plain[at]);
        }
    }

    /// The serialized texts, inflated, and where each representative's are in them (as
    /// [`Texts::serialize`] wrote them), in order: for a [`Packer`].
    pub(super) fn serialized(&self) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
        let plain = self.inflate();
        let mut places = Vec::new();
        let mut r = Reader(&plain);
        for _ in 0..r.u32() {
            let start = plain.len() - r.0.len();
            r.skip_texts();
            places.push(start..plain.len() - r.0.len());
        }
        (plain, places)
    }

    /// The serialized texts, inflated.
    fn inflate(&self) -> Vec<u8> {
        let mut plain = Vec::with_capacity(self.0.len() * 4);
        let mut inflate = Decompress::new(false);
        loop {
            let read = inflate.total_in() as usize;
            let status = inflate
                // Not `Finish`: miniz_oxide's inflate takes that as a promise that the output
                // fits, and fails when it does not.
                .decompress_vec(&self.0[read..], &mut plain, FlushDecompress::None)
                .expect("inflating what was deflated");
            if status == Status::StreamEnd {
                break;
            }
            plain.reserve(plain.len().max(256));
        }
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_come_back_as_they_were_packed() {
        let long = "Traceback (most recent call last):\n  File \"x.py\", line 1\n".repeat(500);
        let texts = Texts {
            evidence: vec!["[ERROR] boom".into(), long.as_str().into(), "".into()],
            title: Some("Title of arn:x".into()),
            symptom_title: None,
            explanation: Some("é ✓ \u{0}".into()),
            remediation: vec![None, Some("aws iam put-role-policy".into()), None],
            why: vec!["weighed".into()],
        };
        let packed = Packed::pack(&[&texts]);
        assert!(packed.0.len() < long.len() / 4, "{}", packed.0.len());
        assert_eq!(packed.unpack(), std::slice::from_ref(&texts));
        let empty = Texts::default();
        let batch = Packed::pack(&[&empty, &texts, &empty]);
        assert_eq!(batch.unpack(), [empty.clone(), texts.clone(), empty]);
        assert!(Packed::pack(&[]).unpack().is_empty());
        let some = batch.unpack_some(vec![(2, 'c'), (0, 'a')]);
        assert_eq!(some, [('a', Texts::default()), ('c', Texts::default())]);
        // Repacked a representative at a time, from two batches, in another order.
        let mut packer = Packer::new(3);
        let mut places = Vec::new();
        packed.each_serialized(|i, s| places.push(((0, i), packer.push(s))));
        batch.each_serialized(|i, s| {
            if i != 1 {
                places.push(((1, i), packer.push(s)));
            }
        });
        assert_eq!(places, [((0, 0), 0), ((1, 0), 1), ((1, 2), 2)]);
        let repacked = packer.finish().unpack();
        assert_eq!(repacked, [texts, Texts::default(), Texts::default()]);
    }

    #[test]
    fn a_batch_deflated_on_the_pool_is_the_batch_deflated_here() {
        let texts = |k: usize| -> Vec<Box<Texts>> {
            (0..k)
                .map(|i| {
                    Box::new(Texts {
                        evidence: vec![format!("[ERROR] {i} AccessDenied").into()],
                        title: (i % 3 == 0).then(|| format!("Title {i}").into()),
                        why: vec!["weighed".into(); i % 4],
                        ..Texts::default()
                    })
                })
                .collect()
        };
        let here = Batch::pack(texts(40));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool of two");
        // Many at once, so that some are read before the pool deflated them.
        let batches: Vec<_> =
            pool.install(|| (0..64).map(|_| Batch::deflating(texts(40))).collect());
        for b in &batches {
            assert_eq!(b.packed().0, here.packed().0);
            assert!(b.texts.lock().unwrap().is_empty());
        }
        assert_eq!(here.packed().unpack().len(), 40);
    }
}
