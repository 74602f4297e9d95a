//! EXT001: an entry point without the execute bit.

use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

use super::{absolute, entry_points, via_link};

pub(crate) static EXT001: Rule = Rule {
    code: Code::EXT001,
    name: "not-executable",
    severity: Severity::Error,
    summary: "a bootstrap, extension or exec wrapper without the execute bit",
    explanation: r#"## What it does

Finds the files Lambda starts by itself whose mode has no execute bit: `bootstrap` at the root of
a layer for an OS-only runtime (`provided.al2`, `provided.al2023`), every file directly in
`extensions/` (external extensions, started for every runtime), and the script that
`AWS_LAMBDA_EXEC_WRAPPER` names (`check --env AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper`, or `env` in
`[function.NAME]` of `layer.toml`). A symlink is judged by the file it leads to.

A zip entry that records no Unix mode at all (external attributes 0, as some Windows tools write)
is reported too: Lambda extracts such a file without the execute bit, so it cannot be started.
(BIN008, which judges ordinary commands, leaves such entries alone.)

## Why this breaks at run time

Lambda starts these files with `execve`, which needs the execute bit. The function fails during
init, before any handler runs:

```
Runtime.InvalidEntrypoint: fork/exec /opt/bootstrap: permission denied
Extension.LaunchError: fork/exec /opt/extensions/telemetry-agent: permission denied
/var/runtime/bootstrap: line 7: /opt/otel-instrument: Permission denied
```

Zips made on Windows (Explorer's "Send to compressed folder", `Compress-Archive`), files
downloaded without `chmod +x`, and copies through file systems without modes cause it.

## Example

```
bootstrap                  # mode 0644
extensions/telemetry-agent # mode 0644
```

## Fix

`chmod 755 bootstrap extensions/*` before packing; `layerpack build` keeps the execute bit (as
0755). Rebuild a zip made on Windows with a tool that records Unix modes (`layerpack build`, or
`zip` on Linux or macOS).
"#,
    check: Check::Layer(check_not_executable),
};

fn check_not_executable(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for point in entry_points(context) {
        let Some(target) = point.target.filter(|target| target.is_file()) else {
            continue;
        };
        let (reason, help) = match target.mode {
            None => (
                "the zip records no Unix mode for it (made on Windows, or by a tool that drops \
                 modes), so Lambda extracts it without the execute bit"
                    .to_string(),
                "rebuild the zip with a tool that records Unix modes (`layerpack build`, or `zip` \
                 on Linux or macOS after `chmod 755`)"
                    .to_string(),
            ),
            Some(mode) if mode & 0o111 == 0 => (
                format!("its mode {:o} has no execute bit", mode & 0o7777),
                format!(
                    "`chmod 755 {}` before packing; `layerpack build` keeps the execute bit",
                    crate::text::shell_quote(target.path.as_str())
                ),
            ),
            Some(_) => continue,
        };
        let absolute = absolute(&point);
        report.report(
            point.entry.path.as_str(),
            format!(
                "`{}` is {}{}, but {reason}: Lambda cannot start it (\"{}\")",
                point.entry.path,
                point.role.describe(),
                via_link(&point),
                point.role.launch_error(&absolute, "permission denied"),
            ),
            help,
        );
    }
}
