//! CLI snapshots of `build` and `init`: exit status, stdout and stderr together, with temp
//! paths filtered. Bad input must exit 2 with a message naming the file, and leave nothing (or
//! the previous zip, untouched) at the destination.

use crate::common;

use common::{layerpack, write};

use std::path::Path;

/// A temp copy of a fixture; snapshots show it as `[TMP]`.
fn fixture(name: &str) -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    common::copy_tree(&source, temp.path());
    let _ = std::fs::remove_dir_all(temp.path().join("dist"));
    temp
}

#[test]
fn build_prints_path_sizes_and_code_sha256() {
    let temp = fixture("python");
    snapshot!(temp, layerpack(temp.path()).arg("build"));
}

#[test]
fn build_json() {
    let temp = fixture("nodejs");
    snapshot!(
        temp,
        layerpack(temp.path()).args(["build", "--format", "json"])
    );
}

#[test]
fn build_list_and_ignored() {
    let temp = fixture("python");
    std::fs::write(temp.path().join("site-packages/.DS_Store"), b"junk").expect("write");
    snapshot!(temp, layerpack(temp.path()).args(["build", "--list"]));
    snapshot!(
        temp,
        layerpack(temp.path()).args(["build", "--list", "--ignored"])
    );
    assert!(!temp.path().join("dist").exists(), "--list writes nothing");
}

