//! CLI snapshots of `check`, `rules` and `rule`: exit status, stdout and stderr together, with
//! temp paths filtered and colour off. Every run happens inside a fresh temp folder with relative
//! paths, so the layer names in the output are stable.

use crate::common;

use common::{layerpack, write};

use std::path::Path;

/// A folder laid out wrongly for python3.12: a package at the root (error), a README at the
/// root (warning), a `.env` (error) and a case conflict (warning).
fn messy_python_layer() -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    let layer = temp.path().join("layer");
    write(
        &layer.join("requests/__init__.py"),
        "__version__ = '2.32.3'\n",
    );
    write(&layer.join("README.md"), "# layer\n");
    write(&layer.join("python/app_utils.py"), "x = 1\n");
    write(&layer.join("python/.env"), "TOKEN=fixture\n");
    write(&layer.join("python/yaml/Loader.py"), "");
    write(&layer.join("python/yaml/loader.py"), "");
    temp
}

/// Only a warning: a README at the root of an otherwise good layer.
fn warning_only_layer() -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    let layer = temp.path().join("layer");
    write(&layer.join("python/app_utils.py"), "x = 1\n");
    write(&layer.join("NOTES.txt"), "notes\n");
    temp
}

const PY312: [&str; 4] = ["--runtime", "python3.12", "--arch", "x86_64"];

#[test]
fn human_report_of_a_folder() {
    let temp = messy_python_layer();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "layer"]).args(PY312)
    );
}

#[test]
fn json_report() {
    let temp = messy_python_layer();
    snapshot!(
        temp,
        layerpack(temp.path())
            .args(["check", "layer", "--format", "json"])
            .args(PY312)
    );
}

#[test]
fn github_report() {
    let temp = messy_python_layer();
    snapshot!(
        temp,
        layerpack(temp.path())
            .args(["check", "layer", "--format", "github"])
            .args(PY312)
    );
}

/// SARIF carries every rule's explanation, so only its results are pinned; the structure that
/// code-scanning uploads require is asserted field by field.
#[test]
fn sarif_report_is_valid_sarif_2_1_0() {
    let temp = messy_python_layer();
    let output = layerpack(temp.path())
        .args(["check", "layer", "--format", "sarif"])
        .args(PY312)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).expect("sarif is json");
    assert_eq!(sarif["version"], "2.1.0");
    assert!(
        sarif["$schema"]
            .as_str()
            .expect("$schema")
            .contains("sarif")
    );
    let run = &sarif["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "layerpack");
    // The package's `repository` when Cargo.toml names one; never a made-up address.
    let repository = env!("CARGO_PKG_REPOSITORY");
    if repository.is_empty() {
        assert!(driver.get("informationUri").is_none());
    } else {
        assert_eq!(driver["informationUri"], repository);
    }
    let rules = driver["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), layerpack::rules::RULES.len());
    let lay001 = rules
        .iter()
        .find(|rule| rule["id"] == "LAY001")
        .expect("LAY001 in the driver");
    assert!(
        lay001["help"]["text"]
            .as_str()
            .expect("help text")
            .contains("## Why this breaks at run time")
    );
    let results = run["results"].as_array().expect("results");
    for result in results {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().expect("level")));
    }
    insta::assert_json_snapshot!(results);
}

/// A layer with a broken npm dependency (DEP002) and a package whose platform package for
/// Lambda is missing (BIN009), copied from their rule fixtures.
fn node_dependency_layer() -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    for case in [
        "DEP002/fail_node_version_mismatch/layer",
        "BIN009/fail_sharp_for_arm64_on_x86_64/layer",
    ] {
        common::copy_tree(&fixtures.join(case), &temp.path().join("layer"));
    }
    temp
}

const NODE20: [&str; 6] = [
    "--runtime",
    "nodejs20.x",
    "--arch",
    "x86_64",
    "--select",
    "DEP,BIN009",
];

