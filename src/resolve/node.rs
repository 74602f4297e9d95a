//! Node.js `require()`, replayed as CommonJS resolves it from a handler in `/var/task`.
//!
//! `require('x')` first walks `node_modules` folders up from the requiring file's folder
//! (`/var/task/node_modules`, `/var/node_modules`, `/node_modules`), then `NODE_PATH`
//! (`/opt/nodejs/nodeNN/node_modules`, `/opt/nodejs/node_modules`, `/var/runtime/node_modules`,
//! `/var/runtime`, `/var/task`). In each folder: the package's `exports` when its `package.json`
//! has one (conditions `require`, `node`, `default`, in the object's own key order; a subpath not
//! exported is an error, not a reason to look further), else the file `x`, `x.js`, `x.json`,
//! `x.node`, else the folder: `main`, then `index.js`/`.json`/`.node`.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::finding::Code;
use crate::resolve::merged::{MergedView, Source, join};
use crate::resolve::{
    ChainLink, Explanation, Request, Trace, loader, misplacement, native_check, native_failures,
    npm, replaced_files,
};

/// Node's built-in modules (`require('module').builtinModules`, public top-level names).
const BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

/// True for a Node.js built-in module (`fs`, `fs/promises`, `node:test`).
pub(crate) fn is_builtin(specifier: &str) -> bool {
    specifier.starts_with("node:")
        || BUILTINS.contains(&specifier.split('/').next().unwrap_or(specifier))
}

/// How a module is loaded: `require()` (CommonJS) or `import` (an ES module's static import).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Mode {
    Require,
    Import,
}

impl Mode {
    /// The conditions matched in a package's `exports`, in Node's order.
    fn conditions(self) -> &'static [&'static str] {
        match self {
            Mode::Require => &["require", "node", "default"],
            Mode::Import => &["import", "node", "default"],
        }
    }
}

/// JSON that keeps the key order of objects (`exports` conditions are matched in that order).
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        struct JsonVisitor;
        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
                Ok(Json::Bool(value))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_str<E>(self, value: &str) -> Result<Json, E> {
                Ok(Json::String(value.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Json>()? {
                    items.push((key, value));
                }
                Ok(Json::Object(items))
            }
        }
        deserializer.deserialize_any(JsonVisitor)
    }
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    /// True when some condition key anywhere below is `import` (an ESM entry).
    fn mentions_import(&self) -> bool {
        match self {
            Json::Object(items) => items
                .iter()
                .any(|(key, value)| key == "import" || value.mentions_import()),
            Json::Array(items) => items.iter().any(Json::mentions_import),
            _ => false,
        }
    }
}

/// A package's `package.json`, read from the merged view.
struct PackageJson {
    path: String,
    json: Option<Json>,
}

/// The most bytes read of a `package.json`: the largest real ones are a few hundred KiB.
const MAX_PACKAGE_JSON: usize = 8 << 20;

fn read_package_json(view: &MergedView, dir: &str) -> Option<PackageJson> {
    let path = format!("{dir}/package.json");
    let hit = view.file(&path)?;
    let json = view
        .read(&hit, MAX_PACKAGE_JSON)
        .and_then(|bytes| serde_json::from_slice::<Json>(&bytes).ok());
    Some(PackageJson { path, json })
}

/// The outcome of resolving a package's `exports` for a subpath.
enum Exported {
    Target(String),
    NotExported { esm_only: bool },
}