#[test]
fn build_named_layer_only() {
    let temp = fixture("java");
    write(
        &temp.path().join("layer.toml"),
        &(std::fs::read_to_string(temp.path().join("layer.toml")).expect("read")
            + "\n[layer.other]\nruntimes = [\"java21\"]\n[[layer.other.source]]\npath = \"missing\"\n"),
    );
    // Only the named layer is gathered: the other one's missing source does not matter.
    let output = layerpack(temp.path())
        .args(["build", "java-greeter"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(temp.path().join("dist/java-greeter.zip").exists());
    snapshot!(temp, layerpack(temp.path()).args(["build", "nope"]));
}

#[test]
fn missing_source_folder() {
    let temp = fixture("python");
    std::fs::remove_dir_all(temp.path().join("site-packages")).expect("rm");
    snapshot!(temp, layerpack(temp.path()).arg("build"));
    assert!(!temp.path().join("dist/shared-utils.zip").exists());
}

#[test]
fn bad_toml_points_at_the_line() {
    let temp = tempfile::tempdir().expect("temp");
    write(
        &temp.path().join("layer.toml"),
        "[layer.a]\nruntimes = [\"python3.12\"\n",
    );
    snapshot!(temp, layerpack(temp.path()).arg("build"));
}

#[test]
fn unknown_key_points_at_the_line() {
    let temp = tempfile::tempdir().expect("temp");
    write(
        &temp.path().join("layer.toml"),
        "[layer.a]\nruntimes = [\"python3.12\"]\narchitecture = [\"arm64\"]\n",
    );
    snapshot!(temp, layerpack(temp.path()).arg("build"));
}

#[test]
fn unknown_runtime() {
    let temp = tempfile::tempdir().expect("temp");
    write(
        &temp.path().join("layer.toml"),
        "[layer.a]\nruntimes = [\"python3.8\"]\n",
    );
    snapshot!(temp, layerpack(temp.path()).arg("build"));
    std::fs::create_dir_all(temp.path().join("d/python")).expect("mkdir");
    snapshot!(
        temp,
        layerpack(temp.path()).args([
            "build",
            "--dir",
            "d",
            "--runtime",
            "node",
            "--output",
            "x.zip"
        ])
    );
}

#[test]
fn no_config_says_what_to_do() {
    let temp = tempfile::tempdir().expect("temp");
    snapshot!(temp, layerpack(temp.path()).arg("build"));
}

#[test]
fn unwritable_output_directory_leaves_nothing() {
    let temp = fixture("ruby");
    // A regular file where the output folder should be: no one, not even root, can create it.
    std::fs::write(temp.path().join("dist"), b"not a folder").expect("write");
    snapshot!(temp, layerpack(temp.path()).arg("build"));
    assert_eq!(
        std::fs::read(temp.path().join("dist")).expect("read"),
        b"not a folder"
    );
}

#[test]
fn a_failed_build_keeps_the_previous_zip_untouched() {
    let temp = fixture("java");
    let first = layerpack(temp.path()).arg("build").output().expect("run");
    assert!(first.status.success());
    let zip = temp.path().join("dist/java-greeter.zip");
    let before = std::fs::read(&zip).expect("zip");
    std::fs::remove_dir_all(temp.path().join("build")).expect("rm sources");
    let second = layerpack(temp.path()).arg("build").output().expect("run");
    assert_eq!(second.status.code(), Some(2));
    assert_eq!(
        std::fs::read(&zip).expect("zip"),
        before,
        "previous zip untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(temp.path().join("dist"))
        .expect("dist")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "only the zip and its manifest: {leftovers:?}"
    );
}

/// Lint runs while the zip is written beside the output: a layer it refuses must still leave
/// the previous zip and manifest as they were, no temporary behind, and no output folder where
/// there was none.
#[test]
fn a_layer_refused_by_lint_writes_nothing() {
    let temp = fixture("custom");
    let first = layerpack(temp.path()).arg("build").output().expect("run");
    assert!(first.status.success());
    let dist = temp.path().join("dist");
    let zip = dist.join("greet-tools.zip");
    let manifest = dist.join("greet-tools.zip.json");
    let (zip_before, manifest_before) = (
        std::fs::read(&zip).expect("zip"),
        std::fs::read(&manifest).expect("manifest"),
    );
    write(
        &temp.path().join("bin/id_rsa"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n",
    );
    for cache in [true, false] {
        let mut command = layerpack(temp.path());
        command.arg("build");
        if !cache {
            command.arg("--no-cache");
        }
        let refused = command.output().expect("run");
        assert_eq!(refused.status.code(), Some(1), "cache: {cache}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("no zip was written"), "{stderr}");
        assert_eq!(std::fs::read(&zip).expect("zip"), zip_before);
        assert_eq!(std::fs::read(&manifest).expect("manifest"), manifest_before);
        let mut left: Vec<_> = std::fs::read_dir(&dist)
            .expect("dist")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["greet-tools.zip", "greet-tools.zip.json"]);
    }
    std::fs::remove_dir_all(&dist).expect("rm dist");
    let refused = layerpack(temp.path()).arg("build").output().expect("run");
    assert_eq!(refused.status.code(), Some(1));
    assert!(!dist.exists(), "a refused layer creates no output folder");
}

#[test]
fn symlink_leaving_the_layer_is_refused() {
    let temp = fixture("custom");
    std::os::unix::fs::symlink("/etc/passwd", temp.path().join("bin/passwd")).expect("symlink");
    snapshot!(temp, layerpack(temp.path()).arg("build"));
}

#[test]
fn a_symlink_to_a_folder_is_packed_as_a_link_and_never_walked_into() {
    let temp = tempfile::tempdir().expect("temp");
    write(&temp.path().join("python/app/a.py"), "A = 1\n");
    // At the top of the layer and deeper: the folder's files are packed once, at their own path.
    std::os::unix::fs::symlink("python/app", temp.path().join("app")).expect("symlink");
    std::os::unix::fs::symlink("app", temp.path().join("python/current")).expect("symlink");
    let gathered = layerpack::gather::gather_dir(temp.path(), &[]).expect("gather");
    let entries: Vec<(&str, &layerpack::inventory::EntryKind)> = gathered
        .inventory
        .entries()
        .iter()
        .map(|entry| (entry.path.as_str(), &entry.kind))
        .collect();
    let link = |target: &str| layerpack::inventory::EntryKind::Symlink {
        target: target.to_string(),
    };
    use layerpack::inventory::EntryKind::{Dir, File};
    assert_eq!(
        entries,
        [
            ("app", &link("python/app")),
            ("python", &Dir),
            ("python/app", &Dir),
            ("python/app/a.py", &File),
            ("python/current", &link("app")),
        ]
    );
}

#[test]
fn two_sources_with_different_bytes_at_one_path() {
    let temp = fixture("custom");
    write(&temp.path().join("more/greet"), "#!/bin/sh\necho other\n");
    let config = std::fs::read_to_string(temp.path().join("layer.toml")).expect("read")
        + "\n[[layer.greet-tools.source]]\npath = \"more\"\ninto = \"bin\"\n";
    write(&temp.path().join("layer.toml"), &config);
    snapshot!(temp, layerpack(temp.path()).arg("build"));
}

#[test]
fn unreadable_file_names_the_file() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let temp = fixture("custom");
    let secret = temp.path().join("bin/unreadable");
    std::fs::write(&secret, b"x").expect("write");
    let mut command = layerpack(temp.path());
    command.args(["build", "--no-cache"]);
    // Root reads a mode-000 file anyway (CI runs as root): then build as `nobody`, from a copy
    // of the binary it may run, over a tree it may read and write except for that one file.
    let runner = tempfile::tempdir().expect("temp dir");
    let as_root = std::fs::read(&secret).is_ok();
    if as_root {
        let binary = runner.path().join("layerpack");
        std::fs::copy(insta_cmd::get_cargo_bin("layerpack"), &binary).expect("copy binary");
        for dir in [runner.path(), temp.path()] {
            for entry in walkdir::WalkDir::new(dir) {
                let entry = entry.expect("walk");
                let mode = if entry.file_type().is_dir() {
                    0o777
                } else {
                    0o755
                };
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))
                    .expect("chmod");
            }
        }
        command = std::process::Command::new(&binary);
        command
            .current_dir(temp.path())
            .env("NO_COLOR", "1")
            .env_remove("SOURCE_DATE_EPOCH")
            .args(["build", "--no-cache"])
            .uid(65534)
            .gid(65534);
    }
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    snapshot!(temp, command);
    assert!(!temp.path().join("dist/greet-tools.zip").exists());
}

