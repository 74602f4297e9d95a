//! `DEP` rules on real packages: the bench layers (healthy: no DEP finding at all, and a real
//! requirement removed or replaced is found), and a real botocore wheel from PyPI shipped
//! without boto3 (SDK skew against the runtime's boto3).
//!
//! The bench layers come from `common::bench_layers_root()`; the wheel is downloaded once into
//! `target/test-wheels/` with `pip download`. Without them the tests fail under CI and are
//! skipped with a note elsewhere.

use crate::common;

use std::path::{Path, PathBuf};

use common::unavailable;

/// The DEP findings of `check` on `dir` for `runtime`, as (code, path, message).
fn dep_findings(dir: &Path, runtime: &str) -> Vec<(String, String, String)> {
    let output = common::layerpack(dir)
        .args(["check", ".", "--runtime", runtime, "--arch", "x86_64"])
        .args(["--select", "DEP", "--format", "json"])
        .output()
        .expect("run layerpack");
    common::json_findings(&output)
        .into_iter()
        .map(|finding| (finding.code, finding.path, finding.message))
        .collect()
}

/// Copies the metadata files of a real layer (`*.dist-info/METADATA`, `package.json`), which is
/// all the DEP rules read, into `to`; returns how many.
fn copy_metadata(from: &Path, to: &Path) -> usize {
    let mut copied = 0;
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.expect("walk");
        let name = entry.file_name().to_string_lossy();
        let metadata = name == "package.json"
            || (name == "METADATA"
                && entry
                    .path()
                    .parent()
                    .is_some_and(|dir| dir.to_string_lossy().ends_with(".dist-info")));
        if !metadata || !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(from).expect("inside");
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(entry.path(), &target).expect("copy");
        copied += 1;
    }
    copied
}

fn bench_layer(name: &str) -> Option<PathBuf> {
    let dir = common::bench_layers_root().join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        unavailable(&format!(
            "{} is missing (make it with shared/bench/make-bench-layers.sh)",
            dir.display()
        ));
        None
    }
}

#[test]
fn healthy_python_bench_layer_has_no_dep_finding_and_a_removed_numpy_is_found() {
    let Some(layer) = bench_layer("py312-x86") else {
        return;
    };
    assert_eq!(
        dep_findings(&layer, "python3.12"),
        [],
        "the real layer itself"
    );
    let temp = tempfile::tempdir().expect("temp");
    let copied = copy_metadata(&layer, temp.path());
    assert!(
        copied > 10,
        "only {copied} METADATA files in the bench layer"
    );
    assert_eq!(dep_findings(temp.path(), "python3.12"), []);
    // pandas needs numpy: take numpy's metadata away and the requirement is missing.
    let site = temp.path().join("python/lib/python3.12/site-packages");
    let numpy = std::fs::read_dir(&site)
        .expect("site-packages")
        .map(|entry| entry.expect("entry").path())
        .find(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("numpy-") && name.ends_with(".dist-info")
        })
        .expect("numpy dist-info in the bench layer");
    std::fs::remove_dir_all(&numpy).expect("remove numpy");
    let findings = dep_findings(temp.path(), "python3.12");
    assert!(
        findings.iter().any(|(code, path, message)| code == "DEP001"
            && path.contains("/pandas-")
            && message.contains("`numpy")),
        "{findings:#?}"
    );
}

#[test]
fn healthy_node_sdk_bench_layer_has_no_dep_finding_and_an_old_dependency_is_found() {
    let Some(layer) = bench_layer("node-sdk") else {
        return;
    };
    assert_eq!(
        dep_findings(&layer, "nodejs20.x"),
        [],
        "the real layer itself"
    );
    let temp = tempfile::tempdir().expect("temp");
    let copied = copy_metadata(&layer, temp.path());
    assert!(
        copied > 50,
        "only {copied} package.json files in the bench layer"
    );
    assert_eq!(dep_findings(temp.path(), "nodejs20.x"), []);
    // Make every copy of @smithy/types far too old: the SDK packages that need it are flagged.
    let mut replaced = 0;
    for entry in walkdir::WalkDir::new(temp.path()) {
        let entry = entry.expect("walk");
        if entry.path().ends_with("@smithy/types/package.json") {
            common::write(
                entry.path(),
                r#"{"name": "@smithy/types", "version": "0.0.1"}"#,
            );
            replaced += 1;
        }
    }
    assert!(replaced > 0, "no @smithy/types in the bench layer");
    let findings = dep_findings(temp.path(), "nodejs20.x");
    assert!(
        findings
            .iter()
            .any(|(code, _, message)| code == "DEP002" && message.contains("@smithy/types@0.0.1")),
        "{findings:#?}"
    );
    // And without it at all, they are missing.
    for entry in walkdir::WalkDir::new(temp.path()) {
        let entry = entry.expect("walk");
        if entry.path().ends_with("@smithy/types/package.json") {
            std::fs::remove_file(entry.path()).expect("remove");
        }
    }
    let findings = dep_findings(temp.path(), "nodejs20.x");
    assert!(
        findings
            .iter()
            .any(|(code, _, message)| code == "DEP001" && message.contains("`@smithy/types@")),
        "{findings:#?}"
    );
}

/// A real wheel from PyPI for this machine, downloaded once into `target/test-wheels/`.
fn wheel(requirement: &str, file_prefix: &str) -> Option<PathBuf> {
    common::wheels::wheel(requirement, file_prefix, None)
}

fn install_wheel(wheel: &Path, layer: &Path) {
    common::wheels::install(wheel, layer);
}

