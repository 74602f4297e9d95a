//! `layerpack why` against fixture stacks: `tests/fixtures/why/<case>/`.
//!
//! A case folder holds `case.toml` (the target, runtime, architecture, `--env`, the layer
//! folders in attachment order, an optional function folder, generated binaries `[[elf]]` and
//! jars `[[jar]]`, and `[expect]`: resolved, location, exit status, and the rule codes the near
//! misses must carry, `""` for a near miss without a code) and the layer and function trees.
//! The human output of every case is pinned in an insta snapshot; the JSON output is checked
//! against `[expect]`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use layerpack::cli::{Format, WhyArgs};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhyCase {
    target: String,
    runtime: String,
    arch: Option<String>,
    #[serde(default)]
    layers: Vec<String>,
    function: Option<String>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    elf: Vec<common::elf::ElfSpec>,
    #[serde(default)]
    jar: Vec<JarSpec>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JarSpec {
    path: String,
    classes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    resolved: bool,
    location: Option<String>,
    exit: i32,
    codes: Vec<String>,
}

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/why")
}

/// Copies a case into `work` and adds its generated binaries and jars.
fn materialize(case_dir: &Path, case: &WhyCase, work: &Path) {
    use std::os::unix::fs::PermissionsExt;
    common::copy_tree(case_dir, work);
    for spec in &case.elf {
        let path = work.join(&spec.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create parent");
        std::fs::write(&path, common::elf::build(spec)).expect("write binary");
        let mode = spec.mode.unwrap_or(0o755);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    for jar in &case.jar {
        let path = work.join(&jar.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create parent");
        let file = std::fs::File::create(&path).expect("create jar");
        let mut writer = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default();
        writer
            .start_file("META-INF/MANIFEST.MF", options)
            .expect("jar entry");
        writer
            .write_all(b"Manifest-Version: 1.0\r\n")
            .expect("jar entry");
        for class in &jar.classes {
            writer
                .start_file(class.as_str(), options)
                .expect("jar entry");
            writer
                .write_all(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 65])
                .expect("jar entry");
        }
        writer.finish().expect("finish jar");
    }
}

/// Runs `why` on a materialized case; returns (exit status, output).
fn run_why(case: &WhyCase, work: &Path, format: Format) -> (i32, String) {
    let args = WhyArgs {
        target: case.target.clone(),
        layers: case
            .layers
            .iter()
            .map(|layer| work.join(layer).to_string_lossy().into_owned())
            .collect(),
        runtime: Some(case.runtime.clone()),
        arch: case.arch.clone(),
        function: case.function.as_ref().map(|function| work.join(function)),
        env: case.env.clone(),
        kind: None,
        // A file that does not exist would be an error: point at the case's own folder's
        // absent layer.toml only when asked; here no configuration is used.
        config: None,
        format,
    };
    let mut out = Vec::new();
    let status = layerpack::commands::why::run(&args, &mut out).expect("why runs");
    let text = String::from_utf8(out).expect("UTF-8 output");
    (
        status,
        text.replace(&work.to_string_lossy().into_owned(), "[case]"),
    )
}

#[test]
fn every_why_case_matches_its_snapshot_and_expectations() {
    let mut failures = Vec::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures_root())
        .expect("fixtures")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.join("case.toml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "fixtures missing");
    for case_dir in cases {
        let name = case_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        let text = std::fs::read_to_string(case_dir.join("case.toml")).expect("case.toml");
        let case: WhyCase = toml::from_str(&text).unwrap_or_else(|err| panic!("{name}: {err}"));
        let work = tempfile::tempdir().expect("temp dir");
        materialize(&case_dir, &case, work.path());

        let (status, human) = run_why(&case, work.path(), Format::Human);
        insta::with_settings!({snapshot_path => "snapshots/why", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name.clone(), format!("exit: {status}\n{human}"));
        });

        let (json_status, json) = run_why(&case, work.path(), Format::Json);
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        let keys: Vec<&str> = value
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected_keys = vec![
            "arch",
            "location",
            "near_misses",
            "resolved",
            "runtime",
            "search_path",
            "target",
        ];
        expected_keys.sort_unstable();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        if sorted_keys != expected_keys {
            failures.push(format!("{name}: JSON keys {keys:?}"));
        }
        if status != json_status || status != case.expect.exit {
            failures.push(format!(
                "{name}: exit {status} (json {json_status}), expected {}",
                case.expect.exit
            ));
        }
        if value["resolved"] != serde_json::Value::Bool(case.expect.resolved) {
            failures.push(format!(
                "{name}: resolved {}, expected {}",
                value["resolved"], case.expect.resolved
            ));
        }
        let location = value["location"].as_str().map(str::to_string);
        if location != case.expect.location {
            failures.push(format!(
                "{name}: location {location:?}, expected {:?}",
                case.expect.location
            ));
        }
        let codes: Vec<String> = value["near_misses"]
            .as_array()
            .expect("near_misses")
            .iter()
            .map(|miss| miss["code"].as_str().unwrap_or("").to_string())
            .collect();
        if case.expect.codes.is_empty() && !codes.is_empty() {
            failures.push(format!("{name}: expected no near misses, got {codes:?}"));
        }
        for code in &case.expect.codes {
            if !codes.contains(code) {
                failures.push(format!(
                    "{name}: no near miss with code {code:?} in {codes:?}"
                ));
            }
        }
        for step in value["search_path"].as_array().expect("search_path") {
            for key in ["dir", "looked_for", "found", "note"] {
                if step.get(key).is_none() {
                    failures.push(format!("{name}: a search_path entry lacks {key}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
