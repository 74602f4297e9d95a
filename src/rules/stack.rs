//! Stack rules (`STK`): a function together with its ordered layers.

use crate::finding::Severity;
use crate::lint::{Reporter, StackContext};
use crate::rules::{Check, Rule};

pub static STK001: Rule = Rule {
    code: "STK001",
    name: "too-many-layers",
    severity: Severity::Error,
    summary: "more than 5 layers attached to one function",
    explanation: "",
    check: Check::Stack(check_too_many_layers),
};

fn check_too_many_layers(_context: &StackContext<'_>, _report: &mut Reporter<'_>) {}

pub static STK002: Rule = Rule {
    code: "STK002",
    name: "stack-over-quota",
    severity: Severity::Error,
    summary: "function plus layers over 250 MiB unzipped",
    explanation: "",
    check: Check::Stack(check_stack_over_quota),
};

fn check_stack_over_quota(_context: &StackContext<'_>, _report: &mut Reporter<'_>) {}

pub static STK003: Rule = Rule {
    code: "STK003",
    name: "file-replaced-by-later-layer",
    severity: Severity::Warning,
    summary: "a file that a later layer replaces",
    explanation: "",
    check: Check::Stack(check_file_replaced_by_later_layer),
};

fn check_file_replaced_by_later_layer(_context: &StackContext<'_>, _report: &mut Reporter<'_>) {}

pub static STK004: Rule = Rule {
    code: "STK004",
    name: "function-shadows-layer-package",
    severity: Severity::Info,
    summary: "a package in the function code that shadows the same package in a layer",
    explanation: "",
    check: Check::Stack(check_function_shadows_layer_package),
};

fn check_function_shadows_layer_package(_context: &StackContext<'_>, _report: &mut Reporter<'_>) {}

pub static STK005: Rule = Rule {
    code: "STK005",
    name: "layer-incompatible-with-function",
    severity: Severity::Error,
    summary: "a layer whose runtimes or architectures do not include the function's",
    explanation: "",
    check: Check::Stack(check_layer_incompatible_with_function),
};

fn check_layer_incompatible_with_function(_context: &StackContext<'_>, _report: &mut Reporter<'_>) {
}
