//! CLI snapshots of `inspect` and `diff`: exit status, stdout and stderr together, over two
//! versions of a small layer (as folders and as zips) with generated native code.

use crate::common;

use common::layerpack;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::elf::{ElfSpec, build};

const SITE: &str = "python/lib/python3.12/site-packages";

fn extension(machine: &str, glibc: &str) -> Vec<u8> {
    build(&ElfSpec {
        machine: Some(machine.to_string()),
        needed: vec!["libc.so.6".to_string()],
        glibc: vec!["GLIBC_2.2.5".to_string(), glibc.to_string()],
        ..ElfSpec::default()
    })
}

/// Version 1 and version 2 of a layer, as (path, bytes, mode) lists.
fn versions() -> [Vec<(String, Vec<u8>, u32)>; 2] {
    let v1 = vec![
        (
            format!("{SITE}/fastjson/__init__.py"),
            b"from ._ext import loads\n".to_vec(),
            0o644,
        ),
        (
            format!("{SITE}/fastjson/_ext.cpython-312-x86_64-linux-gnu.so"),
            extension("x86_64", "GLIBC_2.17"),
            0o755,
        ),
        (
            format!("{SITE}/fastjson/data.txt"),
            b"version one\n".to_vec(),
            0o644,
        ),
        (
            "bin/tool".to_string(),
            b"#!/bin/sh\necho tool\n".to_vec(),
            0o755,
        ),
    ];
    let v2 = vec![
        (
            format!("{SITE}/fastjson/__init__.py"),
            b"from ._ext import loads\n".to_vec(),
            0o644,
        ),
        (
            format!("{SITE}/fastjson/_ext.cpython-312-x86_64-linux-gnu.so"),
            extension("x86_64", "GLIBC_2.17"),
            0o755,
        ),
        (
            format!("{SITE}/fastjson/_ext.cpython-312-aarch64-linux-gnu.so"),
            extension("aarch64", "GLIBC_2.28"),
            0o755,
        ),
        (
            format!("{SITE}/fastjson/data.txt"),
            b"version two!\n".to_vec(),
            0o644,
        ),
        (
            "python/lib/python3.11/site-packages/legacy/__init__.py".to_string(),
            b"\n".to_vec(),
            0o644,
        ),
    ];
    [v1, v2]
}

fn write_dir(root: &Path, files: &[(String, Vec<u8>, u32)]) {
    use std::os::unix::fs::PermissionsExt;
    for (path, bytes, mode) in files {
        let target = root.join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(&target, bytes).expect("write");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
}

/// A zip with fixed dates and sorted entries, so its CodeSha256 is stable in snapshots.
fn write_zip(out: &Path, files: &[(String, Vec<u8>, u32)]) {
    let mut sorted: Vec<_> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut writer = zip::ZipWriter::new(std::fs::File::create(out).expect("create zip"));
    for (path, bytes, mode) in sorted {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(*mode);
        writer
            .start_file(path.as_str(), options)
            .expect("start entry");
        writer.write_all(bytes).expect("write entry");
    }
    writer.finish().expect("finish zip");
}

/// Writes both versions as folders `v1/`, `v2/` and zips `v1.zip`, `v2.zip`.
fn layers() -> (tempfile::TempDir, [PathBuf; 4]) {
    let temp = tempfile::tempdir().expect("temp dir");
    let [v1, v2] = versions();
    write_dir(&temp.path().join("v1"), &v1);
    write_dir(&temp.path().join("v2"), &v2);
    write_zip(&temp.path().join("v1.zip"), &v1);
    write_zip(&temp.path().join("v2.zip"), &v2);
    let paths = ["v1", "v2", "v1.zip", "v2.zip"].map(|name| temp.path().join(name));
    (temp, paths)
}

#[test]
fn inspect_zip_human() {
    let (temp, _) = layers();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["inspect", "v2.zip", "--top", "3"])
    );
}

#[test]
fn inspect_folder_json() {
    let (temp, _) = layers();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["inspect", "v1", "--format", "json"])
    );
}

#[test]
fn inspect_missing_path_is_a_tool_error() {
    let (temp, _) = layers();
    snapshot!(temp, layerpack(temp.path()).args(["inspect", "nope.zip"]));
}

#[test]
fn diff_zips_human() {
    let (temp, _) = layers();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["diff", "v1.zip", "v2.zip"])
    );
}

#[test]
fn diff_folder_against_zip_json() {
    let (temp, _) = layers();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["diff", "v1", "v2.zip", "--format", "json"])
    );
}

#[test]
fn diff_of_a_layer_with_itself_is_empty() {
    let (temp, _) = layers();
    let output = layerpack(temp.path())
        .args(["diff", "v2", "v2.zip", "--format", "json"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["added"], serde_json::json!([]));
    assert_eq!(json["removed"], serde_json::json!([]));
    assert_eq!(json["changed"], serde_json::json!([]));
    assert_eq!(json["unchanged_files"], 5);
}

/// A small layer with packages the runtimes bundle (boto3 with its `RECORD`, the AWS SDK v3's
/// S3 client) beside ones they do not (requests, left-pad), copied from `tests/fixtures/inspect/`.
fn bundled_copies() -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inspect/bundled_copies");
    common::copy_tree(&fixture, &temp.path().join("layer"));
    temp
}

#[test]
fn inspect_lists_what_the_runtimes_bundle_too_human() {
    let temp = bundled_copies();
    snapshot!(
        temp,
        layerpack(temp.path()).args(["inspect", "layer", "--top", "1"])
    );
}

#[test]
fn inspect_lists_what_the_runtimes_bundle_too_json() {
    let temp = bundled_copies();
    let output = layerpack(temp.path())
        .args(["inspect", "layer", "--format", "json"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    insta::assert_json_snapshot!(json["runtime_duplicates"]);
    // boto3's RECORD lists 5 files (363 bytes); the S3 client folder holds 2 (105 bytes).
    assert_eq!(json["runtime_duplicate_bytes"], serde_json::json!(468));
}
