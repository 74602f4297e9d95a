//! What a rule sees and how it reports: the contexts the lint stage builds for each layer (and
//! for a function with its layers), and the [`Reporter`] that turns a rule's reports into
//! findings.
//!
//! Expensive facts (ELF headers of every binary) are gathered once, in parallel, into a
//! [`LayerContext`] before any rule runs; rules then run in parallel and only read that context.
//! The runner that applies the rule table (`rules::lint_layer`, `rules::lint_stack`) lives with
//! the rules; this module names no rule, so the stages the rules use (`resolve`) can hand a
//! layer to the rules ([`LayerLinter`]) without importing them.

use crate::config::{Budget, LintSettings};
use crate::finding::{Code, Finding, FindingData, Severity};
use crate::inspect::Binary;
use crate::inventory::Inventory;
use crate::layer::OpenedLayer;
use crate::runtime::{Arch, Runtime};

/// Runs the layer rules `settings` enables over one layer and returns their findings, sorted:
/// the rule runner (`rules::lint_layer`), passed as a value to a stage below the rules (the
/// lookup replay in `resolve` judges with the `BIN` rules whether native code it finds loads).
pub type LayerLinter = fn(&LayerContext<'_>, &LintSettings) -> Vec<Finding>;

/// Everything a layer rule may look at.
pub struct LayerContext<'a> {
    /// The name findings carry: the layer's name in `layer.toml`, or the path that was checked.
    pub name: &'a str,
    pub inventory: &'a Inventory,
    /// The runtimes the layer is meant for (from flags, `layer.toml`, or assumed).
    pub runtimes: &'a [&'static Runtime],
    pub architectures: &'a [Arch],
    /// Every file whose content is machine code, found by content, sorted by path.
    pub binaries: &'a [Binary],
    /// Size budgets from `layer.toml` (SIZE003).
    pub budget: Budget,
    /// The function's `AWS_LAMBDA_EXEC_WRAPPER` (`--env`, or `env` of `[function.NAME]`), when
    /// known: the layer file it names is an entry point (`EXT` rules).
    pub exec_wrapper: Option<&'a str>,
    /// The modification time (Unix seconds) every entry of a zip built from this layer carries:
    /// `SOURCE_DATE_EPOCH`, else 1980-01-01. The command reads it once; HYG007 compares the
    /// timestamps recorded in pycs with it for a layer being built from sources.
    pub zip_mtime: i64,
}

/// One layer as attached to a function, in attachment order.
pub struct StackLayer<'a> {
    pub name: String,
    pub inventory: &'a Inventory,
    /// Runtimes the layer declares it is compatible with (empty: unknown, not checked).
    pub runtimes: Vec<&'static Runtime>,
    /// Architectures the layer declares (empty: unknown, not checked).
    pub architectures: Vec<Arch>,
}

impl<'a> StackLayer<'a> {
    /// A layer as attached, with what it declares.
    pub fn of(layer: &'a OpenedLayer) -> StackLayer<'a> {
        StackLayer {
            name: layer.name.clone(),
            inventory: &layer.inventory,
            runtimes: layer.runtimes.clone(),
            architectures: layer.architectures.clone(),
        }
    }
}

/// A function's code and the layers attached to it.
pub struct StackContext<'a> {
    /// The name findings about the function carry.
    pub name: &'a str,
    pub function: Option<&'a Inventory>,
    pub runtime: &'static Runtime,
    pub arch: Arch,
    pub layers: &'a [StackLayer<'a>],
    /// The function's handler (`app.handler`, `index.handler`), whose import closure STK006
    /// follows; `None` when not given.
    pub handler: Option<&'a str>,
}

/// Collects one rule's findings with the rule's code, name and default severity filled in.
pub struct Reporter<'a> {
    code: Code,
    name: &'static str,
    severity: Severity,
    layer: &'a str,
    findings: Vec<Finding>,
}

impl<'a> Reporter<'a> {
    /// A reporter for the rule `code` (named `name`, reporting at `severity` unless told
    /// otherwise) about the layer (or function) `layer`.
    pub(crate) fn new(
        code: Code,
        name: &'static str,
        severity: Severity,
        layer: &'a str,
    ) -> Reporter<'a> {
        Reporter {
            code,
            name,
            severity,
            layer,
            findings: Vec::new(),
        }
    }

    /// Reports a finding at the rule's default severity.
    pub(crate) fn report(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.report_as(self.severity, path, message, help);
    }

    /// Reports a finding at a severity other than the rule's default (e.g. a harmless README at
    /// the root is a warning where a Python package there is an error).
    pub(crate) fn report_as(
        &mut self,
        severity: Severity,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.report_as_with_data(severity, path, message, help, FindingData::default());
    }

    /// [`Reporter::report`] with the finding's subject as data (the library, the version, the
    /// module) for `why`, JSON and SARIF.
    pub(crate) fn report_with_data(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
        data: FindingData,
    ) {
        self.report_as_with_data(self.severity, path, message, help, data);
    }

    /// [`Reporter::report_as`] with the finding's subject as data.
    pub(crate) fn report_as_with_data(
        &mut self,
        severity: Severity,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
        data: FindingData,
    ) {
        let layer = self.layer.to_string();
        self.push(
            layer,
            severity,
            path.into(),
            message.into(),
            help.into(),
            data,
        );
    }

    /// Reports about a finding for a different layer name (stack rules name the layer at fault).
    pub(crate) fn report_for(
        &mut self,
        layer: &str,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.report_for_with_data(layer, path, message, help, FindingData::default());
    }

    /// [`Reporter::report_for`] with the finding's subject as data.
    pub(crate) fn report_for_with_data(
        &mut self,
        layer: &str,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
        data: FindingData,
    ) {
        self.push(
            layer.to_string(),
            self.severity,
            path.into(),
            message.into(),
            help.into(),
            data,
        );
    }

    fn push(
        &mut self,
        layer: String,
        severity: Severity,
        path: String,
        message: String,
        help: String,
        data: FindingData,
    ) {
        self.findings.push(Finding {
            code: self.code,
            name: self.name,
            severity,
            layer,
            path,
            message,
            help,
            data,
        });
    }

    pub(crate) fn into_findings(self) -> Vec<Finding> {
        self.findings
    }
}

/// Sorts findings into their printed order and drops exact duplicates.
pub(crate) fn sort_findings(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings.dedup();
}
