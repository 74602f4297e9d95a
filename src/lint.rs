//! The lint stage: runs the registered rules over a layer (or a stack of layers) and turns their
//! reports into sorted findings.
//!
//! Expensive facts (ELF headers of every binary) are gathered once, in parallel, into a
//! [`LayerContext`] before any rule runs; rules then run in parallel and only read that context.
//! `select`, `ignore` and severity overrides are applied here, after the rules, so a rule never
//! needs to know about configuration. The final sort makes output independent of thread count.

use rayon::prelude::*;

use crate::config::{Budget, LintSettings};
use crate::finding::{Finding, FindingData, Severity};
use crate::inspect::Binary;
use crate::inventory::Inventory;
use crate::layer::OpenedLayer;
use crate::rules::{Check, RULES, Rule};
use crate::runtime::{Arch, Runtime};

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
    rule: &'static Rule,
    layer: &'a str,
    findings: Vec<Finding>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(rule: &'static Rule, layer: &'a str) -> Reporter<'a> {
        Reporter {
            rule,
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
        self.report_as(self.rule.severity, path, message, help);
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
        let layer = self.layer.to_string();
        self.push(
            layer,
            severity,
            path.into(),
            message.into(),
            help.into(),
            FindingData::default(),
        );
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
        self.report_as_with_data(self.rule.severity, path, message, help, data);
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
        self.push(
            layer.to_string(),
            self.rule.severity,
            path.into(),
            message.into(),
            help.into(),
            FindingData::default(),
        );
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
        self.report_for(layer, path, message, help);
        if let Some(finding) = self.findings.last_mut() {
            finding.data = data;
        }
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
            code: self.rule.code,
            name: self.rule.name,
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

/// Runs every enabled layer rule over one layer; findings come back sorted.
pub fn lint_layer(context: &LayerContext<'_>, settings: &LintSettings) -> Vec<Finding> {
    run(settings, |rule| match rule.check {
        Check::Layer(check) | Check::LayerAndStack(check, _) => {
            let mut reporter = Reporter::new(rule, context.name);
            check(context, &mut reporter);
            reporter.into_findings()
        }
        Check::Stack(_) => Vec::new(),
    })
}

/// Inspects a layer's binaries and runs every enabled layer rule: what `check` and `build` do for
/// each layer.
pub fn check_inventory(
    name: &str,
    inventory: &Inventory,
    runtimes: &[&'static Runtime],
    architectures: &[Arch],
    budget: Budget,
    zip_mtime: i64,
    settings: &LintSettings,
) -> Vec<Finding> {
    let binaries = crate::inspect::inspect(inventory);
    let context = LayerContext {
        name,
        inventory,
        runtimes,
        architectures,
        binaries: &binaries,
        budget,
        exec_wrapper: None,
        zip_mtime,
    };
    lint_layer(&context, settings)
}

/// Runs every enabled stack rule over a function and its layers; findings come back sorted.
pub fn lint_stack(context: &StackContext<'_>, settings: &LintSettings) -> Vec<Finding> {
    run(settings, |rule| match rule.check {
        Check::Stack(check) | Check::LayerAndStack(_, check) => {
            let mut reporter = Reporter::new(rule, context.name);
            check(context, &mut reporter);
            reporter.into_findings()
        }
        Check::Layer(_) => Vec::new(),
    })
}

fn run(
    settings: &LintSettings,
    apply: impl Fn(&'static Rule) -> Vec<Finding> + Sync,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = RULES
        .par_iter()
        .copied()
        .filter(|rule| settings.enabled(rule.code))
        .flat_map_iter(&apply)
        .map(|mut finding| {
            finding.severity = settings.severity_of(finding.code, finding.severity);
            finding
        })
        .collect();
    sort_findings(&mut findings);
    findings
}

/// Sorts findings into their printed order and drops exact duplicates.
pub(crate) fn sort_findings(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings.dedup();
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::finding::Code;

    fn settings(select: &[&str], ignore: &[&str]) -> LintSettings {
        LintSettings {
            select: select.iter().map(|code| code.to_string()).collect(),
            ignore: ignore.iter().map(|code| code.to_string()).collect(),
            severity: BTreeMap::new(),
        }
    }

    #[test]
    fn select_and_ignore_use_the_longest_prefix() {
        let all = settings(&[], &[]);
        assert!(all.enabled(Code::BIN007));
        let bins = settings(&["BIN"], &["BIN007"]);
        assert!(bins.enabled(Code::BIN001));
        assert!(!bins.enabled(Code::BIN007));
        assert!(!bins.enabled(Code::LAY001));
        let reselect = settings(&["BIN007"], &["BIN"]);
        assert!(reselect.enabled(Code::BIN007));
        assert!(!reselect.enabled(Code::BIN001));
        assert!(!settings(&["ALL"], &["HYG"]).enabled(Code::HYG001));
    }

    #[test]
    fn severity_overrides_by_longest_prefix() {
        let mut settings = settings(&[], &[]);
        settings
            .severity
            .insert("BIN".to_string(), Severity::Warning);
        settings
            .severity
            .insert("BIN004".to_string(), Severity::Info);
        assert_eq!(
            settings.severity_of(Code::BIN001, Severity::Error),
            Severity::Warning
        );
        assert_eq!(
            settings.severity_of(Code::BIN004, Severity::Error),
            Severity::Info
        );
        assert_eq!(
            settings.severity_of(Code::LAY001, Severity::Error),
            Severity::Error
        );
    }

    #[test]
    fn unknown_codes_are_reported() {
        let settings = settings(&["BIN", "XYZ1"], &["LAY00"]);
        assert_eq!(settings.unknown_codes(), ["XYZ1"]);
    }
}
