//! `ZIP007` overlapping-entries: entries whose bytes overlap another entry's.
//!
//! The rule, its explanation (printed by `layerpack rule ZIP007`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::Unextractable;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static ZIP007: Rule = Rule {
    code: Code::ZIP007,
    name: "overlapping-entries",
    severity: Severity::Error,
    summary: "two central-directory records whose data overlaps (one stream listed twice)",
    explanation: r#"## What it does

Reports central-directory records whose local header and data overlap another record's: the
same compressed stream listed under two names, or one entry nested inside another. layerpack
reads such shared data once and does not inspect the other names.

## Why this breaks at run time

No tool writes such a zip by accident: it is how a "zip bomb" makes a 1 MB file extract to
terabytes, and how a zip shows one file to a scanner and another to the extractor. Strict
extractors refuse it (`unzip` 6.0 with the overlap fix says `invalid zip file with overlapped
components (possible zip bomb)`); others fill `/opt` until the quota stops them.

## Example

Twenty records `lib/a.so` … `lib/t.so` that all point at the local header of `lib/libx.so`.

## Fix

Do not publish the zip. Rebuild it from the source folder (`layerpack build`).
"#,
    check: Check::Layer(check_overlapping_entries),
};

fn check_overlapping_entries(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (path, problem) in &context.inventory.verify_extraction().problems {
        let Unextractable::Overlapping { other } = problem else {
            continue;
        };
        report.report(
            path.as_str(),
            format!("the data of `{path}` overlaps that of `{other}` in the zip"),
            "do not publish this zip; rebuild it from the source folder",
        );
    }
}
