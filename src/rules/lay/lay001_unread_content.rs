//! `LAY001` unread-content: content at a place no runtime of the layer reads.
//!
//! The rule, its explanation (printed by `layerpack rule LAY001`) and its check.

use super::{first_of, has_family, node_major, runtime_ids};
use crate::domain::extension;
use crate::domain::layout::wrapper_folder;
use crate::entrypoint;
use crate::finding::{Code, Severity};
use crate::inspect::is_shared_object_name;
use crate::inventory::{Entry, Inventory};
use crate::lint::{LayerContext, Reporter};
use crate::rules::hyg::is_reported_junk;
use crate::rules::{Check, Rule};
use crate::runtime::entry_points::{BOOTSTRAP, EXTENSIONS_DIR};
use crate::runtime::{COMMON_DIRS, Family, Runtime};
use std::collections::BTreeSet;

/// Files package managers leave beside `node_modules`; harmless and expected.
const NODE_MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    ".package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
];

pub(crate) static LAY001: Rule = Rule {
    code: Code::LAY001,
    name: "unread-content",
    severity: Severity::Error,
    summary: "content at a place no runtime of the layer reads",
    explanation: r#"## What it does

Finds files and folders that no runtime of the layer ever looks at. Lambda extracts a layer to
`/opt`; each runtime searches only a few folders there: `python/` and
`python/lib/python3.N/site-packages` for Python, `nodejs/node_modules` and
`nodejs/nodeNN/node_modules` for Node.js, `ruby/gems/X.Y.0` and `ruby/lib` for Ruby, the jars
directly in `java/lib` for Java, and for every runtime `bin/` (on `PATH`), `lib/` (on
`LD_LIBRARY_PATH`) and `extensions/`.

What Lambda starts by itself is read too: `bootstrap` at the root for the OS-only runtimes
(`provided.al2`, `provided.al2023`), the script `AWS_LAMBDA_EXEC_WRAPPER` names and any executable
script at the root (which that variable may name), and every top-level folder or file that these
entry points or the extensions name by their full path (`/opt/my-extension/config.yaml`).

Code in any other place is an error. Other stray files (a `README.md` at the root) are a warning:
nothing finds them, though a function could still open them by their full path.

## Why this breaks at run time

The package is in the zip, but not on the search path, so the import fails at cold start:

```
[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'
```

For Node.js it is `Error: Cannot find module 'lodash'`, for Ruby
`cannot load such file -- greeting (LoadError)`, for Java `java.lang.ClassNotFoundException`, and
for a shared library at the root `error while loading shared libraries: libfoo.so: cannot open
shared object file: No such file or directory`.

## Example

A layer for `python3.12` zipped from inside the virtualenv's `site-packages`:

```
requests/__init__.py
urllib3/__init__.py
```

## Fix

Put the packages under the runtime's folder, `python/requests/…` (or
`python/lib/python3.12/site-packages/requests/…`). With layerpack, declare the source with
`into = "python"` in `layer.toml`; with pip, `pip install --target python/ …` and zip `python/`.
"#,
    check: Check::Layer(check_unread_content),
};

/// What a stray file or folder holds, as far as the runtimes care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StrayKind {
    /// Python modules or packages (`.py`, packages with `.py` inside, `.dist-info`).
    Python,
    /// A Node.js package or script.
    Node,
    Ruby,
    Jar,
    /// A shared library (`lib*.so*`).
    SharedLibrary,
    Other,
}

/// Classifies a stray entry by the names below it (never by content).
fn stray_kind(inventory: &Inventory, entry: &Entry) -> StrayKind {
    let name = entry.path.file_name();
    if entry.is_dir() {
        let below = inventory.below(entry.path.as_str());
        let has = |suffix: &str| {
            below
                .iter()
                .any(|inner| inner.is_file() && inner.path.file_name().ends_with(suffix))
        };
        if name.ends_with(".dist-info") || name.ends_with(".egg-info") || has(".py") {
            StrayKind::Python
        } else if name == "node_modules"
            || inventory
                .get(&format!("{}/package.json", entry.path))
                .is_some()
            || has(".js")
            || has(".mjs")
            || has(".cjs")
        {
            StrayKind::Node
        } else if has(".jar") {
            StrayKind::Jar
        } else if has(".rb") {
            StrayKind::Ruby
        } else {
            StrayKind::Other
        }
    } else if name.ends_with(".py") || name.ends_with(".pyc") || extension::is_tagged(name) {
        StrayKind::Python
    } else if [".js", ".mjs", ".cjs"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        StrayKind::Node
    } else if name.ends_with(".rb") {
        StrayKind::Ruby
    } else if name.ends_with(".jar") {
        StrayKind::Jar
    } else if is_shared_object_name(name) {
        StrayKind::SharedLibrary
    } else {
        StrayKind::Other
    }
}

