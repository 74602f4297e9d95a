//! `layerpack diff`: what changed between two versions of a layer (zips or folders).
//!
//! Files are matched by archive path. A file changed when its size or its content differs; for
//! zips the CRC-32 in the central directory stands for the content, so two zips are compared
//! without decompressing anything; a folder's files are hashed (CRC-32) only where sizes are
//! equal. Runtimes served, architectures and the glibc floor are compared from `inspect`'s
//! summaries.

use std::io::{self, Read, Write};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::cli::{DiffArgs, Format};
use crate::commands::{write_json, write_out};
use crate::error::Error;
use crate::inventory::{Entry, EntryKind, Inventory};
use crate::layer::OpenedLayer;
use crate::summary::{LayerSummary, summarize};
use crate::units::{bytes_then_size, group_digits};

/// The JSON document of `diff --format json`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct LayerDiff {
    pub(crate) old: Side,
    pub(crate) new: Side,
    pub(crate) added: Vec<FileSize>,
    pub(crate) removed: Vec<FileSize>,
    pub(crate) changed: Vec<ChangedFile>,
    pub(crate) unchanged_files: usize,
    pub(crate) unzipped_bytes_delta: i64,
    pub(crate) zipped_bytes_delta: Option<i64>,
    pub(crate) runtimes: Change<&'static str>,
    pub(crate) architectures: Change<String>,
    pub(crate) glibc_floor: GlibcChange,
}

