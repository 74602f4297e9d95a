//! `HYG005` case-conflict: paths that differ only in letter case.
//!
//! The rule, its explanation (printed by `layerpack rule HYG005`) and its check.

use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use std::collections::BTreeMap;

pub(crate) static HYG005: Rule = Rule {
    code: Code::HYG005,
    name: "case-conflict",
    severity: Severity::Warning,
    summary: "paths that differ only in letter case",
    explanation: r#"## What it does

Finds entries in one folder whose names differ only in letter case (`Foo.py` and `foo.py`). Only
the outermost conflict is reported.

## Why this breaks at run time

On Lambda's case-sensitive file system both exist, but the layer is usually built or unpacked on
macOS or Windows, where they are one file: one silently overwrites the other, so the layer you
tested is not the one you ship. Python also refuses a module whose case does not match on such
systems:

```
ModuleNotFoundError: No module named 'Foo'
```

## Example

```
python/yaml/Loader.py
python/yaml/loader.py
```

## Fix

Keep one of them: rename or remove the other, and make imports use the exact case.
"#,
    check: Check::Layer(check_case_conflict),
};

fn check_case_conflict(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let mut by_folder: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for entry in context.inventory.entries() {
        by_folder
            .entry((entry.path.parent(), entry.path.file_name().to_lowercase()))
            .or_default()
            .push(entry.path.as_str());
    }
    for paths in by_folder.values().filter(|paths| paths.len() > 1) {
        let first = paths[0];
        let others: Vec<String> = paths[1..].iter().map(|path| format!("`{path}`")).collect();
        report.report(
            first,
            format!(
                "`{first}` and {} differ only in case: on macOS and Windows they are one file, \
                 so one overwrites the other when the layer is built or unpacked there",
                others.join(" and ")
            ),
            "keep one of them (rename or remove the others) and import it with its exact case",
        );
    }
}
