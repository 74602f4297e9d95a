//! The one loader: every command opens a layer here, the same way.
//!
//! A layer comes from a folder laid out as a layer, a zip (with the manifest `layerpack build`
//! wrote beside it, `<zip>.json`, when there is one), or a `[layer.NAME]` of `layer.toml`
//! (gathered from its sources, as `build` would pack it). Whatever the origin, the result is one
//! [`OpenedLayer`]: the inventory, the runtimes and architectures the layer declares, its budget,
//! and its binaries, inspected once on first use. `check`, `inspect`, `diff`, `why` and the stack
//! rules all read this type, so they cannot disagree about what a layer is.

use std::path::Path;
use std::sync::OnceLock;

use crate::config::{Budget, Config};
use crate::error::Error;
use crate::gather;
use crate::inspect::{self, Binary};
use crate::inventory::Inventory;
use crate::manifest::Manifest;
use crate::runtime::{Arch, Runtime};

/// A layer opened for `check`, `why`, `inspect` or `diff`.
#[derive(Debug)]
pub struct OpenedLayer {
    /// The layer's name in `layer.toml`, or the path as the user gave it.
    pub(crate) name: String,
    pub inventory: Inventory,
    /// Declared runtimes: from `layer.toml` or the manifest beside a zip; empty when nothing
    /// declares them (flags or the layout decide).
    pub(crate) runtimes: Vec<&'static Runtime>,
    /// Declared architectures, from the same places; empty when nothing declares them.
    pub(crate) architectures: Vec<Arch>,
    pub(crate) budget: Budget,
    binaries: OnceLock<Vec<Binary>>,
}

impl OpenedLayer {
    /// Opens `spec`: a layer name of `config`, a zip file, or a folder laid out as a layer.
    pub fn open(spec: &str, config: Option<&Config>) -> Result<OpenedLayer, Error> {
        if let Some((config, layer)) = config.and_then(|config| Some((config, config.layer(spec)?)))
        {
            let gathered = gather::gather_layer(config, layer)?;
            return Ok(OpenedLayer {
                name: layer.name.clone(),
                inventory: gathered.inventory,
                runtimes: layer.runtimes.clone(),
                architectures: layer.architectures.clone(),
                budget: layer.budget,
                binaries: OnceLock::new(),
            });
        }
        let path = Path::new(spec);
        let metadata = std::fs::metadata(path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                Error::input(
                    format!("no layer, zip or folder named `{spec}`"),
                    Some(match config {
                        Some(config) => format!(
                            "give a .zip, a folder laid out as a layer, or a layer name of {}",
                            config.path.display()
                        ),
                        None => "give a .zip, or a folder laid out as a layer".to_string(),
                    }),
                )
            } else {
                Error::read(path, err)
            }
        })?;
        let mut opened = OpenedLayer::from_inventory(spec, read_tree(path, metadata.is_dir())?);
        if !metadata.is_dir()
            && let Some(manifest) = Manifest::read_beside(path)
        {
            opened.runtimes = manifest
                .runtimes
                .iter()
                .filter_map(|id| Runtime::find(id))
                .collect();
            opened.architectures = manifest.architectures;
        }
        Ok(opened)
    }

    /// Opens a path (a zip or a folder) given on the command line; its name is the path.
    pub(crate) fn open_path(path: &Path) -> Result<OpenedLayer, Error> {
        let spec = path.to_str().ok_or_else(|| {
            Error::usage(
                format!("{} is not a UTF-8 path", path.display()),
                Some("rename the file or folder".to_string()),
            )
        })?;
        OpenedLayer::open(spec, None)
    }

    /// Opens a function's code (a zip or a folder), as Lambda extracts it to `/var/task`.
    pub fn open_function(path: &Path) -> Result<OpenedLayer, Error> {
        let metadata = std::fs::metadata(path).map_err(|err| Error::read(path, err))?;
        let name = path.to_string_lossy().into_owned();
        Ok(OpenedLayer::from_inventory(
            &name,
            read_tree(path, metadata.is_dir())?,
        ))
    }

    /// A layer made of an inventory already read, declaring nothing.
    pub(crate) fn from_inventory(name: &str, inventory: Inventory) -> OpenedLayer {
        OpenedLayer {
            name: name.to_string(),
            inventory,
            runtimes: Vec::new(),
            architectures: Vec::new(),
            budget: Budget::default(),
            binaries: OnceLock::new(),
        }
    }

    /// The layer's native code and archives, sniffed by content on first use.
    pub(crate) fn binaries(&self) -> &[Binary] {
        self.binaries
            .get_or_init(|| inspect::inspect(&self.inventory))
    }
}

/// The inventory of a folder (walked as it is, no ignore rules) or of a zip.
fn read_tree(path: &Path, is_dir: bool) -> Result<Inventory, Error> {
    if is_dir {
        Ok(gather::gather_dir(path, &[])?.inventory)
    } else {
        Inventory::from_zip(path)
    }
}