/// The DEP and BIN009 findings carry what they are about as data, the same in JSON and in
/// SARIF's `properties`, so a consumer never parses the message.
#[test]
fn dependency_and_platform_findings_carry_their_data() {
    let temp = node_dependency_layer();
    let run = |format: &str| -> serde_json::Value {
        let output = layerpack(temp.path())
            .args(["check", "layer", "--format", format])
            .args(NODE20)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(1), "{format}");
        serde_json::from_slice(&output.stdout).expect("json")
    };
    let json = run("json");
    let findings = json["findings"].as_array().expect("findings");
    let by_code = |code: &str| {
        findings
            .iter()
            .find(|finding| finding["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {json:#}"))
    };
    let mismatch = by_code("DEP002");
    assert_eq!(mismatch["ecosystem"], "node");
    assert_eq!(mismatch["module"], "dayjs");
    assert_eq!(mismatch["needed_version"], "^1.11.0");
    assert_eq!(mismatch["found_version"], "1.10.7");
    assert_eq!(mismatch["required_by"], "report-builder");
    assert_eq!(mismatch["required_by_version"], "1.0.0");
    assert_eq!(mismatch["runtimes"], serde_json::json!(["nodejs20.x"]));
    let platform = by_code("BIN009");
    assert_eq!(platform["required_by"], "sharp");
    assert_eq!(platform["module"], "@img/sharp-linux-x64");
    assert_eq!(
        platform["platform"],
        serde_json::json!({"os": ["linux"], "cpu": ["x64"], "libc": ["glibc"]})
    );
    assert_eq!(
        platform["installed_instead"][0]["package"],
        "@img/sharp-libvips-linux-arm64"
    );
    let sarif = run("sarif");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), findings.len());
    for finding in findings {
        let result = results
            .iter()
            .find(|result| result["ruleId"] == finding["code"])
            .expect("the finding's result");
        for (field, value) in result["properties"].as_object().expect("properties") {
            assert_eq!(&finding[field], value, "{field}");
        }
        assert_eq!(result["properties"]["module"], finding["module"]);
    }
    insta::assert_json_snapshot!(findings);
}

/// The data leaves the human report as it was: one line per finding, the message in words.
#[test]
fn dependency_and_platform_findings_in_words() {
    let temp = node_dependency_layer();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "layer"]).args(NODE20)
    );
}

#[test]
fn select_and_ignore() {
    let temp = messy_python_layer();
    snapshot!(
        temp,
        layerpack(temp.path())
            .args([
                "check", "layer", "--select", "HYG,LAY", "--ignore", "LAY001"
            ])
            .args(PY312)
    );
}

#[test]
fn unknown_rule_code_in_select_is_a_usage_error() {
    let temp = messy_python_layer();
    snapshot!(
        temp,
        layerpack(temp.path())
            .args(["check", "layer", "--select", "NOPE9"])
            .args(PY312)
    );
}

#[test]
fn warnings_pass_unless_strict() {
    let temp = warning_only_layer();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "layer"]).args(PY312)
    );
    snapshot!(
        temp,
        layerpack(temp.path())
            .args(["check", "layer", "--strict"])
            .args(PY312)
    );
}

/// A zip from elsewhere, with no flags: the runtime is assumed from its layout and said so.
#[test]
fn zip_with_assumed_runtime() {
    let temp = tempfile::tempdir().expect("temp dir");
    let tree = temp.path().join("tree");
    write(
        &tree.join("python/lib/python3.11/site-packages/pydantic/__init__.py"),
        "",
    );
    let spec: common::rawzip::ZipSpec = toml::from_str(
        r#"
        entries = [
          { name = "__MACOSX/python/._pydantic", content = "junk" },
          { name = "python/lib/python3.11/site-packages/pydantic/__init__.py", content = "" },
          { name = "python/secret.py", mode = 0o100600 },
        ]
        "#,
    )
    .expect("zip spec");
    common::rawzip::write(&temp.path().join("layer.zip"), &tree, &spec);
    snapshot!(temp, layerpack(temp.path()).args(["check", "layer.zip"]));
}

