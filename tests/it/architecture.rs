//! The import rules of the crate, checked mechanically: the modules form a pipeline, command
//! line → commands → stages → facts, and no arrow runs back.
//!
//! Each rule names the files it governs and the paths they must not import; a violation names
//! the file and line. Every dependency in `Cargo.toml` must be used by the library or binary.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
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

/// Arrows between top-level modules that are allowed to run against the pipeline, each with
/// why; every other arrow that closes a cycle fails the test.
const BOTH_WAYS: &[(&str, &str, &str)] = &[(
    "commands",
    "cli",
    "the command line dispatches to the commands, which read their arguments' types from it",
)];

/// The top-level module a source file belongs to (`src/NAME.rs` or `src/NAME/…`); `None` for
/// the crate roots, `lib.rs` and `main.rs` (the binary, a crate of its own).
fn top_module(path: &str) -> Option<&str> {
    let inside = path.strip_prefix("src/")?;
    let module = match inside.split_once('/') {
        Some((folder, _)) => folder,
        None => inside.strip_suffix(".rs")?,
    };
    (module != "lib" && module != "main").then_some(module)
}

/// The first segment of every `crate::` path in `code` (comments removed), with its byte
/// offset; a group `crate::{a::x, b}` names `a` and `b`.
fn crate_path_heads(code: &str) -> Vec<(usize, &str)> {
    let identifier = |text: &str| {
        text.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(text.len())
    };
    let mut heads = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c == '$' || c == '_' || c.is_alphanumeric()) {
            continue;
        }
        let start = at + "crate::".len();
        let rest = &code[start..];
        if !rest.starts_with('{') {
            heads.push((at, &rest[..identifier(rest)]));
            continue;
        }
        // A group: the identifiers that open each item at the group's own depth.
        let mut depth = 0;
        let mut item_starts = true;
        for (offset, c) in rest.char_indices() {
            match c {
                '{' => {
                    depth += 1;
                    item_starts = depth == 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => item_starts = true,
                c if c.is_whitespace() => {}
                _ if item_starts && depth == 1 => {
                    let item = &rest[offset..];
                    heads.push((start + offset, &item[..identifier(item)]));
                    item_starts = false;
                }
                _ => item_starts = false,
            }
        }
    }
    heads.retain(|(_, head)| !head.is_empty());
    heads
}

/// The import graph of the crate's top-level modules: for each module, the modules its files
/// name through `crate::` paths, each with the first place (`file:line`) that names it.
fn module_graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let files = source_files();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|(path, _)| top_module(path).map(str::to_string))
        .collect();
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = modules
        .iter()
        .map(|module| (module.clone(), BTreeMap::new()))
        .collect();
    for (path, text) in &files {
        let Some(module) = top_module(path) else {
            continue;
        };
        let code: Vec<&str> = text
            .lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect();
        let code = code.join("\n");
        for (at, head) in crate_path_heads(&code) {
            if head == module || !modules.contains(head) {
                continue;
            }
            let line = code[..at].matches('\n').count() + 1;
            graph
                .get_mut(module)
                .expect("every module is a node")
                .entry(head.to_string())
                .or_insert_with(|| format!("{path}:{line}"));
        }
    }
    for (from, to, _) in BOTH_WAYS {
        if let Some(arrows) = graph.get_mut(*from) {
            arrows.remove(*to);
        }
    }
    graph
}

/// One shortest cycle through each group of modules that import each other, as
/// `a → b (where) → … → a (where)`.
fn import_cycles(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<String> {
    let mut cycles = Vec::new();
    let mut in_a_reported_cycle: BTreeSet<&str> = BTreeSet::new();
    for start in graph.keys() {
        if in_a_reported_cycle.contains(start.as_str()) {
            continue;
        }
        // Breadth first from `start`, remembering each module's predecessor, until `start`
        // is reached again.
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue: VecDeque<&str> = VecDeque::from([start.as_str()]);
        let mut closed = false;
        while let Some(module) = queue.pop_front() {
            for next in graph[module].keys() {
                if next == start {
                    came_from.insert(start, module);
                    closed = true;
                    break;
                }
                if !came_from.contains_key(next.as_str()) {
                    came_from.insert(next, module);
                    queue.push_back(next);
                }
            }
            if closed {
                break;
            }
        }
        if !closed {
            continue;
        }
        let mut path = vec![start.as_str()];
        let mut module = came_from[start.as_str()];
        while module != start {
            path.push(module);
            module = came_from[module];
        }
        path.push(start);
        path.reverse();
        let mut text = path[0].to_string();
        for pair in path.windows(2) {
            text.push_str(&format!(" → {} ({})", pair[1], graph[pair[0]][pair[1]]));
        }
        cycles.push(text);
        in_a_reported_cycle.extend(path);
    }
    cycles
}

#[test]
fn the_modules_import_each_other_without_a_cycle() {
    let cycles = import_cycles(&module_graph());
    assert!(
        cycles.is_empty(),
        "top-level modules import each other in a cycle (each arrow with the first place that \
         makes it):\n{}",
        cycles.join("\n")
    );
}

/// The dumps are the floor of the pipeline: the runtime table reads them, they read nothing.
#[test]
fn the_runtime_facts_import_no_other_module() {
    let graph = module_graph();
    let arrows: Vec<String> = graph["facts"]
        .iter()
        .map(|(to, place)| format!("facts → {to} ({place})"))
        .collect();
    assert!(
        arrows.is_empty(),
        "the runtime facts import the crate:\n{}",
        arrows.join("\n")
    );
}

#[test]
fn the_import_graph_sees_grouped_paths_and_names_a_cycle() {
    let code = "use crate::{alpha::{One, Two}, beta};\nlet x = crate::gamma::run();\n$crate::delta";
    let heads: Vec<&str> = crate_path_heads(code)
        .into_iter()
        .map(|(_, head)| head)
        .collect();
    assert_eq!(heads, ["alpha", "beta", "gamma"]);
    let graph: BTreeMap<String, BTreeMap<String, String>> = [
        ("a", vec![("b", "src/a.rs:1")]),
        ("b", vec![("c", "src/b.rs:2")]),
        ("c", vec![("a", "src/c/x.rs:3")]),
        ("d", vec![("a", "src/d.rs:4")]),
    ]
    .into_iter()
    .map(|(from, arrows)| {
        let arrows = arrows
            .into_iter()
            .map(|(to, place)| (to.to_string(), place.to_string()))
            .collect();
        (from.to_string(), arrows)
    })
    .collect();
    assert_eq!(
        import_cycles(&graph),
        ["a → b (src/a.rs:1) → c (src/b.rs:2) → a (src/c/x.rs:3)"]
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
