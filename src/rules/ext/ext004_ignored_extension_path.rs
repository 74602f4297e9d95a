//! EXT004: files in sub-folders of `extensions/`, which Lambda never starts.

use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::entry_points::EXTENSIONS_DIR;

pub(crate) static EXT004: Rule = Rule {
    code: Code::EXT004,
    name: "ignored-extension-path",
    severity: Severity::Warning,
    summary: "files in a sub-folder of extensions/, which Lambda does not start",
    explanation: r#"## What it does

Finds folders inside `extensions/` that hold files. Lambda lists `/opt/extensions` and starts
every entry that is not a folder; it does not look into sub-folders.

## Why this breaks at run time

Nothing fails loudly: the extension is simply never started. Its telemetry, secrets cache or
log shipping is missing, and the function's calls to it (`localhost:2773` for the Parameters and
Secrets extension, for instance) fail with "connection refused".

## Example

```
extensions/my-agent/my-agent
extensions/my-agent/config.yaml
```

## Fix

Put the executable Lambda should start directly in `extensions/` (`extensions/my-agent`), and
its other files in a top-level folder it opens by its full path (`/opt/my-agent/config.yaml`).
"#,
    check: Check::Layer(check_ignored_extension_path),
};

fn check_ignored_extension_path(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for folder in context.inventory.children(EXTENSIONS_DIR) {
        if !folder.is_dir() {
            continue;
        }
        let files: Vec<&str> = context
            .inventory
            .below(folder.path.as_str())
            .iter()
            .filter(|entry| !entry.is_dir())
            .map(|entry| entry.path.as_str())
            .collect();
        let Some(first) = files.first() else {
            continue;
        };
        let count = if files.len() == 1 {
            format!("`{first}`")
        } else {
            format!("{} files (first: `{first}`)", files.len())
        };
        let name = folder.path.file_name();
        report.report(
            folder.path.as_str(),
            format!(
                "`{}/` holds {count}, but Lambda starts only the files directly in \
                 /opt/extensions, never those in its sub-folders: this extension never runs",
                folder.path
            ),
            format!(
                "put the executable directly in `{EXTENSIONS_DIR}/` (`{EXTENSIONS_DIR}/{name}`) \
                 and its other files in a top-level folder it opens by full path (`/opt/{name}/`)"
            ),
        );
    }
}
