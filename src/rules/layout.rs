//! Layout rules (`LAY`): content placed where no runtime of the layer looks.
//!
//! Lambda extracts a layer to `/opt` and each runtime adds a few fixed folders below it to its
//! search path (see [`crate::runtime`]). Anything elsewhere is dead weight at best and, when it is
//! the package the function imports, the cause of a "No module named" at cold start. These rules
//! only read names from the inventory; they stay conservative: code where no runtime looks is an
//! error, other stray files (a README at the root) only a warning, since a function may still open
//! them by their full path.

use std::collections::BTreeSet;

use crate::entrypoint;
use crate::finding::Severity;
use crate::inventory::{Entry, Inventory};
use crate::lint::{LayerContext, Reporter};
use crate::rules::hygiene::is_reported_junk;
use crate::rules::{Check, Rule};
use crate::runtime::entry_points::{BOOTSTRAP, EXTENSIONS_DIR};
use crate::runtime::{COMMON_DIRS, Family, RUNTIMES, Runtime};

/// Files package managers leave beside `node_modules`; harmless and expected.
const NODE_MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    ".package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
];

pub static LAY001: Rule = Rule {
    code: "LAY001",
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
    } else if name.ends_with(".py") || name.ends_with(".pyc") || is_python_extension(name) {
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
    } else if is_shared_library(name) {
        StrayKind::SharedLibrary
    } else {
        StrayKind::Other
    }
}

/// `_foo.cpython-312-x86_64-linux-gnu.so`, `_foo.abi3.so`.
fn is_python_extension(name: &str) -> bool {
    name.ends_with(".so") && (name.contains(".cpython-") || name.contains(".abi3."))
}

