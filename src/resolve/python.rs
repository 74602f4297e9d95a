//! Python's import, replayed: `sys.path` as the Lambda bootstrap builds it, then CPython's
//! `PathFinder`/`FileFinder` over each entry, package by package for a dotted name.
//!
//! In one folder, for name `n`, CPython tries the package `n/__init__` with each suffix, then
//! the module `n` with each suffix (extension suffixes first: `.cpython-3N-<arch>-linux-gnu.so`,
//! `.abi3.so`, `.so`; then `.py`; then a sourceless `.pyc`); a folder `n` without `__init__` is
//! only a namespace portion, used when no entry of the whole path has a regular package or
//! module (PEP 420). An extension file with any other suffix is not an error: it is not seen.
//!
//! `.pth` files: the bootstrap calls `site.addsitedir` on `/var/task` and, when `PYTHONPATH`
//! is unset, on `/opt/python/lib/python3.N/site-packages` and `/opt/python`; their path lines
//! (relative to the folder, existing only) are appended to `sys.path`, `import` lines run.

use crate::domain::extension::{self, ExtensionTarget};
use crate::facts::{self, Ecosystem};
use crate::finding::Code;
use crate::resolve::merged::{MergedView, Source, join, normalize};
use crate::resolve::pyclosure::Closure;
use crate::resolve::{Explanation, Request, Trace, misplacement, native_failures, replaced_files};
use crate::runtime::Runtime;

/// Top-level standard-library modules per CPython version, generated from the `stdlib-list`
/// package by `scripts/python-stdlib.py`.
const STDLIB: &str = include_str!("../data/python-stdlib.tsv");

/// True when `name` is a top-level standard-library module of the runtime's Python.
pub(crate) fn in_stdlib(runtime: &Runtime, name: &str) -> bool {
    let minor = runtime.version().1.to_string();
    STDLIB
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .any(|(module, minors)| module == name && minors.split(',').any(|m| m == minor))
}

/// True when the runtime bundles an importable package `name` in folder `dir`, as the in-Lambda
/// dumps of [`crate::facts`] record it (distribution names mapped to the names imported).
pub(crate) fn bundled(runtime: &Runtime, dir: &str, name: &str) -> bool {
    runtime.facts().bundled_packages().iter().any(|package| {
        package.ecosystem == Ecosystem::Python
            && package.path == dir
            && facts::python_import_names(package.name)
                .iter()
                .any(|module| module == name)
    })
}

/// The suffixes CPython tries for a module, in order: extension suffixes, source, bytecode.
pub(crate) fn suffixes(request: &Request<'_>) -> Vec<String> {
    let (major, minor) = request.runtime.version();
    vec![
        format!(
            ".cpython-{major}{minor}-{}.so",
            extension::linux_platform(request.arch)
        ),
        ".abi3.so".to_string(),
        ".so".to_string(),
        ".py".to_string(),
        ".pyc".to_string(),
    ]
}

/// What one folder holds for a name.
#[derive(Clone, Debug)]
pub(crate) enum Spec {
    /// `n/__init__<suffix>`: the package folder and its init file.
    Package {
        dir: String,
        init: String,
    },
    Module(String),
    /// `n/` without `__init__`.
    Namespace(String),
    None,
}

/// How one `sys.path` entry counts.
#[derive(Clone, Debug)]
pub(crate) struct PathEntry {
    pub(crate) dir: String,
    /// Why this entry is there (a `.pth` file, `PYTHONPATH`), when not the default.
    origin: Option<String>,
}

