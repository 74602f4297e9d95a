//! Dependency rules (`DEP`): an offline `pip check` / `npm ls` over what Lambda merges.
//!
//! Each rule runs twice: on one layer (with the runtimes it declares: the layer and the runtime's
//! own packages), and on a function with its layers (`check --function`: the function's code,
//! every layer in attachment order, the runtime). [`crate::deps`] finds the problems; these
//! rules pick their kind and report them.

mod dep001_requirement_missing;
mod dep002_requirement_version_mismatch;
mod dep003_runtime_sdk_skew;

pub(crate) use dep001_requirement_missing::DEP001;
pub(crate) use dep002_requirement_version_mismatch::DEP002;
pub(crate) use dep003_runtime_sdk_skew::DEP003;

use crate::deps::{self, DepSource, ProblemKind, Subject};
use crate::finding::FindingData;
use crate::lint::{LayerContext, Reporter, StackContext};
use crate::runtime::Arch;

/// Reports the problems of `kind` in one layer, merged over the layer's runtimes.
fn report_layer(kind: ProblemKind, context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let sources = [DepSource {
        label: "the layer".to_string(),
        inventory: context.inventory,
        root: "/opt",
    }];
    let arch = context
        .architectures
        .first()
        .copied()
        .unwrap_or(Arch::X86_64);
    for (problem, runtimes) in deps::check_on_runtimes(&sources, context.runtimes, arch) {
        if problem.kind != kind {
            continue;
        }
        let ids: Vec<&str> = runtimes.iter().map(|runtime| runtime.id).collect();
        let message = problem
            .message
            .replace("{runtimes}", &crate::text::and_list(&ids))
            .replace("{where}", "the layer");
        let data = finding_data(&problem.subject, &ids);
        report.report_with_data(problem.path, message, problem.help, data);
    }
}

/// The requirement as a finding's data, with the runtimes it fails on.
fn finding_data(subject: &Subject, runtimes: &[&str]) -> FindingData {
    FindingData {
        module: Some(subject.package.clone()),
        needed_version: subject.accepts.clone(),
        found_version: subject.found_version.clone(),
        required_by: Some(subject.required_by.clone()),
        required_by_version: subject.required_by_version.clone(),
        ecosystem: Some(subject.ecosystem),
        runtimes: runtimes.iter().map(|id| id.to_string()).collect(),
        ..FindingData::default()
    }
}

/// Reports the problems of `kind` across a function, its layers and its runtime.
fn report_stack(kind: ProblemKind, context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let mut sources = Vec::new();
    if let Some(function) = context.function {
        sources.push(DepSource {
            label: "the function code".to_string(),
            inventory: function,
            root: "/var/task",
        });
    }
    for layer in context.layers {
        sources.push(DepSource {
            label: format!("layer {}", layer.name),
            inventory: layer.inventory,
            root: "/opt",
        });
    }
    for problem in deps::check(&sources, context.runtime, context.arch) {
        if problem.kind != kind {
            continue;
        }
        let message = problem
            .message
            .replace("{runtimes}", context.runtime.id)
            .replace("{where}", "the function code and its layers");
        let layer = if sources[problem.source].root == "/var/task" {
            context.name.to_string()
        } else {
            context
                .layers
                .iter()
                .filter(|layer| sources[problem.source].label == format!("layer {}", layer.name))
                .map(|layer| layer.name.clone())
                .next()
                .unwrap_or_default()
        };
        let data = finding_data(&problem.subject, &[context.runtime.id]);
        report.report_for_with_data(&layer, problem.path, message, problem.help, data);
    }
}
