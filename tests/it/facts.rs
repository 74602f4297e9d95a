//! The runtime facts compiled into layerpack (`src/facts/generated.rs`) must match their source,
//! the in-Lambda dumps in `shared/reference/runtime-facts/`: the generator is run again in memory
//! (`--check`) and, independently of it, the OS library lists and bundled packages are read again
//! here and compared with what the library answers.
//!
//! The source folder is `LAYERPACK_RUNTIME_FACTS`, else `shared/reference/runtime-facts` beside
//! the repository (or beside a parent folder: a git worktree sits deeper). Without it, or without
//! `python3`, the test fails under CI and is skipped with a note elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use layerpack::facts;

use crate::common;
use layerpack::runtime::{Arch, Os, RUNTIMES};

fn source_folder() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LAYERPACK_RUNTIME_FACTS") {
        return Some(PathBuf::from(dir));
    }
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    repository
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/reference/runtime-facts"))
        .find(|dir| dir.is_dir())
}

/// The source folder, or `None` after saying why the test is skipped (a failure under CI).
fn required_source() -> Option<PathBuf> {
    match source_folder() {
        Some(dir) if dir.join("SOURCES.md").is_file() => Some(dir),
        _ => {
            common::unavailable(
                "the runtime facts (../shared/reference/runtime-facts or LAYERPACK_RUNTIME_FACTS) are missing",
            );
            None
        }
    }
}

#[test]
fn generated_facts_match_the_generator_run_on_the_source() {
    let Some(source) = required_source() else {
        return;
    };
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .arg(repository.join("scripts/gen-runtime-facts.py"))
        .arg("--check")
        .arg("--source")
        .arg(&source)
        .arg("--output")
        .arg(repository.join("src/facts/generated.rs"))
        .output();
    match output {
        Ok(output) => assert!(
            output.status.success(),
            "src/facts/generated.rs is stale: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => common::unavailable(&format!(
            "python3 cannot run ({error}); it is needed to check src/facts/generated.rs against its generator"
        )),
    }
}

fn listed_names(path: &Path) -> Vec<String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn os_lists_match_the_dumps() {
    let Some(source) = required_source() else {
        return;
    };
    for (os, key) in [(Os::Al2, "al2"), (Os::Al2023, "al2023")] {
        for arch in Arch::ALL {
            let suffix = if arch == Arch::X86_64 { "" } else { "-arm64" };
            let facts = facts::os_facts(os, arch);
            assert_eq!(
                facts.sonames,
                listed_names(&source.join(format!("{key}-sonames{suffix}.txt"))),
                "{key} {arch} sonames"
            );
            assert_eq!(
                facts.commands,
                listed_names(&source.join(format!("{key}-commands{suffix}.txt"))),
                "{key} {arch} commands"
            );
        }
    }
}

#[test]
fn runtime_additions_and_bundled_packages_match_the_dumps() {
    let Some(source) = required_source() else {
        return;
    };
    let rows = |file: &str| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(source.join(file)).expect(file);
        text.lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .skip(1)
            .map(|line| line.split('\t').map(str::to_string).collect())
            .collect()
    };
    let additions = rows("runtime-lib-additions.tsv");
    let bundled = rows("bundled-packages.tsv");
    for runtime in RUNTIMES {
        for arch in Arch::ALL {
            for dir in runtime.facts().library_dirs(arch) {
                if dir.dir == "/lib64" || dir.dir == "/usr/lib64" {
                    continue;
                }
                let mut expected: Vec<&str> = additions
                    .iter()
                    .filter(|row| {
                        row[0] == runtime.id && row[2] == arch.aws_name() && row[3] == dir.dir
                    })
                    .map(|row| row[4].as_str())
                    .collect();
                expected.sort_unstable();
                expected.dedup();
                assert_eq!(dir.sonames, expected, "{} {arch} {}", runtime.id, dir.dir);
            }
        }
        let expected: Vec<(&str, Option<&str>, &str)> = {
            let mut rows: Vec<_> = bundled
                .iter()
                .filter(|row| row[0] == runtime.id && row[4] != "ABSENT")
                .map(|row| {
                    let version = (row[4] != "unknown").then_some(row[4].as_str());
                    (row[3].as_str(), version, row[5].as_str())
                })
                .collect();
            rows.sort_unstable();
            rows
        };
        let mut actual: Vec<(&str, Option<&str>, &str)> = runtime
            .facts()
            .bundled_packages()
            .iter()
            .map(|package| (package.name, package.version, package.path))
            .collect();
        actual.sort_unstable();
        assert_eq!(actual, expected, "{} bundled packages", runtime.id);
    }
}
