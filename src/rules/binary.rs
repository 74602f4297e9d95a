//! Binary rules (`BIN`): native code that the runtime's loader would refuse.

use crate::finding::Severity;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub static BIN001: Rule = Rule {
    code: "BIN001",
    name: "wrong-architecture",
    severity: Severity::Error,
    summary: "ELF machine code for an architecture the layer does not declare",
    explanation: "",
    check: Check::Layer(check_wrong_architecture),
};

fn check_wrong_architecture(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static BIN002: Rule = Rule {
    code: "BIN002",
    name: "not-linux-binary",
    severity: Severity::Error,
    summary: "Mach-O or PE (macOS or Windows) code where Linux code is needed",
    explanation: "",
    check: Check::Layer(check_not_linux_binary),
};

fn check_not_linux_binary(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static BIN003: Rule = Rule {
    code: "BIN003",
    name: "elf-32-bit",
    severity: Severity::Error,
    summary: "32-bit ELF code, which a 64-bit Lambda cannot load",
    explanation: "",
    check: Check::Layer(check_elf_32_bit),
};

fn check_elf_32_bit(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static BIN004: Rule = Rule {
    code: "BIN004",
    name: "glibc-too-new",
    severity: Severity::Error,
    summary: "code that needs a newer glibc than the runtime's OS has",
    explanation: "",
    check: Check::Layer(check_glibc_too_new),
};

fn check_glibc_too_new(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static BIN005: Rule = Rule {
    code: "BIN005",
    name: "musl-linked",
    severity: Severity::Error,
    summary: "code linked against musl libc, which Lambda does not have",
    explanation: "",
    check: Check::Layer(check_musl_linked),
};

fn check_musl_linked(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static BIN006: Rule = Rule {
    code: "BIN006",
    name: "cpython-tag-mismatch",
    severity: Severity::Error,
    summary: "a CPython extension whose tag or platform no runtime of the layer loads",
    explanation: "",
    check: Check::Layer(check_cpython_tag_mismatch),
};

fn check_cpython_tag_mismatch(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static BIN007: Rule = Rule {
    code: "BIN007",
    name: "missing-shared-library",
    severity: Severity::Error,
    summary: "a needed shared library found neither in the layer nor in the runtime OS",
    explanation: "",
    check: Check::Layer(check_missing_shared_library),
};

fn check_missing_shared_library(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static BIN008: Rule = Rule {
    code: "BIN008",
    name: "missing-exec-bit",
    severity: Severity::Error,
    summary: "a command or ELF executable without an execute bit",
    explanation: "",
    check: Check::Layer(check_missing_exec_bit),
};

fn check_missing_exec_bit(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}
