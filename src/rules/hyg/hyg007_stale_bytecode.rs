//! `HYG007` stale-bytecode: timestamp-based `.pyc` files that Python rejects at import, recompiling on every cold start.
//!
//! The rule, its explanation (printed by `layerpack rule HYG007`) and its check.

use super::bytecode::{group_of, layer_versions, read_header};
use crate::bytecode::{self, Validation, mtime_as_recorded, size_as_recorded};
use crate::domain::pycache::CachedPyc;
use crate::finding::{Code, Severity};
use crate::inventory::{Entry, Origin};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use rayon::prelude::*;
use std::collections::BTreeMap;

pub(crate) static HYG007: Rule = Rule {
    code: Code::HYG007,
    name: "stale-bytecode",
    severity: Severity::Warning,
    summary: "timestamp-based `.pyc` files that Python rejects at import, recompiling on every cold start",
    explanation: r#"## What it does

Counts the timestamp-based `.pyc` files that Python would reject when it imports the layer
from `/opt`: the pyc records its source's modification time and size, and Python compares them
with the source it finds (`int(st_mtime) & 0xFFFFFFFF`, `st_size & 0xFFFFFFFF`,
`_validate_timestamp_pyc` in `importlib/_bootstrap_external.py`). In a zip, the source's time is
the zip entry's date (a DOS date, read as UTC, the way Lambda's extraction sets it); in a folder,
the file's modification time. Pycs whose magic number is not their Python's are counted too.

## Why this breaks at run time

Nothing fails, the layer is slow. Python logs `bytecode is stale for 'requests.api'` (with
`python -v`), compiles the module from source, and tries to write a fresh pyc; `/opt` is
read-only, so the work is lost and repeated on **every cold start**. `pip install --target`
writes timestamp pycs, and any tool that normalizes zip dates (for reproducible zips) or
extracts them with new dates makes every one of them stale. Fixing this cut cold starts by
40–47 % in the Serverless Framework's Python packaging.

## Example

A layer installed with `pip install --target python requests` and zipped with all dates set
to 1980-01-01: every `python/requests/__pycache__/*.cpython-312.pyc` records the install time.

## Fix

Build the layer with `layerpack build`: with `bytecode = "keep-valid"` (the default) it turns
every pyc that was valid at build time into a hash-based pyc (PEP 552), valid whatever the
dates. Or compile hash-based pycs yourself before zipping:
`python3.12 -m compileall --invalidation-mode checked-hash python/`.
"#,
    check: Check::Layer(check_stale_bytecode),
};

/// What Python will compare a timestamp pyc with, for a source entry: its modification time as
/// extracted on Lambda and its size.
fn source_time(context: &LayerContext<'_>, source: &Entry) -> Option<i64> {
    match &context.inventory.origin {
        // Being built: every entry gets the build's one date in the zip.
        Origin::Sources { .. } => Some(context.zip_mtime),
        Origin::Zip(_) | Origin::Directory(_) => source.mtime,
    }
}

fn check_stale_bytecode(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let Some(versions) = layer_versions(context.runtimes) else {
        return;
    };
    let inventory = context.inventory;
    let candidates: Vec<(&Entry, &Entry)> = inventory
        .files()
        .filter_map(|entry| {
            let cached = CachedPyc::parse(entry.path.as_str())?;
            if !cached
                .version
                .is_some_and(|version| versions.contains(&version))
            {
                return None;
            }
            let source = inventory
                .get(&cached.source)
                .filter(|source| source.is_file())?;
            Some((entry, source))
        })
        .collect();
    let verdicts: Vec<(&Entry, Verdict)> = candidates
        .par_iter()
        .filter_map(|(pyc, source)| {
            let header = read_header(inventory, pyc)?.ok()?;
            let version = CachedPyc::parse(pyc.path.as_str())?.version?;
            if bytecode::magic_number(version).is_some_and(|magic| magic != header.magic) {
                return Some((*pyc, Verdict::WrongMagic));
            }
            let verdict = match header.validation {
                Validation::Hash { .. } => Verdict::Accepted,
                Validation::Timestamp { mtime, source_size } => {
                    let seen_mtime = source_time(context, source).map(mtime_as_recorded);
                    if seen_mtime == Some(mtime) && size_as_recorded(source.size) == source_size {
                        Verdict::Accepted
                    } else {
                        Verdict::Stale
                    }
                }
            };
            Some((*pyc, verdict))
        })
        .collect();
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    for (pyc, verdict) in verdicts {
        let (root, package) = group_of(pyc.path.as_str(), context.runtimes);
        let tally = groups.entry(root).or_default();
        tally.total += 1;
        match verdict {
            Verdict::Accepted => continue,
            Verdict::Stale => tally.stale += 1,
            Verdict::WrongMagic => tally.wrong_magic += 1,
        }
        *tally.packages.entry(package).or_default() += 1;
    }
    let against = match inventory.origin {
        Origin::Zip(_) => "the zip entries' dates",
        Origin::Directory(_) => "the files' modification times",
        Origin::Sources { .. } => "the zip's normalized date",
    };
    for (root, tally) in groups {
        let rejected = tally.stale + tally.wrong_magic;
        if rejected == 0 {
            continue;
        }
        let mut reasons = Vec::new();
        if tally.stale > 0 {
            reasons.push(format!(
                "{} timestamp-based: the source time or size they record disagrees with {against}",
                tally.stale
            ));
        }
        if tally.wrong_magic > 0 {
            reasons.push(format!(
                "{} carry another Python's magic number",
                tally.wrong_magic
            ));
        }
        let mut largest: Vec<(String, usize)> = tally.packages.into_iter().collect();
        largest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut listed: Vec<String> = largest
            .iter()
            .take(3)
            .map(|(package, count)| format!("{package} {count}"))
            .collect();
        if largest.len() > 3 {
            listed.push(format!("{} more packages", largest.len() - 3));
        }
        report.report(
            root,
            format!(
                "Python rejects {rejected} of {} cached modules at import and compiles them from \
                 source on every cold start, because /opt is read-only ({}; by package: {})",
                tally.total,
                reasons.join("; "),
                listed.join(", ")
            ),
            "build the layer with `layerpack build` (bytecode = \"keep-valid\" makes valid pycs \
             hash-based, valid whatever the dates), or compile with `python -m compileall \
             --invalidation-mode checked-hash`",
        );
    }
}

/// How Python treats one cached pyc at import.
enum Verdict {
    Accepted,
    /// Timestamp-based, and the recorded source time or size is not the source's.
    Stale,
    /// The magic number is not the one of the Python its name is tagged for.
    WrongMagic,
}

/// Cached pycs of one search folder.
#[derive(Default)]
struct Tally {
    total: usize,
    stale: usize,
    wrong_magic: usize,
    /// Rejected pycs per package.
    packages: BTreeMap<String, usize>,
}
