//! `BIN005` musl-linked: code linked against musl libc, which Lambda does not have.
//!
//! The rule, its explanation (printed by `layerpack rule BIN005`) and its check.

use super::{elfs, severity_at};
use crate::domain::placement::reinstall_help;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::Arch;

pub(crate) static BIN005: Rule = Rule {
    code: Code::BIN005,
    name: "musl-linked",
    severity: Severity::Error,
    summary: "code linked against musl libc, which Lambda does not have",
    explanation: r#"## What it does

Reports ELF files linked against musl libc (Alpine Linux): an interpreter such as
`/lib/ld-musl-x86_64.so.1`, or a needed `libc.musl-x86_64.so.1`. `musllinux` wheels and
`node_modules` installed on Alpine carry such files.

## Why this breaks at run time

Lambda's runtimes are glibc systems with no musl, so a musl extension fails with

```
ImportError: libc.musl-x86_64.so.1: cannot open shared object file: No such file or directory
```

and a musl program in `bin/` fails with the baffling `No such file or directory` (its
interpreter is missing, not the program).

## Example

```
python/orjson/orjson.cpython-312-x86_64-linux-musl.so
```

## Fix

Install the glibc build: `manylinux` wheels rather than `musllinux`
(`pip install --platform manylinux2014_x86_64 --only-binary=:all: ...`), `npm install
--libc=glibc`, or build on a glibc image (the Lambda build images), not Alpine.
"#,
    check: Check::Layer(check_musl_linked),
};

fn check_musl_linked(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (binary, info) in elfs(context) {
        if !info.musl {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let error = if info.is_program(&binary.path) {
            format!(
                "running it fails with \"No such file or directory\" (its interpreter {} does not exist on Lambda)",
                info.interpreter.as_deref().unwrap_or("ld-musl")
            )
        } else {
            let musl_libc = info
                .needed
                .iter()
                .find(|name| name.starts_with("libc.musl-"))
                .cloned()
                .unwrap_or_else(|| "libc.musl".to_string());
            format!(
                "loading it fails with \"{musl_libc}: cannot open shared object file: No such file or directory\""
            )
        };
        let arch = info
            .machine
            .arch()
            .or(context.architectures.first().copied())
            .unwrap_or(Arch::X86_64);
        report.report_as(
            severity,
            binary.path.as_str(),
            format!("linked against musl libc, which Lambda does not have: {error}"),
            format!(
                "{} (a glibc build, not musllinux or Alpine)",
                reinstall_help(&binary.path, arch, context.runtimes)
            ),
        );
    }
}
