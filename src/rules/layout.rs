//! Layout rules (`LAY`): content placed where no runtime of the layer looks.

use crate::finding::Severity;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub static LAY001: Rule = Rule {
    code: "LAY001",
    name: "unread-content",
    severity: Severity::Error,
    summary: "content at a place no runtime of the layer reads",
    explanation: "",
    check: Check::Layer(check_unread_content),
};

fn check_unread_content(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static LAY002: Rule = Rule {
    code: "LAY002",
    name: "wrapped-layer",
    severity: Severity::Error,
    summary: "the whole layer is wrapped in one extra folder",
    explanation: "",
    check: Check::Layer(check_wrapped_layer),
};

fn check_wrapped_layer(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static LAY003: Rule = Rule {
    code: "LAY003",
    name: "python-version-mismatch",
    severity: Severity::Error,
    summary: "`python/lib/python3.N/site-packages` for a Python version none of the runtimes runs",
    explanation: "",
    check: Check::Layer(check_python_version_mismatch),
};

fn check_python_version_mismatch(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static LAY004: Rule = Rule {
    code: "LAY004",
    name: "node-version-mismatch",
    severity: Severity::Error,
    summary: "`nodejs/nodeNN/node_modules` for a Node.js version none of the runtimes runs",
    explanation: "",
    check: Check::Layer(check_node_version_mismatch),
};

fn check_node_version_mismatch(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static LAY005: Rule = Rule {
    code: "LAY005",
    name: "ruby-gem-abi-mismatch",
    severity: Severity::Error,
    summary: "`ruby/gems/X.Y.0` that is not the gem ABI of any runtime",
    explanation: "",
    check: Check::Layer(check_ruby_gem_abi_mismatch),
};

fn check_ruby_gem_abi_mismatch(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static LAY006: Rule = Rule {
    code: "LAY006",
    name: "jar-below-java-lib",
    severity: Severity::Error,
    summary: "jars in a sub-folder of `java/lib`, which is not on the classpath",
    explanation: "",
    check: Check::Layer(check_jar_below_java_lib),
};

fn check_jar_below_java_lib(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}

pub static LAY007: Rule = Rule {
    code: "LAY007",
    name: "empty-layer",
    severity: Severity::Error,
    summary: "the layer has no files",
    explanation: "",
    check: Check::Layer(check_empty_layer),
};

fn check_empty_layer(_context: &LayerContext<'_>, _report: &mut Reporter<'_>) {}
