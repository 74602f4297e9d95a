//! EXT002: an entry point's `#!` interpreter that the runtime does not have.

use crate::entrypoint::{self, EntryPoint, Launch, Program, Role, SystemProgram};
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::{Arch, Runtime};

use super::{StartedFile, started_files};

pub(crate) static EXT002: Rule = Rule {
    code: Code::EXT002,
    name: "interpreter-missing",
    severity: Severity::Error,
    summary: "an entry point's #! interpreter does not exist on the runtime",
    explanation: r##"## What it does

Reads the `#!` line of every file Lambda starts by itself (`bootstrap`, the files directly in
`extensions/`, the `AWS_LAMBDA_EXEC_WRAPPER` script) and looks the interpreter up on each of the
layer's runtimes and architectures: an absolute path (`#!/bin/bash`) in the runtime's and its
OS's own folders, and a name run through `env` (`#!/usr/bin/env python3`) on the runtime's real
`PATH`: `/var/lang/bin` (the managed runtime's own commands), `/usr/local/bin`, `/usr/bin`,
`/bin`, and the layer's `bin/` (`/opt/bin`). The lists of commands come from file-system dumps
taken inside Lambda. A file that is neither machine code nor starts with `#!` is reported too.

An interpreter under `/opt` that this layer does not ship may come from another layer, and one in
`/var/task` from the function: `layerpack why bootstrap` (or `why extension:NAME`) judges those
over the function and all its layers.

## Why this breaks at run time

Neither Amazon Linux base of Lambda has `python3`, `node` or `ruby`: each exists only in
`/var/lang/bin` of its own managed runtime. So an extension written as a Python script starts on
`python3.12` and fails on `provided.al2023` or `nodejs20.x`:

```
/usr/bin/env: 'python3': No such file or directory
Extension.LaunchError: fork/exec /opt/extensions/agent: no such file or directory
Runtime.InvalidEntrypoint: fork/exec /opt/bootstrap: exec format error
```

`#!/usr/bin/python3` fails even on the Python runtimes, whose interpreter is
`/var/lang/bin/python3`.

## Example

```
extensions/agent   # "#!/usr/bin/env python3", in a layer for provided.al2023
```

## Fix

Write the entry point for an interpreter every runtime has (`#!/bin/sh` or `#!/bin/bash`) and
start the real program from it, ship the interpreter in the layer's `bin/` (then
`#!/usr/bin/env NAME` finds it on `PATH`), or declare only the runtimes that have it.
"##,
    check: Check::Layer(check_interpreter_missing),
};

fn check_interpreter_missing(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for StartedFile {
        point,
        target,
        launch,
        absolute,
        what,
    } in started_files(context)
    {
        match launch {
            Launch::Unknown => report.report(
                point.entry.path.as_str(),
                format!(
                    "{what}, but it is neither machine code nor a script with a `#!` line: \
                     Lambda cannot start it (\"{}\")",
                    point.role.launch_error(&absolute, "exec format error")
                ),
                format!(
                    "start `{}` with an interpreter line such as `#!/bin/sh`",
                    target.path
                ),
            ),
            // EXT003 reports a line the kernel misreads.
            Launch::Script(shebang) if !shebang.carriage_return => {
                let program = shebang.program();
                let missing = missing_on(context, &point, &program);
                if missing.is_empty() {
                    continue;
                }
                let (effect, error) = match &program {
                    Program::OnPath(name) => (
                        format!(
                            "`{name}` is on no folder of PATH (/var/lang/bin, /usr/local/bin, \
                             /usr/bin, /bin, nor this layer's bin/)"
                        ),
                        shebang.env_not_found(name),
                    ),
                    Program::Path(path) => (
                        format!("`{path}` does not exist"),
                        point
                            .role
                            .launch_error(&absolute, "no such file or directory"),
                    ),
                    Program::Relative(name) => (
                        format!("`{name}` is a relative path, resolved against the working folder"),
                        point
                            .role
                            .launch_error(&absolute, "no such file or directory"),
                    ),
                };
                report.report(
                    point.entry.path.as_str(),
                    format!(
                        "{what}, run by `#!{}`, but {effect} on {}: \"{error}\"",
                        shebang.shown(),
                        missing.join(", ")
                    ),
                    "use an interpreter every runtime has (`#!/bin/sh`, `#!/bin/bash`), ship it \
                     in the layer's bin/ and run it through `#!/usr/bin/env NAME`, or declare only \
                     the runtimes that have it",
                );
            }
            _ => {}
        }
    }
}

/// `provided.al2023 (x86_64)` for every runtime and architecture of the layer on which the
/// entry point starts and `program` does not exist.
fn missing_on(
    context: &LayerContext<'_>,
    point: &EntryPoint<'_>,
    program: &Program,
) -> Vec<String> {
    let starts_on = |runtime: &Runtime| match point.role {
        Role::Bootstrap => runtime.runs_bootstrap(),
        Role::ExecWrapper => runtime.runs_exec_wrapper(),
        Role::Extension => true,
    };
    let mut missing = Vec::new();
    for runtime in context.runtimes.iter().filter(|runtime| starts_on(runtime)) {
        for arch in context.architectures {
            if !exists(context, runtime, *arch, program) {
                missing.push(format!("{} ({})", runtime.id, arch.aws_name()));
            }
        }
    }
    missing
}

/// True when the program exists, or when nothing can be said (a path in `/opt` that another
/// layer may provide, in `/var/task`, or in a folder the verified lists do not cover).
fn exists(context: &LayerContext<'_>, runtime: &Runtime, arch: Arch, program: &Program) -> bool {
    match program {
        Program::Relative(_) => false,
        Program::Path(path) => {
            if path.starts_with("/opt/") || path.starts_with("/var/task/") {
                return true;
            }
            !matches!(
                entrypoint::system_program(runtime, arch, path),
                SystemProgram::Absent
            )
        }
        Program::OnPath(name) => {
            entrypoint::system_command(runtime, arch, name).is_some()
                || context
                    .inventory
                    .get(&format!("bin/{name}"))
                    .is_some_and(|entry| !entry.is_dir())
        }
    }
}
