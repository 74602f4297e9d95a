//! Getting layerpack into a user's setup: shell completions, and finding `layer.toml` by walking
//! up from the current folder (as cargo finds `Cargo.toml`) for `build`, `check` and `why`.

use crate::common;

use std::process::Command;

use common::{layerpack, write};

/// A project with one layer and one function, checked from a sub-folder of it.
fn project() -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    write(
        &temp.path().join("layer.toml"),
        r#"
[layer.utils]
runtimes = ["python3.12"]
output = "dist/utils.zip"

[[layer.utils.source]]
path = "src"
into = "python"

[function.api]
runtime = "python3.12"
code = "function"
layers = ["utils"]
"#,
    );
    write(&temp.path().join("src/app_utils.py"), "x = 1\n");
    write(&temp.path().join("src/Notes.txt"), "");
    write(&temp.path().join("src/notes.txt"), "");
    write(&temp.path().join("function/app.py"), "import app_utils\n");
    std::fs::create_dir_all(temp.path().join("function/handlers/deep")).expect("mkdir");
    temp
}

#[test]
fn check_finds_layer_toml_in_a_folder_above() {
    let temp = project();
    snapshot!(
        temp,
        layerpack(&temp.path().join("function/handlers/deep")).arg("check")
    );
}

#[test]
fn build_finds_layer_toml_in_a_folder_above_and_writes_beside_it() {
    let temp = project();
    snapshot!(
        temp,
        layerpack(&temp.path().join("function/handlers")).arg("build")
    );
    assert!(temp.path().join("dist/utils.zip").is_file());
    assert!(!temp.path().join("function/handlers/dist").exists());
}

#[test]
fn why_finds_the_function_of_layer_toml_above() {
    let temp = project();
    let output = layerpack(&temp.path().join("function/handlers/deep"))
        .args(["why", "app_utils", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let explanation: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(explanation["runtime"], "python3.12", "{explanation}");
    assert_eq!(explanation["resolved"], true, "{explanation}");
}

/// The nearest file wins, and `--config` wins over discovery.
#[test]
fn nearest_layer_toml_wins_and_config_flag_overrides() {
    let temp = project();
    let nested = temp.path().join("function/handlers");
    write(
        &nested.join("layer.toml"),
        "[layer.inner]\nruntimes = [\"nodejs20.x\"]\n\n[[layer.inner.source]]\npath = \"node\"\ninto = \"nodejs/node_modules\"\n",
    );
    write(
        &nested.join("node/left-pad/index.js"),
        "module.exports = 1;\n",
    );
    let names = |args: &[&str]| -> Vec<String> {
        let output = layerpack(&nested.join("deep"))
            .args(["check", "--format", "json"])
            .args(args)
            .output()
            .expect("run");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("{err}: {output:?}"));
        let mut layers: Vec<String> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|finding| finding["layer"].as_str().expect("layer").to_string())
            .collect();
        layers.dedup();
        layers
    };
    assert!(names(&[]).is_empty(), "the inner layer is clean");
    assert_eq!(names(&["--config", "../../../layer.toml"]), ["utils"]);
}

#[test]
fn completion_scripts_name_the_commands_and_flags() {
    let temp = tempfile::tempdir().expect("temp dir");
    for (shell, marker) in [
        ("bash", "complete -F _layerpack"),
        ("zsh", "#compdef layerpack"),
        ("fish", "complete -c layerpack"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[layerpack]"),
    ] {
        let output = layerpack(temp.path())
            .args(["completions", shell])
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(0), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).expect("utf-8");
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for word in ["check", "build", "why", "completions", "runtime"] {
            assert!(script.contains(word), "{shell}: no `{word}`");
        }
    }
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let temp = tempfile::tempdir().expect("temp dir");
    snapshot!(temp, layerpack(temp.path()).args(["completions", "tcsh"]));
}

/// The bash script, loaded into a real bash, completes a subcommand and a flag's values.
#[test]
fn bash_completes_subcommands_and_flag_values() {
    let temp = tempfile::tempdir().expect("temp dir");
    if Command::new("bash").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "bash is missing under CI");
        eprintln!("skipped: bash is not installed");
        return;
    }
    let script = layerpack(temp.path())
        .args(["completions", "bash"])
        .output()
        .expect("run")
        .stdout;
    std::fs::write(temp.path().join("layerpack.bash"), script).expect("write");
    let complete = |words: &str| -> String {
        let program = format!(
            "source ./layerpack.bash\nCOMP_WORDS=({words})\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
             COMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
             _layerpack layerpack \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let output = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .current_dir(temp.path())
            .output()
            .expect("run bash");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let subcommands = complete("layerpack ch");
    assert_eq!(subcommands.trim(), "check");
    let formats = complete("layerpack check --format ''");
    let mut formats: Vec<&str> = formats.split_whitespace().collect();
    formats.sort_unstable();
    assert_eq!(formats, ["github", "human", "json", "sarif"]);
}
