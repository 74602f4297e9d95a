//! `check --sam` and `why --sam` over a SAM app: Globals applied, `!Ref` layers declared in the
//! template (a folder, a zip built by layerpack, a layer only `sam build` makes), layer ARNs
//! listed as not checked, functions that cannot be checked offline named with the reason.

use crate::common;

use std::path::{Path, PathBuf};

use common::{elf, layerpack, write};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/deploy")
        .join(name)
}

/// The SAM app in a temp folder, with its generated extension module and its layerpack-built zip.
fn sam_app() -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    common::copy_tree(&fixture("sam"), temp.path());
    let module = temp
        .path()
        .join("layers/native/python/fastjson/_speedups.cpython-311-x86_64-linux-gnu.so");
    std::fs::write(
        &module,
        elf::build(&elf::ElfSpec {
            path: String::new(),
            needed: vec!["libc.so.6".to_string()],
            glibc: vec!["GLIBC_2.17".to_string()],
            ..Default::default()
        }),
    )
    .expect("write module");
    let built = layerpack(temp.path())
        .args([
            "build",
            "--dir",
            "layers/shared-src",
            "--runtime",
            "python3.12",
        ])
        .args(["--output", "dist/shared.zip"])
        .output()
        .expect("run build");
    assert!(built.status.success(), "{built:?}");
    temp
}

/// (function or layer, code) of each finding of a JSON report.
fn codes(output: &std::process::Output) -> Vec<(String, String)> {
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {output:?}"));
    let mut codes: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            (
                finding["layer"].as_str().expect("layer").to_string(),
                finding["code"].as_str().expect("code").to_string(),
            )
        })
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

#[test]
fn sam_template_with_globals_ref_layers_and_arns() {
    let temp = sam_app();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "--sam", "template.yaml"])
    );
}

#[test]
fn sam_findings_per_function() {
    let temp = sam_app();
    let output = layerpack(temp.path())
        .args(["check", "--sam", "template.yaml", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        codes(&output),
        pairs(&[
            // Globals' CommonLayer comes first, SharedLayer replaces its shared_utils.
            ("Api/SharedLayer", "STK003"),
            // The function's own requests shadows SharedLayer's.
            ("Api/SharedLayer", "STK004"),
            // Globals' CommonLayer + 5 of its own: six layers, and a Python layer on Node.js.
            ("Reports", "STK001"),
            ("Reports/CommonLayer", "STK005"),
            // Its handler's `import fastjson` needs the x86_64-only extension of that layer.
            ("Worker", "STK006"),
            // arm64 (the WorkerArch parameter's default) with an x86_64-only layer.
            ("Worker/NativeLayer", "STK005"),
        ])
    );
}

#[test]
fn resource_limits_the_functions() {
    let temp = sam_app();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "--sam", "template.yaml", "--resource", "Worker"])
    );
}

#[test]
fn unknown_resource_names_the_functions() {
    let temp = sam_app();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "--sam", "template.yaml", "--resource", "Nope"])
    );
}

#[test]
fn why_takes_everything_from_the_function() {
    let temp = sam_app();
    snapshot!(
        temp,
        layerpack(temp.path()).args([
            "why",
            "shared_utils",
            "--sam",
            "template.yaml",
            "--resource",
            "Api"
        ])
    );
}

#[test]
fn why_needs_a_resource_when_there_are_several_functions() {
    let temp = sam_app();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["why", "requests", "--sam", "template.yaml"])
    );
}

/// Plain CloudFormation in JSON: `Code` and `Content` as local paths (`aws cloudformation
/// package` style), a `Ref` layer and a layer ARN.
#[test]
fn cloudformation_json_template() {
    let temp = tempfile::tempdir().expect("temp dir");
    write(
        &temp.path().join("stack.json"),
        r#"{
	"AWSTemplateFormatVersion": "2010-09-09",
	"Resources": {
		"Tool": {
			"Type": "AWS::Lambda::LayerVersion",
			"Properties": {"Content": "tool", "CompatibleRuntimes": ["provided.al2023"], "CompatibleArchitectures": ["arm64"]}
		},
		"Fn": {
			"Type": "AWS::Lambda::Function",
			"Properties": {
				"Runtime": "provided.al2023",
				"Architectures": ["arm64"],
				"Handler": "bootstrap",
				"Code": "code",
				"Layers": [{"Ref": "Tool"}, {"Fn::Sub": "arn:aws:lambda:${AWS::Region}:1:layer:x:1"}]
			}
		}
	}
}
"#,
    );
    write(&temp.path().join("code/bootstrap"), "#!/bin/sh\n");
    std::fs::create_dir_all(temp.path().join("tool/bin")).expect("mkdir");
    std::fs::write(
        temp.path().join("tool/bin/jq"),
        elf::build(&elf::ElfSpec {
            kind: Some("exec".to_string()),
            interpreter: Some("/lib64/ld-linux-x86-64.so.2".to_string()),
            ..Default::default()
        }),
    )
    .expect("write jq");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        temp.path().join("tool/bin/jq"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "--sam", "stack.json"])
    );
}

#[test]
fn template_that_is_not_yaml_is_exit_2() {
    let temp = tempfile::tempdir().expect("temp dir");
    write(
        &temp.path().join("template.yaml"),
        "Resources:\n  Api: [unclosed\n",
    );
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "--sam", "template.yaml"])
    );
}

