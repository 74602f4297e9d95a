//! The Node.js load closure of a handler: what loading the handler's file loads, followed
//! over the function code, the layers and the runtime.
//!
//! Loading a file runs (or, for an ES module, links) the dependencies its top level names
//! ([`super::jssource`] says which): a relative path is another file of the function code,
//! resolved as Node does (`require('./lib/util')` tries `util`, `util.js`, `util.json`,
//! `util.node`, then the folder's `package.json` `main` and `index.js`; an ES module's `import`
//! names the file exactly) and loaded in turn; a built-in (`fs`, `node:fs`) is there; a package
//! name is resolved from the requiring file's folder (the `node_modules` walk, then `NODE_PATH`:
//! `/opt/nodejs/nodeNN/node_modules`, `/opt/nodejs/node_modules`, the runtime's AWS SDK v3) by
//! [`super::node`], which also loads its dependencies, platform packages and addons. (Plain
//! Node does not search `NODE_PATH` for an ES module's `import`; Lambda's Node.js 18 and later
//! runtimes do, so a static `import` reaches the layers as `require()` does.) The first
//! dependency that fails ends the load of a file outside the function code; in the function
//! code each failing statement is reported at its file and line.
//!
//! Each file is parsed at most once per run; each package is resolved once per folder.

use std::collections::{BTreeMap, HashMap};

use crate::finding::Code;
use crate::lint::LayerLinter;
use crate::resolve::jssource::{self, FileKind, Parsed, Via};
use crate::resolve::merged::{MergedView, join, normalize};
use crate::resolve::node::{self, Mode};
use crate::resolve::{Kind, Request};
use crate::runtime::{Arch, Runtime};

/// The most bytes of a file parsed for its dependencies: bundles of several MiB exist; a
/// larger file is treated as one that loads nothing.
const MAX_SOURCE: usize = 32 << 20;

/// Why loading a dependency fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Broken {
    /// From the dependency as written to what fails (`./lib/db` → `pg` → `pg-types`).
    pub(crate) chain: Vec<String>,
    /// Node's error.
    pub(crate) reason: String,
    /// Why, in the project's words, when that says more than Node's error.
    pub(crate) cause: Option<String>,
    /// The rule that explains it (`BIN009`, `BIN004`, ...), when one does.
    pub(crate) code: Option<Code>,
    /// True once a statement of the function code reported it (an outer statement that
    /// loads that file does not report it again).
    reported: bool,
}

/// A statement of the function code whose dependency fails to load (for STK006).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FailingLoad {
    /// The function's file, as an absolute path.
    pub(crate) file: String,
    pub(crate) line: u32,
    /// The statement, abridged (`require('./lib/util')`, `import '@aws-sdk/client-s3'`); empty
    /// for a syntax error of the file itself.
    pub(crate) statement: String,
    /// The files of the function code on the way from the handler, relative to `/var/task`
    /// (`index.js`, `lib/util.js`), then the failing chain.
    pub(crate) chain: Vec<String>,
    pub(crate) reason: String,
    pub(crate) cause: Option<String>,
    pub(crate) code: Option<Code>,
}

enum State {
    Loading,
    Done(Option<Broken>),
}

/// The closure of one handler: parses and package resolutions are kept for the run.
pub(crate) struct HandlerClosure<'v> {
    view: &'v MergedView,
    runtime: &'static Runtime,
    arch: Arch,
    linter: LayerLinter,
    parsed: HashMap<String, std::rc::Rc<Parsed>>,
    states: HashMap<String, State>,
    packages: HashMap<(String, String, Mode), Option<Broken>>,
    /// The function-code files being loaded, outermost first.
    stack: Vec<String>,
    /// Failing statements of the function code, in load order.
    pub(crate) failing: Vec<FailingLoad>,
}