/// `PACKAGE_EXPORTS_RESOLVE` for `subpath` (`.` or `./fp`).
fn resolve_exports(exports: &Json, subpath: &str, mode: Mode) -> Exported {
    let is_subpath_map =
        matches!(exports, Json::Object(items) if items.iter().any(|(key, _)| key.starts_with('.')));
    let esm_only = mode == Mode::Require && exports.mentions_import();
    let entry: Option<(Json, Option<String>)> = if is_subpath_map {
        let Json::Object(items) = exports else {
            unreachable!("checked above")
        };
        let exact = items
            .iter()
            .find(|(key, _)| key == subpath)
            .map(|(_, value)| (value.clone(), None));
        exact.or_else(|| {
            // Patterns `./x/*`: the longest matching prefix wins.
            items
                .iter()
                .filter_map(|(key, value)| {
                    let (before, after) = key.split_once('*')?;
                    let middle = subpath.strip_prefix(before)?.strip_suffix(after)?;
                    Some((before.len(), value.clone(), middle.to_string()))
                })
                .max_by_key(|(len, _, _)| *len)
                .map(|(_, value, middle)| (value, Some(middle)))
        })
    } else if subpath == "." {
        Some((exports.clone(), None))
    } else {
        None
    };
    let Some((value, star)) = entry else {
        return Exported::NotExported { esm_only: false };
    };
    match target_of(&value, mode) {
        Some(target) => Exported::Target(match star {
            Some(middle) => target.replace('*', &middle),
            None => target,
        }),
        None => Exported::NotExported { esm_only },
    }
}

/// The target of an exports value under the conditions of `mode`.
fn target_of(value: &Json, mode: Mode) -> Option<String> {
    match value {
        Json::String(target) => Some(target.clone()),
        Json::Array(items) => items.iter().find_map(|item| target_of(item, mode)),
        Json::Object(items) => items
            .iter()
            .filter(|(key, _)| mode.conditions().contains(&key.as_str()))
            .find_map(|(_, value)| target_of(value, mode)),
        _ => None,
    }
}

/// What one folder of the search gives.
enum Outcome {
    Found(String),
    /// Found the package, but `require` throws there (the search stops).
    Throws(String),
    NotHere(&'static str),
}

pub(crate) fn explain(view: &MergedView, request: &Request<'_>) -> Explanation {
    explain_from(view, request, "/var/task", Mode::Require)
}

/// How loading the target found so far goes, once it is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loading {
    /// Nothing found stops it.
    Loads,
    /// A file it needs fails to load (a wrong-platform binary, a missing library): the near
    /// misses say which.
    NearMissesFail,
    /// Running its `require()` closure fails; the verdict says where.
    ClosureFails,
}

