//! `BIN002` not-linux-binary: Mach-O or PE (macOS or Windows) code where Linux code is needed.
//!
//! The rule, its explanation (printed by `layerpack rule BIN002`) and its check.

use super::{failure, severity_at};
use crate::domain::extension::ExtensionTarget;
use crate::domain::placement::{is_loaded, reinstall_help};
use crate::finding::{Code, Severity};
use crate::inspect::BinaryFormat;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::Arch;

pub(crate) static BIN002: Rule = Rule {
    code: Code::BIN002,
    name: "not-linux-binary",
    severity: Severity::Error,
    summary: "Mach-O or PE (macOS or Windows) code where Linux code is needed",
    explanation: r#"## What it does

Finds macOS (Mach-O, thin or universal) and Windows (PE) code by content and reports it where a
Linux process would load or run it: a `.so`, `.so.N` or `.node` file, anything in `bin/` or
`lib/`. Elsewhere, Mach-O code is a warning: it is never loaded, and usually means the package was
installed on a Mac, so its Linux build is missing. Windows `.exe` and `.dll` files outside `bin/`
and `lib/` are not reported: pip packages carry Windows launchers (`setuptools/cli-64.exe`,
`pip/_vendor/distlib/t64.exe`) that are inert on Linux. A `.pyd` is BIN006's. An ELF file that
cannot be parsed is reported here as a warning where it would be loaded.

## Why this breaks at run time

glibc's loader reads the first bytes and gives up:

```
ImportError: /opt/python/_cffi_backend.so: invalid ELF header
Error: /opt/nodejs/node_modules/sharp/build/Release/sharp.node: invalid ELF header
```

and a Mach-O program in `bin/` fails with `cannot execute binary file: Exec format error`.

## Example

```
nodejs/node_modules/bcrypt/lib/binding/napi-v3/bcrypt_lib.node   # Mach-O 64-bit arm64
```

## Fix

Install the dependencies on Linux, or ask the package manager for the Lambda platform:
`pip install --platform manylinux2014_x86_64 --only-binary=:all: --target python PACKAGE`,
`npm install --os=linux --cpu=x64`. Building the layer inside the Lambda build image
(`sam build --use-container`) avoids the problem altogether.
"#,
    check: Check::Layer(check_not_linux_binary),
};

fn check_not_linux_binary(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for binary in context.binaries {
        let path = &binary.path;
        let kind = match &binary.format {
            BinaryFormat::MachO => "macOS (Mach-O)",
            BinaryFormat::Pe => "Windows (PE)",
            BinaryFormat::Malformed(reason) => {
                if is_loaded(path, None)
                    && severity_at(context, path, None, Severity::Warning).is_some()
                {
                    report.report_as(
                        Severity::Warning,
                        path.as_str(),
                        format!(
                            "starts like ELF but cannot be read ({reason}); loading it would fail \
                             with \"invalid ELF header\" or \"file too short\""
                        ),
                        "replace it with an intact copy (a truncated download or a text file \
                         with an ELF-like start)",
                    );
                }
                continue;
            }
            BinaryFormat::Elf(_) => continue,
        };
        let name = path.file_name();
        if crate::domain::extension::parse(name).is_some_and(|ext| {
            !matches!(ext.target, ExtensionTarget::AnyCPython) && path.is_within("python")
        }) {
            continue; // a tagged or .pyd extension: Python never tries it on Linux (BIN006)
        }
        let loaded = is_loaded(path, None);
        let windows_inert = binary.format == BinaryFormat::Pe
            && [".exe", ".dll"]
                .iter()
                .any(|suffix| name.to_ascii_lowercase().ends_with(suffix));
        if !loaded && windows_inert {
            continue;
        }
        let Some(severity) = severity_at(context, path, None, Severity::Error) else {
            continue;
        };
        let arch = context
            .architectures
            .first()
            .copied()
            .unwrap_or(Arch::X86_64);
        let error = failure(path, None, "invalid ELF header");
        let message = if loaded {
            format!("{kind} code where Linux code is needed: {error}")
        } else {
            format!(
                "{kind} code; nothing on Lambda loads it, which usually means the package was \
                 installed on another OS and its Linux build is missing"
            )
        };
        report.report_as(
            severity,
            path.as_str(),
            message,
            reinstall_help(path, arch, context.runtimes),
        );
    }
}