/// `sys.path` as the bootstrap builds it, with the folders `.pth` files add; the second value
/// is `PYTHONPATH` when the function sets it.
pub(crate) fn sys_path(
    view: &MergedView,
    request: &Request<'_>,
) -> (Vec<PathEntry>, Option<Vec<String>>) {
    let runtime = request.runtime;
    let pythonpath: Option<Vec<String>> = request.env.get("PYTHONPATH").map(|value| {
        value
            .split(':')
            .filter(|part| !part.is_empty())
            .map(|part| {
                if part.starts_with('/') {
                    normalize(part)
                } else {
                    normalize(&format!("/var/task/{part}"))
                }
            })
            .collect()
    });
    let mut entries: Vec<PathEntry> = runtime
        .python_sys_path(pythonpath.as_deref())
        .into_iter()
        .map(|dir| {
            let origin = pythonpath
                .as_ref()
                .filter(|entries| entries.contains(&dir))
                .map(|_| "from PYTHONPATH".to_string());
            PathEntry { dir, origin }
        })
        .collect();
    for site in runtime.python_site_dirs(pythonpath.is_some()) {
        for (pth, dirs) in pth_entries(view, &site) {
            for dir in dirs {
                if !entries.iter().any(|entry| entry.dir == dir) {
                    entries.push(PathEntry {
                        dir,
                        origin: Some(format!("added by {pth}")),
                    });
                }
            }
        }
    }

    (entries, pythonpath)
}

pub(crate) fn explain(view: &MergedView, request: &Request<'_>) -> Explanation {
    let (entries, pythonpath) = sys_path(view, request);
    let mut trace = Trace::default();
    let parts: Vec<&str> = request.name.split('.').collect();
    if parts.iter().any(|part| part.is_empty()) {
        trace.step("", request.name, None, "not a module name");
        let verdict = format!("`{}` is not a valid module name", request.name);
        return trace.finish(request, None, false, verdict);
    }
    let suffixes = suffixes(request);
    let mut search = entries;
    let mut location = None;
    let mut in_runtime = false;
    let mut verdict = String::new();
    for (depth, part) in parts.iter().enumerate() {
        let dotted = parts[..=depth].join(".");
        let last = depth + 1 == parts.len();
        let (spec, runtime_answer) =
            find_spec(view, request, &search, part, depth, &suffixes, &mut trace);
        if let Some((dir, note)) = runtime_answer {
            in_runtime = true;
            location = Some(format!("{dir}/{}", parts.join("/")));
            verdict = format!(
                "`{}` is {note}; it is not in the function code or the layers",
                request.name
            );
            break;
        }
        match spec {
            Spec::Package { dir, init } => {
                if last {
                    note_replaced(view, &dir, &mut trace);
                    verdict = format!("`{}` resolves to the package {init}", request.name);
                    location = Some(init);
                }
                search = vec![PathEntry { dir, origin: None }];
            }
            Spec::Module(file) => {
                if last {
                    note_replaced(view, &file, &mut trace);
                    verdict = format!("`{}` resolves to the module {file}", request.name);
                    location = Some(file);
                } else {
                    let child = parts[..=depth + 1].join(".");
                    verdict = format!(
                        "No module named '{child}'; '{dotted}' is a module ({file}), not a package"
                    );
                    trace.fail(
                        child.clone(),
                        None,
                        format!("No module named '{child}'; '{dotted}' is not a package"),
                        None,
                    );
                    break;
                }
            }
            Spec::Namespace(first) => {
                let portions: Vec<PathEntry> = search
                    .iter()
                    .map(|entry| join(&entry.dir, part))
                    .filter(|dir| view.is_dir(dir))
                    .map(|dir| PathEntry { dir, origin: None })
                    .collect();
                if last {
                    verdict = format!(
                        "`{}` resolves to a namespace package (no __init__.py) in {}",
                        request.name,
                        crate::resolve::list(
                            &portions.iter().map(|p| p.dir.clone()).collect::<Vec<_>>()
                        )
                    );
                    location = Some(first);
                }
                search = portions;
            }
            Spec::None => {
                verdict = format!("No module named '{dotted}'");
                near_misses(
                    view,
                    request,
                    &parts[..=depth],
                    pythonpath.is_some(),
                    &mut trace,
                );
                let code = trace.near_misses.iter().find_map(|miss| miss.code);
                trace.fail(request.name, None, verdict.clone(), code);
                break;
            }
        }
    }
    let mut loads = location.is_some();
    if loads
        && !in_runtime
        && let Some(package) = request.runtime.facts().bundled_python_module(parts[0])
    {
        let whose = if location
            .as_deref()
            .is_some_and(|path| path.starts_with("/var/task/"))
        {
            "the function's"
        } else {
            "the layer's"
        };
        verdict.push_str(&format!(
            "; {whose} copy is imported instead of the {} runtime's own {} {}",
            request.runtime.id,
            package.name,
            package.version.unwrap_or("(version not recorded)")
        ));
    }
    if loads && !in_runtime {
        let mut closure = Closure::new(view, request);
        if let Some(broken) = closure.import_root(request.name) {
            loads = false;
            verdict.push_str(&format!(
                ", but importing it fails: {}",
                broken.cause.as_deref().unwrap_or(&broken.failure.reason)
            ));
            if let Some(miss) = &broken.evidence {
                trace.near_miss(miss.path.clone(), miss.reason.clone(), miss.code);
            }
            trace.chain = broken.chain();
            trace.cause = broken.cause.clone();
            trace.failure = Some(broken.failure);
        } else {
            trace.chain = closure_chain(&mut closure, request.name);
        }
    }
    trace.finish(request, location, loads, verdict)
}