/// `require(request.name)` (or a static `import`) from a file in the folder `from`: the
/// `node_modules` walk starts there.
pub(crate) fn explain_from(
    view: &MergedView,
    request: &Request<'_>,
    from: &str,
    mode: Mode,
) -> Explanation {
    let mut trace = Trace::default();
    let target = request.name;
    let bare = target.strip_prefix("node:").unwrap_or(target);
    if BUILTINS.contains(&bare.split('/').next().unwrap_or(bare)) || target.starts_with("node:") {
        trace.step(
            "(built in)",
            bare,
            Some(format!("node:{bare}")),
            "a built-in module: require() returns it before any folder is searched",
        );
        let verdict = format!("`{target}` is Node.js's built-in module node:{bare}");
        return trace.finish(request, Some(format!("node:{bare}")), true, verdict);
    }
    let (package, subpath) = split_specifier(target);
    let Some(package) = package else {
        trace.step("", target, None, "not a package name");
        return trace.finish(
            request,
            None,
            false,
            format!("`{target}` is not a package name"),
        );
    };
    let mut dirs: Vec<(String, &'static str)> = node_modules_walk(from)
        .into_iter()
        .enumerate()
        .map(|(index, dir)| {
            let why = if index == 0 && from == "/var/task" {
                "node_modules walk from /var/task"
            } else {
                "node_modules walk"
            };
            (dir, why)
        })
        .collect();
    let node_path: Vec<String> = match request.env.get("NODE_PATH") {
        Some(value) => value
            .split(':')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        None => request.runtime.node_path(),
    };
    dirs.extend(node_path.iter().cloned().map(|dir| (dir, "NODE_PATH")));
    let looked_for = if subpath.is_empty() {
        format!("{package}/package.json (exports, main), {package}.js, {package}/index.js")
    } else {
        format!(
            "{package}/package.json (exports[\"./{subpath}\"]), {package}/{subpath}(.js|.json|.node), {package}/{subpath}/index.js"
        )
    };
    let mut location = None;
    let mut loading = Loading::Loads;
    let mut verdict = String::new();
    let mut done = false;
    for (dir, why) in &dirs {
        if done {
            let shadowed = request
                .runtime
                .facts()
                .find_bundled(crate::facts::Ecosystem::Node, package)
                .filter(|bundled| bundled.path == dir.as_str() && location.is_some());
            let note = match shadowed {
                Some(_) => format!(
                    "shadowed: the {} runtime's own {package} here is never loaded; an earlier folder has it ({why})",
                    request.runtime.id
                ),
                None => format!("not reached ({why})"),
            };
            trace.step(dir.clone(), looked_for.clone(), None, note);
            continue;
        }
        if !view.models(dir) {
            let bundled = request
                .runtime
                .facts()
                .find_bundled(crate::facts::Ecosystem::Node, package)
                .filter(|bundled| bundled.path == dir.as_str());
            if bundled.is_some() {
                let found = format!("{dir}/{package}");
                trace.step(
                    dir.clone(),
                    looked_for.clone(),
                    Some(found.clone()),
                    format!(
                        "shipped with the {} runtime (the AWS SDK for JavaScript v3) ({why})",
                        request.runtime.id
                    ),
                );
                verdict = format!(
                    "`{target}` resolves to the runtime's own copy in {dir}; no folder of the function or the layers has it"
                );
                location = Some(found);
                done = true;
                continue;
            }
            trace.step(
                dir.clone(),
                looked_for.clone(),
                None,
                format!("outside the function code and the layers ({why})"),
            );
            continue;
        }
        match resolve_in(view, dir, package, subpath, mode, &mut trace) {
            Outcome::Found(file) => {
                let note = match view.file(&file) {
                    Some(hit) => format!("from {} ({why})", view.source_name(hit.source)),
                    None => why.to_string(),
                };
                trace.step(dir.clone(), looked_for.clone(), Some(file.clone()), note);
                let package_dir = format!("{dir}/{package}");
                if !check_loads(view, request, &package_dir, &file, mode, &mut trace) {
                    loading = Loading::NearMissesFail;
                }
                verdict = format!("`{target}` resolves to {file}");
                if request
                    .runtime
                    .facts()
                    .find_bundled(crate::facts::Ecosystem::Node, package)
                    .is_some()
                {
                    verdict.push_str(&format!(
                        "; this copy is loaded instead of the {} runtime's own {package} (the AWS SDK for JavaScript v3 it bundles)",
                        request.runtime.id
                    ));
                }
                if loading == Loading::Loads
                    && let Some(failure) = load_closure(
                        view,
                        request,
                        package,
                        &package_dir,
                        &file,
                        &node_path,
                        &mut trace,
                    )
                {
                    loading = Loading::ClosureFails;
                    verdict =
                        format!("`{target}` resolves to {file}, but loading it fails: {failure}");
                }
                location = Some(file);
                done = true;
            }
            Outcome::Throws(error) => {
                trace.step(
                    dir.clone(),
                    looked_for.clone(),
                    None,
                    format!("{error} ({why})"),
                );
                verdict = format!("require('{target}') throws: {error}");
                done = true;
            }
            Outcome::NotHere(note) => {
                trace.step(
                    dir.clone(),
                    looked_for.clone(),
                    None,
                    format!("{note} ({why})"),
                );
            }
        }
    }
    if location.is_none() {
        if verdict.is_empty() {
            verdict = format!("Cannot find module '{target}'");
        }
        near_misses(view, request, package, &mut trace);
        runtime_near_misses(request, package, &mut trace);
    } else if loading == Loading::NearMissesFail {
        verdict.push_str(", but loading it would fail: see the near misses");
    }
    let loads = loading == Loading::Loads && location.is_some();
    trace.finish(request, location, loads, verdict)
}

/// What the runtime itself says about a package it does not let `require()` find: `aws-sdk` (v2)
/// is absent from nodejs18.x and later, which bundle only the v3 clients; `@smithy/*` and the
/// other SDK internals sit under `@aws-sdk/node_modules`, which no lookup reaches.
fn runtime_near_misses(request: &Request<'_>, package: &str, trace: &mut Trace) {
    let runtime = request.runtime;
    if let Some(absent) = runtime
        .facts()
        .absent_packages()
        .iter()
        .find(|absent| absent.name == package)
    {
        let v2 = package == "aws-sdk";
        trace.near_miss(
            format!("{}/{package}", absent.path),
            if v2 {
                format!(
                    "the {} runtime bundles only the AWS SDK for JavaScript v3 (`@aws-sdk/client-*`), not aws-sdk v2: migrate to the v3 clients (`require('@aws-sdk/client-s3')`), or ship v2 in a layer (`npm install --prefix nodejs aws-sdk@2`)",
                    runtime.id
                )
            } else {
                format!("the {} runtime does not ship it: {}", runtime.id, absent.note)
            },
            None,
        );
        return;
    }
    if let Some(nested) = runtime.facts().bundled_packages().iter().find(|bundled| {
        bundled.ecosystem == crate::facts::Ecosystem::Node
            && bundled.name == package
            && !bundled.resolvable()
    }) {
        trace.near_miss(
            format!("{}/{package}", nested.path),
            format!(
                "the {} runtime has it only as an internal dependency in {}, which neither the node_modules walk nor NODE_PATH reaches: ship it in the layer",
                runtime.id, nested.path
            ),
            None,
        );
    }
}

/// `@scope/name/sub/path` → (`@scope/name`, `sub/path`).
fn split_specifier(target: &str) -> (Option<&str>, &str) {
    let cut = if target.starts_with('@') {
        target.match_indices('/').nth(1).map(|(index, _)| index)
    } else {
        target.find('/')
    };
    let (package, subpath) = match cut {
        Some(index) => (&target[..index], &target[index + 1..]),
        None => (target, ""),
    };
    let valid = !package.is_empty()
        && !package.starts_with('.')
        && (!package.starts_with('@') || package.contains('/'));
    (valid.then_some(package), subpath)
}

/// One folder of the search.
fn resolve_in(
    view: &MergedView,
    dir: &str,
    package: &str,
    subpath: &str,
    mode: Mode,
    trace: &mut Trace,
) -> Outcome {
    let package_dir = join(dir, package);
    let manifest = read_package_json(view, &package_dir);
    if let Some(exports) = manifest
        .as_ref()
        .and_then(|m| m.json.as_ref())
        .and_then(|json| json.get("exports"))
    {
        let wanted = if subpath.is_empty() {
            ".".to_string()
        } else {
            format!("./{subpath}")
        };
        return match resolve_exports(exports, &wanted, mode) {
            Exported::Target(target) => {
                let file = super::merged::normalize(&join(&package_dir, &target));
                if view.file(&file).is_some() {
                    Outcome::Found(file)
                } else {
                    trace.near_miss(
                        file.clone(),
                        format!("package.json `exports` maps \"{wanted}\" to {target}, which is not in the package"),
                        None,
                    );
                    Outcome::Throws(format!(
                        "Cannot find module '{file}' (the `exports` target is missing)"
                    ))
                }
            }
            Exported::NotExported { esm_only } => {
                let path = manifest
                    .as_ref()
                    .map_or(package_dir.clone(), |m| m.path.clone());
                if esm_only {
                    trace.near_miss(
                        path,
                        format!("`{package}` is ESM-only: its `exports` for \"{wanted}\" has only `import` conditions, so require() finds no target on any Node.js version (use `await import('{package}')`, or a version of the package that still ships CommonJS)"),
                        None,
                    );
                }
                Outcome::Throws(format!(
                    "ERR_PACKAGE_PATH_NOT_EXPORTED: Package subpath '{wanted}' is not defined by \"exports\" in {package_dir}/package.json"
                ))
            }
        };
    }
    let base = if subpath.is_empty() {
        package_dir.clone()
    } else {
        join(&package_dir, subpath)
    };
    if let Some(file) = load_as_file(view, &base) {
        return Outcome::Found(file);
    }
    if !view.is_dir(&base) {
        return Outcome::NotHere(if view.is_dir(dir) {
            "no such package"
        } else {
            "no such folder"
        });
    }
    let main_manifest = if subpath.is_empty() {
        manifest
    } else {
        read_package_json(view, &base)
    };
    if let Some(main) = main_manifest
        .as_ref()
        .and_then(|m| m.json.as_ref())
        .and_then(|json| json.get("main"))
        .and_then(Json::as_str)
    {
        let main_path = super::merged::normalize(&join(&base, main));
        if let Some(file) = load_as_file(view, &main_path).or_else(|| load_index(view, &main_path))
        {
            return Outcome::Found(file);
        }
        if let Some(file) = load_index(view, &base) {
            trace.near_miss(
                main_path,
                format!("package.json `main` is \"{main}\", which is not in the package; Node falls back to {file} with a DeprecationWarning"),
                None,
            );
            return Outcome::Found(file);
        }
        trace.near_miss(
            main_path.clone(),
            format!("package.json `main` is \"{main}\", which is not in the package, and there is no index.js"),
            None,
        );
        return Outcome::Throws(format!(
            "Cannot find module '{main_path}'. Please verify that the package.json has a valid \"main\" entry"
        ));
    }
    match load_index(view, &base) {
        Some(file) => Outcome::Found(file),
        None => Outcome::NotHere("the folder has no package.json `main` and no index.js"),
    }
}

/// The `node_modules` folders `require()` walks from a file in `from`, nearest first (a folder
/// itself named `node_modules` gets none added).
pub(crate) fn node_modules_walk(from: &str) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut at = from.trim_end_matches('/');
    loop {
        if !at.ends_with("/node_modules") {
            dirs.push(format!("{at}/node_modules"));
        }
        if at.is_empty() {
            break;
        }
        match at.rsplit_once('/') {
            Some((parent, _)) => at = parent,
            None => break,
        }
    }
    dirs
}

