//! A function with its layers: loading the stack and linting it as a whole (`STK` rules).
//!
//! Some failures only exist in combination: six layers where Lambda takes five, layers that each
//! fit but together pass 250 MiB, a later layer silently replacing an earlier one's files, a
//! package in the function that shadows the layer's. This module opens the function's code and
//! each layer (zips, folders or `layer.toml` names), in attachment order, with what each layer
//! declares, and hands them to the stack rules.

use std::path::Path;

use crate::config::Config;
use crate::error::Error;
use crate::finding::Finding;
use crate::gather::{self, OpenedLayer};
use crate::inventory::Inventory;
use crate::lint::{self, LintSettings, StackContext, StackLayer};
use crate::runtime::{Arch, Runtime};

/// Lints a function (code at `function`, optional) with its `layers` (paths to zips or folders,
/// or layer names of `config`) in attachment order; returns the `STK` findings, sorted.
pub fn check_function_stack(
    name: &str,
    function: Option<&Path>,
    layers: &[String],
    runtime: &'static Runtime,
    arch: Arch,
    config: Option<&Config>,
    settings: &LintSettings,
) -> Result<Vec<Finding>, Error> {
    let function = function.map(open_function).transpose()?;
    let opened: Vec<OpenedLayer> = layers
        .iter()
        .map(|spec| open_declared(spec, config))
        .collect::<Result<_, _>>()?;
    let stack_layers: Vec<StackLayer<'_>> = opened
        .iter()
        .map(|layer| StackLayer {
            name: layer.name.clone(),
            inventory: &layer.inventory,
            runtimes: layer.runtimes.clone(),
            architectures: layer.architectures.clone(),
        })
        .collect();
    let context = StackContext {
        name,
        function: function.as_ref(),
        runtime,
        arch,
        layers: &stack_layers,
    };
    Ok(lint::lint_stack(&context, settings))
}

/// The function's code: a zip or a folder, as Lambda extracts it to `/var/task`.
pub fn open_function(path: &Path) -> Result<Inventory, Error> {
    let metadata = std::fs::metadata(path).map_err(|err| Error::read(path, err))?;
    if metadata.is_dir() {
        Ok(gather::gather_dir(path, &[])?.inventory)
    } else {
        Inventory::from_zip(path)
    }
}

/// Opens a layer with what it declares: from `layer.toml`, or from the manifest `layerpack
/// build` wrote beside a zip (`<zip>.json`), so a built zip keeps its runtimes and architectures.
pub fn open_declared(spec: &str, config: Option<&Config>) -> Result<OpenedLayer, Error> {
    let mut layer = gather::open_layer(spec, config)?;
    let is_zip = layer.inventory.zipped_bytes.is_some();
    if is_zip && layer.runtimes.is_empty() && layer.architectures.is_empty() {
        let manifest = crate::manifest::Manifest::path_for(Path::new(spec));
        if let Ok(text) = crate::files::read_text_capped(&manifest, crate::files::MAX_TEXT_FILE)
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
        {
            let strings = |key: &str| -> Vec<String> {
                value[key]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|item| item.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            layer.runtimes = strings("runtimes")
                .iter()
                .filter_map(|id| Runtime::find(id))
                .collect();
            layer.architectures = strings("architectures")
                .iter()
                .filter_map(|name| Arch::parse(name))
                .collect();
        }
    }
    Ok(layer)
}