/// The chain of a target that loads: the packages executed on the way and the target.
fn closure_chain(closure: &mut Closure<'_, '_>, name: &str) -> Vec<crate::resolve::ChainLink> {
    let mut links = Vec::new();
    let mut prefix = String::new();
    for part in name.split('.') {
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(part);
        links.push(crate::resolve::ChainLink {
            module: prefix.clone(),
            location: closure.location(&prefix),
        });
    }
    links
}

/// Notes the files of a resolved package or module that a later layer replaced (STK003).
fn note_replaced(view: &MergedView, abs: &str, trace: &mut Trace) {
    if !abs.starts_with("/opt/") {
        return;
    }
    match view.file(abs) {
        Some(hit) if hit.replaced.is_empty() => {}
        _ => replaced_files(view, abs, trace),
    }
}

/// Looks `name` up over `search` as `PathFinder` does, one step per entry. The second value is
/// set when the runtime itself answers (standard library, the bundled AWS SDK): its folder and
/// what it is.
fn find_spec(
    view: &MergedView,
    request: &Request<'_>,
    search: &[PathEntry],
    name: &str,
    depth: usize,
    suffixes: &[String],
    trace: &mut Trace,
) -> (Spec, Option<(String, String)>) {
    let looked_for = std::iter::once(format!("{name}/__init__.py"))
        .chain(suffixes.iter().map(|suffix| format!("{name}{suffix}")))
        .collect::<Vec<_>>()
        .join(", ");
    let runtime = request.runtime;
    let (major, minor) = runtime.version();
    let stdlib_dir = runtime.python_stdlib_dir();
    let mut result = Spec::None;
    let mut first_namespace: Option<String> = None;
    let mut winner: Option<usize> = None;
    for (index, entry) in search.iter().enumerate() {
        let dir = &entry.dir;
        let origin = entry
            .origin
            .as_ref()
            .map_or(String::new(), |origin| format!(" ({origin})"));
        if !view.models(dir) {
            let (found, note) =
                if depth == 0 && winner.is_none() && *dir == stdlib_dir && in_stdlib(runtime, name)
                {
                    (
                        true,
                        format!("standard library module of Python {major}.{minor}"),
                    )
                } else if depth == 0 && winner.is_none() && bundled(runtime, dir, name) {
                    (
                        true,
                        match runtime.facts().bundled_python_module(name) {
                            Some(package) => format!(
                                "shipped with the {} runtime: {} {} (in-Lambda dump)",
                                runtime.id,
                                package.name,
                                package.version.unwrap_or("(version not recorded)")
                            ),
                            None => format!("shipped with the {} runtime", runtime.id),
                        },
                    )
                } else {
                    (false, String::new())
                };
            if found {
                trace.step(
                    dir.clone(),
                    looked_for.clone(),
                    Some(format!("{dir}/{name}")),
                    format!("{note}{origin}"),
                );
                return (Spec::None, Some((dir.clone(), note)));
            }
            let shadowed_bundle = winner
                .filter(|_| depth == 0 && bundled(runtime, dir, name))
                .and_then(|winner_index| {
                    let package = runtime.facts().bundled_python_module(name)?;
                    Some(format!(
                        "shadowed: the {} runtime's own {} {} here is never imported; entry {} comes first",
                        runtime.id,
                        package.name,
                        package.version.unwrap_or("(version not recorded)"),
                        winner_index + 1
                    ))
                });
            let note = if let Some(shadowed) = shadowed_bundle {
                shadowed
            } else if winner.is_some() {
                "not reached".to_string()
            } else if *dir == stdlib_dir {
                format!(
                    "the standard library of Python {major}.{minor}: `{name}` is not part of it"
                )
            } else {
                "the runtime's own files, outside the function code and the layers".to_string()
            };
            trace.step(
                dir.clone(),
                looked_for.clone(),
                None,
                format!("{note}{origin}"),
            );
            continue;
        }
        let spec = probe(view, dir, name, suffixes);
        foreign_extensions(view, request, dir, name, trace);
        let described = describe(view, &spec);
        if let Some(winner_index) = winner {
            let note = match &spec {
                Spec::None | Spec::Namespace(_) => "not reached".to_string(),
                _ => format!(
                    "shadowed: {described} is never imported; entry {} comes first",
                    winner_index + 1
                ),
            };
            trace.step(
                dir.clone(),
                looked_for.clone(),
                None,
                format!("{note}{origin}"),
            );
            continue;
        }
        match &spec {
            Spec::Package { init, .. } | Spec::Module(init) => {
                trace.step(
                    dir.clone(),
                    looked_for.clone(),
                    Some(init.clone()),
                    format!("{described}{origin}"),
                );
                winner = Some(index);
                result = spec.clone();
            }
            Spec::Namespace(portion) => {
                first_namespace.get_or_insert_with(|| portion.clone());
                trace.step(
                    dir.clone(),
                    looked_for.clone(),
                    None,
                    format!("{portion}/ has no __init__.py: a namespace portion, used only if no entry has a regular package or module{origin}"),
                );
            }
            Spec::None => {
                let note = if view.is_dir(dir) {
                    "nothing by that name"
                } else {
                    "no such folder"
                };
                trace.step(
                    dir.clone(),
                    looked_for.clone(),
                    None,
                    format!("{note}{origin}"),
                );
            }
        }
    }
    if winner.is_none()
        && let Some(first) = first_namespace
    {
        return (Spec::Namespace(first), None);
    }
    (result, None)
}

