//! `BIN004` glibc-too-new: code that needs a newer glibc than the runtime's OS has.
//!
//! The rule, its explanation (printed by `layerpack rule BIN004`) and its check.

use super::{elfs, list_runtimes, severity_at};
use crate::domain::placement::{reinstall_help, runtimes_reading};
use crate::finding::Severity;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::{Arch, Runtime};

pub static BIN004: Rule = Rule {
    code: "BIN004",
    name: "glibc-too-new",
    severity: Severity::Error,
    summary: "code that needs a newer glibc than the runtime's OS has",
    explanation: r#"## What it does

Reads the version needs (`.gnu.version_r`) of every ELF file, takes the highest `GLIBC_x.y` as
auditwheel does, and compares it with the glibc of each runtime that reads the file: Amazon Linux
2 (python3.9–3.11, nodejs18.x, java8.al2/11/17, provided.al2) has glibc 2.26, Amazon Linux 2023
(python3.12+, nodejs20.x+, java21+, provided.al2023) has 2.34. One finding per file names every
runtime that would fail, so a file can pass for python3.12 and fail for python3.11.

## Why this breaks at run time

The loader checks every versioned symbol before running any code:

```
ImportError: /lib64/libc.so.6: version `GLIBC_2.28' not found
(required by /opt/python/cryptography/hazmat/bindings/_rust.abi3.so)
```

Typical causes: a wheel tagged `manylinux_2_28` or newer installed for an Amazon Linux 2 runtime,
or a binary built on a recent Ubuntu or Debian.

## Example

```
python/lib/python3.11/site-packages/cryptography/hazmat/bindings/_rust.abi3.so   # needs GLIBC_2.28
```

## Fix

Install wheels built for an older glibc: `pip install --platform manylinux2014_x86_64
--only-binary=:all: --target python PACKAGE` (manylinux2014 means glibc 2.17); build native code
inside the Lambda build image of the oldest runtime; or drop the Amazon Linux 2 runtimes from the
layer's `runtimes`.
"#,
    check: Check::Layer(check_glibc_too_new),
};

fn check_glibc_too_new(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (binary, info) in elfs(context) {
        let Some(needed) = info.glibc else {
            continue;
        };
        if info.musl {
            continue;
        }
        let failing: Vec<&Runtime> = runtimes_reading(&binary.path, context.runtimes)
            .into_iter()
            .filter(|runtime| runtime.os.glibc() < needed)
            .collect();
        if failing.is_empty() {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let oses: Vec<String> = {
            let mut oses: Vec<_> = failing.iter().map(|runtime| runtime.os).collect();
            oses.dedup();
            oses.iter()
                .map(|os| format!("{} has glibc {}", os.name(), os.glibc()))
                .collect()
        };
        let arch = context
            .architectures
            .first()
            .copied()
            .unwrap_or(Arch::X86_64);
        let mut help = reinstall_help(&binary.path, arch, &failing);
        help.push_str(&format!(
            "; or build it against glibc {} or older",
            failing
                .iter()
                .map(|runtime| runtime.os.glibc())
                .min()
                .unwrap_or(needed)
        ));
        report.report_as(
            severity,
            binary.path.as_str(),
            format!(
                "needs GLIBC_{needed} but {} ({}): loading it fails with \"version `GLIBC_{needed}' not found\"",
                list_runtimes(&failing),
                oses.join(", ")
            ),
            help,
        );
    }
}
