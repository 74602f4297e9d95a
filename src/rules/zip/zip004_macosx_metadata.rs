//! `ZIP004` macosx-metadata: `__MACOSX/` resource-fork entries from macOS Archive Utility.
//!
//! The rule, its explanation (printed by `layerpack rule ZIP004`) and its check.

use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

/// The folder macOS Archive Utility adds to every zip it makes.
const MACOSX_DIR: &str = "__MACOSX";

pub(crate) static ZIP004: Rule = Rule {
    code: Code::ZIP004,
    name: "macosx-metadata",
    severity: Severity::Warning,
    summary: "`__MACOSX/` resource-fork entries from macOS Archive Utility",
    explanation: r#"## What it does

Reports a `__MACOSX/` folder: the resource forks and extended attributes (`._name` files) that
macOS Archive Utility ("Compress") adds to every zip.

## Why this breaks at run time

Nothing reads them; they land in `/opt/__MACOSX/`, add size, and a `._module.py` beside the real
one can confuse tools that scan for modules. A Node.js or Python loader that walks folders may
also try to parse them:

```
SyntaxError: source code string cannot contain null bytes
```

## Example

```
__MACOSX/python/._requests
__MACOSX/python/requests/.___init__.py
```

## Fix

Remove them (`zip -d layer.zip '__MACOSX/*'`), and make the zip with `layerpack build` or with
`zip -r -X` instead of Finder's "Compress".
"#,
    check: Check::Layer(check_macosx_metadata),
};

fn check_macosx_metadata(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    if !context.inventory.is_dir(MACOSX_DIR) {
        return;
    }
    let files = context
        .inventory
        .below(MACOSX_DIR)
        .iter()
        .filter(|entry| !entry.is_dir())
        .count();
    report.report(
        MACOSX_DIR,
        format!(
            "`{MACOSX_DIR}/` holds {} that macOS Archive Utility added: {} in \
             /opt/{MACOSX_DIR}/ and nothing reads {}",
            if files == 1 {
                "1 resource-fork file".to_string()
            } else {
                format!("{files} resource-fork files")
            },
            if files == 1 { "it lands" } else { "they land" },
            if files == 1 { "it" } else { "them" }
        ),
        format!(
            "remove them (`zip -d layer.zip '{MACOSX_DIR}/*'`) and zip with `layerpack build` or \
             `zip -r -X` instead of Finder's Compress"
        ),
    );
}