/// One side's totals.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Side {
    pub(crate) path: String,
    pub(crate) files: usize,
    pub(crate) unzipped_bytes: u64,
    pub(crate) zipped_bytes: Option<u64>,
    pub(crate) code_sha256: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct FileSize {
    pub(crate) path: String,
    pub(crate) bytes: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct ChangedFile {
    pub(crate) path: String,
    pub(crate) old_bytes: u64,
    pub(crate) new_bytes: u64,
}

/// What a set gained and lost.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Change<T> {
    pub(crate) added: Vec<T>,
    pub(crate) removed: Vec<T>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct GlibcChange {
    pub(crate) old: Option<String>,
    pub(crate) new: Option<String>,
}

pub(crate) fn run(args: &DiffArgs, out: &mut dyn Write) -> Result<i32, Error> {
    let old = OpenedLayer::open_path(&args.old)?;
    let new = OpenedLayer::open_path(&args.new)?;
    let diff = compare(&args.old, &old, &args.new, &new)?;
    match args.format {
        Format::Json => write_json(out, &diff)?,
        Format::Human => write_out(out, &render(&diff))?,
    }
    Ok(0)
}

/// Compares two layers.
pub(crate) fn compare(
    old_path: &Path,
    old_layer: &OpenedLayer,
    new_path: &Path,
    new_layer: &OpenedLayer,
) -> Result<LayerDiff, Error> {
    let old_summary = summarize(old_path, &old_layer.inventory, old_layer.binaries(), 0)?;
    let new_summary = summarize(new_path, &new_layer.inventory, new_layer.binaries(), 0)?;
    let (old, new) = (&old_layer.inventory, &new_layer.inventory);
    let is_content = |entry: &&Entry| !entry.is_dir();
    let old_entries: Vec<&Entry> = old.entries().iter().filter(is_content).collect();
    let new_entries: Vec<&Entry> = new.entries().iter().filter(is_content).collect();

    // Both lists are sorted by path: walk them together.
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut pairs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old_entries.len() || j < new_entries.len() {
        match (old_entries.get(i), new_entries.get(j)) {
            (Some(a), Some(b)) if a.path == b.path => {
                pairs.push((*a, *b));
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a.path < b.path => {
                removed.push(size_of(a));
                i += 1;
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                added.push(size_of(b));
                j += 1;
            }
            (Some(a), None) => {
                removed.push(size_of(a));
                i += 1;
            }
            (None, None) => break,
        }
    }
    let verdicts: Vec<Result<Option<ChangedFile>, Error>> = pairs
        .par_iter()
        .map(|(a, b)| {
            let same = a.size == b.size
                && a.kind == b.kind
                && content_crc(old, old_path, a)? == content_crc(new, new_path, b)?;
            Ok((!same).then(|| ChangedFile {
                path: b.path.to_string(),
                old_bytes: a.size,
                new_bytes: b.size,
            }))
        })
        .collect();
    let mut changed = Vec::new();
    for verdict in verdicts {
        changed.extend(verdict?);
    }
    let unchanged_files = pairs.len() - changed.len();
    Ok(LayerDiff {
        added,
        removed,
        changed,
        unchanged_files,
        unzipped_bytes_delta: delta(old_summary.unzipped_bytes, new_summary.unzipped_bytes),
        zipped_bytes_delta: old_summary
            .zipped_bytes
            .zip(new_summary.zipped_bytes)
            .map(|(a, b)| delta(a, b)),
        runtimes: set_change(&old_summary.runtimes, &new_summary.runtimes),
        architectures: set_change(&old_summary.architectures, &new_summary.architectures),
        glibc_floor: GlibcChange {
            old: floor(&old_summary),
            new: floor(&new_summary),
        },
        old: side(old_summary),
        new: side(new_summary),
    })
}

fn size_of(entry: &Entry) -> FileSize {
    FileSize {
        path: entry.path.to_string(),
        bytes: entry.size,
    }
}

fn delta(old: u64, new: u64) -> i64 {
    i64::try_from(new).unwrap_or(i64::MAX) - i64::try_from(old).unwrap_or(i64::MAX)
}

fn floor(summary: &LayerSummary) -> Option<String> {
    summary
        .native
        .glibc_floor
        .as_ref()
        .map(|floor| floor.version.clone())
}

fn side(summary: LayerSummary) -> Side {
    Side {
        path: summary.path,
        files: summary.files,
        unzipped_bytes: summary.unzipped_bytes,
        zipped_bytes: summary.zipped_bytes,
        code_sha256: summary.code_sha256,
    }
}

fn set_change<T: Clone + PartialEq>(old: &[T], new: &[T]) -> Change<T> {
    Change {
        added: new.iter().filter(|x| !old.contains(x)).cloned().collect(),
        removed: old.iter().filter(|x| !new.contains(x)).cloned().collect(),
    }
}

/// The CRC-32 of an entry's content: from the zip's central directory when there is one, else
/// computed while streaming the file. A symlink's content is its target.
fn content_crc(inventory: &Inventory, origin: &Path, entry: &Entry) -> Result<u32, Error> {
    if let EntryKind::Symlink { target } = &entry.kind {
        return Ok(crc32fast::hash(target.as_bytes()));
    }
    if let Some(crc) = inventory.zip_crc32(entry) {
        return Ok(crc);
    }
    let read_error = |err: io::Error| {
        let path = inventory.disk_path(entry).unwrap_or(origin);
        Error::read(path, err)
    };
    let mut reader = inventory.open(entry).map_err(read_error)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = reader.read(&mut buffer).map_err(read_error)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize())
}

fn signed_bytes(delta: i64) -> String {
    let sign = if delta < 0 { "-" } else { "+" };
    format!("{sign}{}", bytes_then_size(delta.unsigned_abs()))
}

fn render(diff: &LayerDiff) -> String {
    let mut text = format!("{} -> {}\n", diff.old.path, diff.new.path);
    text.push_str(&format!(
        "  files         {} -> {} ({} added, {} removed, {} changed, {} unchanged)\n",
        group_digits(diff.old.files as u64),
        group_digits(diff.new.files as u64),
        diff.added.len(),
        diff.removed.len(),
        diff.changed.len(),
        diff.unchanged_files
    ));
    text.push_str(&format!(
        "  unzipped      {}\n",
        signed_bytes(diff.unzipped_bytes_delta)
    ));
    if let Some(zipped) = diff.zipped_bytes_delta {
        text.push_str(&format!("  zipped        {}\n", signed_bytes(zipped)));
    }
    if let (Some(old), Some(new)) = (&diff.old.code_sha256, &diff.new.code_sha256) {
        let same = if old == new { " (identical zips)" } else { "" };
        text.push_str(&format!("  CodeSha256    {old} -> {new}{same}\n"));
    }
    let set_line = |label: &str, added: Vec<String>, removed: Vec<String>| {
        if added.is_empty() && removed.is_empty() {
            return format!("  {label:<14}unchanged\n");
        }
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("+{}", added.join(", +")));
        }
        if !removed.is_empty() {
            parts.push(format!("-{}", removed.join(", -")));
        }
        format!("  {label:<14}{}\n", parts.join(" "))
    };
    text.push_str(&set_line(
        "runtimes",
        diff.runtimes.added.iter().map(|s| s.to_string()).collect(),
        diff.runtimes
            .removed
            .iter()
            .map(|s| s.to_string())
            .collect(),
    ));
    text.push_str(&set_line(
        "architectures",
        diff.architectures.added.clone(),
        diff.architectures.removed.clone(),
    ));
    if diff.glibc_floor.old != diff.glibc_floor.new {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_string());
        text.push_str(&format!(
            "  glibc floor   {} -> {}\n",
            show(&diff.glibc_floor.old),
            show(&diff.glibc_floor.new)
        ));
    }
    for (mark, list) in [("+", &diff.added), ("-", &diff.removed)] {
        for file in list {
            text.push_str(&format!(
                "{mark} {} ({} bytes)\n",
                file.path,
                group_digits(file.bytes)
            ));
        }
    }
    for file in &diff.changed {
        text.push_str(&format!(
            "~ {} ({} -> {} bytes)\n",
            file.path,
            group_digits(file.old_bytes),
            group_digits(file.new_bytes)
        ));
    }
    text
}