/// `require('./x')` of a path (absolute, already joined): `LOAD_AS_FILE`, then
/// `LOAD_AS_DIRECTORY` (its `package.json` `main`, then `index.js`/`.json`/`.node`).
pub(crate) fn load_path(view: &MergedView, base: &str) -> Option<String> {
    if let Some(file) = load_as_file(view, base) {
        return Some(file);
    }
    if !view.is_dir(base) {
        return None;
    }
    if let Some(main) = read_package_json(view, base)
        .and_then(|manifest| manifest.json)
        .and_then(|json| json.get("main").and_then(Json::as_str).map(str::to_string))
    {
        let main_path = super::merged::normalize(&join(base, &main));
        if let Some(file) = load_as_file(view, &main_path).or_else(|| load_index(view, &main_path))
        {
            return Some(file);
        }
    }
    load_index(view, base)
}

/// `LOAD_AS_FILE`: the path itself, then with `.js`, `.json`, `.node`.
pub(crate) fn load_as_file(view: &MergedView, base: &str) -> Option<String> {
    ["", ".js", ".json", ".node"]
        .iter()
        .map(|suffix| format!("{base}{suffix}"))
        .find(|file| view.file(file).is_some())
}

/// `LOAD_INDEX`: `index.js`, `index.json`, `index.node` of a folder.
pub(crate) fn load_index(view: &MergedView, dir: &str) -> Option<String> {
    ["index.js", "index.json", "index.node"]
        .iter()
        .map(|name| format!("{dir}/{name}"))
        .find(|file| view.file(file).is_some())
}

