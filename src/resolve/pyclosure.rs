//! The Python import closure: what executing `import MODULE` runs, followed transitively over
//! the function code, the layers and the runtime.
//!
//! Importing `a.b.c` executes `a/__init__`, `a/b/__init__` and `a/b/c`; executing a module
//! runs the imports at its top level ([`super::pysource`] says which), in order, and the first
//! one that fails raises out of the whole import. `from pkg import name` imports the submodule
//! `pkg.name` when there is one; a name that is no submodule is an attribute of `pkg`'s
//! `__init__` (not judged), except in a namespace package, which has no code and so no
//! attributes: there it fails with "cannot import name ... (unknown location)"; and except in a
//! package whose module-level `__getattr__` imports names lazily from a table (pydantic 2.5 and
//! later): there the name's module is imported. Standard-library
//! modules of the runtime's Python and the packages the runtime bundles (boto3 and its
//! dependencies) resolve in the runtime and are not followed further. A compiled extension in
//! the closure is checked with the loading `BIN` rules.
//!
//! Each file is parsed at most once per run; each module is executed at most once (a module
//! being executed counts as loaded when a cycle imports it again, as in CPython).

use std::collections::HashMap;
use std::rc::Rc;

use crate::domain::extension::{self, ExtensionTarget};
use crate::finding::Code;
use crate::resolve::loader::Loader;
use crate::resolve::merged::MergedView;
use crate::resolve::pysource::{self, Import, ImportKind, Parsed};
use crate::resolve::python::{self, PathEntry, Spec};
use crate::resolve::{ChainLink, Failure, NearMiss, Request, native_check};

/// The most bytes of a module's source parsed for its imports: the largest real modules are
/// a few MiB; a larger file is treated as one that imports nothing.
const MAX_MODULE_SOURCE: usize = 16 << 20;

/// One module on the way from the imported module to what fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    /// The dotted module name.
    pub(crate) module: String,
    /// Its file (or folder), as an absolute path on Lambda.
    pub(crate) location: Option<String>,
    /// The line of this module's statement that imports the next link.
    pub(crate) line: Option<u32>,
}

/// Why an import fails: the chain from the imported module to the failing one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Broken {
    pub(crate) links: Vec<Link>,
    pub(crate) failure: Failure,
    /// Why, in words, when that says more than the runtime's error.
    pub(crate) cause: Option<String>,
    /// The file that explains the failure (a foreign build, an unloadable library).
    pub(crate) evidence: Option<NearMiss>,
}

impl Broken {
    fn at(module: &str, location: Option<String>, failure: Failure) -> Broken {
        Broken {
            links: vec![Link {
                module: module.to_string(),
                location,
                line: None,
            }],
            failure,
            cause: None,
            evidence: None,
        }
    }

    /// The chain as the explanation shows it.
    pub(crate) fn chain(&self) -> Vec<ChainLink> {
        self.links
            .iter()
            .map(|link| ChainLink {
                module: link.module.clone(),
                location: link.location.clone(),
            })
            .collect()
    }

    fn behind(mut self, module: &str, location: Option<&str>, line: u32) -> Broken {
        self.links.insert(
            0,
            Link {
                module: module.to_string(),
                location: location.map(str::to_string),
                line: Some(line),
            },
        );
        self
    }
}

/// A failing import statement of the function code (for STK006).
#[derive(Clone, Debug)]
pub(crate) struct FailingStatement {
    /// The function's file, as an absolute path.
    pub(crate) file: String,
    pub(crate) line: u32,
    /// The statement as written, abridged (`from .models import User`).
    pub(crate) statement: String,
    /// From the module that holds the statement to what fails.
    pub(crate) broken: Broken,
}

