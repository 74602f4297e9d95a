//! A function with its layers: loading the stack and linting it as a whole (`STK` rules).
//!
//! Each layer alone can be fine while the stack is not: six layers, 300 MB together, two layers
//! that put different files at one path, a layer declared for another runtime. This module
//! opens the function's code and its layers the way `check` and `why` open any layer, and hands
//! them, in attachment order, to the stack rules.

use std::path::Path;

use crate::config::Config;
use crate::error::Error;
use crate::finding::Finding;
use crate::gather::{self, OpenedLayer};
use crate::lint::{LintSettings, StackContext, StackLayer};
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
    let function = match function {
        Some(path) => Some(gather::open_layer(&path.to_string_lossy(), None)?),
        None => None,
    };
    let opened: Vec<OpenedLayer> = layers
        .iter()
        .map(|spec| gather::open_layer(spec, config))
        .collect::<Result<_, Error>>()?;
    Ok(lint_opened_stack(
        name,
        function.as_ref(),
        &opened,
        runtime,
        arch,
        settings,
    ))
}

/// Lints an already opened stack.
pub fn lint_opened_stack(
    name: &str,
    function: Option<&OpenedLayer>,
    layers: &[OpenedLayer],
    runtime: &'static Runtime,
    arch: Arch,
    settings: &LintSettings,
) -> Vec<Finding> {
    let stack_layers: Vec<StackLayer<'_>> = layers
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
        function: function.map(|function| &function.inventory),
        runtime,
        arch,
        layers: &stack_layers,
    };
    crate::lint::lint_stack(&context, settings)
}
