//! The mapped-blocks strategy: a line-oriented file mapped in memory, decoded in place, window
//! after window, each window cut into blocks decoded in parallel.

use super::blocks::{BLOCK, InOrder, Spare, decode_window, overlapped, window_size};
use super::session::Session;
use super::{Scanned, Strategy};
use crate::format::lines::LineDecoder;

/// A line-oriented input held in memory (a mapped file).
pub(super) struct MappedBlocks<'a> {
    pub(super) data: &'a [u8],
    pub(super) decoder: LineDecoder,
}

impl Strategy for MappedBlocks<'_> {
    /// Decodes the mapped text in parallel windows and feeds the session in order, each window
    /// assembled while the next is decoded.
    fn scan(self, session: &mut Session) -> Scanned {
        let MappedBlocks { data, decoder } = self;
        let rules = session.rules;
        let window = window_size(BLOCK);
        let spare = Spare::default();
        let mut order = InOrder {
            session,
            line_base: 0,
            spare: &spare,
        };
        let mut pending = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let end = if data.len() - start <= window + window / 2 {
                data.len()
            } else {
                decoder
                    .boundary(data, start + window)
                    .filter(|&b| b > start)
                    .unwrap_or(data.len())
            };
            let part = &data[start..end];
            pending = overlapped(&mut order, pending, || {
                decode_window(part, &decoder, start as u64, BLOCK, rules, &spare)
            });
            start = end;
        }
        order.assemble(pending);
        Scanned {
            bytes: data.len() as u64,
            problems: Vec::new(),
            incomplete: Vec::new(),
        }
    }
}
