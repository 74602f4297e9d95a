//! Every rule against its fixture cases: `tests/fixtures/rules/<CODE>/<pass|fail>_<case>/`.
//!
//! A `fail_` case must produce at least one finding of its rule and a `pass_` case none; the
//! findings of every case (only its rule is selected) are pinned in an insta snapshot.

mod common;

use std::path::Path;

use layerpack::finding::Finding;
use layerpack::lint::{Budget, LintSettings};
use layerpack::rules::RULES;

fn fixtures_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules"))
}

/// Checks one materialized case with only `code` selected.
fn check_case(code: &str, case_dir: &Path) -> Vec<Finding> {
    if case_dir.join("layers").is_dir() {
        return check_stack_case(code, case_dir);
    }
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
    let mut findings =
        layerpack::lint::check_inventory("layer", &inventory, &runtimes, &archs, budget, &settings);
    findings.retain(|finding| finding.code == code);
    findings
}

/// `stack.toml` of a stack case (the `STK` rules). A stack case folder holds `layers/NN-name/`
/// folders, attached in name order (the layer's name is the folder's), an optional `function/`
/// folder with the function's code, and optionally this file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StackCase {
    /// The function's runtime (default python3.12) and architecture (default x86_64).
    runtime: Option<String>,
    architecture: Option<String>,
    /// Runtimes and architectures a layer declares, as `layer.toml` would.
    #[serde(default)]
    layer: Vec<DeclaredLayer>,
    /// Files created sparse (size without content), for the size quota.
    #[serde(default)]
    sparse: Vec<SparseFile>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclaredLayer {
    dir: String,
    #[serde(default)]
    runtimes: Vec<String>,
    #[serde(default)]
    architectures: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SparseFile {
    path: String,
    bytes: u64,
}

/// Checks a stack case with only `code` selected.
fn check_stack_case(code: &str, case_dir: &Path) -> Vec<Finding> {
    let stack: StackCase = match std::fs::read_to_string(case_dir.join("stack.toml")) {
        Ok(text) => toml::from_str(&text).expect("valid stack.toml"),
        Err(_) => StackCase::default(),
    };
    let work = tempfile::tempdir().expect("temp dir");
    common::copy_tree(case_dir, work.path());
    for sparse in &stack.sparse {
        let path = work.path().join(&sparse.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create parent");
        let file = std::fs::File::create(&path).expect("create sparse file");
        file.set_len(sparse.bytes).expect("size sparse file");
    }
    let runtime = layerpack::commands::parse_runtimes(&[stack
        .runtime
        .clone()
        .unwrap_or_else(|| "python3.12".to_string())])
    .expect("runtime")[0];
    let arch = stack
        .architecture
        .as_deref()
        .map_or(layerpack::runtime::Arch::X86_64, |name| {
            layerpack::runtime::Arch::parse(name).expect("architecture")
        });
    let mut dirs: Vec<String> = std::fs::read_dir(work.path().join("layers"))
        .expect("layers")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    dirs.sort();
    let layers: Vec<layerpack::gather::OpenedLayer> = dirs
        .iter()
        .map(|dir| {
            let path = work.path().join("layers").join(dir);
            let mut opened =
                layerpack::gather::open_layer(&path.to_string_lossy(), None).expect("open layer");
            opened.name = dir.clone();
            if let Some(declared) = stack.layer.iter().find(|layer| &layer.dir == dir) {
                opened.runtimes =
                    layerpack::commands::parse_runtimes(&declared.runtimes).expect("runtimes");
                opened.architectures =
                    layerpack::commands::parse_archs(&declared.architectures).expect("archs");
            }
            opened
        })
        .collect();
    let function_dir = work.path().join("function");
    let function = function_dir.is_dir().then(|| {
        let mut opened = layerpack::gather::open_layer(&function_dir.to_string_lossy(), None)
            .expect("open function");
        opened.name = "function".to_string();
        opened
    });
    let settings = LintSettings {
        select: vec![code.to_string()],
        ..LintSettings::default()
    };
    let mut findings = layerpack::stack::lint_opened_stack(
        "function",
        function.as_ref(),
        &layers,
        runtime,
        arch,
        &settings,
    );
    findings.retain(|finding| finding.code == code);
    findings
}

#[test]
fn every_rule_case_matches_its_snapshot() {
    let mut failures = Vec::new();
    for rule in RULES {
        let dir = fixtures_root().join(rule.code);
        let Ok(cases) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut cases: Vec<_> = cases.map(|entry| entry.expect("read dir").path()).collect();
        cases.sort();
        for case_dir in cases {
            let case = case_dir
                .file_name()
                .and_then(|name| name.to_str())
                .expect("case name")
                .to_string();
            let findings = check_case(rule.code, &case_dir);
            if case.starts_with("fail_") && findings.is_empty() {
                failures.push(format!("{}/{case}: expected findings, got none", rule.code));
            }
            if case.starts_with("pass_") && !findings.is_empty() {
                failures.push(format!(
                    "{}/{case}: expected no findings, got {findings:#?}",
                    rule.code
                ));
            }
            insta::with_settings!({snapshot_path => "snapshots/rules", prepend_module_to_snapshot => false}, {
                insta::assert_yaml_snapshot!(format!("{}__{case}", rule.code), findings);
            });
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
        let dir = fixtures_root().join(rule.code);
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

/// `check_function_stack` opens layers by their `layer.toml` names, with the runtimes and
/// architectures declared there, and the function's code from a folder.
#[test]
fn function_stack_reads_declarations_from_layer_toml() {
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path();
    for (path, text) in [
        ("src/numpy/python/numpy/__init__.py", "X = 1\n"),
        ("src/tools/bin/tool", "#!/bin/sh\n"),
        ("function/app.py", "import numpy\n"),
    ] {
        let target = root.join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(target, text).expect("write");
    }
    std::fs::write(
        root.join("layer.toml"),
        r#"
[layer.numpy]
runtimes = ["python3.11"]
architectures = ["x86_64"]
[[layer.numpy.source]]
path = "src/numpy"

[layer.tools]
runtimes = ["python3.12"]
[[layer.tools.source]]
path = "src/tools"
"#,
    )
    .expect("write layer.toml");
    let config = layerpack::config::Config::load(&root.join("layer.toml")).expect("config");
    let runtime = layerpack::runtime::Runtime::find("python3.12").expect("runtime");
    let findings = layerpack::stack::check_function_stack(
        "api",
        Some(&root.join("function")),
        &["numpy".to_string(), "tools".to_string()],
        runtime,
        layerpack::runtime::Arch::X86_64,
        Some(&config),
        &LintSettings::default(),
    )
    .expect("stack checks");
    let summary: Vec<(&str, &str)> = findings
        .iter()
        .map(|finding| (finding.code, finding.layer.as_str()))
        .collect();
    assert_eq!(summary, [("STK005", "numpy")]);
}
