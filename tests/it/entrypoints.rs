//! Layers whose content Lambda starts by itself — custom runtimes (`bootstrap`), extensions
//! (`extensions/`), exec wrappers — checked as a user would: realistic healthy layers laid out
//! like AWS's own must come out clean (no LAY001, no EXT), broken ones fail with the `EXT`
//! rules, the `init` templates pass `check`, and the 10-extension limit is a stack check.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::{self, elf::ElfSpec, layerpack, write};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn write_script(path: &Path, text: &str) {
    write(path, text);
    chmod(path, 0o755);
}

/// A small x86_64 program (dynamically linked against glibc), with `trailing` appended the way a
/// Go binary carries its default paths in its data.
fn write_program(path: &Path, trailing: &str) {
    let spec = ElfSpec {
        path: String::new(),
        kind: Some("exec".to_string()),
        interpreter: Some("/lib64/ld-linux-x86-64.so.2".to_string()),
        needed: vec!["libc.so.6".to_string()],
        glibc: vec!["GLIBC_2.17".to_string()],
        ..ElfSpec::default()
    };
    let mut bytes = common::elf::build(&spec);
    bytes.extend_from_slice(trailing.as_bytes());
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write program");
    chmod(path, 0o755);
}

/// An extension layer laid out like AWS's: a shell-script extension that execs its agent in
/// `/opt/bin` with a config folder named by full path (as the Parameters and Secrets and sample
/// extensions are), a Go-style collector binary that reads `/opt/collector-config/` (as the
/// OpenTelemetry collector layer does), and the sample-extension pattern
/// `/opt/${LAMBDA_EXTENSION_NAME}/extension.py`.
fn healthy_extension_layer(root: &Path) {
    write_script(
        &root.join("extensions/secrets-agent"),
        "#!/bin/bash\nset -euo pipefail\n\
         exec /opt/bin/secrets-agent --config /opt/secrets-agent-config/agent.yaml\n",
    );
    write_program(&root.join("bin/secrets-agent"), "");
    write(
        &root.join("secrets-agent-config/agent.yaml"),
        "port: 2773\ncache_ttl: 300\n",
    );
    write_program(
        &root.join("extensions/collector"),
        "\0--config=/opt/collector-config/config.yaml\0",
    );
    write(
        &root.join("collector-config/config.yaml"),
        "receivers: {}\n",
    );
    write_script(
        &root.join("extensions/python-example-extension"),
        "#!/bin/bash\nset -euo pipefail\nLAMBDA_EXTENSION_NAME=\"$(basename \"$0\")\"\n\
         exec \"/opt/${LAMBDA_EXTENSION_NAME}/extension.py\"\n",
    );
    write_script(
        &root.join("python-example-extension/extension.py"),
        "#!/usr/bin/env python3\nprint('registering')\n",
    );
}

/// A custom-runtime layer: `bootstrap` hands over to the runtime binary in `bin/`, which reads
/// its settings from `/opt/runtime-config/`; a shared library in `lib/`.
fn healthy_bootstrap_layer(root: &Path) {
    write_script(
        &root.join("bootstrap"),
        "#!/bin/sh\nset -eu\nexport RUNTIME_CONFIG=/opt/runtime-config/settings.json\n\
         exec /opt/bin/my-runtime \"$@\"\n",
    );
    write_program(&root.join("bin/my-runtime"), "");
    write(&root.join("runtime-config/settings.json"), "{}\n");
}

/// Runs `check --format json` and returns (exit status, the findings' `CODE path` lines).
fn check_codes(dir: &Path, args: &[&str]) -> (i32, Vec<String>) {
    let output = layerpack(dir)
        .arg("check")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run check");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "check printed no JSON ({err}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let codes = value["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            format!(
                "{} {}",
                finding["code"].as_str().unwrap_or(""),
                finding["path"].as_str().unwrap_or("")
            )
        })
        .collect();
    (output.status.code().unwrap_or(-1), codes)
}

/// True when `tool` runs; with `CI` set a missing tool fails the test instead.
fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool).arg("-v").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing in CI: .ci/run installs it"
        );
        eprintln!("{tool} not installed: skipped");
    }
    found
}

