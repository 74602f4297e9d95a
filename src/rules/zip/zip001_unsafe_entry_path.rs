//! `ZIP001` unsafe-entry-path: an entry path that is absolute, climbs out with `..`, or has a backslash or NUL.
//!
//! The rule, its explanation (printed by `layerpack rule ZIP001`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::Anomaly;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static ZIP001: Rule = Rule {
    code: Code::ZIP001,
    name: "unsafe-entry-path",
    severity: Severity::Error,
    summary: "an entry path that is absolute, climbs out with `..`, or has a backslash or NUL",
    explanation: r#"## What it does

Reports zip entries whose name is not a safe relative path: absolute (`/etc/profile`, `C:/x`),
climbing out with `..` (`../../var/task/app.py`), or containing a backslash or a NUL byte.
layerpack reports them and never follows them; they are left out of everything else it checks.

## Why this breaks at run time

Such an entry is either an attack ("zip slip": writing outside the folder being extracted to) or
a zip made on Windows with `\` separators. Extractors disagree on what to do: Info-ZIP `unzip`
strips the dangerous part and says

```
warning:  skipped "../" path component(s) in ../../var/task/app.py
```

while others write outside the target folder or keep a file literally named `python\foo.py`
that no import finds. The layer's content then depends on the tool that unpacks it.

## Example

```
python\requests\__init__.py
../../var/task/app.py
```

## Fix

Rebuild the zip from a clean folder with a tool that writes `/`-separated relative paths
(`layerpack build`, or `zip -r` on Linux or macOS). Do not publish a zip from an unknown source
that contains such entries.
"#,
    check: Check::Layer(check_unsafe_entry_path),
};

fn check_unsafe_entry_path(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for anomaly in &context.inventory.anomalies {
        let Anomaly::UnsafeName { name, reason } = anomaly else {
            continue;
        };
        let shown = name.replace('\0', "\\0");
        report.report(
            shown.as_str(),
            format!(
                "the entry `{shown}` is not a safe path inside /opt ({}): extractors either \
                 skip it or write it where the layer has no business writing; layerpack did not \
                 follow it",
                reason.describe()
            ),
            "rebuild the zip from a clean folder with `/`-separated relative paths (e.g. with \
             `layerpack build`)",
        );
    }
}