/// The same zip checked for python3.12: its python3.11 folder is invisible.
#[test]
fn zip_for_another_python() {
    let temp = tempfile::tempdir().expect("temp dir");
    let tree = temp.path().join("tree");
    write(
        &tree.join("python/lib/python3.11/site-packages/pydantic/__init__.py"),
        "",
    );
    common::rawzip::write(
        &temp.path().join("layer.zip"),
        &tree,
        &common::rawzip::ZipSpec::default(),
    );
    snapshot!(
        temp,
        layerpack(temp.path())
            .args(["check", "layer.zip", "--format", "json"])
            .args(PY312)
    );
}

/// No PATH: the layers of layer.toml, with their runtimes, budget and `[lint]` settings.
#[test]
fn layers_of_layer_toml() {
    let temp = tempfile::tempdir().expect("temp dir");
    write(
        &temp.path().join("layer.toml"),
        r#"
[layer.utils]
runtimes = ["python3.12"]

[[layer.utils.source]]
path = "src"
into = "python"

[layer.utils.budget]
unzipped_bytes = 100

[layer.misplaced]
runtimes = ["nodejs20.x"]

[[layer.misplaced.source]]
path = "node"

[lint]
ignore = ["HYG005"]

[lint.severity]
LAY001 = "warning"
"#,
    );
    write(&temp.path().join("src/app_utils.py"), &"x = 1\n".repeat(40));
    write(&temp.path().join("src/Readme"), "");
    write(&temp.path().join("src/readme"), "");
    write(
        &temp.path().join("node/left-pad/index.js"),
        "module.exports = 1;\n",
    );
    snapshot!(temp, layerpack(temp.path()).arg("check"));
}

#[test]
fn clean_layer_toml_exits_zero() {
    let temp = tempfile::tempdir().expect("temp dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/python");
    common::copy_tree(&source, temp.path());
    let _ = std::fs::remove_dir_all(temp.path().join("dist"));
    snapshot!(temp, layerpack(temp.path()).arg("check"));
}

#[test]
fn missing_path_is_exit_2() {
    let temp = tempfile::tempdir().expect("temp dir");
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "no-such-layer.zip"])
    );
}

#[test]
fn nothing_to_check_is_exit_2() {
    let temp = tempfile::tempdir().expect("temp dir");
    snapshot!(temp, layerpack(temp.path()).arg("check"));
}

#[test]
fn function_needs_a_runtime() {
    let temp = warning_only_layer();
    write(&temp.path().join("function/app.py"), "import requests\n");
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "layer", "--function", "function"])
    );
}

