//! `ZIP008` path-too-long: an entry whose path under `/opt` is longer than Linux accepts.
//!
//! The rule, its explanation (printed by `layerpack rule ZIP008`) and its check. `build` refuses
//! such paths before writing (with the same limits, [`crate::extract::check_path_limits`]); this
//! rule finds them in zips made by other tools.

use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static ZIP008: Rule = Rule {
    code: Code::ZIP008,
    name: "path-too-long",
    severity: Severity::Error,
    summary: "an entry whose path under /opt is over 4,096 bytes, or has a name over 255 bytes",
    explanation: r#"## What it does

Reports entries that Linux cannot create where Lambda extracts the layer: a path longer than
4,096 bytes once extracted (`/opt/` + the entry's path + the terminating NUL, Linux's
`PATH_MAX`), or with one name (a part between `/`) longer than 255 bytes (`NAME_MAX`). Below a
reported folder, its entries are not reported again.

## Why this breaks at run time

A zip entry name may hold 65,535 bytes, but the file system Lambda extracts to does not take
such paths: creating the file fails with

```
File name too long (ENAMETOOLONG)
```

so the file is not in `/opt` at run time, or the layer cannot be extracted at all. Tools that
zip on other systems, or deeply nested `node_modules`, make such names.

## Example

```
python/aaaa…aaaa.py            (a name of 300 bytes)
nodejs/node_modules/a/node_modules/b/…   (a path of 5,000 bytes)
```

## Fix

Shorten the names or flatten the folders (`npm dedupe`, a shorter `into`), and rebuild the zip
(`layerpack build` refuses such paths before writing).
"#,
    check: Check::Layer(check_path_too_long),
};

fn check_path_too_long(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    // Entries are in path order: everything below a reported folder follows it directly.
    let mut reported: Option<String> = None;
    for entry in context.inventory.entries() {
        let path = entry.path.as_str();
        if let Some(folder) = &reported
            && path
                .strip_prefix(folder.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        {
            continue;
        }
        let Err(reason) = crate::extract::check_path_limits(path) else {
            continue;
        };
        report.report(
            path,
            format!("Lambda cannot extract this entry: {reason}"),
            "shorten the names or flatten the folders, then rebuild the zip (`layerpack build` \
             refuses such paths)",
        );
        reported = Some(path.to_string());
    }
}
