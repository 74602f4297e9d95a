//! `why` and `check` against real npm packages: installed with npm for a chosen platform into
//! `target/npm-cases/` by the test itself (cached there), and the real AWS SDK bench layer.
//! Without npm or the registry the tests say so and skip; under CI they fail instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use layerpack::resolve::merged::MergedView;
use layerpack::resolve::{self, Explanation, Kind, Request};
use layerpack::runtime::{Arch, Runtime};

/// Skips (or fails, under CI) with a printed reason.
fn unavailable(reason: &str) -> Option<PathBuf> {
    crate::common::unavailable(reason);
    None
}

/// A layer folder whose `nodejs/node_modules` holds `packages` as npm installs them on linux
/// for `cpu` (glibc), install scripts not run. Made once per `name`.
fn npm_layer(name: &str, packages: &[&str], cpu: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/npm-cases")
        .join(name);
    let done = root.join(".installed");
    if done.is_file() {
        return Some(root);
    }
    let prefix = root.join("nodejs");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&prefix).expect("create npm case folder");
    std::fs::write(
        prefix.join("package.json"),
        "{\"name\": \"layer\", \"version\": \"1.0.0\", \"private\": true}\n",
    )
    .expect("write package.json");
    let output = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--ignore-scripts"])
        .args(["--os=linux", &format!("--cpu={cpu}"), "--libc=glibc"])
        .arg("--prefix")
        .arg(&prefix)
        .args(packages)
        .output();
    match output {
        Ok(output) if output.status.success() => {
            std::fs::write(&done, "").expect("mark installed");
            Some(root)
        }
        Ok(output) => unavailable(&format!(
            "npm install {packages:?} failed (offline?): {}",
            String::from_utf8_lossy(&output.stderr)
        )),
        Err(err) => unavailable(&format!("npm is not available: {err}")),
    }
}

fn explain(view: &MergedView, target: &str, runtime: &str, arch: Arch) -> Explanation {
    let request = Request {
        name: target,
        target,
        kind: Kind::Node,
        runtime: Runtime::find(runtime).expect("runtime"),
        arch,
        env: BTreeMap::new(),
        linter: layerpack::rules::lint_layer,
    };
    resolve::explain(view, &request)
}

fn open(layer: &Path) -> MergedView {
    MergedView::open(None, &[layer.to_string_lossy().into_owned()], None).expect("open layer")
}

/// sharp installed for arm64 loads there (its addon finds libvips through `$ORIGIN`) and fails
/// on x86_64, naming the platform package that is missing and the one installed instead.
#[test]
fn sharp_installed_for_arm64() {
    let Some(layer) = npm_layer("sharp-arm64", &["sharp@0.34.4"], "arm64") else {
        return;
    };
    let view = open(&layer);
    let arm = explain(&view, "sharp", "nodejs20.x", Arch::Arm64);
    assert_eq!(arm.exit_code(), 0, "{:#?}", arm.near_misses);
    assert!(arm.failure.is_none());

    let x86 = explain(&view, "sharp", "nodejs20.x", Arch::X86_64);
    assert_eq!(x86.exit_code(), 1);
    let failure = x86.failure.as_ref().expect("a failure");
    assert_eq!(failure.module, "@img/sharp-linux-x64");
    assert_eq!(failure.code, Some(layerpack::finding::Code::BIN009));
    assert!(
        failure.reason.contains("@img/sharp-linux-arm64"),
        "{}",
        failure.reason
    );
    let chain: Vec<&str> = x86.chain.iter().map(|link| link.module.as_str()).collect();
    assert_eq!(chain, ["sharp", "@img/sharp-linux-x64"]);

    // check says the same for the layer's architectures.
    for (arch, errors) in [("x86_64", true), ("arm64", false)] {
        let output = crate::common::layerpack(&layer)
            .args(["check", ".", "--runtime", "nodejs20.x", "--arch", arch])
            .args(["--format", "json"])
            .output()
            .expect("run check");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        let codes: Vec<&str> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|finding| finding["severity"] == "error")
            .filter_map(|finding| finding["code"].as_str())
            .collect();
        if errors {
            assert!(codes.contains(&"BIN009"), "{arch}: {codes:?}");
            assert_eq!(output.status.code(), Some(1));
        } else {
            assert!(codes.is_empty(), "{arch}: {report:#}");
        }
    }
}