/// What a spec is, with the layer it comes from.
fn describe(view: &MergedView, spec: &Spec) -> String {
    let from = |path: &str| match view.file(path) {
        Some(hit) => {
            let mut text = format!(" (from {})", view.source_name(hit.source));
            if !hit.replaced.is_empty() {
                let names: Vec<String> = hit
                    .replaced
                    .iter()
                    .map(|index| format!("`{}`", view.source_name(Source::Layer(*index))))
                    .collect();
                text = format!(
                    " (from {}, replacing the copy of {})",
                    view.source_name(hit.source),
                    crate::resolve::list(&names)
                );
            }
            text
        }
        None => String::new(),
    };
    match spec {
        Spec::Package { init, .. } => format!("package {init}{}", from(init)),
        Spec::Module(file) if file.ends_with(".so") => {
            format!("extension module {file}{}", from(file))
        }
        Spec::Module(file) if file.ends_with(".pyc") => {
            format!("sourceless bytecode module {file}{}", from(file))
        }
        Spec::Module(file) => format!("module {file}{}", from(file)),
        Spec::Namespace(dir) => format!("namespace portion {dir}"),
        Spec::None => "nothing".to_string(),
    }
}

/// `FileFinder.find_spec` in one folder.
pub(crate) fn probe(view: &MergedView, dir: &str, name: &str, suffixes: &[String]) -> Spec {
    let package_dir = join(dir, name);
    let is_dir = view.is_dir(&package_dir);
    if is_dir {
        for suffix in suffixes {
            let init = format!("{package_dir}/__init__{suffix}");
            if view.file(&init).is_some() {
                return Spec::Package {
                    dir: package_dir,
                    init,
                };
            }
        }
    }
    for suffix in suffixes {
        let file = format!("{package_dir}{suffix}");
        if view.file(&file).is_some() {
            return Spec::Module(file);
        }
    }
    if is_dir {
        Spec::Namespace(package_dir)
    } else {
        Spec::None
    }
}