/// Where a module name leads.
#[derive(Clone, Debug)]
enum Resolved {
    /// Standard library or a package the runtime bundles: not in the view, not followed.
    Runtime,
    /// A source module or a package's `__init__.py`.
    Source {
        file: String,
        package: Option<String>,
    },
    /// A compiled extension module (or a package whose `__init__` is one).
    Extension {
        file: String,
        package: Option<String>,
    },
    /// Sourceless bytecode (`.pyc`): loads, not read.
    Opaque { package: Option<String> },
    /// A namespace package: folders without `__init__`, and a foreign build beside one.
    Namespace {
        portions: Vec<String>,
        foreign: Option<NearMiss>,
    },
    /// Not found; with the file that explains why, when one does.
    Missing { foreign: Option<NearMiss> },
}

impl Resolved {
    fn package_dirs(&self) -> Option<Vec<String>> {
        match self {
            Resolved::Source {
                package: Some(dir), ..
            }
            | Resolved::Extension {
                package: Some(dir), ..
            }
            | Resolved::Opaque { package: Some(dir) } => Some(vec![dir.clone()]),
            Resolved::Namespace { portions, .. } => Some(portions.clone()),
            _ => None,
        }
    }
}

enum State {
    Running,
    Done(Option<Broken>),
}

/// The closure of one run: parses, resolutions and results are kept for the run.
pub(crate) struct Closure<'v, 'r> {
    view: &'v MergedView,
    request: &'r Request<'r>,
    entries: Vec<PathEntry>,
    suffixes: Vec<String>,
    stdlib_dir: String,
    parsed: HashMap<String, Rc<Parsed>>,
    resolved: HashMap<String, Resolved>,
    states: HashMap<String, State>,
    /// Failing statements of the function code, in execution order.
    pub(crate) failing_statements: Vec<FailingStatement>,
    /// Modules executed, in order (for the chain of a target that loads).
    pub(crate) executed: Vec<String>,
}

impl<'v, 'r> Closure<'v, 'r> {
    pub(crate) fn new(view: &'v MergedView, request: &'r Request<'r>) -> Closure<'v, 'r> {
        let (entries, _) = python::sys_path(view, request);
        Closure {
            view,
            request,
            entries,
            suffixes: python::suffixes(request),
            stdlib_dir: request.runtime.python_stdlib_dir(),
            parsed: HashMap::new(),
            resolved: HashMap::new(),
            states: HashMap::new(),
            failing_statements: Vec::new(),
            executed: Vec::new(),
        }
    }

    /// `import dotted` from the outside (a target, a handler): parses the files its closure may
    /// reach in parallel first, then executes it.
    pub(crate) fn import_root(&mut self, dotted: &str) -> Option<Broken> {
        self.prefetch(dotted);
        self.import(dotted)
    }

