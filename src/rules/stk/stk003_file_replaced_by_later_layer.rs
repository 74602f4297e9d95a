//! `STK003` file-replaced-by-later-layer: a file that a later layer replaces.
//!
//! The rule, its explanation (printed by `layerpack rule STK003`) and its check.

use crate::domain::placement::package_root;
use crate::finding::{Code, Severity};
use crate::inventory::Entry;
use crate::lint::{Reporter, StackContext, StackLayer};
use crate::rules::{Check, Rule};
use std::collections::BTreeMap;

pub(crate) static STK003: Rule = Rule {
    code: Code::STK003,
    name: "file-replaced-by-later-layer",
    severity: Severity::Warning,
    summary: "a file that a later layer replaces",
    explanation: r#"## What it does

Finds files that two attached layers both put at the same path in `/opt` with different content,
and names both layers. Files are grouped by package, so a whole library that two layers ship is
one finding.

## Why this breaks at run time

Layers are extracted into `/opt` in attachment order, and users consistently see the later layer's
file win (AWS documents the order, not the overwrite). The earlier layer's code then runs against
files it was never tested with: `ImportError: cannot import name 'X' from 'requests'`, or a
version mismatch between a package and its own native extension.

## Example

Layer 1 ships `python/requests` 2.31; layer 3 ships `python/requests` 2.28 as a dependency of
something else. Every function with both layers imports 2.28.

## Fix

Ship each library in one layer only (leave it out of the other with `ignore`), or attach the
layers in the order that gives the version you want and pin the same version in both.
"#,
    check: Check::Stack(check_file_replaced),
};

fn check_file_replaced(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    // Latest owner of each file so far: (layer index, entry).
    let mut owners: BTreeMap<&str, (usize, &Entry)> = BTreeMap::new();
    // (earlier, later, group) → (replaced files, one example path).
    let mut groups: BTreeMap<(usize, usize, String), (usize, String)> = BTreeMap::new();
    for (index, layer) in context.layers.iter().enumerate() {
        for entry in layer.inventory.files() {
            let path = entry.path.as_str();
            if let Some(&(earlier, earlier_entry)) = owners.get(path)
                && !same_content(&context.layers[earlier], earlier_entry, layer, entry)
            {
                let group =
                    package_root(&entry.path).unwrap_or_else(|| entry.path.parent().to_string());
                let slot = groups
                    .entry((earlier, index, group))
                    .or_insert_with(|| (0, path.to_string()));
                slot.0 += 1;
            }
            owners.insert(path, (index, entry));
        }
    }
    for ((earlier, later, group), (count, example)) in groups {
        let earlier_name = &context.layers[earlier].name;
        let later_name = &context.layers[later].name;
        let what = if count == 1 {
            format!("/opt/{example}")
        } else {
            format!("{count} files under /opt/{group} (e.g. /opt/{example})")
        };
        report.report_for(
            later_name,
            if group.is_empty() {
                example.clone()
            } else {
                group.clone()
            },
            format!(
                "{what} from layer {earlier_name} (#{}) {} replaced by layer {later_name} (#{}), \
                 attached later; code from {earlier_name} runs against {later_name}'s files",
                earlier + 1,
                if count == 1 { "is" } else { "are" },
                later + 1
            ),
            "ship it in one layer only, or pin the same version in both",
        );
    }
}

/// True when two layers' files at one path hold the same bytes (then replacing is harmless).
fn same_content(first: &StackLayer<'_>, a: &Entry, second: &StackLayer<'_>, b: &Entry) -> bool {
    if a.size != b.size {
        return false;
    }
    if let (Some(crc_a), Some(crc_b)) =
        (first.inventory.zip_crc32(a), second.inventory.zip_crc32(b))
    {
        return crc_a == crc_b;
    }
    match (first.inventory.open(a), second.inventory.open(b)) {
        (Ok(reader_a), Ok(reader_b)) => same_stream(reader_a, reader_b).unwrap_or(false),
        _ => false,
    }
}

/// Compares two streams chunk by chunk, holding neither whole.
fn same_stream(mut a: impl std::io::Read, mut b: impl std::io::Read) -> std::io::Result<bool> {
    let mut buffer_a = vec![0u8; 1 << 16];
    let mut buffer_b = vec![0u8; 1 << 16];
    loop {
        let read = fill(&mut a, &mut buffer_a)?;
        if read != fill(&mut b, &mut buffer_b)? || buffer_a[..read] != buffer_b[..read] {
            return Ok(false);
        }
        if read == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buffer` is full or the stream ends.
fn fill(reader: &mut impl std::io::Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}
