//! The import rules of the crate, checked mechanically: the modules form a pipeline, command
//! line → commands → stages → facts, and no arrow runs back.
//!
//! Each rule names the files it governs and the paths they must not import; a violation names
//! the file and line. Every dependency in `Cargo.toml` must be used by the library or binary.

use std::path::{Path, PathBuf};

fn source_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|entry| entry.expect("walk src").into_path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read source");
            let relative = path
                .strip_prefix(root.parent().expect("crate root"))
                .expect("inside the crate")
                .to_string_lossy()
                .replace('\\', "/");
            (relative, text)
        })
        .collect()
}

/// Lines of the files `governed` selects that mention one of `forbidden`.
fn violations(governed: impl Fn(&str) -> bool, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in source_files() {
        if !governed(&path) {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for needle in forbidden {
                if code.contains(needle) {
                    found.push(format!("{path}:{}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn only_the_command_line_and_the_commands_import_cli_and_commands() {
    let outside = |path: &str| {
        path != "src/cli.rs" && path != "src/main.rs" && !path.starts_with("src/commands/")
    };
    let found = violations(outside, &["crate::cli", "crate::commands"]);
    assert!(
        found.is_empty(),
        "stages import the command line:\n{}",
        found.join("\n")
    );
}

#[test]
fn resolve_does_not_import_rules() {
    let found = violations(|path| path.starts_with("src/resolve/"), &["crate::rules"]);
    assert!(
        found.is_empty(),
        "resolve imports rules:\n{}",
        found.join("\n")
    );
}

#[test]
fn rules_do_not_import_report_or_gather_nor_read_the_environment() {
    let found = violations(
        |path| path.starts_with("src/rules/"),
        &["crate::report", "crate::gather", "std::env", "from_env("],
    );
    assert!(
        found.is_empty(),
        "a rule reaches past its context:\n{}",
        found.join("\n")
    );
}

#[test]
fn commands_do_not_import_each_other_for_facts() {
    let found = violations(
        |path| path == "src/commands/diff.rs",
        &["commands::inspect"],
    );
    assert!(
        found.is_empty(),
        "diff imports inspect:\n{}",
        found.join("\n")
    );
}

/// Dependencies no source names, each with the reason it is declared.
const DECLARED_FOR_FEATURES: &[(&str, &str)] = &[(
    "flate2",
    "chooses the zlib-rs backend of the deflate that `zip` reads entries with",
)];

#[test]
fn every_dependency_is_used() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("Cargo.toml");
    let manifest: toml::Table = toml::from_str(&manifest).expect("Cargo.toml parses");
    let dependencies = manifest["dependencies"].as_table().expect("[dependencies]");
    let sources: String = source_files().into_iter().map(|(_, text)| text).collect();
    let unused: Vec<&String> = dependencies
        .keys()
        .filter(|name| {
            !DECLARED_FOR_FEATURES
                .iter()
                .any(|(declared, _)| declared == name)
        })
        .filter(|name| {
            let module = name.replace('-', "_");
            !sources.contains(&format!("{module}::")) && !sources.contains(&format!("use {module}"))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "dependencies no source file uses: {unused:?}"
    );
}

#[test]
fn settings_loading_and_facts_do_not_import_the_rules() {
    let below_rules = |path: &str| {
        path == "src/config.rs"
            || path == "src/gather.rs"
            || path == "src/finding.rs"
            || path == "src/runtime.rs"
            || path.starts_with("src/domain/")
            || path.starts_with("src/facts/")
    };
    let found = violations(
        below_rules,
        &["crate::rules", "crate::lint", "crate::report"],
    );
    assert!(
        found.is_empty(),
        "a module below the rules imports them:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_integration_tests_are_one_binary() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files: Vec<String> = std::fs::read_dir(&tests)
        .expect("tests/")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    files.sort();
    assert!(
        files.is_empty(),
        "files at the top of tests/ each build a test binary; put them under tests/it/: {files:?}"
    );
}
