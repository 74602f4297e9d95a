//! `LAY002` wrapped-layer: the whole layer is wrapped in one extra folder.
//!
//! The rule, its explanation (printed by `layerpack rule LAY002`) and its check.

use crate::domain::layout::{is_layer_top, wrapper_folder};
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static LAY002: Rule = Rule {
    code: Code::LAY002,
    name: "wrapped-layer",
    severity: Severity::Error,
    summary: "the whole layer is wrapped in one extra folder",
    explanation: r#"## What it does

Finds a layer whose every file sits in one extra top-level folder, below which the real layout
starts: `my-layer/python/…`, `build/nodejs/node_modules/…`.

## Why this breaks at run time

Lambda extracts the zip to `/opt` as it is, so the packages land in `/opt/my-layer/python/…`,
where no runtime looks. Every import from the layer fails:

```
[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'
```

This is what `zip -r layer.zip my-layer/` (or "Compress" in a file manager) makes.

## Example

```
my-layer/python/requests/__init__.py
my-layer/python/urllib3/__init__.py
```

## Fix

Zip the folder's contents, not the folder: `cd my-layer && zip -r ../layer.zip .`, or let
layerpack do it: `layerpack build --dir my-layer --runtime python3.12 --output layer.zip`.
"#,
    check: Check::Layer(check_wrapped_layer),
};

fn check_wrapped_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let Some(wrapper) = wrapper_folder(context.inventory) else {
        return;
    };
    let inner: Vec<String> = context
        .inventory
        .children(wrapper)
        .filter(|child| child.is_dir() && is_layer_top(child.path.file_name()))
        .map(|child| format!("{}/", child.path.file_name()))
        .collect();
    report.report(
        wrapper,
        format!(
            "every file is inside `{wrapper}/`, so Lambda extracts the layer to /opt/{wrapper}/{} \
             instead of /opt/{}, where no runtime looks: imports fail with \"No module named\" / \
             \"Cannot find module\"",
            inner.join(", "),
            inner.join(", /opt/")
        ),
        format!(
            "zip the contents of `{wrapper}`, not the folder itself (`cd {wrapper} && zip -r \
             ../layer.zip .`), or use `layerpack build --dir {wrapper}`"
        ),
    );
}