#[test]
fn missing_code_folder_is_exit_2() {
    let temp = tempfile::tempdir().expect("temp dir");
    write(
        &temp.path().join("template.yaml"),
        "Resources:\n  Api:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      CodeUri: src/\n",
    );
    snapshot!(
        temp,
        layerpack(temp.path()).args(["check", "--sam", "template.yaml"])
    );
}

/// The cloud assembly `tests/cdk-app/synth.sh` writes with the real `cdk synth` (`.ci/run` runs
/// it; `LAYERPACK_CDK_OUT` points elsewhere), or `None` after saying why the test is skipped.
fn cdk_assembly() -> Option<PathBuf> {
    let dir = std::env::var_os("LAYERPACK_CDK_OUT").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cdk.out"),
        PathBuf::from,
    );
    if dir.join("manifest.json").is_file() {
        return Some(dir);
    }
    let reason = format!(
        "no CDK cloud assembly at {} (run tests/cdk-app/synth.sh: it needs node and npm)",
        dir.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{reason}");
    eprintln!("note: {reason}; CDK test skipped");
    None
}

/// Runs layerpack beside the assembly, naming it `cdk.out` as a user would.
fn in_assembly_parent(assembly: &Path) -> (tempfile::TempDir, std::process::Command) {
    let temp = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(assembly, temp.path().join("cdk.out")).expect("symlink");
    let command = layerpack(temp.path());
    (temp, command)
}

#[test]
fn cdk_assembly_of_a_real_synth() {
    let Some(assembly) = cdk_assembly() else {
        return;
    };
    let (temp, mut command) = in_assembly_parent(&assembly);
    snapshot!(temp, command.args(["check", "--cdk", "cdk.out"]));
}

#[test]
fn cdk_resource_by_construct_path_or_logical_id() {
    let Some(assembly) = cdk_assembly() else {
        return;
    };
    for id in ["LayerpackDemo/Worker", "Worker"] {
        let (_temp, mut command) = in_assembly_parent(&assembly);
        let output = command
            .args([
                "check",
                "--cdk",
                "cdk.out",
                "--format",
                "json",
                "--resource",
                id,
            ])
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(1), "{id}: {output:?}");
        // The tools layer keeps `node_modules/` at its root, so the worker's
        // `require('left-pad')` fails too.
        assert_eq!(
            codes(&output),
            [
                ("LayerpackDemo/ToolsLayer".to_string(), "LAY001".to_string()),
                ("LayerpackDemo/Worker".to_string(), "STK006".to_string())
            ],
            "{id}"
        );
    }
}

#[test]
fn cdk_why_takes_the_function_from_the_assembly() {
    let Some(assembly) = cdk_assembly() else {
        return;
    };
    let (_temp, mut command) = in_assembly_parent(&assembly);
    let output = command
        .args([
            "why",
            "shared_utils",
            "--cdk",
            "cdk.out",
            "--resource",
            "Api",
        ])
        .args(["--format", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let explanation: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(explanation["runtime"], "python3.12");
    assert_eq!(explanation["arch"], "arm64");
    assert_eq!(explanation["resolved"], true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AWSLambdaPowertoolsPythonV3-python312-arm64:7`: a published layer"),
        "{stderr}"
    );
}

/// After `sam build`, `.aws-sam/build/template.yaml` points at the built folders: a layer with
/// `BuildMethod` is checked there (its dependencies installed), while the source template names
/// the built one. The tree is laid out as `sam build` writes it (`CodeUri: Api`,
/// `ContentUri: DepsLayer`, beside the built template).
#[test]
fn built_sam_template_checks_the_built_layer() {
    let temp = tempfile::tempdir().expect("temp dir");
    let source = "Transform: AWS::Serverless-2016-10-31\nResources:\n  DepsLayer:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: LAYER\n      CompatibleRuntimes: [python3.12]\n    Metadata:\n      BuildMethod: python3.12\n  Api:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: CODE\n      Runtime: python3.12\n      Handler: app.handler\n      Layers: [!Ref DepsLayer]\n";
    write(
        &temp.path().join("template.yaml"),
        &source.replace("LAYER", "deps/").replace("CODE", "src/"),
    );
    write(
        &temp.path().join("deps/requirements.txt"),
        "requests==2.32.3\n",
    );
    write(
        &temp.path().join("src/app.py"),
        "import requests\n\ndef handler(event, context):\n    return requests.__version__\n",
    );
    let built = temp.path().join(".aws-sam/build");
    write(
        &built.join("template.yaml"),
        &source.replace("LAYER", "DepsLayer").replace("CODE", "Api"),
    );
    write(
        &built.join("Api/app.py"),
        "import requests\n\ndef handler(event, context):\n    return requests.__version__\n",
    );
    write(
        &built.join("DepsLayer/python/requests/__init__.py"),
        "__version__ = '2.32.3'\n",
    );

    let output = layerpack(temp.path())
        .args([
            "check",
            "--sam",
            ".aws-sam/build/template.yaml",
            "--format",
            "json",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("not checked"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        report["summary"]["files"], 1,
        "the built layer's one file: {report}"
    );

    let output = layerpack(temp.path())
        .args(["check", "--sam", "template.yaml"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("layer 1 `DepsLayer`: `sam build` makes it (BuildMethod: python3.12)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(".aws-sam/build/template.yaml holds what `sam build` made"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the imports of its handler `app.handler` are not followed"),
        "{stderr}"
    );
}
