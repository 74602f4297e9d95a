//! The gather stage: walks each source folder (in parallel) and maps its files to archive paths.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::inventory::Inventory;

/// What a gather produced: the inventory, and what the ignore rules left out.
#[derive(Debug)]
pub struct Gathered {
    pub inventory: Inventory,
    /// Paths left out, with the pattern that excluded each (for `build --list --ignored`).
    pub ignored: Vec<Ignored>,
}

/// A path left out of the layer and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    pub path: String,
    /// The file the pattern came from (`<default>` for built-in defaults, `layer.toml`).
    pub source: PathBuf,
    pub line: usize,
    pub pattern: String,
}

/// Gathers a folder that is already laid out as a layer, applying the default ignores, its
/// `.layerignore`, and `extra` patterns.
pub fn gather_dir(dir: &Path, extra: &[String]) -> Result<Gathered, Error> {
    let _ = (dir, extra);
    Err(Error::usage("not built yet", None))
}
