//! `ZIP003` duplicate-entry: two entries with the same name.
//!
//! The rule, its explanation (printed by `layerpack rule ZIP003`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::Anomaly;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use std::collections::BTreeMap;

pub(crate) static ZIP003: Rule = Rule {
    code: Code::ZIP003,
    name: "duplicate-entry",
    severity: Severity::Error,
    summary: "two entries with the same name",
    explanation: r#"## What it does

Reports names that appear more than once in a zip's central directory (after `./` and trailing
`/` are ignored).

## Why this breaks at run time

Which copy ends up in `/opt` depends on the extractor: Info-ZIP `unzip` asks
`replace python/app.py? [y]es, [n]o, [A]ll, [N]one, [r]ename:` (or takes the last one with
`-o`), other libraries keep the first. The code you tested may not be the code Lambda runs, and
a scanner that looked at one copy may have missed the other.

## Example

A zip updated with `zip layer.zip python/app.py` by a tool that appends instead of replacing.

## Fix

Rebuild the zip from a clean folder (`layerpack build`) instead of appending to an old one.
"#,
    check: Check::Layer(check_duplicate_entry),
};

fn check_duplicate_entry(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let mut duplicates: BTreeMap<String, usize> = BTreeMap::new();
    for anomaly in &context.inventory.anomalies {
        if let Anomaly::Duplicate { path, count } = anomaly {
            duplicates.insert(path.to_string(), *count);
        }
    }
    for (path, count) in &duplicates {
        report.report(
            path.as_str(),
            format!(
                "`{path}` appears {count} times in the zip: which copy lands in /opt depends on \
                 the extractor"
            ),
            "rebuild the zip from a clean folder instead of appending to an old one",
        );
    }
}