/// Extension files for `name` in `dir` that this Python skips (another version, platform or
/// interpreter), and bytecode caches without their source: near misses.
fn foreign_extensions(
    view: &MergedView,
    request: &Request<'_>,
    dir: &str,
    name: &str,
    trace: &mut Trace,
) {
    for (source, entry) in view.files_starting(dir, &format!("{name}.")) {
        let file_name = entry.path.file_name();
        let Some(ext) = extension::parse(file_name) else {
            continue;
        };
        if ext.module != name || ext.target.loads_on(request.runtime, request.arch) {
            continue;
        }
        let path = MergedView::absolute(source, entry.path.as_str());
        let by_content = native_failures(view, request, source, entry.path.as_str());
        let content = by_content.first().map_or(String::new(), |miss| {
            format!("; its content too: {}", miss.reason)
        });
        let code = match (&ext.target, by_content.first()) {
            (_, Some(miss)) => miss.code,
            (ExtensionTarget::Windows, None) => Some(Code::BIN002),
            (
                ExtensionTarget::CPython {
                    platform: Some(platform),
                    ..
                },
                None,
            ) => Some(if platform.contains("darwin") {
                Code::BIN002
            } else if platform.contains("musl") {
                Code::BIN005
            } else if !platform.starts_with(request.arch.gnu_name()) {
                Code::BIN001
            } else {
                Code::BIN006
            }),
            _ => Some(Code::BIN006),
        };
        trace.near_misses.push(crate::resolve::NearMiss {
            path,
            reason: format!(
                "`{file_name}` is built for {}: {} on {} does not try that suffix, so it is not seen{content}",
                ext.target.describe(),
                request.runtime.id,
                request.arch
            ),
            code,
        });
    }
    let (major, minor) = request.runtime.version();
    let cache = format!("{dir}/__pycache__/{name}.cpython-{major}{minor}.pyc");
    if view.file(&cache).is_some() && view.file(&format!("{dir}/{name}.py")).is_none() {
        trace.near_miss(
            cache,
            format!("a bytecode cache without its source {name}.py: Python never imports from __pycache__ alone"),
            None,
        );
    }
}

/// The most bytes read of a `.pth` file: real ones are a few lines.
const MAX_PTH_FILE: usize = 1 << 20;

/// The `.pth` files of a site folder, in name order, with the existing folders they add.
fn pth_entries(view: &MergedView, site: &str) -> Vec<(String, Vec<String>)> {
    let mut result = Vec::new();
    for name in view.children(site) {
        if !name.ends_with(".pth") || name.starts_with('.') {
            continue;
        }
        let path = join(site, &name);
        let Some(hit) = view.file(&path) else {
            continue;
        };
        let Some(bytes) = view.read(&hit, MAX_PTH_FILE) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut dirs = Vec::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty()
                || line.starts_with('#')
                || line.starts_with("import ")
                || line.starts_with("import\t")
            {
                continue;
            }
            let dir = if line.starts_with('/') {
                normalize(line)
            } else {
                normalize(&join(site, line))
            };
            if view.is_dir(&dir) || view.file(&dir).is_some() {
                dirs.push(dir);
            }
        }
        result.push((path, dirs));
    }
    result
}

