//! `ZIP002` symlink-escapes-layer: a symlink whose target lies outside the layer.
//!
//! The rule, its explanation (printed by `layerpack rule ZIP002`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::EntryKind;
use crate::inventory::symlink_target_in_layer;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static ZIP002: Rule = Rule {
    code: Code::ZIP002,
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
