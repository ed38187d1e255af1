//! Follow mode's reports of what was just decided about a rotation (see `pipeline::follow`):
//! for a person, a line and the detail of each new diagnosis; in ndjson, a `diagnosis` record per
//! diagnosis and a `rotation` record for the rotation as it stands, each marked `"live": true`
//! (the full report at the end carries the same types unmarked). Like every report, made from a
//! run redacted by the egress.

use std::io::{self, Write};

use super::egress::{Shown, Target};
use super::json::RotationOut;
use super::{Format, Layout, Run, human, ndjson};

/// Writes what was decided about one rotation (`found`: its new diagnoses and the rotation):
/// `failed_attempts` is `Some` when it succeeded. JSON and markdown print nothing live.
pub fn write(
    found: Run,
    failed_attempts: Option<usize>,
    format: Format,
    layout: &Layout,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => {
            let (shown, diagnoses) = Shown::new(found, Target::Terminal);
            human::live(&shown, diagnoses, failed_attempts, layout, out)
        }
        Format::Ndjson => {
            let (shown, diagnoses) = Shown::new(found, Target::Data);
            let run = shown.run();
            for d in diagnoses.stream() {
                ndjson::live_line(out, "diagnosis", d)?;
            }
            for r in run.rotations.iter() {
                ndjson::live_line(out, "rotation", RotationOut::of(&r))?;
            }
            Ok(())
        }
        Format::Json | Format::Markdown => Ok(()),
    }
}