/// Whether the resolved file would load: an ES module under `require()` on Node 18, and
/// the package's native addons under the `BIN` rules.
fn check_loads(
    view: &MergedView,
    request: &Request<'_>,
    package_dir: &str,
    file: &str,
    mode: Mode,
    trace: &mut Trace,
) -> bool {
    let mut ok = true;
    if mode == Mode::Require && is_esm(view, package_dir, file) {
        // require(esm) is on by default from Node.js 20.19 and 22.12; Lambda keeps each
        // runtime on the latest minor release of its major version.
        if request.runtime.version().0 < 20 {
            ok = false;
            trace.near_miss(
                file.to_string(),
                format!("an ES module (`\"type\": \"module\"` or .mjs): require() of it fails on {} with ERR_REQUIRE_ESM; Node.js 20.19 and 22.12 added require(esm), so nodejs20.x and later load it", request.runtime.id),
                None,
            );
        } else {
            trace.near_miss(
                file.to_string(),
                format!("an ES module: {} loads it through require(esm) (Node.js 20.19 / 22.12 and later; older minor releases fail with ERR_REQUIRE_ESM), unless it uses top-level await (ERR_REQUIRE_ASYNC_MODULE); nodejs18.x fails with ERR_REQUIRE_ESM", request.runtime.id),
                None,
            );
        }
    }
    replaced_files(view, package_dir, trace);
    let (source, rel) = match (
        package_dir.strip_prefix("/opt/"),
        package_dir.strip_prefix("/var/task/"),
    ) {
        (Some(rel), _) => (view.file(file).map(|hit| hit.source), rel),
        (_, Some(rel)) => (Some(Source::Function), rel),
        _ => (None, ""),
    };
    if let Some(source) = source {
        for miss in native_failures(view, request, source, rel) {
            ok = false;
            trace.near_misses.push(miss);
        }
    }
    ok
}