/// The family whose code this is, if it is code at all.
fn kind_family(kind: StrayKind) -> Option<Family> {
    match kind {
        StrayKind::Python => Some(Family::Python),
        StrayKind::Node => Some(Family::Nodejs),
        StrayKind::Ruby => Some(Family::Ruby),
        StrayKind::Jar => Some(Family::Java),
        StrayKind::SharedLibrary | StrayKind::Other => None,
    }
}

/// The module, package or library name a user would import: `requests` for `requests/`,
/// `six` for `six.py`, `_cffi` for `_cffi.cpython-312-x86_64-linux-gnu.so`.
fn import_name(entry: &Entry) -> &str {
    let name = entry.path.file_name();
    if name.ends_with(".dist-info") || name.ends_with(".egg-info") {
        name.split('-').next().unwrap_or(name)
    } else if entry.is_dir() {
        name
    } else {
        name.split('.')
            .next()
            .filter(|stem| !stem.is_empty())
            .unwrap_or(name)
    }
}

/// For a misplaced package folder itself (`node_modules/`, `site-packages/`): its kind and the
/// first package in it by name (`@aws-sdk/client-s3`, `requests`), which the error names.
fn package_container(inventory: &Inventory, entry: &Entry) -> Option<(&'static str, String)> {
    if !entry.is_dir() {
        return None;
    }
    let kind = match entry.path.file_name() {
        "node_modules" => "node_modules",
        "site-packages" => "site-packages",
        _ => return None,
    };
    let first = inventory
        .children(entry.path.as_str())
        .map(|child| child.path.file_name())
        .find(|name| {
            !name.starts_with('.') && !name.ends_with("-info") && *name != "__pycache__"
        })?;
    let first = match first.strip_prefix('@') {
        Some(_) => inventory
            .children(&format!("{}/{first}", entry.path))
            .next()
            .map_or(first.to_string(), |scoped| {
                format!("{first}/{}", scoped.path.file_name())
            }),
        None if kind == "site-packages" => first.split('.').next().unwrap_or(first).to_string(),
        None => first.to_string(),
    };
    Some((kind, first))
}

