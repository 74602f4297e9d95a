//! `STK001` too-many-layers: more than 5 layers attached to one function.
//!
//! The rule, its explanation (printed by `layerpack rule STK001`) and its check.

use crate::finding::{Code, Severity};
use crate::lint::{Reporter, StackContext};
use crate::rules::{Check, Rule};
use crate::runtime::limits;

pub(crate) static STK001: Rule = Rule {
    code: Code::STK001,
    name: "too-many-layers",
    severity: Severity::Error,
    summary: "more than 5 layers attached to one function",
    explanation: r#"## What it does

Counts the layers attached to a function.

## Why this breaks at run time

Lambda takes at most 5 layers per function. Deploying a sixth fails before anything runs:
`InvalidParameterValueException: Layers ... exceeds the maximum number of layers (5)` from
`UpdateFunctionConfiguration`, or a failed CloudFormation/SAM/CDK deployment.

## Example

A function with a logging layer, a metrics layer, a tracing extension, two dependency layers and a
shared-utils layer: six.

## Fix

Merge layers that are always deployed together (one `layer.toml` layer can take several sources),
or move dependencies into the function package or a container image.
"#,
    check: Check::Stack(check_too_many_layers),
};

fn check_too_many_layers(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let count = context.layers.len();
    if count > limits::LAYERS_PER_FUNCTION {
        let names: Vec<&str> = context
            .layers
            .iter()
            .map(|layer| layer.name.as_str())
            .collect();
        report.report(
            "",
            format!(
                "{count} layers are attached ({}); Lambda allows at most {} per function and \
                 refuses the deployment",
                names.join(", "),
                limits::LAYERS_PER_FUNCTION
            ),
            "merge layers that ship together into one, or move dependencies into the function package",
        );
    }
}
