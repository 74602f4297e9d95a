//! `STK005` layer-incompatible-with-function: a layer whose runtimes or architectures do not include the function's.
//!
//! The rule, its explanation (printed by `layerpack rule STK005`) and its check.

use crate::finding::{Code, Severity};
use crate::lint::{Reporter, StackContext};
use crate::rules::{Check, Rule};

pub(crate) static STK005: Rule = Rule {
    code: Code::STK005,
    name: "layer-incompatible-with-function",
    severity: Severity::Error,
    summary: "a layer whose runtimes or architectures do not include the function's",
    explanation: r#"## What it does

Compares the runtimes and architectures each layer declares (in `layer.toml`, or in the manifest
`layerpack build` writes beside a zip) with the function's runtime and architecture.

## Why this breaks at run time

Lambda lets you attach the layer anyway; the mismatch shows up later. A layer built for
python3.11 keeps its packages in `python/lib/python3.11/site-packages`, which python3.12 never
searches: `Runtime.ImportModuleError: No module named 'pydantic'`. A layer built for x86_64 carries
x86_64 native code that an arm64 function cannot load: `cannot open shared object file: No such
file or directory`, although the file is there.

## Example

`layer.toml` declares `architectures = ["x86_64"]` for a layer, and the function it is attached
to runs on `arm64` (Graviton).

## Fix

Build the layer for the function's runtime and architecture (and declare both), or attach the
variant of the layer that matches.
"#,
    check: Check::Stack(check_layer_incompatible),
};

fn check_layer_incompatible(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    for layer in context.layers {
        if !layer.runtimes.is_empty() && !layer.runtimes.contains(&context.runtime) {
            let declared: Vec<&str> = layer.runtimes.iter().map(|runtime| runtime.id).collect();
            report.report_for(
                &layer.name,
                "",
                format!(
                    "layer {} is declared for {}, but the function runs {}: what it keeps in \
                     version-specific folders is invisible, and its native code may not load",
                    layer.name,
                    declared.join(", "),
                    context.runtime.id
                ),
                format!(
                    "build the layer for {} too (add it to `runtimes`), or attach a matching layer",
                    context.runtime.id
                ),
            );
        }
        if !layer.architectures.is_empty() && !layer.architectures.contains(&context.arch) {
            let declared: Vec<&str> = layer
                .architectures
                .iter()
                .map(|arch| arch.aws_name())
                .collect();
            report.report_for(
                &layer.name,
                "",
                format!(
                    "layer {} is declared for {}, but the function runs on {}: its native code \
                     fails with \"cannot open shared object file: No such file or directory\"",
                    layer.name,
                    declared.join(", "),
                    context.arch
                ),
                format!(
                    "build the layer's native dependencies for {} and declare it in `architectures`",
                    context.arch
                ),
            );
        }
    }
}
