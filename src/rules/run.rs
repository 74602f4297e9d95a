//! The lint stage's runner: applies the rules of the table ([`RULES`]) to a layer, or to a
//! function with its layers, and turns their reports into sorted findings.
//!
//! Rules run in parallel over a context built once ([`LayerContext`], [`StackContext`]).
//! `select`, `ignore` and severity overrides are applied here, after the rules, so a rule never
//! needs to know about configuration. The final sort makes output independent of thread count.

use rayon::prelude::*;

use super::{Check, RULES, Rule};
use crate::config::{Budget, LintSettings};
use crate::finding::Finding;
use crate::inspect::{InspectionMemory, inspect_recalling};
use crate::inventory::Inventory;
use crate::lint::{LayerContext, Reporter, StackContext, sort_findings};
use crate::runtime::{Arch, Runtime};

/// Runs every enabled layer rule over one layer; findings come back sorted.
pub fn lint_layer(context: &LayerContext<'_>, settings: &LintSettings) -> Vec<Finding> {
    run(settings, context.name, |check, reporter| match check {
        Check::Layer(check) | Check::LayerAndStack(check, _) => check(context, reporter),
        Check::Stack(_) => {}
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
    check_inventory_recalling(
        name,
        inventory,
        runtimes,
        architectures,
        budget,
        zip_mtime,
        settings,
        None,
    )
}

/// [`check_inventory`], recalling what earlier builds found in the files whose content `memory`
/// knows instead of reading them: the findings are the same.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_inventory_recalling(
    name: &str,
    inventory: &Inventory,
    runtimes: &[&'static Runtime],
    architectures: &[Arch],
    budget: Budget,
    zip_mtime: i64,
    settings: &LintSettings,
    memory: Option<&dyn InspectionMemory>,
) -> Vec<Finding> {
    let binaries = {
        let _span = crate::timing::span("lint: inspect");
        inspect_recalling(inventory, memory)
    };
    let _span = crate::timing::span("lint: rules");
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
    run(settings, context.name, |check, reporter| match check {
        Check::Stack(check) | Check::LayerAndStack(_, check) => check(context, reporter),
        Check::Layer(_) => {}
    })
}

/// Runs `apply` with each enabled rule's check and a reporter for it about `name`, in parallel,
/// then applies the severity overrides and sorts.
fn run(
    settings: &LintSettings,
    name: &str,
    apply: impl Fn(Check, &mut Reporter<'_>) + Sync,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = RULES
        .par_iter()
        .copied()
        .filter(|rule| settings.enabled(rule.code))
        .flat_map_iter(|rule: &'static Rule| {
            let mut reporter = Reporter::new(rule.code, rule.name, rule.severity, name);
            apply(rule.check, &mut reporter);
            reporter.into_findings()
        })
        .map(|mut finding| {
            finding.severity = settings.severity_of(finding.code, finding.severity);
            finding
        })
        .collect();
    sort_findings(&mut findings);
    findings
}