#[test]
fn healthy_extension_layer_is_clean_on_every_kind_of_runtime() {
    let temp = tempfile::tempdir().expect("temp");
    healthy_extension_layer(&temp.path().join("layer"));
    for runtime in ["python3.12", "nodejs20.x", "java21", "provided.al2023"] {
        let (status, codes) = check_codes(temp.path(), &["layer", "--runtime", runtime]);
        assert_eq!((status, codes), (0, Vec::new()), "{runtime}");
    }
    // And with no flags at all (runtime and architecture assumed), as a zip built by layerpack.
    let (status, codes) = check_codes(temp.path(), &["layer"]);
    assert_eq!((status, codes), (0, Vec::new()));
    let build = layerpack(temp.path())
        .args([
            "build",
            "--dir",
            "layer",
            "--runtime",
            "python3.12",
            "--output",
            "ext.zip",
        ])
        .output()
        .expect("build");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let (status, codes) = check_codes(temp.path(), &["ext.zip", "--runtime", "python3.12"]);
    assert_eq!((status, codes), (0, Vec::new()));
}

#[test]
fn healthy_bootstrap_layer_is_clean() {
    let temp = tempfile::tempdir().expect("temp");
    healthy_bootstrap_layer(&temp.path().join("layer"));
    for args in [
        &["layer", "--runtime", "provided.al2023"][..],
        &["layer", "--runtime", "provided.al2"],
        &["layer"],
    ] {
        let (status, codes) = check_codes(temp.path(), args);
        assert_eq!((status, codes), (0, Vec::new()), "{args:?}");
    }
}

#[test]
fn entry_points_zipped_by_info_zip_keep_or_lose_their_execute_bit() {
    if !tool_available("zip") {
        return;
    }
    let temp = tempfile::tempdir().expect("temp");
    let layer = temp.path().join("layer");
    healthy_bootstrap_layer(&layer);
    healthy_extension_layer(&layer);
    let zip = |name: &str| {
        let status = Command::new("zip")
            .args(["-q", "-r", "-X", &format!("../{name}"), "."])
            .current_dir(&layer)
            .status()
            .expect("run zip");
        assert!(status.success());
    };
    zip("good.zip");
    let (status, codes) = check_codes(temp.path(), &["good.zip", "--runtime", "provided.al2023"]);
    assert_eq!((status, codes), (0, Vec::new()));

    chmod(&layer.join("bootstrap"), 0o644);
    chmod(&layer.join("extensions/collector"), 0o644);
    zip("modes.zip");
    let (status, codes) = check_codes(temp.path(), &["modes.zip", "--runtime", "provided.al2023"]);
    assert_eq!(status, 1);
    assert_eq!(codes, ["EXT001 bootstrap", "EXT001 extensions/collector"]);
}

#[test]
fn python_extension_on_a_runtime_without_python3() {
    let temp = tempfile::tempdir().expect("temp");
    write_script(
        &temp.path().join("layer/extensions/telemetry"),
        "#!/usr/bin/env python3\nimport json\n",
    );
    let (status, codes) = check_codes(temp.path(), &["layer", "--runtime", "python3.12"]);
    assert_eq!((status, codes), (0, Vec::new()));
    for runtime in ["provided.al2023", "nodejs20.x", "provided.al2"] {
        let (status, codes) = check_codes(temp.path(), &["layer", "--runtime", runtime]);
        assert_eq!(status, 1, "{runtime}");
        assert_eq!(codes, ["EXT002 extensions/telemetry"], "{runtime}");
    }
}

#[test]
fn exec_wrapper_is_checked_when_the_function_names_it() {
    let temp = tempfile::tempdir().expect("temp");
    write(
        &temp.path().join("layer/otel-instrument"),
        "#!/bin/bash\r\nexec \"$@\"\r\n",
    );
    write(&temp.path().join("layer/python/otel/__init__.py"), "");
    let wrapper = ["--env", "AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument"];
    let (status, codes) = check_codes(
        temp.path(),
        &[&["layer", "--runtime", "python3.12"][..], &wrapper].concat(),
    );
    assert_eq!(status, 1);
    assert_eq!(codes, ["EXT001 otel-instrument", "EXT003 otel-instrument"]);
    // Not named by the function: Lambda never starts it, it is only an unread file.
    let (status, codes) = check_codes(temp.path(), &["layer", "--runtime", "python3.12"]);
    assert_eq!(
        (status, codes),
        (0, vec!["LAY001 otel-instrument".to_string()])
    );
    // The OS-only runtimes ignore the variable.
    let (status, codes) = check_codes(
        temp.path(),
        &[&["layer", "--runtime", "provided.al2023"][..], &wrapper].concat(),
    );
    assert_eq!(status, 0);
    assert!(
        !codes.iter().any(|code| code.starts_with("EXT")),
        "{codes:?}"
    );
}