#[test]
fn a_file_that_cannot_be_read_while_zipping_is_an_error_naming_it() {
    let temp = fixture("custom");
    let gathered = layerpack::gather::gather_dir(temp.path(), &[]).expect("gather");
    std::fs::remove_file(temp.path().join("bin/greet")).expect("rm");
    let err =
        layerpack::archive::prepare(&gathered.inventory, layerpack::archive::DosDateTime::EPOCH)
            .err()
            .expect("reading a vanished file fails");
    assert_eq!(err.exit_code(), 2);
    let message = err.to_string();
    assert!(message.contains("bin/greet"), "{message}");
}

#[test]
fn init_writes_a_config_that_builds() {
    let temp = tempfile::tempdir().expect("temp");
    snapshot!(
        temp,
        layerpack(temp.path()).args(["init", "--runtime", "python3.12"])
    );
    let config = std::fs::read_to_string(temp.path().join("layer.toml")).expect("written");
    assert!(config.contains("runtimes = [\"python3.12\"]"));
    std::fs::create_dir_all(temp.path().join("build/python/pkg")).expect("mkdir");
    std::fs::write(temp.path().join("build/python/pkg/__init__.py"), b"").expect("write");
    let build = layerpack(temp.path()).arg("build").output().expect("run");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    assert!(temp.path().join("dist/my-layer.zip").exists());
    // A second init does not overwrite.
    snapshot!(temp, layerpack(temp.path()).args(["init"]));
}

