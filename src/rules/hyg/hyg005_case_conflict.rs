//! `HYG005` case-conflict: paths that differ only in letter case.
//!
//! The rule, its explanation (printed by `layerpack rule HYG005`) and its check.

use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use std::borrow::Cow;

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
    // Each entry by its folder and its name in lower case (borrowed when it has no capital,
    // as nearly every name), sorted so that the entries of one key are together, by path.
    let mut names: Vec<(&str, Cow<'_, str>, &str)> = context
        .inventory
        .entries()
        .iter()
        .map(|entry| {
            let name = entry.path.file_name();
            let lower = if name
                .bytes()
                .all(|byte| byte.is_ascii() && !byte.is_ascii_uppercase())
            {
                Cow::Borrowed(name)
            } else {
                Cow::Owned(name.to_lowercase())
            };
            (entry.path.parent(), lower, entry.path.as_str())
        })
        .collect();
    names.sort_unstable();
    let same_key =
        |a: &(&str, Cow<'_, str>, &str), b: &(&str, Cow<'_, str>, &str)| a.0 == b.0 && a.1 == b.1;
    for group in names.chunk_by(same_key).filter(|group| group.len() > 1) {
        let first = group[0].2;
        let others: Vec<String> = group[1..]
            .iter()
            .map(|(_, _, path)| format!("`{path}`"))
            .collect();
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
