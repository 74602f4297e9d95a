//! `HYG004` unreadable-mode: files not world-readable, or folders not world-searchable.
//!
//! The rule, its explanation (printed by `layerpack rule HYG004`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::{EntryKind, Origin};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static HYG004: Rule = Rule {
    code: Code::HYG004,
    name: "unreadable-mode",
    severity: Severity::Error,
    summary: "files not world-readable, or folders not world-searchable",
    explanation: r#"## What it does

Reads the Unix permissions stored in a zip (or found on disk) and reports files that are not
readable by others (`o+r`), executables not executable by others (`o+x`), and folders others may
not enter (`o+rx`). Under an unreadable folder, only the folder is reported.

## Why this breaks at run time

Lambda extracts the layer with the modes in the zip, and the function runs as a different user
(`sbx_user1051`) than the owner of the files. A file with mode `0600` or a folder with `0700` is
there but cannot be opened:

```
[ERROR] PermissionError: [Errno 13] Permission denied: '/opt/python/mylib/__init__.py'
```

(`EACCES: permission denied` in Node.js, `Permission denied` from a shell.)

A zip made by `layerpack build` always has normalized modes (0644 files, 0755 folders and
executables), so this rule is an error for zips from elsewhere, a warning for a folder (whether
it breaks depends on the tool that zips it), and it does not run on the sources of `layer.toml`.

## Example

```
-rw-------  python/mylib/config.py
drwx------  python/mylib/
```

## Fix

`chmod -R o+rX python/` before zipping (or `find . -type d -exec chmod 755 {} +` and
`find . -type f -exec chmod 644 {} +`), or build the zip with `layerpack build`.
"#,
    check: Check::Layer(check_unreadable_mode),
};

fn check_unreadable_mode(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let severity = match context.inventory.origin {
        Origin::Zip(_) => Severity::Error,
        Origin::Directory(_) => Severity::Warning,
        // `build` normalizes every mode of a layer built from sources.
        Origin::Sources { .. } => return,
    };
    let how_zipped = match context.inventory.origin {
        Origin::Zip(_) => "",
        _ => " once zipped with a tool that keeps modes (zip, sam build)",
    };
    let mut skip_below: Option<String> = None;
    for entry in context.inventory.entries() {
        if let Some(dir) = &skip_below {
            if entry.path.is_within(dir) {
                continue;
            }
            skip_below = None;
        }
        let (Some(mode), false) = (entry.mode, entry.implied) else {
            continue;
        };
        let path = entry.path.as_str();
        let problem = match entry.kind {
            EntryKind::Dir if mode & 0o005 != 0o005 => {
                skip_below = Some(path.to_string());
                Some(("folder", "others may not enter it", "chmod o+rx", "o+rx"))
            }
            EntryKind::File if mode & 0o004 == 0 => {
                Some(("file", "others may not read it", "chmod o+r", "o+r"))
            }
            EntryKind::File if mode & 0o111 != 0 && mode & 0o001 == 0 => {
                Some(("executable", "others may not run it", "chmod o+x", "o+x"))
            }
            _ => None,
        };
        let Some((what, why, fix, _)) = problem else {
            continue;
        };
        report.report_as(
            severity,
            path,
            format!(
                "the {what} `{path}` has mode {mode:04o}: {why}, and the function does not run \
                 as the files' owner, so at run time it fails with \"Permission denied\" \
                 (EACCES){how_zipped}"
            ),
            format!(
                "`{fix} {}` before zipping (or `chmod -R o+rX` on the layer), or build the \
                 zip with `layerpack build`, which normalizes modes",
                crate::text::shell_quote(path)
            ),
        );
    }
}
