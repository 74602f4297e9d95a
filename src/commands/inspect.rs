//! `layerpack inspect`: what a layer holds, in the terms a publisher needs before attaching it.
//!
//! The summary itself is [`crate::summary`]'s; this command opens the layer and renders it.

use std::io::Write;

use crate::cli::{Format, InspectArgs};
use crate::commands::{write_json, write_out};
use crate::error::Error;
use crate::layer::OpenedLayer;
use crate::summary::{Contributor, LayerSummary, summarize};
use crate::units::{bytes_then_size, group_digits};

pub(crate) fn run(args: &InspectArgs, out: &mut dyn Write) -> Result<i32, Error> {
    let layer = OpenedLayer::open_path(&args.path)?;
    let summary = summarize(&args.path, &layer.inventory, layer.binaries(), args.top)?;
    match args.format {
        Format::Json => write_json(out, &summary)?,
        Format::Human => write_out(out, &render(&summary))?,
    }
    Ok(0)
}

fn render(summary: &LayerSummary) -> String {
    let mut text = format!("{} ({})\n", summary.path, summary.source);
    let mut line = |label: &str, value: String| {
        text.push_str(&format!("  {label:<14}{value}\n"));
    };
    line("files", group_digits(summary.files as u64));
    line("unzipped", bytes_then_size(summary.unzipped_bytes));
    if let Some(zipped) = summary.zipped_bytes {
        line("zipped", bytes_then_size(zipped));
    }
    if let (Some(code), Some(sha)) = (&summary.code_sha256, &summary.sha256) {
        line("CodeSha256", code.clone());
        line("sha256", sha.clone());
    }
    let mut runtimes = if summary.runtimes.is_empty() {
        "none by package folder".to_string()
    } else {
        summary.runtimes.join(", ")
    };
    if !summary.common_dirs.is_empty() {
        let dirs: Vec<String> = summary
            .common_dirs
            .iter()
            .map(|d| format!("{d}/"))
            .collect();
        runtimes.push_str(&format!(" (+ {} for every runtime)", dirs.join(" and ")));
    }
    line("runtimes", runtimes);
    line("architectures", summary.architectures.join(", "));
    let native = &summary.native;
    let mut code = format!("{} ELF", native.elf);
    for (count, kind) in [
        (native.macho, "Mach-O (macOS)"),
        (native.pe, "PE (Windows)"),
        (native.malformed, "malformed ELF"),
        (native.musl, "musl-linked"),
    ] {
        if count > 0 {
            code.push_str(&format!(", {count} {kind}"));
        }
    }
    line("native code", code);
    if !native.other_machines.is_empty() {
        line("other machines", native.other_machines.join(", "));
    }
    match &native.glibc_floor {
        Some(floor) => line(
            "glibc",
            format!(
                ">= {} (e.g. {}): loads on {}",
                floor.version,
                floor.path,
                if floor.runs_on.is_empty() {
                    "no Lambda OS".to_string()
                } else {
                    floor.runs_on.join(" and ")
                }
            ),
        ),
        None => line("glibc", "no versioned glibc needs".to_string()),
    }
    let mut table = |title: &str, rows: &[Contributor]| {
        if rows.is_empty() {
            return;
        }
        text.push_str(&format!("{title}\n"));
        for row in rows {
            let files = if row.files > 1 {
                format!(" in {} files", row.files)
            } else {
                String::new()
            };
            text.push_str(&format!(
                "  {:>32}  {}{files}\n",
                bytes_then_size(row.bytes),
                row.path
            ));
        }
    };
    table("largest packages", &summary.largest_packages);
    table("largest files", &summary.largest_files);
    render_duplicates(summary, &mut text);
    text
}

/// The packages the runtime bundles too: one line per copy, then which runtime versions it
/// replaces (grouped by version).
fn render_duplicates(summary: &LayerSummary, text: &mut String) {
    let duplicates = &summary.runtime_duplicates;
    if duplicates.is_empty() {
        return;
    }
    let count = duplicates.len();
    text.push_str(&format!(
        "bundled by the runtime too ({count} package{}, {}): leave them out to use the runtime's\n",
        if count == 1 { "" } else { "s" },
        bytes_then_size(summary.runtime_duplicate_bytes),
    ));
    for duplicate in duplicates {
        let version = duplicate
            .version
            .as_deref()
            .map_or(String::new(), |version| format!(" {version}"));
        text.push_str(&format!(
            "  {:>32}  {}{version} in {}/ in {} files\n",
            bytes_then_size(duplicate.bytes),
            duplicate.name,
            duplicate.folder,
            group_digits(duplicate.files as u64)
        ));
        let mut by_version: Vec<(Option<&str>, bool, Vec<&str>)> = Vec::new();
        for copy in &duplicate.runtimes {
            match by_version.iter_mut().find(|(version, shadowed, _)| {
                *version == copy.version && *shadowed == copy.shadowed
            }) {
                Some((_, _, runtimes)) => runtimes.push(copy.runtime),
                None => by_version.push((copy.version, copy.shadowed, vec![copy.runtime])),
            }
        }
        for (version, shadowed, runtimes) in by_version {
            let version = match version {
                Some(version) => format!("{version} of"),
                None => "the copy (version not recorded) of".to_string(),
            };
            let effect = if shadowed { "replaces" } else { "is hidden by" };
            text.push_str(&format!(
                "  {:>32}    {effect} {version} {}\n",
                "",
                runtimes.join(", ")
            ));
        }
    }
}