impl<'v> HandlerClosure<'v> {
    pub(crate) fn new(
        view: &'v MergedView,
        runtime: &'static Runtime,
        arch: Arch,
        linter: LayerLinter,
    ) -> HandlerClosure<'v> {
        HandlerClosure {
            view,
            runtime,
            arch,
            linter,
            parsed: HashMap::new(),
            states: HashMap::new(),
            packages: HashMap::new(),
            stack: Vec::new(),
            failing: Vec::new(),
        }
    }

    /// The handler's file for `module` (`index` → `/var/task/index.js`, `.mjs` or `.cjs`).
    pub(crate) fn handler_file(&self, module: &str) -> Option<String> {
        ["js", "mjs", "cjs"]
            .iter()
            .map(|suffix| format!("/var/task/{module}.{suffix}"))
            .find(|file| self.view.file(file).is_some())
    }

    /// Loads the file (absolute path); the first failure, if any.
    pub(crate) fn load(&mut self, file: &str) -> Option<Broken> {
        match self.states.get(file) {
            // A cycle: Node hands out the partly loaded module.
            Some(State::Loading) => return None,
            Some(State::Done(result)) => return result.clone(),
            None => {}
        }
        self.states.insert(file.to_string(), State::Loading);
        self.stack.push(file.to_string());
        let result = self.run(file);
        self.stack.pop();
        self.states
            .insert(file.to_string(), State::Done(result.clone()));
        result
    }

    fn run(&mut self, file: &str) -> Option<Broken> {
        let in_function = file.starts_with("/var/task/");
        let parsed = self.parse(file);
        if let Some((line, message)) = &parsed.syntax_error {
            let reason = format!("SyntaxError: {message} ({file}:{line})");
            if in_function {
                self.failing.push(FailingLoad {
                    file: file.to_string(),
                    line: *line,
                    statement: String::new(),
                    chain: self.stack_names(),
                    reason: reason.clone(),
                    cause: None,
                    code: None,
                });
            }
            return Some(Broken {
                chain: vec![display(file)],
                reason,
                cause: None,
                code: None,
                reported: in_function,
            });
        }
        let mut first: Option<Broken> = None;
        for dependency in &parsed.dependencies {
            let Some(mut broken) = self.dependency(file, &dependency.specifier, dependency.via)
            else {
                continue;
            };
            if !in_function {
                return Some(broken);
            }
            if !broken.reported {
                let mut chain = self.stack_names();
                chain.extend(broken.chain.iter().cloned());
                self.failing.push(FailingLoad {
                    file: file.to_string(),
                    line: dependency.line,
                    statement: match dependency.via {
                        Via::Require => format!("require('{}')", dependency.specifier),
                        Via::Import => format!("import '{}'", dependency.specifier),
                    },
                    chain,
                    reason: broken.reason.clone(),
                    cause: broken.cause.clone(),
                    code: broken.code,
                });
                broken.reported = true;
            }
            first.get_or_insert(broken);
        }
        first
    }

    fn stack_names(&self) -> Vec<String> {
        self.stack.iter().map(|file| display(file)).collect()
    }

    fn parse(&mut self, file: &str) -> std::rc::Rc<Parsed> {
        if let Some(parsed) = self.parsed.get(file) {
            return std::rc::Rc::clone(parsed);
        }
        let source = self
            .view
            .file(file)
            .and_then(|hit| self.view.read(&hit, MAX_SOURCE))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let kind = if file.ends_with(".mjs")
            || (file.ends_with(".js") && node::is_esm(self.view, "/var/task", file))
        {
            FileKind::Module
        } else {
            FileKind::CommonJs
        };
        let parsed = std::rc::Rc::new(jssource::dependencies(&source, kind));
        self.parsed
            .insert(file.to_string(), std::rc::Rc::clone(&parsed));
        parsed
    }

    /// Loads one dependency of `file`.
    fn dependency(&mut self, file: &str, specifier: &str, via: Via) -> Option<Broken> {
        let dir = file.rsplit_once('/').map_or("/", |(dir, _)| dir);
        let relative = specifier.starts_with("./")
            || specifier.starts_with("../")
            || specifier.starts_with('/')
            || specifier == "."
            || specifier == "..";
        if !relative {
            if node::is_builtin(specifier) {
                return None;
            }
            let mode = match via {
                Via::Require => Mode::Require,
                Via::Import => Mode::Import,
            };
            return self.package(dir, specifier, mode);
        }
        let base = normalize(&join(dir, specifier));
        let found = match via {
            Via::Require => node::load_path(self.view, &base),
            Via::Import => self.view.file(&base).map(|_| base.clone()),
        };
        let Some(found) = found else {
            let (reason, cause) = match via {
                Via::Require => (
                    format!("Cannot find module '{specifier}'"),
                    Some(format!(
                        "no {base}, {base}.js, .json or .node, and no folder {base} with a package.json `main` or index.js"
                    )),
                ),
                Via::Import if self.view.is_dir(&base) => (
                    format!(
                        "ERR_UNSUPPORTED_DIR_IMPORT: Directory import '{base}' is not supported resolving ES modules imported from {file}"
                    ),
                    Some("an ES module's import names a file, never a folder".to_string()),
                ),
                Via::Import => (
                    format!("ERR_MODULE_NOT_FOUND: Cannot find module '{base}' imported from {file}"),
                    node::load_path(self.view, &base).map(|file| {
                        format!(
                            "an ES module's import names the file exactly, with its extension: did you mean {}?",
                            display(&file)
                        )
                    }),
                ),
            };
            return Some(Broken {
                chain: vec![specifier.to_string()],
                reason,
                cause,
                code: None,
                reported: false,
            });
        };
        if [".js", ".mjs", ".cjs"]
            .iter()
            .any(|suffix| found.ends_with(suffix))
        {
            return self.load(&found);
        }
        None
    }

    /// A package, as `require()` (or `import`) finds and loads it from a file in `dir`.
    fn package(&mut self, dir: &str, specifier: &str, mode: Mode) -> Option<Broken> {
        let key = (dir.to_string(), specifier.to_string(), mode);
        if let Some(known) = self.packages.get(&key) {
            return known.clone();
        }
        let request = Request {
            name: specifier,
            target: specifier,
            kind: Kind::Node,
            runtime: self.runtime,
            arch: self.arch,
            env: BTreeMap::new(),
            linter: self.linter,
        };
        let explanation = node::explain_from(self.view, &request, dir, mode);
        let result = (explanation.exit_code() != 0).then(|| {
            let failure = explanation.failure.clone();
            let mut chain: Vec<String> = explanation
                .chain
                .iter()
                .map(|link| link.module.clone())
                .collect();
            if chain.is_empty() {
                chain.push(specifier.to_string());
            }
            Broken {
                chain,
                reason: failure
                    .as_ref()
                    .map_or_else(|| explanation.verdict.clone(), |f| f.reason.clone()),
                cause: None,
                code: failure.and_then(|f| f.code),
                reported: false,
            }
        });
        self.packages.insert(key, result.clone());
        result
    }
}

/// A file as the chain shows it: relative to the function code, else absolute.
fn display(file: &str) -> String {
    file.strip_prefix("/var/task/").unwrap_or(file).to_string()
}