/// The AWS SDK v3 of the node-sdk bench layer (real npm install): the client and everything it
/// pulls in load; without `@smithy/types` the client fails, naming the chain.
#[test]
fn aws_sdk_client_s3_closure() {
    let dir = crate::common::bench_layers_root().join("node-sdk");
    if !dir.is_dir() {
        unavailable(&format!("{} is missing", dir.display()));
        return;
    }
    let mut view = open(&dir);
    let healthy = explain(&view, "@aws-sdk/client-s3", "nodejs20.x", Arch::X86_64);
    assert_eq!(healthy.exit_code(), 0, "{:#?}", healthy.failure);
    for target in ["@aws-sdk/client-dynamodb", "axios", "lodash"] {
        let explanation = explain(&view, target, "nodejs20.x", Arch::X86_64);
        assert_eq!(
            explanation.exit_code(),
            0,
            "{target}: {:#?}",
            explanation.failure
        );
    }

    view.layers[0].inventory.retain(|entry| {
        !entry
            .path
            .as_str()
            .starts_with("nodejs/node_modules/@smithy/types")
    });
    let broken = explain(&view, "@aws-sdk/client-s3", "nodejs20.x", Arch::X86_64);
    assert_eq!(broken.exit_code(), 1);
    let failure = broken.failure.as_ref().expect("a failure");
    assert_eq!(failure.module, "@smithy/types");
    assert_eq!(failure.reason, "Cannot find module '@smithy/types'");
    let chain: Vec<&str> = broken
        .chain
        .iter()
        .map(|link| link.module.as_str())
        .collect();
    assert_eq!(chain, ["@aws-sdk/client-s3", "@smithy/types"]);
}

/// A handler over the real AWS SDK layer: CommonJS and ES module handlers that load
/// `@aws-sdk/client-s3` (and axios, lodash) have no STK006 finding; one that also requires a
/// package the layer lacks has exactly that one, at its line.
#[test]
fn handler_over_the_aws_sdk_layer() {
    let layer = crate::common::bench_layers_root().join("node-sdk");
    if !layer.is_dir() {
        unavailable(&format!("{} is missing", layer.display()));
        return;
    }
    let temp = tempfile::tempdir().expect("temp");
    let function = temp.path().join("function");
    crate::common::write(
        &function.join("index.js"),
        "const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');\n\
         const axios = require('axios');\n\
         const _ = require('lodash');\n\
         exports.handler = async () => [S3Client, GetObjectCommand, axios, _];\n",
    );
    crate::common::write(
        &function.join("esm.mjs"),
        "import { S3Client } from '@aws-sdk/client-s3';\n\
         import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\n\
         export const handler = async () => [S3Client, DynamoDBClient];\n",
    );
    crate::common::write(
        &function.join("broken.js"),
        "const { S3Client } = require('@aws-sdk/client-s3');\n\
         const sharp = require('sharp');\n\
         exports.handler = async () => [S3Client, sharp];\n",
    );
    let findings = |handler: &str| -> Vec<String> {
        let output = crate::common::layerpack(temp.path())
            .arg("check")
            .arg(&layer)
            .arg("--function")
            .arg(&function)
            .args(["--handler", handler, "--runtime", "nodejs20.x"])
            .args(["--arch", "x86_64", "--select", "STK006", "--format", "json"])
            .output()
            .expect("run check");
        crate::common::json_findings(&output)
            .into_iter()
            .map(|finding| finding.message)
            .collect()
    };
    assert_eq!(findings("index.handler"), Vec::<String>::new());
    assert_eq!(findings("esm.handler"), Vec::<String>::new());
    let broken = findings("broken.handler");
    assert_eq!(broken.len(), 1, "{broken:#?}");
    assert!(
        broken[0].starts_with("broken.js:2 `require('sharp')` fails"),
        "{}",
        broken[0]
    );
}
