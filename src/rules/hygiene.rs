//! Hygiene and safety rules (`HYG`): files that should not ship, or cannot be read at run time.

use crate::finding::Severity;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub static HYG002: Rule = Rule {
    code: "HYG002",
    name: "vcs-os-junk",
    severity: Severity::Warning,
    summary: "version-control folders and OS junk files",
    explanation: "",
    check: Check::Layer(check_vcs_os_junk),
};

fn check_vcs_os_junk(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static HYG003: Rule = Rule {
    code: "HYG003",
    name: "secret-like-file",
    severity: Severity::Error,
    summary: "files that look like secrets: `.env`, private keys, credentials",
    explanation: "",
    check: Check::Layer(check_secret_like_file),
};

fn check_secret_like_file(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static HYG004: Rule = Rule {
    code: "HYG004",
    name: "unreadable-mode",
    severity: Severity::Error,
    summary: "files not world-readable, or folders not world-searchable",
    explanation: "",
    check: Check::Layer(check_unreadable_mode),
};

fn check_unreadable_mode(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static HYG005: Rule = Rule {
    code: "HYG005",
    name: "case-conflict",
    severity: Severity::Warning,
    summary: "paths that differ only in letter case",
    explanation: "",
    check: Check::Layer(check_case_conflict),
};

fn check_case_conflict(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static HYG006: Rule = Rule {
    code: "HYG006",
    name: "duplicate-distribution",
    severity: Severity::Warning,
    summary: "two versions of one Python distribution or npm package side by side",
    explanation: "",
    check: Check::Layer(check_duplicate_distribution),
};

fn check_duplicate_distribution(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}
