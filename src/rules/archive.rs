//! Archive rules (`ZIP`): zips made elsewhere whose entries are unsafe or odd.

use crate::finding::Severity;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub static ZIP001: Rule = Rule {
    code: "ZIP001",
    name: "unsafe-entry-path",
    severity: Severity::Error,
    summary: "an entry path that is absolute, climbs out with `..`, or has a backslash or NUL",
    explanation: "",
    check: Check::Layer(check_unsafe_entry_path),
};

fn check_unsafe_entry_path(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static ZIP002: Rule = Rule {
    code: "ZIP002",
    name: "symlink-escapes-layer",
    severity: Severity::Error,
    summary: "a symlink whose target lies outside the layer",
    explanation: "",
    check: Check::Layer(check_symlink_escapes_layer),
};

fn check_symlink_escapes_layer(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static ZIP003: Rule = Rule {
    code: "ZIP003",
    name: "duplicate-entry",
    severity: Severity::Error,
    summary: "two entries with the same name",
    explanation: "",
    check: Check::Layer(check_duplicate_entry),
};

fn check_duplicate_entry(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static ZIP004: Rule = Rule {
    code: "ZIP004",
    name: "macosx-metadata",
    severity: Severity::Warning,
    summary: "`__MACOSX/` resource-fork entries from macOS Archive Utility",
    explanation: "",
    check: Check::Layer(check_macosx_metadata),
};

fn check_macosx_metadata(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}
