//! `STK002` stack-over-quota: function plus layers over 250 MiB unzipped.
//!
//! The rule, its explanation (printed by `layerpack rule STK002`) and its check.

use crate::finding::{Code, Severity};
use crate::lint::{Reporter, StackContext};
use crate::rules::{Check, Rule};
use crate::runtime::limits;
use crate::units::mib;

pub(crate) static STK002: Rule = Rule {
    code: Code::STK002,
    name: "stack-over-quota",
    severity: Severity::Error,
    summary: "function plus layers over 250 MiB unzipped",
    explanation: r#"## What it does

Adds the unzipped size of the function's code and of every attached layer, as Lambda counts it,
and compares the total with the 250 MiB (262,144,000 bytes) quota. Lists the contributions by
layer, largest first.

## Why this breaks at run time

Each layer can be fine on its own and the deployment still fails:
`InvalidParameterValueException: Function code combined with layers exceeds the maximum allowed
size of 262144000 bytes. The actual size is 281472371 bytes.`

## Example

A 180 MiB data-science layer and a 90 MiB pyarrow layer attached to one function.

## Fix

Leave out what the function does not import (tests, docs, stubs: see `.layerignore.example`),
share one copy of a library instead of two, or move to a container image (10 GB).
"#,
    check: Check::Stack(check_stack_over_quota),
};

fn check_stack_over_quota(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let mut parts: Vec<(String, u64)> = context
        .layers
        .iter()
        .map(|layer| {
            (
                format!("layer {}", layer.name),
                layer.inventory.unzipped_bytes(),
            )
        })
        .collect();
    if let Some(function) = context.function {
        parts.push(("function code".to_string(), function.unzipped_bytes()));
    }
    let total: u64 = parts.iter().map(|(_, bytes)| bytes).sum();
    if total < limits::UNZIPPED_BYTES {
        return;
    }
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let listing: Vec<String> = parts
        .iter()
        .map(|(name, bytes)| format!("{name} {}", mib(*bytes)))
        .collect();
    report.report(
        "",
        format!(
            "function and layers take {} unzipped ({total} bytes); Lambda refuses more than {} \
             bytes: {}",
            mib(total),
            limits::UNZIPPED_BYTES,
            listing.join(", ")
        ),
        "trim the largest contributors (tests, docs, duplicate libraries) or use a container image",
    );
}
