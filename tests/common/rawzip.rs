//! Zips with arbitrary raw entries (unsafe names, duplicates, odd modes, symlinks), as other
//! tools or attackers make them, for the `ZIP` and `HYG004` fixtures.

use std::path::Path;

use serde::Deserialize;

/// `[zip]` of a fixture's `case.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZipSpec {
    /// Raw entries written after the files of `layer/`, in this order.
    #[serde(default)]
    pub entries: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    /// The name exactly as stored.
    pub name: String,
    #[serde(default)]
    pub content: String,
    /// Unix mode bits including the file type (e.g. 0o100644, 0o120777 for a symlink).
    pub mode: Option<u32>,
}

/// Writes every file of `tree` (sorted) and then `spec.entries` into a zip at `out`.
pub fn write(out: &Path, tree: &Path, spec: &ZipSpec) {
    let _ = (out, tree, spec);
    unimplemented!("raw zip writer")
}