/// With --function, each layer is also linted on its own for the function's runtime.
#[test]
fn function_layers_are_linted_for_its_runtime() {
    let temp = tempfile::tempdir().expect("temp dir");
    write(&temp.path().join("function/app.py"), "import pydantic\n");
    write(
        &temp
            .path()
            .join("layer/python/lib/python3.11/site-packages/pydantic/__init__.py"),
        "",
    );
    let output = layerpack(temp.path())
        .args(["check", "layer", "--function", "function", "--runtime"])
        .args(["python3.12", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let codes: Vec<String> = common::json_findings(&output)
        .into_iter()
        .filter(|finding| finding.layer == "layer")
        .map(|finding| finding.code)
        .collect();
    assert!(codes.iter().any(|code| code == "LAY003"), "{codes:?}");
}

#[test]
fn rules_catalogue() {
    let temp = tempfile::tempdir().expect("temp dir");
    let output = layerpack(temp.path())
        .args(["rules", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), layerpack::rules::RULES.len());
    for (row, rule) in rows.iter().zip(layerpack::rules::RULES) {
        assert_eq!(row["code"], rule.code.as_str());
        assert_eq!(row["name"], rule.name);
        assert_eq!(row["severity"], rule.severity.as_str());
        assert_eq!(row["summary"], rule.summary);
    }
    let human = layerpack(temp.path()).arg("rules").output().expect("run");
    let text = String::from_utf8(human.stdout).expect("utf-8");
    assert_eq!(human.status.code(), Some(0));
    for rule in layerpack::rules::RULES {
        assert!(
            text.lines()
                .any(|line| line.starts_with(rule.code.as_str()) && line.contains(rule.name)),
            "{} missing from:\n{text}",
            rule.code
        );
    }
}

#[test]
fn rule_explanation() {
    let temp = tempfile::tempdir().expect("temp dir");
    snapshot!(temp, layerpack(temp.path()).args(["rule", "LAY002"]));
    snapshot!(temp, layerpack(temp.path()).args(["rule", "no-such-rule"]));
}

/// The healthy real layers must give no error-level finding. They are large and not in the
/// repository (`.ci/run` builds them); the test says so and passes when they are absent.
#[test]
fn bench_layers_have_no_errors() {
    let root = common::bench_layers_root();
    let cases = [
        ("py312-x86", "python3.12"),
        ("node-sdk", "nodejs20.x"),
        ("java", "java21"),
    ];
    for (name, runtime) in cases {
        let dir = root.join(name);
        if !dir.is_dir() {
            common::unavailable(&format!("{} is absent", dir.display()));
            continue;
        }
        let output = layerpack(&root)
            .args(["check", name, "--runtime", runtime, "--arch", "x86_64"])
            .args(["--format", "json"])
            .output()
            .expect("run");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        let errors: Vec<&serde_json::Value> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|finding| finding["severity"] == "error")
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(output.status.code(), Some(0), "{name}");
        assert!(report["summary"]["files"].as_u64().expect("files") > 0);
    }
}

/// `[function.NAME]` in layer.toml: its layers that are paths are linted for its runtime, and
/// the layers of layer.toml with their own runtimes.
#[test]
fn functions_of_layer_toml() {
    let temp = tempfile::tempdir().expect("temp dir");
    write(
        &temp.path().join("layer.toml"),
        r#"
[layer.utils]
runtimes = ["python3.12"]

[[layer.utils.source]]
path = "src"
into = "python"

[function.api]
runtime = "python3.12"
code = "function"
layers = ["utils", "vendor"]
"#,
    );
    write(&temp.path().join("src/app_utils.py"), "x = 1\n");
    write(&temp.path().join("function/app.py"), "import pydantic\n");
    write(
        &temp
            .path()
            .join("vendor/python/lib/python3.11/site-packages/pydantic/__init__.py"),
        "",
    );
    snapshot!(temp, layerpack(temp.path()).arg("check"));
}

/// `check --function DIR --handler app.handler`: the handler's import closure over the function
/// code, the layers in order and the runtime; each failing import of the function code is
/// STK006 at its file and line.
#[test]
fn handler_closure_names_each_failing_import() {
    let temp = tempfile::tempdir().expect("temp dir");
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules/STK006/fail_layer_lacks_a_dependency");
    common::copy_tree(&case, temp.path());
    snapshot!(
        temp,
        layerpack(temp.path()).args([
            "check",
            "--function",
            "function",
            "--runtime",
            "python3.12",
            "--handler",
            "app.handler",
            "--select",
            "STK006",
            "layers/01-deps",
        ])
    );
}

/// `handler = "..."` in `[function.NAME]` runs the same closure; with every import satisfied
/// (idna from a second layer, json from the standard library, boto3 from the runtime) there is
/// nothing to say.
#[test]
fn handler_of_layer_toml_function() {
    let temp = tempfile::tempdir().expect("temp dir");
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules/STK006/pass_closure_resolves_over_layers_and_runtime");
    common::copy_tree(&case, temp.path());
    write(
        &temp.path().join("layer.toml"),
        r#"
[function.api]
runtime = "python3.12"
code = "function"
handler = "app.handler"
layers = ["layers/01-deps", "layers/02-more"]
"#,
    );
    let output = layerpack(temp.path())
        .args(["check", "--select", "STK006", "--format", "json"])
        .output()
        .expect("run");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    assert_eq!(output.status.code(), Some(0));
    // Without the second layer, idna is missing: the same function fails.
    let config = std::fs::read_to_string(temp.path().join("layer.toml")).expect("read");
    write(
        &temp.path().join("layer.toml"),
        &config.replace(", \"layers/02-more\"", ""),
    );
    let output = layerpack(temp.path())
        .args(["check", "--select", "STK006", "--format", "json"])
        .output()
        .expect("run");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["code"], "STK006");
    assert_eq!(findings[0]["path"], "app.py");
    assert_eq!(output.status.code(), Some(1));
}
