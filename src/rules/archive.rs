//! Archive rules (`ZIP`): zips made elsewhere whose entries are unsafe or odd.
//!
//! The inventory never follows an unsafe name: it keeps such names, and repeated ones, aside as
//! [`Anomaly`]s when it reads a zip, and these rules report them. Symlink targets are resolved
//! as text (never on disk) with the same function `gather` uses.

use crate::finding::Severity;
use crate::gather::symlink_target_in_layer;
use std::collections::BTreeMap;

use crate::inventory::{Anomaly, EntryKind};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

/// The folder macOS Archive Utility adds to every zip it makes.
const MACOSX_DIR: &str = "__MACOSX";

pub static ZIP001: Rule = Rule {
    code: "ZIP001",
    name: "unsafe-entry-path",
    severity: Severity::Error,
    summary: "an entry path that is absolute, climbs out with `..`, or has a backslash or NUL",
    explanation: r#"## What it does

Reports zip entries whose name is not a safe relative path: absolute (`/etc/profile`, `C:/x`),
climbing out with `..` (`../../var/task/app.py`), or containing a backslash or a NUL byte.
layerpack reports them and never follows them; they are left out of everything else it checks.

## Why this breaks at run time

Such an entry is either an attack ("zip slip": writing outside the folder being extracted to) or
a zip made on Windows with `\` separators. Extractors disagree on what to do: Info-ZIP `unzip`
strips the dangerous part and says

```
warning:  skipped "../" path component(s) in ../../var/task/app.py
```

while others write outside the target folder or keep a file literally named `python\foo.py`
that no import finds. The layer's content then depends on the tool that unpacks it.

## Example

```
python\requests\__init__.py
../../var/task/app.py
```

## Fix

Rebuild the zip from a clean folder with a tool that writes `/`-separated relative paths
(`layerpack build`, or `zip -r` on Linux or macOS). Do not publish a zip from an unknown source
that contains such entries.
"#,
    check: Check::Layer(check_unsafe_entry_path),
};

fn check_unsafe_entry_path(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for anomaly in &context.inventory.anomalies {
        let Anomaly::UnsafeName { name, reason } = anomaly else {
            continue;
        };
        let shown = name.replace('\0', "\\0");
        report.report(
            shown.as_str(),
            format!(
                "the entry `{shown}` is not a safe path inside /opt ({}): extractors either \
                 skip it or write it where the layer has no business writing; layerpack did not \
                 follow it",
                reason.describe()
            ),
            "rebuild the zip from a clean folder with `/`-separated relative paths (e.g. with \
             `layerpack build`)",
        );
    }
}

pub static ZIP002: Rule = Rule {
    code: "ZIP002",
    name: "symlink-escapes-layer",
    severity: Severity::Error,
    summary: "a symlink whose target lies outside the layer",
    explanation: r#"## What it does

Reports symlinks whose target, resolved from the link's folder, lands outside the layer: a
relative target that climbs out with `..`, or an absolute one outside `/opt` (absolute targets
inside `/opt/` are fine, since Lambda extracts the layer there).

## Why this breaks at run time

On Lambda the link points into the function's own file system: at best at a file the runtime
image happens to have, usually at nothing, and the open fails:

```
OSError: [Errno 2] No such file or directory: '/opt/lib/libssl.so.3'
```

A link to `/home/me/.venv/lib/…` worked on the build machine only. Links out of the layer are
also how a hostile zip reads files it should not.

## Example

```
lib/libssl.so.3 -> /usr/local/opt/openssl/lib/libssl.so.3
python/data -> ../../../home/me/data
```

## Fix

Replace the link with the file it points to (`cp -L`, or `zip -r` without `--symlinks`), or make
it a relative link to a file inside the layer.
"#,
    check: Check::Layer(check_symlink_escapes_layer),
};

fn check_symlink_escapes_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for entry in context.inventory.entries() {
        let EntryKind::Symlink { target } = &entry.kind else {
            continue;
        };
        if symlink_target_in_layer(&entry.path, target).is_some() {
            continue;
        }
        report.report(
            entry.path.as_str(),
            format!(
                "`{}` is a symlink to `{target}`, which is outside the layer: on Lambda it \
                 points into the function's file system, where the target is usually missing \
                 (\"No such file or directory\")",
                entry.path
            ),
            "replace the link with the file it points to, or link to a path inside the layer",
        );
    }
}

pub static ZIP003: Rule = Rule {
    code: "ZIP003",
    name: "duplicate-entry",
    severity: Severity::Error,
    summary: "two entries with the same name",
    explanation: r#"## What it does

Reports names that appear more than once in a zip's central directory (after `./` and trailing
`/` are ignored).

## Why this breaks at run time

Which copy ends up in `/opt` depends on the extractor: Info-ZIP `unzip` asks
`replace python/app.py? [y]es, [n]o, [A]ll, [N]one, [r]ename:` (or takes the last one with
`-o`), other libraries keep the first. The code you tested may not be the code Lambda runs, and
a scanner that looked at one copy may have missed the other.

## Example

A zip updated with `zip layer.zip python/app.py` by a tool that appends instead of replacing.

## Fix

Rebuild the zip from a clean folder (`layerpack build`) instead of appending to an old one.
"#,
    check: Check::Layer(check_duplicate_entry),
};

fn check_duplicate_entry(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let mut duplicates: BTreeMap<String, usize> = BTreeMap::new();
    for anomaly in &context.inventory.anomalies {
        if let Anomaly::Duplicate { path, count } = anomaly {
            duplicates.insert(path.to_string(), *count);
        }
    }
    for (path, count) in &duplicates {
        report.report(
            path.as_str(),
            format!(
                "`{path}` appears {count} times in the zip: which copy lands in /opt depends on \
                 the extractor"
            ),
            "rebuild the zip from a clean folder instead of appending to an old one",
        );
    }
}

pub static ZIP004: Rule = Rule {
    code: "ZIP004",
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
