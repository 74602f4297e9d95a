//! Size rules (`SIZE`): Lambda's quotas and the team's own budgets.

use crate::finding::Severity;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub static SIZE001: Rule = Rule {
    code: "SIZE001",
    name: "unzipped-over-quota",
    severity: Severity::Error,
    summary: "over 250 MiB unzipped, the quota for a function and all its layers",
    explanation: "",
    check: Check::Layer(check_unzipped_over_quota),
};

fn check_unzipped_over_quota(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static SIZE002: Rule = Rule {
    code: "SIZE002",
    name: "zipped-over-direct-upload",
    severity: Severity::Warning,
    summary: "over 50 MiB zipped: direct upload is refused, use S3",
    explanation: "",
    check: Check::Layer(check_zipped_over_direct_upload),
};

fn check_zipped_over_direct_upload(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static SIZE003: Rule = Rule {
    code: "SIZE003",
    name: "over-budget",
    severity: Severity::Error,
    summary: "over a size budget set in `layer.toml`",
    explanation: "",
    check: Check::Layer(check_over_budget),
};

fn check_over_budget(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}
