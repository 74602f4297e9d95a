//! `DEP002` requirement-version-mismatch: a requirement met by a version outside its range.
//!
//! The rule, its explanation (printed by `layerpack rule DEP002`) and its check.

use super::{report_layer, report_stack};
use crate::deps::ProblemKind;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter, StackContext};
use crate::rules::{Check, Rule};

pub(crate) static DEP002: Rule = Rule {
    code: Code::DEP002,
    name: "requirement-version-mismatch",
    severity: Severity::Warning,
    summary: "a package requires a version range, and the version the runtime loads is outside it",
    explanation: r#"## What it does

For every requirement DEP001 finds met, compares the version the runtime really loads (the first
on `sys.path`, or the one `require()` reaches from the dependent's folder) with the declared
range: PEP 440 specifiers for Python (`pep440_rs`), npm semver ranges for Node.js (`^`, `~`,
`x`, hyphen ranges, `||`; a prerelease only matches a range that names a prerelease of the same
version). `npm:` aliases are followed; `workspace:`, git, `file:` and URL specifiers are skipped.
The runtime's own packages count with the versions the in-Lambda dumps recorded (Python; the
Node.js runtimes' versions are not recorded, so their packages are taken as matching).

## Why this breaks at run time

The dependent was written against another API:

```
ImportError: cannot import name 'Self' from 'typing_extensions'
TypeError: (0 , _types.isValidHostLabel) is not a function
```

## Example

```
python/pandas-2.2.3.dist-info/METADATA   # Requires-Dist: numpy>=1.26.0, but numpy 1.24.4 is installed
```

## Fix

Install the packages together (`pip install --target python pandas numpy`) so the installer
picks versions that agree, or pin the requirement to a version in the range.
"#,
    check: Check::LayerAndStack(check_layer, check_stack),
};

fn check_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    report_layer(ProblemKind::Mismatch, context, report);
}

fn check_stack(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    report_stack(ProblemKind::Mismatch, context, report);
}
