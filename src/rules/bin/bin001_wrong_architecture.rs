//! `BIN001` wrong-architecture: ELF machine code for an architecture the layer does not declare.
//!
//! The rule, its explanation (printed by `layerpack rule BIN001`) and its check.

use super::{elfs, failure, severity_at};
use crate::domain::placement::reinstall_help;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static BIN001: Rule = Rule {
    code: Code::BIN001,
    name: "wrong-architecture",
    severity: Severity::Error,
    summary: "ELF machine code for an architecture the layer does not declare",
    explanation: r#"## What it does

Reads the `e_machine` field of every 64-bit ELF file in the layer (found by content, whatever its
name) and reports code for a machine that is not among the layer's architectures: an `aarch64`
`.so` in an `x86_64` layer, an `x86_64` executable in an `arm64` layer, or code for a machine
Lambda does not run at all (RISC-V, POWER, s390x). 32-bit code is BIN003's.

## Why this breaks at run time

The loader refuses a library built for another machine, and says so in the least helpful way:

```
ImportError: /opt/python/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so:
cannot open shared object file: No such file or directory
```

although the file is right there. A program in `bin/` fails with `cannot execute binary file:
Exec format error`. This usually happens when the layer is built on an Apple Silicon Mac or an
arm64 CI runner and deployed to an `x86_64` function (or the reverse).

Files that nothing loads (a folder of prebuilt binaries for another platform that an npm package
chooses from at run time) are skipped; other foreign code that no loader would open is a warning.

## Example

```
python/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so   # ELF, machine aarch64
```

## Fix

Install the packages for the function's architecture, e.g.
`pip install --platform manylinux2014_x86_64 --only-binary=:all: --target python pydantic`, or
`npm install --os=linux --cpu=x64`; or build the layer inside the Lambda build image for the
right architecture; or declare the architecture the code is really for.
"#,
    check: Check::Layer(check_wrong_architecture),
};

fn check_wrong_architecture(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    if context.architectures.is_empty() {
        return;
    }
    for (binary, info) in elfs(context) {
        if !info.is_64
            || info
                .machine
                .arch()
                .is_some_and(|arch| context.architectures.contains(&arch))
        {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let declared: Vec<&str> = context.architectures.iter().map(|a| a.aws_name()).collect();
        let library_error = "cannot open shared object file: No such file or directory";
        let mut error = failure(&binary.path, Some(info), library_error);
        if error.contains(library_error) {
            error.push_str(" although the file exists");
        }
        report.report_as(
            severity,
            binary.path.as_str(),
            format!(
                "{} code in a layer for {}: {error}",
                info.machine.name(),
                declared.join(" and ")
            ),
            reinstall_help(&binary.path, context.architectures[0], context.runtimes),
        );
    }
}
