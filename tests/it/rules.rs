//! Every rule against its fixture cases: `tests/fixtures/rules/<CODE>/<pass|fail>_<case>/`.
//!
//! A `fail_` case must produce at least one finding of its rule and a `pass_` case none; the
//! findings of every case (only its rule is selected) are pinned in an insta snapshot. Each case
//! is its own test, `<CODE>__<case>`, so `cargo test BIN004` runs one rule's cases.

use crate::common;

use std::path::Path;

use layerpack::config::{Budget, LintSettings};
use layerpack::finding::{Code, Finding};
use layerpack::rules::RULES;

fn fixtures_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules"))
}

/// Checks one stack case with only `code` selected. Layout: `function/` (optional, the code in
/// /var/task), `layers/NN-name/` (each a layer tree; attached in the order of their names), and
/// `case.toml` with `runtimes`/`architectures` (the first of each is the function's),
/// `[[declared]]` (what a layer declares) and `[[sparse]]` (paths relative to the case folder).
fn check_stack_case(code: Code, case_dir: &Path) -> Vec<Finding> {
    use layerpack::lint::{StackContext, StackLayer};
    let case = common::Case::load(case_dir);
    let work = tempfile::tempdir().expect("temp dir");
    common::copy_tree(case_dir, work.path());
    for spec in &case.sparse {
        let path = work.path().join(&spec.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let file = std::fs::File::create(&path).expect("create sparse file");
        file.set_len(spec.size).expect("size sparse file");
    }
    let ids = if case.runtimes.is_empty() {
        vec!["python3.12".to_string()]
    } else {
        case.runtimes.clone()
    };
    let runtime = layerpack::commands::parse_runtimes(&ids).expect("runtimes")[0];
    let arch = layerpack::commands::parse_archs(&case.architectures)
        .expect("architectures")
        .first()
        .copied()
        .unwrap_or(layerpack::runtime::Arch::X86_64);
    let function_dir = work.path().join("function");
    let function = function_dir.is_dir().then(|| {
        layerpack::gather::gather_dir(&function_dir, &[])
            .expect("gather function")
            .inventory
    });
    let mut layer_dirs: Vec<_> = std::fs::read_dir(work.path().join("layers"))
        .map(|entries| entries.map(|entry| entry.expect("entry").path()).collect())
        .unwrap_or_default();
    layer_dirs.sort();
    let inventories: Vec<_> = layer_dirs
        .iter()
        .map(|dir| {
            layerpack::gather::gather_dir(dir, &[])
                .expect("gather layer")
                .inventory
        })
        .collect();
    let layers: Vec<StackLayer<'_>> = layer_dirs
        .iter()
        .zip(&inventories)
        .map(|(dir, inventory)| {
            let name = dir
                .file_name()
                .and_then(|name| name.to_str())
                .expect("name")
                .to_string();
            let declared = case.declared.iter().find(|declared| declared.layer == name);
            StackLayer {
                runtimes: declared
                    .map(|d| layerpack::commands::parse_runtimes(&d.runtimes).expect("runtimes"))
                    .unwrap_or_default(),
                architectures: declared
                    .map(|d| layerpack::commands::parse_archs(&d.architectures).expect("archs"))
                    .unwrap_or_default(),
                name,
                inventory,
            }
        })
        .collect();
    let context = StackContext {
        name: "function",
        function: function.as_ref(),
        runtime,
        arch,
        layers: &layers,
        handler: case.handler.as_deref(),
    };
    let settings = LintSettings {
        select: vec![code.to_string()],
        ..LintSettings::default()
    };
    let mut findings = layerpack::rules::lint_stack(&context, &settings);
    findings.retain(|finding| finding.code == code);
    findings
}

/// Checks one materialized case with only `code` selected.
fn check_case(code: Code, case_dir: &Path) -> Vec<Finding> {
    let case = common::Case::load(case_dir);
    let work = tempfile::tempdir().expect("temp dir");
    let target = common::materialize(case_dir, &case, work.path());
    let runtimes = if case.runtimes.is_empty() {
        vec!["python3.12".to_string()]
    } else {
        case.runtimes.clone()
    };
    let runtimes = layerpack::commands::parse_runtimes(&runtimes).expect("runtimes");
    let mut archs = layerpack::commands::parse_archs(&case.architectures).expect("architectures");
    if archs.is_empty() {
        archs.push(layerpack::runtime::Arch::X86_64);
    }
    let inventory = if target.extension().is_some_and(|ext| ext == "zip") {
        layerpack::inventory::Inventory::from_zip(&target).expect("read zip")
    } else {
        layerpack::gather::gather_dir(&target, &[])
            .expect("gather layer dir")
            .inventory
    };
    let settings = LintSettings {
        select: vec![code.to_string()],
        ..LintSettings::default()
    };
    let budget = Budget {
        unzipped_bytes: case.budget_unzipped_bytes,
        zipped_bytes: case.budget_zipped_bytes,
    };
    let binaries = layerpack::inspect::inspect(&inventory);
    let context = layerpack::lint::LayerContext {
        name: "layer",
        inventory: &inventory,
        runtimes: &runtimes,
        architectures: &archs,
        binaries: &binaries,
        budget,
        exec_wrapper: case.env.get("AWS_LAMBDA_EXEC_WRAPPER").map(String::as_str),
        zip_mtime: 0,
    };
    let mut findings = layerpack::rules::lint_layer(&context, &settings);
    findings.retain(|finding| finding.code == code);
    findings
}

/// Runs one case: its findings must match the snapshot, a `fail_` case must produce at least
/// one finding of its rule and a `pass_` case none.
fn run_rule_case(code: &str, case: &str) {
    let Some(rule) = RULES.iter().find(|rule| rule.code.as_str() == code) else {
        panic!("tests/fixtures/rules/{code}/ is not the code of a rule in RULES");
    };
    let case_dir = fixtures_root().join(code).join(case);
    let findings = match rule.check {
        layerpack::rules::Check::Stack(_) => check_stack_case(rule.code, &case_dir),
        layerpack::rules::Check::Layer(_) => check_case(rule.code, &case_dir),
        // Rules that run both ways: a case with `layers/` is a stack case.
        layerpack::rules::Check::LayerAndStack(..) if case_dir.join("layers").is_dir() => {
            check_stack_case(rule.code, &case_dir)
        }
        layerpack::rules::Check::LayerAndStack(..) => check_case(rule.code, &case_dir),
    };
    insta::with_settings!({snapshot_path => "snapshots/rules", prepend_module_to_snapshot => false}, {
        insta::assert_yaml_snapshot!(format!("{}__{case}", rule.code), findings);
    });
    if case.starts_with("fail_") {
        assert!(
            !findings.is_empty(),
            "{code}/{case}: expected findings, got none"
        );
    } else if case.starts_with("pass_") {
        assert!(
            findings.is_empty(),
            "{code}/{case}: expected no findings, got {findings:#?}"
        );
    } else {
        panic!("{code}/{case}: a case folder's name starts with pass_ or fail_");
    }
}

/// One `#[test]` per case folder, named `<CODE>__<case>` (written by `build.rs`).
macro_rules! rule_case {
    ($test:ident, $code:literal, $case:literal) => {
        #[test]
        #[allow(non_snake_case)]
        fn $test() {
            run_rule_case($code, $case);
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/rule_cases.rs"));

#[test]
fn every_case_folder_has_its_own_test() {
    let mut on_disk = Vec::new();
    for code in std::fs::read_dir(fixtures_root()).expect("rule fixtures") {
        let code = code.expect("entry").path();
        for case in std::fs::read_dir(&code).expect("rule fixture folder") {
            let case = case.expect("entry").path();
            if case.is_dir() {
                on_disk.push(format!(
                    "{}/{}",
                    code.file_name().and_then(|n| n.to_str()).expect("code"),
                    case.file_name().and_then(|n| n.to_str()).expect("case")
                ));
            }
        }
    }
    on_disk.sort();
    assert_eq!(
        RULE_CASES, on_disk,
        "build.rs did not generate a test per case folder"
    );
}

#[test]
fn every_rule_has_an_explanation_and_both_kinds_of_fixture() {
    let mut missing = Vec::new();
    for rule in RULES {
        for heading in ["## What it does", "## Why", "## Example", "## Fix"] {
            if !rule.explanation.contains(heading) {
                missing.push(format!("{}: explanation lacks `{heading}`", rule.code));
            }
        }
        let dir = fixtures_root().join(rule.code.as_str());
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        if !names.iter().any(|name| name.starts_with("pass_")) {
            missing.push(format!(
                "{}: no pass_ fixture in {}",
                rule.code,
                dir.display()
            ));
        }
        if !names.iter().any(|name| name.starts_with("fail_")) {
            missing.push(format!(
                "{}: no fail_ fixture in {}",
                rule.code,
                dir.display()
            ));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
