//! `SIZE003` over-budget: over a size budget set in `layer.toml`.
//!
//! The rule, its explanation (printed by `layerpack rule SIZE003`) and its check.

use super::largest_contributors;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::units::{group_digits, short_bytes};

pub(crate) static SIZE003: Rule = Rule {
    code: Code::SIZE003,
    name: "over-budget",
    severity: Severity::Error,
    summary: "over a size budget set in `layer.toml`",
    explanation: r#"## What it does

Compares the layer with the budget set in `layer.toml` and reports it when it is over,
listing its five largest packages or folders:

```toml
[layer.shared-utils.budget]
unzipped_bytes = 104857600   # 100 MiB
zipped_bytes = 31457280      # 30 MiB, checked when the zipped size is known
```

## Why this breaks at run time

The 250 MiB unzipped quota is shared by a function and all of its layers: every megabyte one
layer takes is missing for the others. A team sets a budget so that the combination still
deploys; past it, some function that attaches this layer with its other layers fails with:

```
InvalidParameterValueException: Unzipped size must be smaller than 262144000 bytes
```

A larger layer also makes every cold start slower, since it is downloaded and extracted first.

## Example

A budget of 100 MiB unzipped and a layer that grew to 140 MiB after `boto3` and its stubs were
added.

## Fix

Leave out what the function never imports (the runtime already ships the AWS SDK), or raise the
budget deliberately in `layer.toml`.
"#,
    check: Check::Layer(check_over_budget),
};

fn check_over_budget(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    let budget = context.budget;
    let unzipped = inventory.unzipped_bytes();
    let mut over = Vec::new();
    if let Some(limit) = budget.unzipped_bytes.filter(|limit| unzipped > *limit) {
        over.push(format!(
            "{} unzipped ({} bytes) is over the budget of {} bytes",
            short_bytes(unzipped),
            group_digits(unzipped),
            group_digits(limit)
        ));
    }
    if let (Some(limit), Some(zipped)) = (budget.zipped_bytes, inventory.zipped_bytes)
        && zipped > limit
    {
        over.push(format!(
            "{} zipped ({} bytes) is over the budget of {} bytes",
            short_bytes(zipped),
            group_digits(zipped),
            group_digits(limit)
        ));
    }
    if over.is_empty() {
        return;
    }
    report.report(
        "",
        format!(
            "{} set in layer.toml; the 250 MiB quota is shared by a function and all its \
             layers, so a function attaching this layer may no longer deploy; largest: {}",
            over.join(", and "),
            largest_contributors(inventory)
        ),
        "leave out what the function never imports, or raise the budget in layer.toml \
         deliberately",
    );
}