/// Loads what the resolved package pulls in: its dependencies transitively (each found from
/// the dependent's folder), the platform packages its `optionalDependencies` select, and the
/// native addons of those packages. Returns the failure's text after recording the chain.
fn load_closure(
    view: &MergedView,
    request: &Request<'_>,
    package: &str,
    package_dir: &str,
    file: &str,
    node_path: &[String],
    trace: &mut Trace,
) -> Option<String> {
    let packages = npm::Packages::new(view, request.runtime, node_path.to_vec());
    let target_link = |trace: &mut Trace| {
        trace.chain = vec![ChainLink {
            module: request.target.to_string(),
            location: Some(file.to_string()),
        }];
    };
    let loaded = match packages.closure(package, package_dir, request.arch) {
        Ok(loaded) => loaded,
        Err(failure) => {
            target_link(trace);
            for link in &failure.chain[1..] {
                trace.chain.push(ChainLink {
                    module: link.name.clone(),
                    location: Some(link.dir.clone()),
                });
            }
            let dependent = failure
                .chain
                .last()
                .map_or(package_dir, |link| link.dir.as_str());
            trace.near_miss(
                dependent.to_string(),
                format!("{}: {}", failure.chain_text(), failure.reason),
                failure.code,
            );
            trace.fail(
                failure.missing.clone(),
                None,
                failure.reason.clone(),
                failure.code,
            );
            return Some(format!("{}: {}", failure.chain_text(), failure.reason));
        }
    };
    // The target's own addons were checked with it; the packages it pulls in are checked here.
    let loader = loader::Loader::new(view, request.runtime, request.arch);
    for chain in loaded.iter().skip(1) {
        let Some(link) = chain.last() else { continue };
        let Some(hit) = view.file(&format!("{}/package.json", link.dir)) else {
            continue;
        };
        let Some(rel) = link
            .dir
            .strip_prefix("/opt/")
            .or_else(|| link.dir.strip_prefix("/var/task/"))
        else {
            continue;
        };
        let check = native_check(view, request.linter, &loader, hit.source, rel);
        if let Some((_, failure)) = check.failures.into_iter().next() {
            target_link(trace);
            for link in &chain[1..] {
                trace.chain.push(ChainLink {
                    module: link.name.clone(),
                    location: Some(link.dir.clone()),
                });
            }
            for miss in check.misses {
                trace.near_misses.push(miss);
            }
            trace.fail_to_load(&failure);
            return Some(failure.summary());
        }
    }
    None
}

/// `.mjs`, or `.js` whose nearest `package.json` within the package says `"type": "module"`.
pub(crate) fn is_esm(view: &MergedView, package_dir: &str, file: &str) -> bool {
    if file.ends_with(".mjs") {
        return true;
    }
    if !file.ends_with(".js") {
        return false;
    }
    let mut dir = file
        .rsplit_once('/')
        .map_or("", |(parent, _)| parent)
        .to_string();
    loop {
        if let Some(manifest) = read_package_json(view, &dir) {
            return manifest
                .json
                .as_ref()
                .and_then(|json| json.get("type"))
                .and_then(Json::as_str)
                == Some("module");
        }
        if dir.len() <= package_dir.len() {
            return false;
        }
        match dir.rsplit_once('/') {
            Some((parent, _)) => dir = parent.to_string(),
            None => return false,
        }
    }
}

