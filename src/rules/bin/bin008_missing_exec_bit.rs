//! `BIN008` missing-exec-bit: a command or ELF executable without an execute bit.
//!
//! The rule, its explanation (printed by `layerpack rule BIN008`) and its check.

use super::elfs;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) static BIN008: Rule = Rule {
    code: Code::BIN008,
    name: "missing-exec-bit",
    severity: Severity::Error,
    summary: "a command or ELF executable without an execute bit",
    explanation: r#"## What it does

Reports every file directly in `bin/` (which Lambda puts on `PATH`), and every ELF program
anywhere (`ET_EXEC`, or a position-independent executable: `ET_DYN` with an interpreter and no
library name), whose mode has no execute bit. Entries of a zip that record no Unix mode at all
are skipped: nothing can be said about them. The files Lambda starts by itself (`bootstrap`,
`extensions/*`, the exec wrapper) are judged by EXT001 instead.

## Why this breaks at run time

Lambda extracts the layer with the modes the zip records. Running a file without an execute bit
fails:

```
/bin/sh: /opt/bin/jq: Permission denied
[ERROR] PermissionError: [Errno 13] Permission denied: '/opt/bin/ffmpeg'
```

Zips made on Windows, or with tools that drop modes, and files downloaded without `chmod +x`
cause it.

## Example

```
bin/jq      # mode 0644
```

## Fix

`chmod 755 bin/jq` before packing; `layerpack build` keeps the execute bit (normalized to 0755).
"#,
    check: Check::Layer(check_missing_exec_bit),
};

fn check_missing_exec_bit(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let programs: BTreeMap<&str, bool> = elfs(context)
        .map(|(binary, info)| (binary.path.as_str(), info.is_program(&binary.path)))
        .collect();
    // What Lambda starts by itself is EXT001's to report, in the terms of its launch error.
    let started: BTreeSet<&str> = crate::entrypoint::layer_entry_points(
        context.inventory,
        context.runtimes,
        context.exec_wrapper,
    )
    .iter()
    .filter_map(|point| point.target)
    .map(|target| target.path.as_str())
    .collect();
    for entry in context.inventory.files() {
        let in_bin = entry.path.parent() == "bin";
        let program = programs.get(entry.path.as_str()).copied().unwrap_or(false);
        if !(in_bin || program) || started.contains(entry.path.as_str()) {
            continue;
        }
        let Some(mode) = entry.mode else {
            continue;
        };
        if mode & 0o111 != 0 {
            continue;
        }
        let what = if program {
            "an ELF program"
        } else {
            "a command on PATH"
        };
        report.report(
            entry.path.as_str(),
            format!(
                "{what} with mode {mode:04o} (no execute bit): running it fails with \"Permission denied\" (EACCES)"
            ),
            format!(
                "chmod 755 {} before packing; layerpack build keeps the execute bit",
                crate::text::shell_quote(entry.path.as_str())
            ),
        );
    }
}