/// Where else `parts` (a dotted name's first components) exists in the function code or the
/// layers, and why the runtime does not look there.
fn near_misses(
    view: &MergedView,
    request: &Request<'_>,
    parts: &[&str],
    pythonpath_set: bool,
    trace: &mut Trace,
) {
    let relative = parts.join("/");
    let last = parts[parts.len() - 1];
    let site = request.runtime.python_site_packages();
    let mut seen_prefixes = std::collections::BTreeSet::new();
    for (source, inventory) in view.sources() {
        for entry in inventory.entries() {
            let path = entry.path.as_str();
            let Some(prefix) = module_prefix(path, &relative, last, entry.is_dir()) else {
                continue;
            };
            if !seen_prefixes.insert((source, prefix.to_string())) {
                continue;
            }
            // Inside another package: a subpackage of the same name, not a misplaced copy.
            if !prefix.is_empty() && inventory.get(&format!("{prefix}/__init__.py")).is_some() {
                continue;
            }
            let base = MergedView::absolute(source, prefix);
            let found = MergedView::absolute(source, path);
            let dotted = parts.join(".");
            if source == Source::Function {
                if !prefix.is_empty() {
                    trace.near_miss(
                        found,
                        format!("`{dotted}` is in the function code under {base}, which is not on sys.path (add it with PYTHONPATH, or install at the zip's root)"),
                        None,
                    );
                }
                continue;
            }
            if pythonpath_set && (prefix == site || prefix == "python") {
                trace.near_miss(
                    found,
                    format!("`{dotted}` is in {base}, but the function sets PYTHONPATH, so the bootstrap adds neither /opt/python entry to sys.path"),
                    None,
                );
                continue;
            }
            if let Some(version) = other_python_version(prefix)
                && prefix != site
            {
                trace.near_miss(
                    found,
                    format!(
                        "`{dotted}` is installed for python{version} in {base}; {} reads only /opt/{site} and /opt/python",
                        request.runtime.id
                    ),
                    Some(Code::LAY003),
                );
                continue;
            }
            if prefix == site || prefix == "python" {
                continue;
            }
            let (reason, code) = if prefix.is_empty() {
                (
                    "at the zip's root (/opt), which is not on sys.path: Python packages go under python/",
                    Code::LAY001,
                )
            } else {
                misplacement(prefix, "python")
                    .unwrap_or(("in a folder that is not on sys.path", Code::LAY001))
            };
            trace.near_miss(
                found,
                format!("`{dotted}` is {reason} (found in {base})"),
                Some(code),
            );
        }
    }
}

/// When `path` is the module `relative` (as package folder, `.py`, or extension) below some
/// folder, that folder (`""` for the root).
fn module_prefix<'p>(path: &'p str, relative: &str, last: &str, is_dir: bool) -> Option<&'p str> {
    let cut = |tail_len: usize| -> Option<&'p str> {
        let prefix_len = path.len().checked_sub(tail_len)?;
        let prefix = &path[..prefix_len];
        if prefix.is_empty() {
            Some("")
        } else {
            prefix.strip_suffix('/')
        }
    };
    if is_dir {
        return path
            .ends_with(relative)
            .then(|| cut(relative.len()))
            .flatten();
    }
    let parent_rel = relative.rsplit_once('/').map_or("", |(parent, _)| parent);
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let module_file = file_name == format!("{last}.py")
        || extension::parse(file_name).is_some_and(|ext| ext.module == last);
    if !module_file {
        return None;
    }
    let tail = if parent_rel.is_empty() {
        file_name.len()
    } else {
        parent_rel.len() + 1 + file_name.len()
    };
    let prefix = cut(tail)?;
    let expected_parent = &path[..path.len() - file_name.len()];
    if !parent_rel.is_empty() && !expected_parent.trim_end_matches('/').ends_with(parent_rel) {
        return None;
    }
    Some(prefix)
}

/// `3.11` for `python/lib/python3.11/site-packages`.
fn other_python_version(prefix: &str) -> Option<String> {
    let rest = prefix.strip_prefix("python/lib/python")?;
    let (version, tail) = rest.split_once('/')?;
    (tail == "site-packages" && version.starts_with("3.")).then(|| version.to_string())
}
