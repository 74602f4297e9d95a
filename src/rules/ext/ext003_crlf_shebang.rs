//! EXT003: a `#!` line the kernel misreads (a `\r` from Windows line endings, or a byte order
//! mark before `#!`).

use crate::entrypoint::Launch;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

use super::{StartedFile, started_files};

pub(crate) static EXT003: Rule = Rule {
    code: Code::EXT003,
    name: "crlf-shebang",
    severity: Severity::Error,
    summary: "an entry point's #! line ends in CRLF, or a byte order mark hides it",
    explanation: r##"## What it does

Reads the first line of every file Lambda starts by itself (`bootstrap`, the files directly in
`extensions/`, the `AWS_LAMBDA_EXEC_WRAPPER` script) and reports a `#!` line that ends in `\r\n`
(Windows line endings) and a UTF-8 byte order mark (`EF BB BF`) before `#!`.

## Why this breaks at run time

The kernel reads the interpreter's name up to the first blank or the newline, so with CRLF the
`\r` becomes part of it: it looks for `/bin/bash\r`, which does not exist, and `execve` fails
with "no such file or directory" although `/bin/bash` is there (a shell shows it as
`/bin/bash^M: bad interpreter`). When the line has an argument (`#!/bin/sh -e`), the argument
gets the `\r` instead and the shell refuses it as an invalid option. A byte order mark hides the
`#!` itself, and `execve` fails with "exec format error":

```
Runtime.InvalidEntrypoint: fork/exec /opt/bootstrap: no such file or directory
Extension.LaunchError: fork/exec /opt/extensions/agent: exec format error
```

Editors on Windows and `git` with `core.autocrlf=true` write these files.

## Example

```
bootstrap   # "#!/bin/bash\r\n" ...
```

## Fix

Convert the file to LF line endings (`dos2unix bootstrap`, or "LF" in the editor's status bar)
and save it without a byte order mark. A `.gitattributes` line such as `bootstrap text eol=lf`
(or `extensions/* text eol=lf`) keeps git from converting it again.
"##,
    check: Check::Layer(check_crlf_shebang),
};

fn check_crlf_shebang(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for StartedFile {
        point,
        target,
        launch,
        absolute,
        what,
    } in started_files(context)
    {
        match launch {
            Launch::Script(shebang) if shebang.carriage_return => {
                let effect = if shebang.argument.is_some() {
                    format!(
                        "its argument `{}` ends in a carriage return, which the interpreter refuses",
                        shebang
                            .argument
                            .as_deref()
                            .unwrap_or("")
                            .replace('\r', "\\r")
                    )
                } else {
                    format!(
                        "the kernel looks for the interpreter `{}`, which does not exist (\"{}\")",
                        shebang.interpreter.replace('\r', "\\r"),
                        point
                            .role
                            .launch_error(&absolute, "no such file or directory"),
                    )
                };
                report.report(
                    point.entry.path.as_str(),
                    format!(
                        "{what}, and its first line `#!{}` ends in CRLF (Windows line endings): \
                         {effect}",
                        shebang.shown()
                    ),
                    format!(
                        "convert `{}` to LF line endings (dos2unix), and keep it so with \
                         `{} text eol=lf` in .gitattributes",
                        target.path, target.path
                    ),
                );
            }
            Launch::ByteOrderMark => report.report(
                point.entry.path.as_str(),
                format!(
                    "{what}, and it starts with a UTF-8 byte order mark before `#!`: the kernel \
                     does not see the `#!` line (\"{}\")",
                    point.role.launch_error(&absolute, "exec format error"),
                ),
                format!("save `{}` as UTF-8 without a byte order mark", target.path),
            ),
            _ => {}
        }
    }
}