#[test]
fn build_lints_the_modes_it_ships_not_the_ones_on_disk() {
    use std::os::unix::fs::PermissionsExt;
    let temp = fixture("java");
    let layer = temp.path().join("layer");
    common::copy_tree(&temp.path().join("build"), &layer);
    let jar = layer.join("java/lib/greeter.jar");
    std::fs::set_permissions(&jar, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // Checked as a folder, the mode is a finding: zipped as is, Lambda could not read the jar.
    let check = layerpack(temp.path())
        .args(["check", "layer", "--runtime", "java21", "--format", "json"])
        .output()
        .expect("run");
    let checked: serde_json::Value = serde_json::from_slice(&check.stdout).expect("json");
    assert!(
        checked["findings"]
            .as_array()
            .expect("array")
            .iter()
            .any(|f| f["code"] == "HYG004"),
        "{checked}"
    );
    // Built, the zip carries 0644, so the same folder gives no finding.
    let output = layerpack(temp.path())
        .args([
            "build",
            "--dir",
            "layer",
            "--runtime",
            "java21",
            "--output",
            "out.zip",
        ])
        .args(["--format", "json"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let built: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        built["layers"][0]["findings"],
        serde_json::json!([]),
        "{built}"
    );
    let inventory =
        layerpack::inventory::Inventory::from_zip(&temp.path().join("out.zip")).expect("read");
    let entry = inventory.get("java/lib/greeter.jar").expect("jar in zip");
    assert_eq!(entry.mode, Some(0o644));
}

#[test]
fn layerignore_files_in_source_roots_and_beside_layer_toml() {
    let temp = fixture("python");
    // Beside layer.toml: archive paths. In a source root: paths relative to that source.
    write(
        &temp.path().join(".layerignore"),
        "# leave out licenses, but keep six's\n**/LICENSE\n!python/six-1.17.0.dist-info/LICENSE\n*.txt\n",
    );
    write(&temp.path().join("site-packages/.layerignore"), "/six.py\n");
    write(&temp.path().join("site-packages/notes/LICENSE"), "MIT\n");
    snapshot!(
        temp,
        layerpack(temp.path()).args(["build", "--list", "--ignored"])
    );
    let listed = layerpack(temp.path())
        .args(["build", "--list"])
        .output()
        .expect("run");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("python/six-1.17.0.dist-info/LICENSE\n"),
        "re-included: {listed}"
    );
    assert!(
        !listed.contains("python/six.py"),
        "anchored in the source root: {listed}"
    );
    assert!(
        !listed.contains("top_level.txt"),
        "*.txt beside layer.toml: {listed}"
    );
    assert!(!listed.contains("notes/LICENSE"), "**/LICENSE: {listed}");
    assert!(
        !listed.contains(".layerignore"),
        "ignore files never ship: {listed}"
    );
}

#[test]
fn a_source_containing_the_output_folder_never_packs_its_own_zip() {
    let temp = tempfile::tempdir().expect("temp");
    write(
        &temp.path().join("layer.toml"),
        "[layer.self]\nruntimes = [\"provided.al2023\"]\noutput = \"bin/self.zip\"\n\
         [[layer.self.source]]\npath = \"bin\"\ninto = \"bin\"\n",
    );
    write(&temp.path().join("bin/tool"), "#!/bin/sh\n");
    use std::os::unix::fs::PermissionsExt;
    let tool = temp.path().join("bin/tool");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let first = layerpack(temp.path()).arg("build").output().expect("run");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first_zip = std::fs::read(temp.path().join("bin/self.zip")).expect("zip");
    // The second build sees bin/self.zip and bin/self.zip.json in its source, and leaves both out.
    let second = layerpack(temp.path()).arg("build").output().expect("run");
    assert!(second.status.success());
    assert_eq!(
        std::fs::read(temp.path().join("bin/self.zip")).expect("zip"),
        first_zip
    );
    let listed = layerpack(temp.path())
        .args(["build", "--list"])
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "bin/\nbin/tool\n");
}