#[test]
fn real_botocore_wheel_without_boto3_skews_the_runtime_sdk() {
    let Some(botocore) = wheel("botocore==1.40.0", "botocore-1.40.0-") else {
        return;
    };
    let temp = tempfile::tempdir().expect("temp");
    install_wheel(&botocore, temp.path());
    let findings = dep_findings(temp.path(), "python3.12");
    let skew: Vec<_> = findings
        .iter()
        .filter(|(code, ..)| code == "DEP003")
        .collect();
    assert_eq!(skew.len(), 1, "{findings:#?}");
    let (_, path, message) = skew[0];
    assert_eq!(path, "python/botocore-1.40.0.dist-info/METADATA");
    assert!(message.contains("boto3 1.42.97"), "{message}");
    assert!(message.contains("botocore 1.40.0"), "{message}");
    // Its own requirements (jmespath, python-dateutil, urllib3) are met by the runtime's.
    assert!(
        findings.iter().all(|(code, ..)| code == "DEP003"),
        "{findings:#?}"
    );
    // python3.13 bundles boto3 1.40.4, which needs botocore >= 1.40.4: still skewed.
    assert!(
        dep_findings(temp.path(), "python3.13")
            .iter()
            .any(|(code, _, message)| code == "DEP003" && message.contains("boto3 1.40.4"))
    );
}

#[test]
fn real_requests_wheel_without_its_requirements() {
    let Some(requests) = wheel("requests==2.32.3", "requests-2.32.3-") else {
        return;
    };
    let Some(idna) = wheel("idna==2.4", "idna-2.4-") else {
        return;
    };
    let temp = tempfile::tempdir().expect("temp");
    install_wheel(&requests, temp.path());
    install_wheel(&idna, temp.path());
    let findings = dep_findings(temp.path(), "python3.12");
    let codes: Vec<(&str, bool)> = findings
        .iter()
        .map(|(code, _, message)| (code.as_str(), message.contains("requests 2.32.3")))
        .collect();
    // charset-normalizer and certifi are missing; idna 2.4 is outside idna<4,>=2.5; urllib3
    // (<3,>=1.21.1) is met by the runtime's 1.26.19; the socks extra is not requested.
    assert!(
        findings
            .iter()
            .any(|(code, _, m)| code == "DEP001" && m.contains("`charset-normalizer")),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|(code, _, m)| code == "DEP001" && m.contains("`certifi")),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|(code, _, m)| code == "DEP002" && m.contains("idna 2.4")),
        "{findings:#?}"
    );
    assert!(
        !findings
            .iter()
            .any(|(_, _, m)| m.contains("urllib3") || m.contains("PySocks"))
    );
    assert_eq!(codes.len(), 3, "{findings:#?}");
}

/// `inspect --format json` of a layer folder.
fn inspect_json(dir: &Path) -> serde_json::Value {
    let output = common::layerpack(dir)
        .args(["inspect", ".", "--format", "json"])
        .output()
        .expect("run layerpack");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON from inspect")
}

#[test]
fn inspect_sizes_a_real_botocore_wheel_as_a_copy_of_the_runtimes_botocore() {
    let Some(botocore) = wheel("botocore==1.40.0", "botocore-1.40.0-") else {
        return;
    };
    let temp = tempfile::tempdir().expect("temp");
    install_wheel(&botocore, temp.path());
    let json = inspect_json(temp.path());
    let duplicates = json["runtime_duplicates"].as_array().expect("list");
    assert_eq!(duplicates.len(), 1, "{duplicates:#?}");
    let copy = &duplicates[0];
    assert_eq!(copy["name"], "botocore");
    assert_eq!(copy["version"], "1.40.0");
    assert_eq!(copy["folder"], "python");
    // The wheel's RECORD lists every file it installed, which is the whole layer.
    assert_eq!(copy["bytes"], json["unzipped_bytes"]);
    assert_eq!(copy["files"], json["files"]);
    let on_312 = copy["runtimes"]
        .as_array()
        .expect("runtimes")
        .iter()
        .find(|runtime| runtime["runtime"] == "python3.12")
        .expect("python3.12 bundles botocore");
    assert_eq!(on_312["version"], "1.42.97");
    assert_eq!(on_312["shadowed"], true);
}

#[test]
fn inspect_lists_what_the_real_bench_layers_share_with_their_runtime() {
    let Some(python) = bench_layer("py312-x86") else {
        return;
    };
    let json = inspect_json(&python);
    let names: Vec<(&str, &str)> = json["runtime_duplicates"]
        .as_array()
        .expect("list")
        .iter()
        .map(|copy| {
            (
                copy["name"].as_str().expect("name"),
                copy["runtimes"][0]["runtime"].as_str().expect("runtime"),
            )
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    // numpy, pandas, pyarrow, pydantic and requests are not bundled; three of their
    // dependencies are, in python3.12's own site-packages.
    assert_eq!(
        sorted,
        [
            ("python_dateutil", "python3.12"),
            ("six", "python3.12"),
            ("urllib3", "python3.12")
        ]
    );
    let Some(node) = bench_layer("node-sdk") else {
        return;
    };
    let json = inspect_json(&node);
    let duplicates = json["runtime_duplicates"].as_array().expect("list");
    assert!(duplicates.len() >= 5, "{duplicates:#?}");
    for copy in duplicates {
        let name = copy["name"].as_str().expect("name");
        assert!(name.starts_with("@aws-sdk/"), "{name}");
        assert!(
            node.join("nodejs/node_modules")
                .join(name)
                .join("package.json")
                .is_file()
        );
        let runtimes: Vec<&str> = copy["runtimes"]
            .as_array()
            .expect("runtimes")
            .iter()
            .map(|runtime| runtime["runtime"].as_str().expect("id"))
            .collect();
        assert_eq!(
            runtimes,
            ["nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"]
        );
    }
    assert!(
        duplicates
            .iter()
            .any(|copy| copy["name"] == "@aws-sdk/client-s3")
    );
}