/// `libfoo.so`, `libfoo.so.1.2`.
fn is_shared_library(name: &str) -> bool {
    name.ends_with(".so") || name.contains(".so.")
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

fn runtime_ids(runtimes: &[&'static Runtime]) -> String {
    runtimes
        .iter()
        .map(|runtime| runtime.id)
        .collect::<Vec<_>>()
        .join(", ")
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

fn has_family(runtimes: &[&'static Runtime], family: Family) -> bool {
    runtimes.iter().any(|runtime| runtime.family == family)
}

/// The first runtime of a family, for messages.
fn first_of(runtimes: &[&'static Runtime], family: Family) -> Option<&'static Runtime> {
    runtimes
        .iter()
        .copied()
        .find(|runtime| runtime.family == family)
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
    let name = import_name(entry);
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
            format!("move it to `{target}`, where {runtime} finds it"),
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

/// `18` for `node18`.
fn node_major(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("node")?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub static LAY002: Rule = Rule {
    code: "LAY002",
    name: "wrapped-layer",
    severity: Severity::Error,
    summary: "the whole layer is wrapped in one extra folder",
    explanation: r#"## What it does

Finds a layer whose every file sits in one extra top-level folder, below which the real layout
starts: `my-layer/python/…`, `build/nodejs/node_modules/…`.

## Why this breaks at run time

Lambda extracts the zip to `/opt` as it is, so the packages land in `/opt/my-layer/python/…`,
where no runtime looks. Every import from the layer fails:

```
[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'
```

This is what `zip -r layer.zip my-layer/` (or "Compress" in a file manager) makes.

## Example

```
my-layer/python/requests/__init__.py
my-layer/python/urllib3/__init__.py
```

## Fix

Zip the folder's contents, not the folder: `cd my-layer && zip -r ../layer.zip .`, or let
layerpack do it: `layerpack build --dir my-layer --runtime python3.12 --output layer.zip`.
"#,
    check: Check::Layer(check_wrapped_layer),
};

/// The single top-level folder wrapping a real layer layout (`my-layer/python/…`), if any.
pub fn wrapper_folder(inventory: &Inventory) -> Option<&str> {
    let mut tops = inventory.children("");
    let only = tops.next()?;
    if tops.next().is_some() || !only.is_dir() {
        return None;
    }
    let name = only.path.as_str();
    if is_layer_top(name) {
        return None;
    }
    inventory
        .children(name)
        .any(|child| child.is_dir() && is_layer_top(child.path.file_name()))
        .then_some(name)
}

/// A folder name that some runtime reads at the top of a layer.
fn is_layer_top(name: &str) -> bool {
    name == EXTENSIONS_DIR
        || COMMON_DIRS.contains(&name)
        || RUNTIMES
            .iter()
            .any(|runtime| runtime.language_root() == Some(name))
}

fn check_wrapped_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let Some(wrapper) = wrapper_folder(context.inventory) else {
        return;
    };
    let inner: Vec<String> = context
        .inventory
        .children(wrapper)
        .filter(|child| child.is_dir() && is_layer_top(child.path.file_name()))
        .map(|child| format!("{}/", child.path.file_name()))
        .collect();
    report.report(
        wrapper,
        format!(
            "every file is inside `{wrapper}/`, so Lambda extracts the layer to /opt/{wrapper}/{} \
             instead of /opt/{}, where no runtime looks: imports fail with \"No module named\" / \
             \"Cannot find module\"",
            inner.join(", "),
            inner.join(", /opt/")
        ),
        format!(
            "zip the contents of `{wrapper}`, not the folder itself (`cd {wrapper} && zip -r \
             ../layer.zip .`), or use `layerpack build --dir {wrapper}`"
        ),
    );
}

pub static LAY003: Rule = Rule {
    code: "LAY003",
    name: "python-version-mismatch",
    severity: Severity::Error,
    summary: "`python/lib/python3.N/site-packages` for a Python version none of the runtimes runs",
    explanation: r#"## What it does

Finds `python/lib/python3.N/` folders whose `3.N` is not the version of any Python runtime of the
layer.

## Why this breaks at run time

Python on Lambda adds exactly one versioned folder of a layer to `sys.path`:
`/opt/python/lib/python3.N/site-packages` with its own `3.N`. Packages installed for another
version are never found:

```
[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'pydantic'
```

## Example

A layer declared for `python3.12` that holds `python/lib/python3.11/site-packages/pydantic/`,
because it was built from a Python 3.11 virtualenv.

## Fix

Install the packages with the runtime's Python (`python3.12 -m pip install --target
python/lib/python3.12/site-packages …`, or `pip install --python-version 3.12
--only-binary=:all: --target python/ …`), or put them in `python/`, which every Python version
reads. If the layer really is for the other version, add that runtime to the layer's runtimes.
"#,
    check: Check::Layer(check_python_version_mismatch),
};

/// The first package (not metadata) in a folder, to name in a message.
fn first_package<'a>(inventory: &'a Inventory, dir: &'a str) -> Option<&'a str> {
    inventory
        .children(dir)
        .map(|entry| entry.path.file_name())
        .find(|name| !name.ends_with("-info") && !name.starts_with('_') && !name.starts_with('.'))
}

fn check_python_version_mismatch(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let runtimes = context.runtimes;
    let Some(runtime) = first_of(runtimes, Family::Python) else {
        return;
    };
    let read: Vec<String> = runtimes
        .iter()
        .filter(|runtime| runtime.family == Family::Python)
        .map(|runtime| runtime.python_site_packages())
        .collect();
    for entry in context.inventory.children("python/lib") {
        let name = entry.path.file_name();
        if !entry.is_dir() || !is_python_version_dir(name) {
            continue;
        }
        let site_packages = format!("{}/site-packages", entry.path);
        if read.contains(&site_packages) {
            continue;
        }
        let module = first_package(context.inventory, &site_packages)
            .map(|package| package.split('.').next().unwrap_or(package))
            .unwrap_or("…");
        report.report(
            entry.path.as_str(),
            format!(
                "`{}/` is for {name}, but {} reads only /opt/{}: its packages are invisible \
                 (\"No module named '{module}'\")",
                entry.path,
                runtime_ids(runtimes),
                read.join(" and /opt/")
            ),
            format!(
                "reinstall the packages with the runtime's Python into `{}` (or into `python/`), \
                 or add the runtime for {name} to the layer's runtimes",
                runtime.python_site_packages()
            ),
        );
    }
}

/// `python3.11`: a versioned folder as venvs and `pip --target` make them.
fn is_python_version_dir(name: &str) -> bool {
    let Some(version) = name.strip_prefix("python") else {
        return false;
    };
    let mut parts = version.split('.');
    let numeric = |part: Option<&str>| {
        part.is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    };
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none()
}

pub static LAY004: Rule = Rule {
    code: "LAY004",
    name: "node-version-mismatch",
    severity: Severity::Error,
    summary: "`nodejs/nodeNN/node_modules` for a Node.js version none of the runtimes runs",
    explanation: r#"## What it does

Finds `nodejs/nodeNN/` folders whose `NN` is not the major version of any Node.js runtime of the
layer.

## Why this breaks at run time

Lambda's `NODE_PATH` for `nodejs20.x` is
`/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:…`; a `node18` folder is on no runtime's
path but Node.js 18's, so its packages are not found:

```
Error: Cannot find module 'lodash'
Require stack:
- /var/task/index.js
```

## Example

A layer for `nodejs20.x` holding `nodejs/node18/node_modules/lodash/`.

## Fix

Move the packages to `nodejs/node_modules/`, which every Node.js version reads, or to the
runtime's own `nodejs/node20/node_modules/`. If the layer is meant for Node.js 18 too, add
`nodejs18.x` to its runtimes.
"#,
    check: Check::Layer(check_node_version_mismatch),
};

fn check_node_version_mismatch(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let runtimes = context.runtimes;
    if !has_family(runtimes, Family::Nodejs) {
        return;
    }
    let read: Vec<String> = runtimes
        .iter()
        .filter(|runtime| runtime.family == Family::Nodejs)
        .flat_map(|runtime| runtime.package_dirs())
        .collect();
    for entry in context.inventory.children("nodejs") {
        let name = entry.path.file_name();
        if !entry.is_dir() || node_major(name).is_none() {
            continue;
        }
        let node_modules = format!("{}/node_modules", entry.path);
        if read.contains(&node_modules) {
            continue;
        }
        let package = first_package(context.inventory, &node_modules).unwrap_or("…");
        let own = first_of(runtimes, Family::Nodejs)
            .and_then(|runtime| runtime.package_dirs().into_iter().next())
            .unwrap_or_default();
        report.report(
            entry.path.as_str(),
            format!(
                "`{}/` is read only by the Node.js {} runtime, not by {}: require() of its \
                 packages fails with \"Error: Cannot find module '{package}'\"",
                entry.path,
                name.trim_start_matches("node"),
                runtime_ids(runtimes)
            ),
            format!(
                "move its packages to `nodejs/node_modules` (read by every Node.js version) or \
                 `{own}`, or add the matching runtime to the layer's runtimes"
            ),
        );
    }
}

pub static LAY005: Rule = Rule {
    code: "LAY005",
    name: "ruby-gem-abi-mismatch",
    severity: Severity::Error,
    summary: "`ruby/gems/X.Y.0` that is not the gem ABI of any runtime",
    explanation: r#"## What it does

Finds `ruby/gems/X.Y.0/` folders that are not the gem folder of any Ruby runtime of the layer.

## Why this breaks at run time

Lambda sets `GEM_PATH` to `/opt/ruby/gems/X.Y.0` with the runtime's own ABI version (`3.3.0` for
`ruby3.3`). Gems installed by another Ruby are in another folder and are not found:

```
cannot load such file -- httparty (LoadError)
```

## Example

A layer for `ruby3.3` holding `ruby/gems/3.2.0/gems/httparty-0.21.0/`, installed with Ruby 3.2.

## Fix

Run `bundle install` with the runtime's Ruby (for example in the `public.ecr.aws/sam/build-ruby3.3`
image) so the gems land in `ruby/gems/3.3.0`, or add the matching runtime to the layer's runtimes.
"#,
    check: Check::Layer(check_ruby_gem_abi_mismatch),
};

fn check_ruby_gem_abi_mismatch(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let runtimes = context.runtimes;
    let Some(runtime) = first_of(runtimes, Family::Ruby) else {
        return;
    };
    let read: Vec<String> = runtimes
        .iter()
        .filter(|runtime| runtime.family == Family::Ruby)
        .map(|runtime| runtime.ruby_gem_dir())
        .collect();
    for entry in context.inventory.children("ruby/gems") {
        let name = entry.path.file_name();
        let is_version =
            name.split('.').count() == 3 && name.split('.').all(|part| part.parse::<u32>().is_ok());
        if !entry.is_dir() || !is_version || read.contains(&entry.path.to_string()) {
            continue;
        }
        let gems = format!("{}/gems", entry.path);
        let gem = first_package(context.inventory, &gems)
            .map(|gem| gem.rsplit_once('-').map_or(gem, |(name, _)| name))
            .unwrap_or("…");
        report.report(
            entry.path.as_str(),
            format!(
                "`{}/` is the gem folder of Ruby {name}, but {} sets GEM_PATH to /opt/{}: its \
                 gems fail with \"cannot load such file -- {gem} (LoadError)\"",
                entry.path,
                runtime_ids(runtimes),
                read.join(" and /opt/")
            ),
            format!(
                "run `bundle install` with the runtime's Ruby so the gems land in `{}`, or add \
                 the matching runtime to the layer's runtimes",
                runtime.ruby_gem_dir()
            ),
        );
    }
}

pub static LAY006: Rule = Rule {
    code: "LAY006",
    name: "jar-below-java-lib",
    severity: Severity::Error,
    summary: "jars in a sub-folder of `java/lib`, which is not on the classpath",
    explanation: r#"## What it does

Finds `.jar` files in sub-folders of `java/lib/`.

## Why this breaks at run time

The Java runtimes put `/opt/java/lib/*` on the classpath. A classpath wildcard matches the jars
directly in that folder only, never those in sub-folders, so their classes are missing:

```
java.lang.NoClassDefFoundError: org/apache/commons/lang3/StringUtils
Caused by: java.lang.ClassNotFoundException: org.apache.commons.lang3.StringUtils
```

## Example

```
java/lib/commons/commons-lang3-3.12.0.jar
```

## Fix

Put every jar directly in `java/lib/` (Maven: `dependency:copy-dependencies
-DoutputDirectory=java/lib`; Gradle: copy `runtimeClasspath` into `java/lib`).
"#,
    check: Check::Layer(check_jar_below_java_lib),
};

fn check_jar_below_java_lib(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    for folder in inventory
        .children("java/lib")
        .filter(|entry| entry.is_dir())
    {
        let jars: Vec<&Entry> = inventory
            .below(folder.path.as_str())
            .iter()
            .filter(|entry| entry.is_file() && entry.path.file_name().ends_with(".jar"))
            .collect();
        let Some(first) = jars.first() else {
            continue;
        };
        let count = if jars.len() == 1 {
            "1 jar".to_string()
        } else {
            format!("{} jars", jars.len())
        };
        report.report(
            folder.path.as_str(),
            format!(
                "`{}/` holds {count} (e.g. `{}`), but the classpath wildcard /opt/java/lib/* \
                 does not reach into sub-folders: their classes fail with \
                 \"java.lang.ClassNotFoundException\"",
                folder.path,
                first.path.file_name()
            ),
            "move the jars directly into `java/lib/`",
        );
    }
}

pub static LAY007: Rule = Rule {
    code: "LAY007",
    name: "empty-layer",
    severity: Severity::Error,
    summary: "the layer has no files",
    explanation: r#"## What it does

Reports a layer that holds no file and no symlink at all (folders alone do not count).

## Why this breaks at run time

Lambda refuses to publish it:

```
InvalidParameterValueException: Uploaded file must be a non-empty zip
```

and a layer with only empty folders adds nothing to `/opt`. It usually means the build copied
from the wrong folder, or every file was ignored.

## Example

A zip made by `zip -r layer.zip python/` in a folder where `pip install --target python/` failed.

## Fix

Check the source folders in `layer.toml` (or the folder you zipped) and the ignore patterns:
`layerpack build --list --ignored` shows what was left out and why.
"#,
    check: Check::Layer(check_empty_layer),
};

fn check_empty_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let has_content = context
        .inventory
        .entries()
        .iter()
        .any(|entry| !entry.is_dir());
    if !has_content {
        let folders = match context.inventory.entries().len() {
            0 => String::new(),
            1 => " (only 1 empty folder)".to_string(),
            count => format!(" (only {count} empty folders)"),
        };
        report.report(
            "",
            format!(
                "the layer holds no files{folders}: Lambda refuses it with \"Uploaded file must \
                 be a non-empty zip\""
            ),
            "check the source folders and ignore patterns (`layerpack build --list --ignored` \
             shows what was left out)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_folder_names() {
        assert!(is_python_version_dir("python3.11"));
        assert!(!is_python_version_dir("python3"));
        assert!(!is_python_version_dir("python3.x"));
        assert_eq!(node_major("node18"), Some(18));
        assert_eq!(node_major("node_modules"), None);
        assert_eq!(node_major("node"), None);
    }
}