#[test]
fn function_env_in_layer_toml_names_the_wrapper() {
    let temp = tempfile::tempdir().expect("temp");
    let root = temp.path();
    write(
        &root.join("otel/otel-instrument"),
        "#!/bin/bash\nexec \"$@\"\n",
    );
    chmod(&root.join("otel/otel-instrument"), 0o644);
    write(
        &root.join("layer.toml"),
        "[function.api]\nruntime = \"python3.12\"\nlayers = [\"otel\"]\n\
         env = { AWS_LAMBDA_EXEC_WRAPPER = \"/opt/otel-instrument\" }\n",
    );
    let (status, codes) = check_codes(root, &[]);
    assert_eq!(status, 1);
    assert_eq!(codes, ["EXT001 otel-instrument"]);
}

#[test]
fn more_than_ten_extensions_over_a_function_is_an_error() {
    let temp = tempfile::tempdir().expect("temp");
    let root = temp.path();
    write(&root.join("function/app.py"), "def handler(e, c): pass\n");
    for (layer, names) in [
        (
            "observability",
            &["collector", "logs", "metrics", "traces", "profiler"][..],
        ),
        ("security", &["secrets", "firewall", "audit"]),
        ("config", &["appconfig", "flags", "params"]),
    ] {
        for name in names {
            write_script(
                &root.join(format!("{layer}/extensions/{name}")),
                &format!("#!/bin/sh\nexec /opt/bin/{name}-agent\n"),
            );
        }
    }
    let args = [
        "--function",
        "function",
        "--runtime",
        "python3.12",
        "observability",
        "security",
    ];
    let (status, codes) = check_codes(root, &args);
    assert!(
        !codes.iter().any(|code| code.starts_with("EXT005")),
        "{codes:?}"
    );
    assert_eq!(status, 0, "{codes:?}");
    crate::snapshot!(
        temp,
        layerpack(root)
            .args(["check", "--function", "function", "--runtime", "python3.12"])
            .args(["observability", "security", "config"])
    );
}

#[test]
fn init_bootstrap_template_passes_check_and_builds() {
    let temp = tempfile::tempdir().expect("temp");
    crate::snapshot!(
        temp,
        layerpack(temp.path()).args([
            "init",
            "--runtime",
            "provided.al2023",
            "--name",
            "shell-runtime"
        ])
    );
    let bootstrap = temp.path().join("runtime/bootstrap");
    let mode = std::fs::metadata(&bootstrap)
        .expect("bootstrap written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let (status, codes) = check_codes(temp.path(), &[]);
    assert_eq!((status, codes), (0, Vec::new()));
    let build = layerpack(temp.path()).arg("build").output().expect("build");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let zip = temp.path().join("dist/shell-runtime.zip");
    let (status, codes) = check_codes(temp.path(), &[zip.to_str().expect("utf-8")]);
    assert_eq!((status, codes), (0, Vec::new()));
    let why = layerpack(temp.path())
        .args(["why", "bootstrap", "--runtime", "provided.al2023"])
        .arg(&zip)
        .output()
        .expect("why");
    assert_eq!(
        why.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&why.stdout)
    );
}

#[test]
fn init_extension_template_passes_check_and_builds() {
    let temp = tempfile::tempdir().expect("temp");
    crate::snapshot!(
        temp,
        layerpack(temp.path()).args(["init", "--extension", "telemetry-agent"])
    );
    let config = std::fs::read_to_string(temp.path().join("layer.toml")).expect("layer.toml");
    assert!(config.contains("[layer.telemetry-agent]"), "{config}");
    let (status, codes) = check_codes(temp.path(), &[]);
    assert_eq!((status, codes), (0, Vec::new()));
    let build = layerpack(temp.path()).arg("build").output().expect("build");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let zip = temp.path().join("dist/telemetry-agent.zip");
    let why = layerpack(temp.path())
        .args([
            "why",
            "extension:telemetry-agent",
            "--runtime",
            "python3.12",
            "--format",
            "json",
        ])
        .arg(&zip)
        .output()
        .expect("why");
    let value: serde_json::Value = serde_json::from_slice(&why.stdout).expect("JSON");
    assert_eq!(value["location"], "/opt/extensions/telemetry-agent");
    assert_eq!(why.status.code(), Some(0));
    // A second init does not overwrite the extension.
    let again = layerpack(temp.path())
        .args(["init", "--extension", "telemetry-agent"])
        .output()
        .expect("init");
    assert_eq!(again.status.code(), Some(2));
}
