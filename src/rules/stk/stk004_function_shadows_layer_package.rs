//! `STK004` function-shadows-layer-package: a package in the function code that shadows the same package in a layer.
//!
//! The rule, its explanation (printed by `layerpack rule STK004`) and its check.

use super::{Package, packages};
use crate::finding::{Code, Severity};
use crate::lint::{Reporter, StackContext};
use crate::rules::{Check, Rule};
use crate::runtime::Family;

pub(crate) static STK004: Rule = Rule {
    code: Code::STK004,
    name: "function-shadows-layer-package",
    severity: Severity::Info,
    summary: "a package in the function code that shadows the same package in a layer",
    explanation: r#"## What it does

Finds Python packages and modules, and Node.js packages, that the function's own code ships and a
layer ships too, and says which copy (and version, when the metadata shows it) the runtime loads.

## Why this breaks at run time

The function's folder `/var/task` comes first: it is the first entry of Python's `sys.path`, and
Node.js looks in `/var/task/node_modules` before `NODE_PATH`. The layer's copy is never imported.
That is often intended (a newer version for one function), but it also explains "I updated the
layer and nothing changed", and a function copy that is older than the layer's.

## Example

The function's zip contains `requests/` (2.25.1, vendored long ago) and the shared layer ships
`python/requests` 2.32.3: the function keeps importing 2.25.1.

## Fix

Remove the package from the function's code to use the layer's, or remove it from the layer if
each function should bring its own.
"#,
    check: Check::Stack(check_function_shadows),
};

fn check_function_shadows(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let Some(function) = context.function else {
        return;
    };
    let runtime = context.runtime;
    let (function_dirs, layer_dirs): (Vec<String>, Vec<String>) = match runtime.family {
        Family::Python => (vec![String::new()], runtime.package_dirs()),
        Family::Nodejs => (vec!["node_modules".to_string()], runtime.package_dirs()),
        _ => return,
    };
    let function_packages = packages(function, &function_dirs, runtime.family);
    for layer in context.layers {
        let layer_packages = packages(layer.inventory, &layer_dirs, runtime.family);
        for (name, function_package) in &function_packages {
            let Some(layer_package) = layer_packages.get(name) else {
                continue;
            };
            let describe = |package: &Package| match &package.version {
                Some(version) => format!("{name} {version}"),
                None => name.clone(),
            };
            report.report_for(
                &layer.name,
                layer_package.path.clone(),
                format!(
                    "the function's own {} (/var/task/{}) shadows layer {}'s {} (/opt/{}): \
                     /var/task comes first, so the function's copy is the one {} loads",
                    describe(function_package),
                    function_package.path,
                    layer.name,
                    describe(layer_package),
                    layer_package.path,
                    runtime.id
                ),
                "remove one of the two copies so it is clear which one runs",
            );
        }
    }
}
