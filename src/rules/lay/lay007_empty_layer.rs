//! `LAY007` empty-layer: the layer has no files.
//!
//! The rule, its explanation (printed by `layerpack rule LAY007`) and its check.

use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static LAY007: Rule = Rule {
    code: Code::LAY007,
    name: "empty-layer",
    severity: Severity::Error,
    summary: "the layer has no files",
    explanation: r#"## What it does

Reports a layer that holds no file and no symlink at all (folders alone do not count).

## Why this breaks at run time

Lambda refuses to publish it:

```
InvalidParameterValueException: Uploaded file must be a non-empty zip
```

and a layer with only empty folders adds nothing to `/opt`. It usually means the build copied
from the wrong folder, or every file was ignored.

## Example

A zip made by `zip -r layer.zip python/` in a folder where `pip install --target python/` failed.

## Fix

Check the source folders in `layer.toml` (or the folder you zipped) and the ignore patterns:
`layerpack build --list --ignored` shows what was left out and why.
"#,
    check: Check::Layer(check_empty_layer),
};

fn check_empty_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let has_content = context
        .inventory
        .entries()
        .iter()
        .any(|entry| !entry.is_dir());
    if !has_content {
        let folders = match context.inventory.entries().len() {
            0 => String::new(),
            1 => " (only 1 empty folder)".to_string(),
            count => format!(" (only {count} empty folders)"),
        };
        report.report(
            "",
            format!(
                "the layer holds no files{folders}: Lambda refuses it with \"Uploaded file must \
                 be a non-empty zip\""
            ),
            "check the source folders and ignore patterns (`layerpack build --list --ignored` \
             shows what was left out)",
        );
    }
}