    /// Parses, level by level and in parallel, every source file the closure of `dotted` may
    /// execute (a little more than it does: what follows a failing statement), so the
    /// execution, which is sequential, finds each file parsed. Each file is parsed once.
    fn prefetch(&mut self, dotted: &str) {
        use rayon::prelude::*;
        use std::collections::HashSet;
        let target = pysource::Target {
            version: self.request.runtime.version(),
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut frontier: Vec<String> = vec![dotted.to_string()];
        while !frontier.is_empty() {
            // Every module named, with its packages on the way, resolved to a file to parse.
            let mut files: Vec<(String, String, bool)> = Vec::new();
            for name in std::mem::take(&mut frontier) {
                let mut prefix = String::new();
                for part in name.split('.') {
                    if !prefix.is_empty() {
                        prefix.push('.');
                    }
                    prefix.push_str(part);
                    if !seen.insert(prefix.clone()) {
                        continue;
                    }
                    if let Resolved::Source { file, package } = self.resolve(&prefix)
                        && !self.parsed.contains_key(&file)
                    {
                        files.push((prefix.clone(), file, package.is_some()));
                    }
                }
            }
            let view = self.view;
            let parsed: Vec<(String, String, bool, Parsed)> = files
                .into_par_iter()
                .map(|(module, file, is_package)| {
                    let parsed = pysource::imports(&read_source(view, &file), target);
                    (module, file, is_package, parsed)
                })
                .collect();
            for (module, file, is_package, parsed) in parsed {
                for import in &parsed.imports {
                    frontier.extend(named_modules(&module, is_package, import));
                }
                self.parsed.insert(file, Rc::new(parsed));
            }
        }
    }

    /// `import dotted`: executes each package on the way, then the module.
    pub(crate) fn import(&mut self, dotted: &str) -> Option<Broken> {
        // The packages this import executes (not those loaded before or still executing).
        let fresh: Vec<bool> = dotted
            .match_indices('.')
            .map(|(end, _)| !self.states.contains_key(&dotted[..end]))
            .collect();
        let mut prefix = String::new();
        for part in dotted.split('.') {
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(part);
            if let Some(mut broken) = self.execute(&prefix.clone()) {
                // The packages this import executed on the way lead to it (`pkg` →
                // `pkg._core`); one loaded before is not a step of this import.
                let packages: Vec<&str> = dotted
                    .match_indices('.')
                    .map(|(end, _)| &dotted[..end])
                    .zip(&fresh)
                    .take_while(|(package, _)| *package != prefix)
                    .filter(|(_, fresh)| **fresh)
                    .map(|(package, _)| package)
                    .collect();
                let links: Vec<Link> = packages
                    .into_iter()
                    .map(|package| Link {
                        module: package.to_string(),
                        location: self.location(package),
                        line: None,
                    })
                    .collect();
                broken.links.splice(0..0, links);
                return Some(broken);
            }
        }
        None
    }

    /// The file a module name resolves to, when it is in the function code or the layers.
    pub(crate) fn location(&mut self, dotted: &str) -> Option<String> {
        match self.resolve(dotted) {
            Resolved::Source { file, .. } | Resolved::Extension { file, .. } => Some(file),
            Resolved::Namespace { portions, .. } => portions.first().cloned(),
            _ => None,
        }
    }

    fn resolve(&mut self, dotted: &str) -> Resolved {
        if let Some(found) = self.resolved.get(dotted) {
            return found.clone();
        }
        let found = self.find(dotted);
        self.resolved.insert(dotted.to_string(), found.clone());
        found
    }

    fn find(&mut self, dotted: &str) -> Resolved {
        let (parent, name) = match dotted.rsplit_once('.') {
            Some((parent, name)) => (Some(parent), name),
            None => (None, dotted),
        };
        let dirs: Vec<String> = match parent {
            None => self.entries.iter().map(|entry| entry.dir.clone()).collect(),
            Some(parent) => match self.resolve(parent) {
                Resolved::Runtime => return Resolved::Runtime,
                other => match other.package_dirs() {
                    Some(dirs) => dirs,
                    None => return Resolved::Missing { foreign: None },
                },
            },
        };
        let mut portions = Vec::new();
        for dir in &dirs {
            if !self.view.models(dir) {
                if parent.is_none()
                    && ((*dir == self.stdlib_dir && python::in_stdlib(self.request.runtime, name))
                        || python::bundled(self.request.runtime, dir, name))
                {
                    return Resolved::Runtime;
                }
                continue;
            }
            match python::probe(self.view, dir, name, &self.suffixes) {
                Spec::Package { dir, init } => {
                    return if init.ends_with(".py") {
                        Resolved::Source {
                            file: init,
                            package: Some(dir),
                        }
                    } else if init.ends_with(".so") {
                        Resolved::Extension {
                            file: init,
                            package: Some(dir),
                        }
                    } else {
                        Resolved::Opaque { package: Some(dir) }
                    };
                }
                Spec::Module(file) if file.ends_with(".py") => {
                    return Resolved::Source {
                        file,
                        package: None,
                    };
                }
                Spec::Module(file) if file.ends_with(".so") => {
                    return Resolved::Extension {
                        file,
                        package: None,
                    };
                }
                Spec::Module(_) => return Resolved::Opaque { package: None },
                Spec::Namespace(dir) => portions.push(dir),
                Spec::None => {}
            }
        }
        let foreign = dirs
            .iter()
            .find_map(|dir| self.foreign_build(dir, name, dotted));
        if portions.is_empty() {
            Resolved::Missing { foreign }
        } else {
            Resolved::Namespace { portions, foreign }
        }
    }

    /// An extension file for `name` in `dir` that this runtime does not try: the evidence of
    /// a missing module.
    fn foreign_build(&self, dir: &str, name: &str, dotted: &str) -> Option<NearMiss> {
        let request = self.request;
        let (source, entry, ext) = self
            .view
            .files_starting(dir, &format!("{name}."))
            .into_iter()
            .filter_map(|(source, entry)| {
                let ext = extension::parse(entry.path.file_name())?;
                (ext.module == name).then_some((source, entry, ext))
            })
            .find(|(_, _, ext)| !ext.target.loads_on(request.runtime, request.arch))?;
        let code = match &ext.target {
            ExtensionTarget::Windows => Code::BIN002,
            ExtensionTarget::CPython {
                platform: Some(platform),
                ..
            } if platform.contains("darwin") => Code::BIN002,
            ExtensionTarget::CPython {
                platform: Some(platform),
                ..
            } if platform.contains("musl") => Code::BIN005,
            ExtensionTarget::CPython {
                platform: Some(platform),
                ..
            } if !platform.starts_with(request.arch.gnu_name()) => Code::BIN001,
            _ => Code::BIN006,
        };
        Some(NearMiss {
            path: MergedView::absolute(source, entry.path.as_str()),
            reason: format!(
                "only a {} build of `{dotted}` is present (`{}`): {} on {} does not try that file",
                ext.target.describe(),
                entry.path.file_name(),
                request.runtime.id,
                request.arch
            ),
            code: Some(code),
        })
    }

    /// Runs a module once; the result of its first run afterwards.
    fn execute(&mut self, dotted: &str) -> Option<Broken> {
        match self.states.get(dotted) {
            Some(State::Running) => return None,
            Some(State::Done(result)) => return result.clone(),
            None => {}
        }
        self.states.insert(dotted.to_string(), State::Running);
        self.executed.push(dotted.to_string());
        let result = match self.resolve(dotted) {
            Resolved::Missing { foreign } => {
                let mut broken = Broken::at(
                    dotted,
                    None,
                    Failure {
                        module: dotted.to_string(),
                        reason: format!("No module named '{dotted}'"),
                        code: foreign.as_ref().and_then(|miss| miss.code),
                    },
                );
                if let Some(miss) = foreign {
                    broken.links[0].location = Some(miss.path.clone());
                    broken.cause = Some(miss.reason.clone());
                    broken.evidence = Some(miss);
                }
                Some(broken)
            }
            Resolved::Runtime | Resolved::Opaque { .. } | Resolved::Namespace { .. } => None,
            Resolved::Extension { file, .. } => self.load_extension(dotted, &file),
            Resolved::Source { file, package } => self.run_source(dotted, &file, package.is_some()),
        };
        self.states
            .insert(dotted.to_string(), State::Done(result.clone()));
        result
    }

    fn load_extension(&self, dotted: &str, file: &str) -> Option<Broken> {
        let hit = self.view.file(file)?;
        let loader = Loader::new(self.view, self.request.runtime, self.request.arch);
        let check = native_check(
            self.view,
            self.request.linter,
            &loader,
            hit.source,
            hit.entry.path.as_str(),
        );
        let miss = check.misses.into_iter().next()?;
        // The loader's own failure names the libraries on the way and the loader's error.
        if let Some((_, failure)) = check.failures.into_iter().next() {
            let mut broken = Broken::at(
                dotted,
                Some(file.to_string()),
                Failure {
                    module: failure.missing.clone().unwrap_or_else(|| {
                        failure
                            .chain
                            .last()
                            .filter(|link| link.path != file)
                            .map_or_else(|| dotted.to_string(), |link| link.name.clone())
                    }),
                    reason: failure.reason.clone(),
                    code: Some(failure.code),
                },
            );
            for link in failure.chain.iter().skip(1) {
                broken.links.push(Link {
                    module: link.name.clone(),
                    location: Some(link.path.clone()),
                    line: None,
                });
            }
            if let Some(missing) = &failure.missing {
                broken.links.push(Link {
                    module: missing.clone(),
                    location: None,
                    line: None,
                });
            }
            broken.cause = failure.detail.is_some().then(|| failure.explained());
            broken.evidence = Some(miss);
            return Some(broken);
        }
        let mut broken = Broken::at(
            dotted,
            Some(file.to_string()),
            Failure {
                module: dotted.to_string(),
                reason: miss.reason.clone(),
                code: miss.code,
            },
        );
        broken.evidence = Some(miss);
        Some(broken)
    }

    fn parse(&mut self, file: &str) -> Rc<Parsed> {
        if let Some(parsed) = self.parsed.get(file) {
            return Rc::clone(parsed);
        }
        let source = read_source(self.view, file);
        let target = pysource::Target {
            version: self.request.runtime.version(),
        };
        let imports = Rc::new(pysource::imports(&source, target));
        self.parsed.insert(file.to_string(), Rc::clone(&imports));
        imports
    }

    /// Executes a source module's top-level imports. In the function code every statement is
    /// judged (each failing one is a finding); elsewhere the first failure ends the module, as
    /// it does at run time.
    fn run_source(&mut self, dotted: &str, file: &str, is_package: bool) -> Option<Broken> {
        let in_function = file.starts_with("/var/task/");
        let parsed = self.parse(file);
        if let Some((line, message)) = &parsed.syntax_error {
            let name = file.rsplit('/').next().unwrap_or(file);
            let mut broken = Broken::at(
                dotted,
                Some(file.to_string()),
                Failure {
                    module: dotted.to_string(),
                    reason: format!("SyntaxError: {message} ({name}, line {line})"),
                    code: None,
                },
            );
            // The line of the error; a statement importing this module is not reported again.
            broken.links[0].line = Some(*line);
            if in_function {
                self.failing_statements.push(FailingStatement {
                    file: file.to_string(),
                    line: *line,
                    statement: String::new(),
                    broken: broken.clone(),
                });
            }
            return Some(broken);
        }
        let mut first = None;
        for import in parsed.imports.iter() {
            let Some(broken) = self.run_statement(dotted, is_package, import) else {
                continue;
            };
            let broken = broken.behind(dotted, Some(file), import.line);
            if !in_function {
                return Some(broken);
            }
            // A failure inside another module of the function code is that module's statement.
            let next_in_function = broken.links[1..].iter().any(|link| {
                link.line.is_some()
                    && link
                        .location
                        .as_deref()
                        .is_some_and(|location| location.starts_with("/var/task/"))
            });
            if !next_in_function {
                self.failing_statements.push(FailingStatement {
                    file: file.to_string(),
                    line: import.line,
                    statement: describe(import),
                    broken: broken.clone(),
                });
            }
            first.get_or_insert(broken);
        }
        first
    }

    fn run_statement(&mut self, dotted: &str, is_package: bool, import: &Import) -> Option<Broken> {
        match &import.kind {
            ImportKind::Module(name) => self.import(name),
            ImportKind::From {
                level,
                module,
                names,
            } => {
                let base = if *level == 0 {
                    module.clone()
                } else {
                    let mut package: Vec<&str> = dotted.split('.').collect();
                    if !is_package {
                        package.pop();
                    }
                    for _ in 1..*level {
                        package.pop()?;
                    }
                    if package.is_empty() {
                        return None; // beyond the top-level package: not judged
                    }
                    let mut base = package.join(".");
                    if !module.is_empty() {
                        base = format!("{base}.{module}");
                    }
                    base
                };
                if let Some(broken) = self.import(&base) {
                    return Some(broken);
                }
                for name in names.iter().filter(|name| name.as_str() != "*") {
                    if let Some(broken) = self.import_name(&base, name) {
                        return Some(broken);
                    }
                }
                None
            }
        }
    }

    /// `from base import name`, after `base` was imported.
    fn import_name(&mut self, base: &str, name: &str) -> Option<Broken> {
        let parent = self.resolve(base);
        parent.package_dirs()?;
        let sub = format!("{base}.{name}");
        match self.resolve(&sub) {
            Resolved::Missing { foreign: None } => {
                if let Resolved::Source { file, .. } = &parent
                    && let Some((_, module)) = self
                        .parse(file)
                        .lazy
                        .iter()
                        .find(|(attribute, _)| attribute == name)
                {
                    // The package's __getattr__ imports the module that defines the name.
                    let target = format!("{base}{module}");
                    let location = self.location(base);
                    return self.import(&target).map(|mut broken| {
                        broken.links.insert(
                            0,
                            Link {
                                module: base.to_string(),
                                location,
                                line: None,
                            },
                        );
                        broken
                    });
                }
                let Resolved::Namespace { foreign, .. } = parent else {
                    return None; // an attribute of the package's __init__
                };
                let mut broken = Broken::at(
                    base,
                    self.location(base),
                    Failure {
                        module: base.to_string(),
                        reason: format!(
                            "cannot import name '{name}' from '{base}' (unknown location)"
                        ),
                        code: foreign.as_ref().and_then(|miss| miss.code),
                    },
                );
                broken.cause = Some(match &foreign {
                    Some(miss) => format!(
                        "`{base}` is only a namespace folder (no __init__.py; type stubs are not code), and {}",
                        miss.reason
                    ),
                    None => format!(
                        "`{base}` is a namespace package (a folder without __init__.py), which has no attribute `{name}`"
                    ),
                });
                broken.evidence = foreign;
                Some(broken)
            }
            Resolved::Missing { foreign: Some(_) } => {
                let mut broken = self.execute(&sub)?;
                broken.failure.reason = format!("cannot import name '{name}' from '{base}'");
                Some(broken)
            }
            _ => self.execute(&sub),
        }
    }
}

/// A source file's text (empty when it cannot be read).
fn read_source(view: &MergedView, file: &str) -> String {
    view.file(file)
        .and_then(|hit| view.read(&hit, MAX_MODULE_SOURCE))
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// The absolute module names a statement of module `module` may import (for the prefetch).
fn named_modules(module: &str, is_package: bool, import: &Import) -> Vec<String> {
    match &import.kind {
        ImportKind::Module(name) => vec![name.clone()],
        ImportKind::From {
            level,
            module: from,
            names,
        } => {
            let base = if *level == 0 {
                from.clone()
            } else {
                let mut package: Vec<&str> = module.split('.').collect();
                if !is_package {
                    package.pop();
                }
                for _ in 1..*level {
                    if package.pop().is_none() {
                        return Vec::new();
                    }
                }
                if package.is_empty() {
                    return Vec::new();
                }
                let base = package.join(".");
                if from.is_empty() {
                    base
                } else {
                    format!("{base}.{from}")
                }
            };
            std::iter::once(base.clone())
                .chain(
                    names
                        .iter()
                        .filter(|name| name.as_str() != "*")
                        .map(|name| format!("{base}.{name}")),
                )
                .collect()
        }
    }
}

/// The statement as the user wrote it, abridged.
fn describe(import: &Import) -> String {
    match &import.kind {
        ImportKind::Module(name) => format!("import {name}"),
        ImportKind::From {
            level,
            module,
            names,
        } => format!(
            "from {}{module} import {}",
            ".".repeat(*level as usize),
            names.join(", ")
        ),
    }
}

/// The module a Python handler names: `app.handler` → `app`, `pkg/app.handler` → `pkg.app`.
pub(crate) fn handler_module(handler: &str) -> Option<String> {
    let (module, function) = handler.rsplit_once('.')?;
    if module.is_empty() || function.is_empty() {
        return None;
    }
    Some(module.replace('/', "."))
}
