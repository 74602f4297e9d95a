//! Generates one `#[test]` per fixture case for the integration tests (`tests/it/`).
//!
//! `tests/fixtures/rules/<CODE>/<case>/` becomes `rules::<CODE>__<case>` and
//! `tests/fixtures/why/<case>/case.toml` becomes `why::case_<case>`, so a test filter such as
//! `cargo test BIN004` selects exactly one rule's cases, and a new case folder is a new test
//! without touching any list.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    let fixtures = Path::new("tests/fixtures");

    let mut rule_cases = String::new();
    let mut rule_list = String::new();
    for code in sorted_folders(&fixtures.join("rules")) {
        for case in sorted_folders(&fixtures.join("rules").join(&code)) {
            writeln!(rule_list, "    \"{code}/{case}\",").expect("write to a String");
            writeln!(
                rule_cases,
                "rule_case!({}__{}, {code:?}, {case:?});",
                identifier(&code),
                identifier(&case)
            )
            .expect("write to a String");
        }
    }
    writeln!(rule_cases, "const RULE_CASES: &[&str] = &[\n{rule_list}];")
        .expect("write to a String");
    write(&Path::new(&out_dir).join("rule_cases.rs"), &rule_cases);

    let mut why_cases = String::new();
    let mut why_list = String::new();
    // A why case is a folder with a `case.toml`; other folders there hold shared trees.
    let why_root = fixtures.join("why");
    let why_folders = sorted_folders(&why_root);
    for case in why_folders
        .iter()
        .filter(|case| why_root.join(case).join("case.toml").is_file())
    {
        writeln!(why_cases, "why_case!(case_{}, {case:?});", identifier(case))
            .expect("write to a String");
        writeln!(why_list, "    {case:?},").expect("write to a String");
    }
    writeln!(why_cases, "const WHY_CASES: &[&str] = &[\n{why_list}];").expect("write to a String");
    write(&Path::new(&out_dir).join("why_cases.rs"), &why_cases);

    println!("cargo::rerun-if-changed=tests/fixtures/rules");
    println!("cargo::rerun-if-changed=tests/fixtures/why");
}

/// The names of the folders directly inside `dir`, sorted; none when `dir` is absent (a
/// packaged crate has no tests folder).
fn sorted_folders(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            entry.file_type().ok()?.is_dir().then_some(())?;
            entry.file_name().into_string().ok()
        })
        .collect();
    names.sort();
    names
}

/// A folder name as part of a Rust identifier: anything but ASCII letters and digits becomes `_`.
fn identifier(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn write(path: &Path, text: &str) {
    // Rewrite only on change, so an unchanged list does not rebuild the tests.
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    std::fs::write(path, text).unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
}