/// `/opt/python/lib/python3.12/site-packages and /opt/python`.
fn search_path(runtimes: &[&'static Runtime], family: Family) -> String {
    let mut dirs: Vec<String> = Vec::new();
    for runtime in runtimes.iter().filter(|runtime| runtime.family == family) {
        for dir in runtime.package_dirs() {
            let dir = format!("/opt/{dir}");
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    match dirs.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The top-level folders the runtimes of this layer read.
fn read_tops(runtimes: &[&'static Runtime]) -> BTreeSet<&'static str> {
    let mut tops: BTreeSet<&'static str> = COMMON_DIRS.iter().copied().collect();
    tops.insert(EXTENSIONS_DIR);
    tops.extend(
        runtimes
            .iter()
            .filter_map(|runtime| runtime.language_root()),
    );
    tops
}

fn check_unread_content(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    let runtimes = context.runtimes;
    let tops = read_tops(runtimes);
    let wrapper = wrapper_folder(inventory);
    let strays: Vec<&Entry> = inventory
        .children("")
        .filter(|entry| {
            let name = entry.path.as_str();
            !(tops.contains(name) || Some(name) == wrapper || is_reported_junk(entry))
        })
        .collect();
    // Entry points, and what they open by full path, are read though no search path covers
    // them; their scripts are read only when there is a stray to excuse.
    let started = if strays.is_empty() {
        BTreeSet::new()
    } else {
        started_tops(context)
    };
    for entry in strays {
        if !started.contains(entry.path.as_str()) {
            report_stray(context, report, entry, "");
        }
    }
    // Inside the language folders, only some children are read.
    if has_family(runtimes, Family::Nodejs) {
        for entry in inventory.children("nodejs") {
            let name = entry.path.file_name();
            if name == "node_modules"
                || (entry.is_dir() && node_major(name).is_some())
                || (entry.is_file() && NODE_MANIFESTS.contains(&name))
            {
                continue;
            }
            if !is_reported_junk(entry) {
                report_stray(context, report, entry, "nodejs");
            }
        }
    }
    if has_family(runtimes, Family::Ruby) {
        for entry in inventory.children("ruby") {
            if !matches!(entry.path.file_name(), "gems" | "lib") && !is_reported_junk(entry) {
                report_stray(context, report, entry, "ruby");
            }
        }
    }
    if has_family(runtimes, Family::Java) {
        for entry in inventory.children("java") {
            if entry.path.file_name() != "lib" && !is_reported_junk(entry) {
                report_stray(context, report, entry, "java");
            }
        }
    }
}

/// Top-level names Lambda starts or its entry points use: `bootstrap` (OS-only runtimes), the
/// exec wrapper and executable scripts at the root that could be one, and every `/opt/NAME` an
/// entry point's text names.
fn started_tops(context: &LayerContext<'_>) -> BTreeSet<String> {
    let inventory = context.inventory;
    let mut names = entrypoint::referenced_tops(inventory, context.runtimes, context.exec_wrapper);
    for point in entrypoint::layer_entry_points(inventory, context.runtimes, context.exec_wrapper) {
        names.insert(point.entry.path.top().to_string());
    }
    for candidate in entrypoint::wrapper_candidates(inventory) {
        names.insert(candidate.path.as_str().to_string());
    }
    names
}

/// Reports one entry that no runtime reads; `within` is the language folder it sits in (`""`
/// for the layer's root).
fn report_stray(
    context: &LayerContext<'_>,
    report: &mut Reporter<'_>,
    entry: &Entry,
    within: &str,
) {
    let runtimes = context.runtimes;
    let kind = stray_kind(context.inventory, entry);
    let shown = if entry.is_dir() {
        format!("{}/", entry.path)
    } else {
        entry.path.to_string()
    };
    let place = if within.is_empty() {
        "at the layer's root".to_string()
    } else {
        format!("directly in `{within}/`")
    };
    let container = package_container(context.inventory, entry);
    let name = container
        .as_ref()
        .map_or(import_name(entry), |(_, first)| first.as_str());
    let ids = runtime_ids(runtimes);
    let served = kind_family(kind).filter(|family| has_family(runtimes, *family));
    if let Some(family) = served {
        let runtime = first_of(runtimes, family).map_or("", |runtime| runtime.id);
        let searched = search_path(runtimes, family);
        let (error, target) = match family {
            Family::Python => (
                format!("No module named '{name}'"),
                format!("python/{}", entry.path.file_name()),
            ),
            Family::Nodejs => (
                format!("Error: Cannot find module '{name}'"),
                format!("nodejs/node_modules/{}", entry.path.file_name()),
            ),
            Family::Ruby => (
                format!("cannot load such file -- {name} (LoadError)"),
                format!("ruby/lib/{}", entry.path.file_name()),
            ),
            Family::Java => (
                "java.lang.ClassNotFoundException".to_string(),
                "java/lib/".to_string(),
            ),
            Family::Provided => (String::new(), String::new()),
        };
        report.report(
            entry.path.as_str(),
            format!(
                "`{shown}` is {place}, but {runtime} searches only {searched}: the code in it \
                 fails to load with \"{error}\""
            ),
            match &container {
                Some(_) if family == Family::Python => {
                    format!("move what it holds to `python/`, where {runtime} finds it")
                }
                Some(_) => format!("move it to `nodejs/node_modules`, where {runtime} finds it"),
                None => format!("move it to `{target}`, where {runtime} finds it"),
            },
        );
    } else if kind == StrayKind::SharedLibrary {
        report.report(
            entry.path.as_str(),
            format!(
                "`{shown}` is {place}, but the loader searches /opt/lib (LD_LIBRARY_PATH), not \
                 /opt: \"error while loading shared libraries: {}: cannot open shared object \
                 file: No such file or directory\"",
                entry.path.file_name()
            ),
            format!("move it to `lib/{}`", entry.path.file_name()),
        );
    } else if within.is_empty() && entry.path.as_str() == BOOTSTRAP && !entry.is_dir() {
        report.report_as(
            Severity::Warning,
            entry.path.as_str(),
            format!(
                "`bootstrap` is a custom runtime, which only the OS-only runtimes \
                 (provided.al2, provided.al2023) start: on {ids} the managed runtime starts \
                 itself and never runs a layer's bootstrap"
            ),
            "add provided.al2023 to the layer's runtimes if it is a custom runtime, or leave it out",
        );
    } else if let Some(family) = kind_family(kind) {
        report.report_as(
            Severity::Warning,
            entry.path.as_str(),
            format!(
                "`{shown}` holds {} code {place}, but the layer's runtimes ({ids}) never load \
                 it",
                family_label(family)
            ),
            "leave it out, or add the runtime it is for to the layer's runtimes (and put it in \
             that runtime's folder)",
        );
    } else {
        report.report_as(
            Severity::Warning,
            entry.path.as_str(),
            format!(
                "`{shown}` is {place}, on no search path of {ids}: only code that opens \
                 /opt/{} by its full path finds it",
                entry.path
            ),
            "leave it out of the layer (.layerignore), or move it where the runtime looks",
        );
    }
}

fn family_label(family: Family) -> &'static str {
    match family {
        Family::Python => "Python",
        Family::Nodejs => "Node.js",
        Family::Ruby => "Ruby",
        Family::Java => "Java",
        Family::Provided => "native",
    }
}
