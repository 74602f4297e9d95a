//! Bytecode rules: Python `.pyc` files that are dead weight or slow every cold start.

use crate::finding::Severity;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub static HYG001: Rule = Rule {
    code: "HYG001",
    name: "foreign-bytecode",
    severity: Severity::Warning,
    summary: "bytecode caches for a Python version none of the runtimes runs",
    explanation: "",
    check: Check::Layer(check_foreign_bytecode),
};

fn check_foreign_bytecode(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static HYG007: Rule = Rule {
    code: "HYG007",
    name: "stale-bytecode",
    severity: Severity::Warning,
    summary: "timestamp-based `.pyc` files that Python rejects at import, recompiling on every cold start",
    explanation: "",
    check: Check::Layer(check_stale_bytecode),
};

fn check_stale_bytecode(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}
