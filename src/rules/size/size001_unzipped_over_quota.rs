//! `SIZE001` unzipped-over-quota: over 250 MiB unzipped, the quota for a function and all its layers.
//!
//! The rule, its explanation (printed by `layerpack rule SIZE001`) and its check.

use super::largest_contributors;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::limits;
use crate::units::{group_digits, short_bytes};

pub(crate) static SIZE001: Rule = Rule {
    code: Code::SIZE001,
    name: "unzipped-over-quota",
    severity: Severity::Error,
    summary: "over 250 MiB unzipped, the quota for a function and all its layers",
    explanation: r#"## What it does

Adds up the unzipped size of every file in the layer and reports a layer of 262,144,000 bytes
(250 MiB) or more, listing its five largest packages or folders.

## Why this breaks at run time

The 250 MiB quota covers the function's code and all its layers together, unzipped. A layer that
is over it on its own can never be attached; publishing the function fails with:

```
InvalidParameterValueException: Unzipped size must be smaller than 262144000 bytes
```

## Example

A Python layer with `pyarrow`, `pandas`, `numpy` and `scipy`, built with their test suites and
debug symbols: 310 MiB unzipped.

## Fix

Leave out what the function never imports (tests, docs, type stubs, packages the runtime already
ships), strip debug symbols from shared libraries (`strip --strip-unneeded`), split the layer in
two (the quota still counts both), or move to a container image, whose limit is 10 GB.
"#,
    check: Check::Layer(check_unzipped_over_quota),
};

fn check_unzipped_over_quota(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let unzipped = context.inventory.unzipped_bytes();
    // AWS's own words are "must be smaller than", so the quota itself is already too much.
    if unzipped < limits::UNZIPPED_BYTES {
        return;
    }
    report.report(
        "",
        format!(
            "{} unzipped ({} bytes), but a function and all its layers together must stay \
             below {} bytes: deploying fails with \"Unzipped size must be smaller than {} \
             bytes\"; largest: {}",
            short_bytes(unzipped),
            group_digits(unzipped),
            group_digits(limits::UNZIPPED_BYTES),
            limits::UNZIPPED_BYTES,
            largest_contributors(context.inventory)
        ),
        "leave out what the function never imports (tests, docs, stubs), strip debug symbols \
         from shared libraries, or split the layer; over the quota, use a container image",
    );
}
