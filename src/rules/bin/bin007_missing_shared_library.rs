//! `BIN007` missing-shared-library: a needed shared library found neither in the layer nor in the runtime OS.
//!
//! The rule, its explanation (printed by `layerpack rule BIN007`) and its check.

use super::{elfs, list_runtimes, severity_at};
use crate::domain::libraries::{Found, LayerLibraries};
use crate::domain::placement::runtimes_reading;
use crate::finding::{Code, FindingData, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::{Arch, Runtime};

pub(crate) static BIN007: Rule = Rule {
    code: Code::BIN007,
    name: "missing-shared-library",
    severity: Severity::Error,
    summary: "a needed shared library found neither in the layer nor in the runtime OS",
    explanation: r#"## What it does

Follows every `DT_NEEDED` entry of every glibc ELF file the way the loader would on Lambda: in
the layer (the file's own folder, its `RPATH`/`RUNPATH` entries with `$ORIGIN` resolved inside
`/opt`, such as `$ORIGIN/../numpy.libs`, and `/opt/lib`, which is on `LD_LIBRARY_PATH`), then,
for each runtime that reads the file and each of the layer's architectures, in what that runtime
already has on `LD_LIBRARY_PATH`: its own `/var/lang/lib` (first: `libpython3.12.so.1.0`, the
Node.js runtimes' `libssl.so.3`, python3.11's `libcrypt.so.1`), the OS's `/lib64`, and
`/var/runtime/lib` (ruby's `libcrypt.so.2`). Those lists come from file-system dumps taken inside
live Lambda functions (`src/facts/generated.rs`, generated from the dumps and checked against
them). A library that is nowhere is an error naming the runtimes it fails on; one that is in the
layer but not on the file's search path is a warning (it loads only if that copy was loaded
first). musl's libc is BIN005's.

The check looks at one layer: a library that another layer of the same function provides in its
`lib/` does satisfy the loader (all layers merge into `/opt`). If your layers are split that way,
check them together (`layerpack check --function ...`) or lower this rule to a warning in
`[lint.severity]` of `layer.toml`.

## Why this breaks at run time

```
ImportError: libGL.so.1: cannot open shared object file: No such file or directory
ImportError: libpq.so.5: cannot open shared object file: No such file or directory
```

Lambda's images are minimal: no X11 or OpenGL, no database client libraries; Amazon Linux 2 has
no `libcurl.so.4`, `liblzma.so.5` or `libcrypt.so.1` (only the python runtimes bring their own
liblzma and libcrypt), Amazon Linux 2023 has no `libcrypt.so.*` or `libexpat.so.1`. So the same
file can load on python3.11 and fail on provided.al2.

## Example

```
python/cv2/cv2.abi3.so    # needs libGL.so.1 (opencv-python instead of opencv-python-headless)
```

## Fix

Ship the library in the layer's `lib/` (built for the runtime's OS), or install a build that
bundles it: manylinux wheels repaired by auditwheel carry their libraries in `PACKAGE.libs/`
(e.g. `psycopg2-binary` instead of `psycopg2`, `opencv-python-headless` instead of
`opencv-python`).
"#,
    check: Check::Layer(check_missing_shared_library),
};

fn check_missing_shared_library(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let layer = LayerLibraries::new(context.inventory, context.binaries);
    for (binary, info) in elfs(context) {
        if info.needed.is_empty() {
            continue;
        }
        // Foreign code cannot be loaded at all; other rules say why.
        let foreign = !info.is_64
            || info.musl
            || info
                .machine
                .arch()
                .is_none_or(|arch| !context.architectures.contains(&arch));
        if foreign {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let readers = runtimes_reading(&binary.path, context.runtimes);
        for name in &info.needed {
            if name.contains('/') {
                continue;
            }
            match layer.find(&binary.path, info, name, &readers, context.architectures) {
                Found::Layer(_) => {}
                Found::System { missing_on } if missing_on.is_empty() => {}
                Found::ElsewhereInLayer(elsewhere) => report.report_as_with_data(
                    Severity::Warning,
                    binary.path.as_str(),
                    format!(
                        "needs `{name}`, which is in the layer at `{elsewhere}` but not on this file's search path: it loads only if that copy was loaded first, else \"{name}: cannot open shared object file: No such file or directory\""
                    ),
                    format!(
                        "move `{name}` into `lib/` or next to this file, or add its folder to the file's RUNPATH ($ORIGIN-relative)"
                    ),
                    FindingData {
                        library: Some(name.clone()),
                        ..FindingData::default()
                    },
                ),
                Found::System { missing_on } => {
                    let mut failing: Vec<&Runtime> =
                        missing_on.iter().map(|(runtime, _)| *runtime).collect();
                    failing.dedup();
                    let mut oses: Vec<&str> = failing.iter().map(|runtime| runtime.os().name()).collect();
                    oses.sort_unstable();
                    oses.dedup();
                    let mut arches: Vec<Arch> = missing_on.iter().map(|(_, arch)| *arch).collect();
                    arches.sort_unstable();
                    arches.dedup();
                    let on_arch = if arches.len() < context.architectures.len() {
                        format!(" on {}", arches.iter().map(|arch| arch.aws_name()).collect::<Vec<_>>().join(", "))
                    } else {
                        String::new()
                    };
                    report.report_as_with_data(
                        severity,
                        binary.path.as_str(),
                        format!(
                            "needs `{name}`, which is neither in the layer nor provided by {}{on_arch} ({} and the runtime's own libraries): loading it fails with \"{name}: cannot open shared object file: No such file or directory\"",
                            list_runtimes(&failing),
                            oses.join(" / ")
                        ),
                        format!(
                            "put `{name}` (built for {}) in the layer's lib/, or install a build of the package that bundles it (a manylinux wheel repaired by auditwheel)",
                            oses.join(" / ")
                        ),
                        FindingData {
                            library: Some(name.clone()),
                            runtimes: failing.iter().map(|runtime| runtime.id.to_string()).collect(),
                            ..FindingData::default()
                        },
                    );
                }
            }
        }
    }
}