/// Where else the package is, and why Node does not look there.
fn near_misses(view: &MergedView, request: &Request<'_>, package: &str, trace: &mut Trace) {
    let own = request.runtime.package_dirs();
    for (source, inventory) in view.sources() {
        for entry in inventory.entries() {
            let path = entry.path.as_str();
            let Some(prefix) = path
                .strip_suffix(&format!("/{package}/package.json"))
                .or_else(|| (path == format!("{package}/package.json")).then_some(""))
            else {
                continue;
            };
            let found = MergedView::absolute(source, &join_rel(prefix, package));
            if source == Source::Function {
                if prefix != "node_modules" {
                    trace.near_miss(found, format!("`{package}` is in the function code under /var/task/{prefix}, which neither the node_modules walk nor NODE_PATH reaches"), None);
                }
                continue;
            }
            if own.iter().any(|dir| dir == prefix) {
                continue;
            }
            if let Some(version) = prefix
                .strip_prefix("nodejs/node")
                .and_then(|rest| rest.strip_suffix("/node_modules"))
            {
                trace.near_miss(
                    found,
                    format!("`{package}` is installed for Node.js {version} in /opt/{prefix}; {} reads /opt/nodejs/node{}/node_modules and /opt/nodejs/node_modules", request.runtime.id, request.runtime.version().0),
                    Some(Code::LAY004),
                );
                continue;
            }
            if prefix.contains("/node_modules/") || prefix.starts_with("nodejs/") {
                continue;
            }
            let (reason, code) = if prefix.is_empty() || prefix == "node_modules" {
                (
                    "at the zip's root, which is not on NODE_PATH: Node.js packages go under nodejs/node_modules/",
                    Code::LAY001,
                )
            } else {
                misplacement(prefix, "nodejs")
                    .unwrap_or(("in a folder that is not on NODE_PATH", Code::LAY001))
            };
            trace.near_miss(found, format!("`{package}` is {reason}"), Some(code));
        }
    }
}

fn join_rel(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Json {
        serde_json::from_str(text).expect("valid JSON")
    }

    #[test]
    fn exports_follow_condition_order_and_subpaths() {
        let exports = json(
            r#"{".": {"import": "./esm/index.mjs", "require": "./cjs/index.js"}, "./fp": "./fp.js", "./features/*": "./lib/*.js"}"#,
        );
        assert!(
            matches!(resolve_exports(&exports, ".", Mode::Require), Exported::Target(t) if t == "./cjs/index.js")
        );
        assert!(
            matches!(resolve_exports(&exports, "./fp", Mode::Require), Exported::Target(t) if t == "./fp.js")
        );
        assert!(
            matches!(resolve_exports(&exports, "./features/a", Mode::Require), Exported::Target(t) if t == "./lib/a.js")
        );
        assert!(matches!(
            resolve_exports(&exports, "./nope", Mode::Require),
            Exported::NotExported { .. }
        ));
        let esm = json(r#"{"import": "./index.js"}"#);
        assert!(matches!(
            resolve_exports(&esm, ".", Mode::Require),
            Exported::NotExported { esm_only: true }
        ));
        let default_first = json(r#"{"default": "./a.js", "require": "./b.js"}"#);
        assert!(
            matches!(resolve_exports(&default_first, ".", Mode::Require), Exported::Target(t) if t == "./a.js")
        );
    }

    #[test]
    fn specifiers_split_into_package_and_subpath() {
        assert_eq!(split_specifier("lodash/fp"), (Some("lodash"), "fp"));
        assert_eq!(
            split_specifier("@aws-sdk/client-s3"),
            (Some("@aws-sdk/client-s3"), "")
        );
        assert_eq!(split_specifier("@scope/x/y/z"), (Some("@scope/x"), "y/z"));
        assert_eq!(split_specifier("@scope").0, None);
    }
}
