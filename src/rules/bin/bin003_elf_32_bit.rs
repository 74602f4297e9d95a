//! `BIN003` elf-32-bit: 32-bit ELF code, which a 64-bit Lambda cannot load.
//!
//! The rule, its explanation (printed by `layerpack rule BIN003`) and its check.

use super::{elfs, failure, severity_at};
use crate::domain::placement::reinstall_help;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::Arch;

pub(crate) static BIN003: Rule = Rule {
    code: Code::BIN003,
    name: "elf-32-bit",
    severity: Severity::Error,
    summary: "32-bit ELF code, which a 64-bit Lambda cannot load",
    explanation: r#"## What it does

Reports ELF files of class ELFCLASS32 (i386, 32-bit ARM) where they would be loaded or run
(libraries by name, `bin/`, `lib/`, programs); elsewhere (test fixtures and the like), a warning.

## Why this breaks at run time

Lambda runs 64-bit x86_64 and arm64 only, with no 32-bit libraries. The loader says:

```
OSError: /opt/lib/libfoo.so: wrong ELF class: ELFCLASS32
```

and a 32-bit program in `bin/` fails with `cannot execute binary file: Exec format error` (or
`No such file or directory`, for its missing 32-bit interpreter `/lib/ld-linux.so.2`).

## Example

```
bin/ffmpeg        # ELF 32-bit LSB executable, Intel 80386
```

## Fix

Use the 64-bit build (`x86_64`/`amd64` or `aarch64`/`arm64` downloads, `manylinux2014_x86_64`
wheels), or rebuild it with a 64-bit toolchain.
"#,
    check: Check::Layer(check_elf_32_bit),
};

fn check_elf_32_bit(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (binary, info) in elfs(context) {
        if info.is_64 {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let error = failure(&binary.path, Some(info), "wrong ELF class: ELFCLASS32");
        let arch = context
            .architectures
            .first()
            .copied()
            .unwrap_or(Arch::X86_64);
        report.report_as(
            severity,
            binary.path.as_str(),
            format!(
                "32-bit {} code: Lambda is 64-bit only and {error}",
                info.machine.name()
            ),
            reinstall_help(&binary.path, arch, context.runtimes),
        );
    }
}
