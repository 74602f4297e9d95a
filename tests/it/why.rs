//! `layerpack why` against fixture stacks: `tests/fixtures/why/<case>/`.
//!
//! A case folder holds `case.toml` (the target, runtime, architecture, `--env`, the layer
//! folders in attachment order, an optional function folder, generated binaries `[[elf]]` and
//! jars `[[jar]]`, and `[expect]`: resolved, location, exit status, and the rule codes the near
//! misses must carry, `""` for a near miss without a code) and the layer and function trees.
//! The human output of every case is pinned in an insta snapshot; the JSON output is checked
//! against `[expect]`.

use crate::common;

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
        sam: None,
        cdk: None,
        resource: None,
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

/// Runs one case: the human output must match its snapshot, the JSON output the case's
/// `[expect]`; every mismatch of the case is reported.
fn run_why_case(name: &str) {
    let mut failures = Vec::new();
    let case_dir = fixtures_root().join(name);
    let text = std::fs::read_to_string(case_dir.join("case.toml")).expect("case.toml");
    let case: WhyCase = toml::from_str(&text).unwrap_or_else(|err| panic!("{name}: {err}"));
    let work = tempfile::tempdir().expect("temp dir");
    materialize(&case_dir, &case, work.path());

    let (status, human) = run_why(&case, work.path(), Format::Human);
    insta::with_settings!({snapshot_path => "snapshots/why", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, format!("exit: {status}\n{human}"));
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
        "chain",
        "failure",
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
    // The failure is null exactly when the target resolves and loads; the chain starts at the
    // target (or the first package of a dotted target), and names the failing module last.
    let chain = value["chain"].as_array().expect("chain");
    let first = chain.first().and_then(|link| link["module"].as_str());
    let starts_at_target = first
        .is_some_and(|first| case.target == first || case.target.starts_with(&format!("{first}.")));
    if !starts_at_target {
        failures.push(format!(
            "{name}: chain does not start at the target: {chain:?}"
        ));
    }
    match (status, value["failure"].as_object()) {
        (0, None) => {}
        (0, Some(failure)) => failures.push(format!("{name}: exit 0 with failure {failure:?}")),
        (_, None) => failures.push(format!("{name}: exit {status} without a failure")),
        (_, Some(failure)) => {
            let last = chain.last().and_then(|link| link["module"].as_str());
            if last != failure["module"].as_str() {
                failures.push(format!(
                    "{name}: chain ends at {last:?}, failure is {failure:?}"
                ));
            }
            if failure["reason"].as_str().is_none_or(str::is_empty) {
                failures.push(format!("{name}: failure without a reason"));
            }
        }
    }
    for step in value["search_path"].as_array().expect("search_path") {
        for key in ["dir", "looked_for", "found", "note"] {
            if step.get(key).is_none() {
                failures.push(format!("{name}: a search_path entry lacks {key}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One `#[test]` per case folder, named `case_<case>` (written by `build.rs`).
macro_rules! why_case {
    ($test:ident, $case:literal) => {
        #[test]
        fn $test() {
            run_why_case($case);
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/why_cases.rs"));

#[test]
fn every_why_case_folder_has_its_own_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_root())
        .expect("fixtures")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.join("case.toml").is_file())
        .filter_map(|path| Some(path.file_name()?.to_str()?.to_string()))
        .collect();
    on_disk.sort();
    assert!(on_disk.len() >= 20, "fixtures missing");
    assert_eq!(
        WHY_CASES, on_disk,
        "build.rs did not generate a test per case folder"
    );
}

/// A fixture of `fixtures/why/interpreters/` (a function and two layers) laid out in a temp
/// folder as Lambda lays it out: the function's code at `task` (`/var/task`) and the layers,
/// in attachment order, at `opt` (`/opt`), a later layer's files replacing an earlier one's.
struct Extracted {
    work: tempfile::TempDir,
    /// The fixture's function folder.
    function: PathBuf,
    /// The fixture's layer folders, in attachment order.
    layers: Vec<PathBuf>,
    task: PathBuf,
    opt: PathBuf,
}

impl Extracted {
    fn new(interpreter: &str) -> Extracted {
        let fixture = fixtures_root().join("interpreters").join(interpreter);
        let work = tempfile::tempdir().expect("temp dir");
        let extracted = Extracted {
            task: work.path().join("task"),
            opt: work.path().join("opt"),
            function: fixture.join("function"),
            layers: vec![fixture.join("l1"), fixture.join("l2")],
            work,
        };
        common::copy_tree(&extracted.function, &extracted.task);
        for layer in &extracted.layers {
            common::copy_tree(layer, &extracted.opt);
        }
        extracted
    }

    /// The interpreter's answer, with the temp folders mapped back to `/var/task` and `/opt`.
    fn map_back(&self, path: &str) -> String {
        path.replace(&self.task.to_string_lossy().into_owned(), "/var/task")
            .replace(&self.opt.to_string_lossy().into_owned(), "/opt")
    }

    /// `NODE_PATH` as the nodejs20.x runtime sets it, over the extracted folders.
    fn node20_path(&self) -> String {
        [
            self.opt.join("nodejs/node20/node_modules"),
            self.opt.join("nodejs/node_modules"),
            self.task.clone(),
        ]
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":")
    }
}

/// Runs `why` for `target` over a fixture stack; returns (exit status, location).
fn why_location(
    target: &str,
    runtime: &str,
    function: &Path,
    layers: &[PathBuf],
) -> (i32, Option<String>) {
    let args = WhyArgs {
        target: target.to_string(),
        layers: layers
            .iter()
            .map(|layer| layer.to_string_lossy().into_owned())
            .collect(),
        runtime: Some(runtime.to_string()),
        arch: Some("x86_64".to_string()),
        function: Some(function.to_path_buf()),
        sam: None,
        cdk: None,
        resource: None,
        env: Vec::new(),
        kind: None,
        config: None,
        format: Format::Json,
    };
    let mut out = Vec::new();
    let status = layerpack::commands::why::run(&args, &mut out).expect("why runs");
    let value: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    (status, value["location"].as_str().map(str::to_string))
}

fn interpreter_available(program: &str, version_prefix: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|out| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            text.contains(version_prefix)
        })
}

#[test]
fn python_imports_what_why_says() {
    if !interpreter_available("python3", "Python 3.11") {
        common::unavailable("python3 is not Python 3.11");
        return;
    }
    let stack = Extracted::new("python");
    let (task, opt) = (&stack.task, &stack.opt);
    let targets = [
        "regpkg",
        "regpkg.sub",
        "nsp",
        "nsp.a",
        "nsp.b",
        "modvsns",
        "localmod",
        "vendored",
        "only312",
        "ext",
        "ext._native",
        "shared",
        "plugin_mod",
        "missing_mod",
        "json",
        "brokeninit",
        "stubbed",
        "optdep",
        "relchain",
        "relbroken",
        "reraise",
        "typecheck",
    ];
    // sys.path as the bootstrap builds it (the runtime's own folders are this interpreter's
    // standard library), then site.addsitedir on the three site folders.
    let script = format!(
        r#"
import sys, site, importlib
task, opt = {task:?}, {opt:?}
stdlib = [p for p in sys.path if p and 'site-packages' not in p]
sys.path[:] = [task, opt + '/python/lib/python3.11/site-packages', opt + '/python'] + stdlib
for d in (task, opt + '/python/lib/python3.11/site-packages', opt + '/python'):
    site.addsitedir(d)
for name in {targets:?}:
    try:
        m = importlib.import_module(name)
        where = getattr(m, '__file__', None) or list(m.__path__)[0]
        print(name, where)
    except ImportError as e:
        print(name, 'ImportError')
"#,
        task = task.to_string_lossy(),
        opt = opt.to_string_lossy(),
    );
    let output = std::process::Command::new("python3")
        .args(["-S", "-B", "-c", &script])
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut mismatches = Vec::new();
    for line in stdout.lines() {
        let (name, answer) = line.split_once(' ').expect("name and answer");
        let (status, location) = why_location(name, "python3.11", &stack.function, &stack.layers);
        let python = if answer == "ImportError" {
            None
        } else {
            Some(stack.map_back(answer))
        };
        let agrees = match (&python, &location) {
            (None, _) => status == 1,
            // The standard library lives in the interpreter's own folders, which `why` names
            // by their Lambda paths.
            (Some(found), Some(said))
                if !found.starts_with("/var/task") && !found.starts_with("/opt") =>
            {
                said.starts_with("/var/lang/lib/python3.11") && status == 0
            }
            (Some(found), Some(said)) => found == said && status == 0,
            _ => false,
        };
        if !agrees {
            mismatches.push(format!(
                "{name}: python {python:?}, why {location:?} (exit {status})"
            ));
        }
    }
    assert_eq!(stdout.lines().count(), targets.len(), "{stdout}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn node_requires_what_why_says() {
    if !interpreter_available("node", "v20.") {
        common::unavailable("node is not Node.js 20");
        return;
    }
    let stack = Extracted::new("node");
    let task = &stack.task;
    let targets = [
        "main-pkg",
        "exp-pkg",
        "exp-pkg/feature",
        "exp-pkg/hidden.js",
        "esm-type",
        "esm-only",
        "idx-pkg",
        "@scope/scoped",
        "bad-main",
        "ver-pkg",
        "old-pkg",
        "local-pkg",
        "missing-pkg",
        "dep-missing",
        "dep-present",
        "fs",
    ];
    let node_path = stack.node20_path();
    let script = format!(
        r#"
for (const name of {targets:?}) {{
  try {{
    const where = require.resolve(name);
    require(name);
    console.log(name, where);
  }} catch (e) {{
    console.log(name, 'ERROR', e.code);
  }}
}}
"#
    );
    let output = std::process::Command::new("node")
        .args(["--no-deprecation", "--no-warnings", "-e", &script])
        .current_dir(task)
        .env("NODE_PATH", node_path)
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut mismatches = Vec::new();
    for line in stdout.lines() {
        let (name, answer) = line.split_once(' ').expect("name and answer");
        let (status, location) = why_location(name, "nodejs20.x", &stack.function, &stack.layers);
        let node = if answer.starts_with("ERROR") {
            None
        } else {
            Some(stack.map_back(answer))
        };
        let agrees = match (&node, &location) {
            (None, _) => status == 1,
            (Some(found), Some(said)) if found == name => {
                said == &format!("node:{name}") && status == 0
            }
            (Some(found), Some(said)) => found == said && status == 0,
            _ => false,
        };
        if !agrees {
            mismatches.push(format!(
                "{name}: node {answer}, why {location:?} (exit {status})"
            ));
        }
    }
    assert_eq!(stdout.lines().count(), targets.len(), "{stdout}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The handler closure of `check --function --handler` (STK006) against real `node` loading
/// each handler's file over the extracted fixture: a handler loads exactly when STK006 finds
/// nothing, and a failing one's finding names what Node names.
#[test]
fn node_loads_the_handlers_check_passes() {
    if !interpreter_available("node", "v20.") {
        common::unavailable("node is not Node.js 20");
        return;
    }
    let stack = Extracted::new("node");
    let task = &stack.task;
    let handlers = [
        ("handlers/healthy", "js"),
        ("handlers/healthy_esm", "mjs"),
        ("handlers/broken_dep", "js"),
        ("handlers/broken_relative", "js"),
        ("handlers/broken_esm", "mjs"),
        ("handlers/broken_syntax", "js"),
    ];
    let node_path = stack.node20_path();
    let mut mismatches = Vec::new();
    for (module, suffix) in handlers {
        let file = task.join(format!("{module}.{suffix}"));
        let output = std::process::Command::new("node")
            .args([
                "--no-deprecation",
                "--no-warnings",
                "--input-type=module",
                "-e",
            ])
            .arg(
                "try { await import(process.argv[1]); console.log('OK'); } \
                 catch (e) { console.log('ERROR', e.name, String(e.message).split('\\n')[0]); }",
            )
            .arg(&file)
            .current_dir(task)
            .env("NODE_PATH", &node_path)
            .output()
            .expect("run node");
        let answer = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let check = common::layerpack(stack.work.path())
            .args(["check"])
            .args(&stack.layers)
            .arg("--function")
            .arg(&stack.function)
            .args(["--handler", &format!("{module}.handler")])
            .args(["--runtime", "nodejs20.x", "--arch", "x86_64"])
            .args(["--select", "STK006", "--format", "json"])
            .output()
            .expect("run check");
        let messages: Vec<String> = common::json_findings(&check)
            .into_iter()
            .map(|finding| finding.message)
            .collect();
        // Node names the module it cannot find ('absent-dep', '/task/shared/esm-helper'), or
        // raises a SyntaxError; the finding names the same.
        let agrees = match answer.strip_prefix("ERROR ") {
            None => answer == "OK" && messages.is_empty(),
            Some(error) if error.starts_with("SyntaxError ") => messages
                .iter()
                .any(|message| message.contains("SyntaxError")),
            Some(error) => {
                let named = error.split('\'').nth(1).map(|name| stack.map_back(name));
                named.is_some_and(|name| messages.iter().any(|message| message.contains(&name)))
            }
        };
        if !agrees {
            mismatches.push(format!("{module}: node {answer}, STK006 {messages:#?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn why_takes_runtime_and_layers_from_the_function_in_layer_toml() {
    let temp = tempfile::tempdir().expect("temp dir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/python");
    common::copy_tree(&source, temp.path());
    let config = std::fs::read_to_string(temp.path().join("layer.toml")).expect("read")
        + "\n[function.api]\nruntime = \"python3.12\"\nlayers = [\"shared-utils\"]\n";
    std::fs::write(temp.path().join("layer.toml"), config).expect("write");
    let output = common::layerpack(temp.path())
        .args(["why", "shared_utils.helpers", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdict: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(verdict["runtime"], "python3.12");
    assert_eq!(verdict["resolved"], true);
    assert_eq!(verdict["location"], "/opt/python/shared_utils/helpers.py");
    // The layer.toml `ignore = ["tests/"]` holds for why too: the tests package is not there.
    let output = common::layerpack(temp.path())
        .args(["why", "shared_utils.tests.test_helpers", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
}

/// The real bench layer (numpy, pandas, pyarrow, pydantic, requests for python3.12): each
/// import's closure loads, with no false alarm. Skipped with a note when the layer is absent;
/// under CI (`CI` set) its absence is a failure.
#[test]
fn bench_layer_imports_load_without_false_alarms() {
    let layer = common::bench_layers_root().join("py312-x86");
    if !layer.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is absent under CI",
            layer.display()
        );
        eprintln!("note: {} is absent; skipping", layer.display());
        return;
    }
    for target in [
        "pandas",
        "numpy",
        "pyarrow",
        "pydantic",
        "requests",
        "pydantic_core",
    ] {
        let args = WhyArgs {
            target: target.to_string(),
            layers: vec![layer.to_string_lossy().into_owned()],
            runtime: Some("python3.12".to_string()),
            arch: Some("x86_64".to_string()),
            function: None,
            env: Vec::new(),
            kind: None,
            config: None,
            sam: None,
            cdk: None,
            resource: None,
            format: Format::Json,
        };
        let mut out = Vec::new();
        let status = layerpack::commands::why::run(&args, &mut out).expect("why runs");
        let value: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(status, 0, "{target}: {:#}", value["failure"]);
        assert!(value["failure"].is_null(), "{target}");
        assert_eq!(value["chain"][0]["module"], target);
    }
}
