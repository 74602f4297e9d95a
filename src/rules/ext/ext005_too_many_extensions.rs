//! EXT005: more external extensions over a function's layers than Lambda starts.

use std::collections::BTreeMap;

use crate::finding::{Code, Severity};
use crate::lint::{Reporter, StackContext};
use crate::rules::{Check, Rule};
use crate::runtime::entry_points::{EXTENSIONS_DIR, MAX_EXTENSIONS};

pub(crate) static EXT005: Rule = Rule {
    code: Code::EXT005,
    name: "too-many-extensions",
    severity: Severity::Error,
    summary: "more than 10 external extensions over a function's layers",
    explanation: r#"## What it does

Counts the external extensions a function gets from all its layers: the files directly in each
layer's `extensions/`, as merged into `/opt/extensions` (a later layer's file with the same name
replaces an earlier one's, so it counts once). More than 10 is an error.

## Why this breaks at run time

Lambda allows at most 10 extensions per function. It starts every file in `/opt/extensions`, and
the eleventh to register with the Extensions API is refused, so the function's init fails:

```
Extension.TooManyExtensions: Extension limit (10) reached
```

Each layer passes `layerpack check` on its own; only the function's stack of layers is over.

## Example

Three observability layers with four extensions each (`extensions/collector`,
`extensions/log-shipper`, ...) on one function: 12 extensions.

## Fix

Attach fewer extension layers, or drop the extensions the function does not need from a layer
(its build can leave files out of `extensions/`).
"#,
    check: Check::Stack(check_too_many_extensions),
};

fn check_too_many_extensions(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    // Extension name → the layer whose file Lambda starts (the last to attach one by that name).
    let mut extensions: BTreeMap<&str, &str> = BTreeMap::new();
    for layer in context.layers {
        for entry in layer.inventory.children(EXTENSIONS_DIR) {
            if !entry.is_dir() {
                extensions.insert(entry.path.file_name(), &layer.name);
            }
        }
    }
    if extensions.len() <= MAX_EXTENSIONS {
        return;
    }
    let mut by_layer: Vec<(&str, Vec<&str>)> = Vec::new();
    for layer in context.layers {
        let names: Vec<&str> = extensions
            .iter()
            .filter(|(_, owner)| **owner == layer.name)
            .map(|(name, _)| *name)
            .collect();
        if !names.is_empty() {
            by_layer.push((&layer.name, names));
        }
    }
    let listed: Vec<String> = by_layer
        .iter()
        .map(|(layer, names)| format!("{} from `{layer}` ({})", names.len(), names.join(", ")))
        .collect();
    report.report(
        EXTENSIONS_DIR,
        format!(
            "the function's layers start {} external extensions, {}, but Lambda allows at most \
             {MAX_EXTENSIONS}: init fails with \"Extension.TooManyExtensions: Extension limit \
             ({MAX_EXTENSIONS}) reached\"",
            extensions.len(),
            listed.join("; "),
        ),
        format!(
            "attach fewer extension layers, or leave out the extensions this function does not \
             need, to stay at {MAX_EXTENSIONS} or fewer"
        ),
    );
}
