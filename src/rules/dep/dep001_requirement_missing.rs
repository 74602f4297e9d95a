//! `DEP001` requirement-missing: a declared requirement that nothing on the search path provides.
//!
//! The rule, its explanation (printed by `layerpack rule DEP001`) and its check.

use super::{report_layer, report_stack};
use crate::deps::ProblemKind;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter, StackContext};
use crate::rules::{Check, Rule};

pub(crate) static DEP001: Rule = Rule {
    code: Code::DEP001,
    name: "requirement-missing",
    severity: Severity::Warning,
    summary: "a package requires another that neither the layers, the function nor the runtime provide",
    explanation: r#"## What it does

Reads the requirements every installed package declares, as `pip check` and `npm ls` would, but
offline and over what Lambda merges: Python's `Requires-Dist` in each `*.dist-info/METADATA` on
`sys.path` (markers evaluated for the runtime: its Python version, Linux, CPython, the layer's
architecture; extras only when a dependent asks for them), and each Node.js package's
`dependencies`, looked up from that package's folder the way `require()` does (`node_modules`
up the tree, then `NODE_PATH`). A requirement counts as met by the runtime's own packages
(boto3 and its dependencies, the `@aws-sdk/*` v3 clients). Run on one layer by `check`; on the
function with its layers by `check --function`, where another layer may provide what one lacks.

## Why this breaks at run time

A warning, not an error: whether it breaks depends on whether the import that needs it runs.
When it does:

```
ModuleNotFoundError: No module named 'annotated_types'
Error: Cannot find module '@smithy/types'
```

Layers built in several `pip install --target` steps (or with `--no-deps`), or a `node_modules`
copied in part, lose requirements this way.

## Example

```
python/pydantic-2.9.2.dist-info/METADATA   # Requires-Dist: annotated-types>=0.6.0 — not installed
```

## Fix

Install everything in one `pip install --target python -r requirements.txt` (or one `npm install`)
so the installer resolves every requirement, or add the missing package.
"#,
    check: Check::LayerAndStack(check_layer, check_stack),
};

fn check_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    report_layer(ProblemKind::Missing, context, report);
}

fn check_stack(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    report_stack(ProblemKind::Missing, context, report);
}
