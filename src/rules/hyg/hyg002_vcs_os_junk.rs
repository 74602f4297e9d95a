//! `HYG002` vcs-os-junk: version-control folders and OS junk files.
//!
//! The rule, its explanation (printed by `layerpack rule HYG002`) and its check.

use super::{MACOSX_DIR, is_os_junk_file, is_vcs_dir};
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::units::short_bytes;

pub(crate) static HYG002: Rule = Rule {
    code: Code::HYG002,
    name: "vcs-os-junk",
    severity: Severity::Warning,
    summary: "version-control folders and OS junk files",
    explanation: r#"## What it does

Finds version-control folders (`.git/`, `.svn/`, `.hg/`) and files operating systems leave
behind (`.DS_Store`, `Thumbs.db`, `desktop.ini`, AppleDouble `._name` files).

## Why this breaks at run time

Nothing at run time reads them, so they do not fail an import; they make the layer larger (a
`.git/` folder often outweighs the code), slow every cold start that downloads the layer, and can
publish the repository's history, including secrets that were committed once and removed, to
everyone the layer is shared with. Closer to the 250 MiB quota, they turn into
`Unzipped size must be smaller than 262144000 bytes`.

## Example

```
python/mylib/.git/objects/pack/pack-3f2a….pack
python/.DS_Store
```

## Fix

Leave them out: `layerpack build` drops `.git/`, `.hg/`, `.svn/`, `.DS_Store` and `Thumbs.db` by
default, and a `.layerignore` pattern drops the rest. With `zip`, use
`zip -r layer.zip python -x '*.git*' '*.DS_Store'`.
"#,
    check: Check::Layer(check_vcs_os_junk),
};

fn check_vcs_os_junk(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    let mut skip_below: Option<String> = None;
    for entry in inventory.entries() {
        if let Some(dir) = &skip_below {
            if entry.path.is_within(dir) {
                continue;
            }
            skip_below = None;
        }
        let path = entry.path.as_str();
        let name = entry.path.file_name();
        if entry.path.top() == MACOSX_DIR {
            continue;
        }
        if entry.is_dir() && is_vcs_dir(name) {
            let below = inventory.below(path);
            let files = below.iter().filter(|inner| inner.is_file()).count();
            let bytes: u64 = below.iter().filter(|e| e.is_file()).map(|e| e.size).sum();
            report.report(
                path,
                format!(
                    "`{path}/` is version-control data ({files} file{}, {}): nothing at run time \
                     reads it, and it publishes the repository's history with the layer",
                    if files == 1 { "" } else { "s" },
                    short_bytes(bytes)
                ),
                "leave it out (`layerpack build` drops it by default; with zip: `-x '*.git*'`)",
            );
            skip_below = Some(path.to_string());
        } else if !entry.is_dir() && is_os_junk_file(name) {
            let what = if name.starts_with("._") {
                "a macOS AppleDouble file (resource fork)"
            } else {
                "a file the operating system's file manager left behind"
            };
            report.report(
                path,
                format!("`{path}` is {what}: nothing at run time reads it"),
                "leave it out with a .layerignore pattern (or `zip -x`)",
            );
        }
    }
}
