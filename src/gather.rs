//! The gather stage: walks each source folder (in parallel) and maps its files to archive paths.

use std::path::{Path, PathBuf};

use crate::config::{Config, LayerConfig};
use crate::error::Error;
use crate::inventory::Inventory;
use crate::lint::Budget;
use crate::runtime::{Arch, Runtime};

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

/// Gathers a layer declared in `layer.toml` from its sources.
pub fn gather_layer(config: &Config, layer: &LayerConfig) -> Result<Gathered, Error> {
    let _ = (config, layer);
    Err(Error::usage("not built yet", None))
}

/// A layer opened for `check`, `why` or `inspect`: from a zip, a folder, or `layer.toml`.
#[derive(Debug)]
pub struct OpenedLayer {
    /// The layer's name in `layer.toml`, or the path as the user gave it.
    pub name: String,
    pub inventory: Inventory,
    /// Declared runtimes (empty when the layer came from a path: flags decide).
    pub runtimes: Vec<&'static Runtime>,
    /// Declared architectures (empty when the layer came from a path).
    pub architectures: Vec<Arch>,
    pub budget: Budget,
}

/// Opens `spec`: a layer name of `config`, a `.zip` file, or a folder laid out as a layer.
pub fn open_layer(spec: &str, config: Option<&Config>) -> Result<OpenedLayer, Error> {
    let _ = (spec, config);
    Err(Error::usage("not built yet", None))
}
