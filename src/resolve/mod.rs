//! The resolve stage: replays, offline, the lookup a Lambda runtime performs for a module,
//! package, class, command or shared library over a function and its layers.
//!
//! Each family (`python`, `node`, `ruby`, `java`, `native` for commands and libraries) builds
//! the search path exactly as the runtime does (the paths come from [`crate::runtime`]), walks
//! it over the [`merged::MergedView`], and records every step: what was looked for in each
//! folder and what was there. When the lookup fails, the near misses explain it: the thing is in
//! the layers, but somewhere the runtime does not look, or built for another platform. When it
//! succeeds, the native code it would load is checked with the `BIN` rules, so "found but would
//! not load" is told apart from "loads".

pub(crate) mod entry;
pub(crate) mod java;
pub(crate) mod jsclosure;
pub(crate) mod jssource;
pub(crate) mod lines;
pub mod loader;
pub mod merged;
pub(crate) mod native;
pub(crate) mod node;
pub(crate) mod npm;
pub(crate) mod pyclosure;
pub(crate) mod pysource;
pub(crate) mod python;
pub(crate) mod ruby;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Budget, LintSettings};
use crate::finding::Code;
use crate::inspect;
use crate::inventory::ArchivePath;
use crate::lint::{LayerContext, LayerLinter};
use crate::runtime::{Arch, Family, Runtime};
use merged::{MergedView, Source};

/// What kind of thing is looked up (also `why --kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Python,
    Node,
    Ruby,
    Java,
    Bin,
    Lib,
    /// The custom runtime's `bootstrap` (target `bootstrap`).
    Bootstrap,
    /// An external extension in `/opt/extensions` (target `extension:NAME`).
    Extension,
    /// The script `AWS_LAMBDA_EXEC_WRAPPER` names (target `exec-wrapper`).
    #[value(name = "exec-wrapper")]
    #[serde(rename = "exec-wrapper")]
    ExecWrapper,
}

/// One lookup to replay.
pub struct Request<'a> {
    /// The target without a `bin:` or `lib:` prefix.
    pub name: &'a str,
    /// The target as the user wrote it.
    pub target: &'a str,
    pub kind: Kind,
    pub runtime: &'static Runtime,
    pub arch: Arch,
    /// The function's environment (`--env`).
    pub env: BTreeMap<String, String>,
    /// The rule runner (`rules::lint_layer`): the `BIN` rules judge whether native code the
    /// lookup finds would load. The rules use this stage, so it is handed the runner rather
    /// than importing it.
    pub linter: LayerLinter,
}

/// One numbered entry of the search path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Step {
    /// The folder (or jar) searched, as an absolute path on Lambda.
    pub(crate) dir: String,
    /// The names tried there, in the runtime's order.
    pub(crate) looked_for: String,
    /// What counted, as an absolute path; `None` when nothing did.
    pub(crate) found: Option<String>,
    /// Why it counted or not, or what else is there.
    pub(crate) note: String,
}

/// Something close to the target that explains a failure (or a risk).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NearMiss {
    pub(crate) path: String,
    pub(crate) reason: String,
    /// The rule that names the problem (`BIN006`, `LAY003`), when one does.
    pub(crate) code: Option<Code>,
}

/// One link of the chain from the target to what fails (or to the last module loaded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainLink {
    pub module: String,
    pub(crate) location: Option<String>,
}

/// Why loading fails: the failing module/library/package, the reason as Lambda would log it, the rule code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub module: String,
    pub reason: String,
    pub code: Option<Code>,
}

/// The answer of `why`.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub(crate) target: String,
    pub(crate) runtime: String,
    pub(crate) arch: String,
    pub(crate) resolved: bool,
    pub(crate) location: Option<String>,
    pub(crate) search_path: Vec<Step>,
    pub near_misses: Vec<NearMiss>,
    /// From the target to the failing link, or to the last module loaded when it loads.
    pub chain: Vec<ChainLink>,
    /// What fails, `None` when the target resolves and loads.
    pub failure: Option<Failure>,
    /// Why the last link fails, in the project's words ("only a CPython 3.11 build is
    /// present"), when that says more than the runtime's error.
    #[serde(skip)]
    pub(crate) cause: Option<String>,
    /// The error line Lambda would log when the handler imports the target.
    #[serde(skip)]
    pub(crate) lambda_error: Option<String>,
    /// The one-line verdict printed after the search path.
    #[serde(skip)]
    pub(crate) verdict: String,
    /// False when it resolves but a file it needs would fail to load.
    #[serde(skip)]
    pub(crate) loads: bool,
    /// Symlinks of the function or layers met in a loop during the lookup: on Lambda their
    /// lookup fails with `ELOOP` ("Too many levels of symbolic links"). Left out of JSON when
    /// there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) symlink_loops: Vec<String>,
}

impl Explanation {
    /// The exit status of `why`: 0 resolves and loads, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.resolved && self.loads && self.symlink_loops.is_empty() {
            0
        } else {
            1
        }
    }
}

/// Collects the steps and near misses of one lookup.
#[derive(Default)]
pub(crate) struct Trace {
    pub(crate) steps: Vec<Step>,
    pub(crate) near_misses: Vec<NearMiss>,
    /// The chain a family's closure followed; when empty, [`Trace::finish`] makes it the target
    /// alone.
    pub(crate) chain: Vec<ChainLink>,
    /// What fails, set by a family that knows; otherwise [`Trace::finish`] derives it from the
    /// verdict (not found) or the first near miss with a code (found but does not load).
    pub(crate) failure: Option<Failure>,
    /// See [`Explanation::cause`].
    pub(crate) cause: Option<String>,
}

impl Trace {
    pub(crate) fn step(
        &mut self,
        dir: impl Into<String>,
        looked_for: impl Into<String>,
        found: Option<String>,
        note: impl Into<String>,
    ) {
        self.steps.push(Step {
            dir: dir.into(),
            looked_for: looked_for.into(),
            found,
            note: note.into(),
        });
    }

    pub(crate) fn near_miss(
        &mut self,
        path: impl Into<String>,
        reason: impl Into<String>,
        code: Option<Code>,
    ) {
        let miss = NearMiss {
            path: path.into(),
            reason: reason.into(),
            code,
        };
        if !self.near_misses.contains(&miss) {
            self.near_misses.push(miss);
        }
    }

    /// Records the failing link: appends it to the chain (unless it is the last link already)
    /// and sets the failure.
    pub(crate) fn fail(
        &mut self,
        module: impl Into<String>,
        location: Option<String>,
        reason: impl Into<String>,
        code: Option<Code>,
    ) {
        let module = module.into();
        if self.chain.last().is_none_or(|link| link.module != module) {
            self.chain.push(ChainLink {
                module: module.clone(),
                location,
            });
        }
        self.failure = Some(Failure {
            module,
            reason: reason.into(),
            code,
        });
    }

    /// Records a failure of the loader: the chain from the loaded file down to the file whose
    /// need fails (its first link continues the chain when it is the chain's last file), then
    /// the missing library or the file itself as the failing link.
    pub(crate) fn fail_to_load(&mut self, failure: &loader::LoadFailure) {
        for (index, link) in failure.chain.iter().enumerate() {
            let continues = index == 0
                && self
                    .chain
                    .last()
                    .is_some_and(|last| last.location.as_deref() == Some(link.path.as_str()));
            if continues {
                continue;
            }
            self.chain.push(ChainLink {
                module: link.name.clone(),
                location: Some(link.path.clone()),
            });
        }
        self.cause = failure.detail.is_some().then(|| failure.explained());
        match &failure.missing {
            Some(missing) => self.fail(
                missing.clone(),
                None,
                failure.reason.clone(),
                Some(failure.code),
            ),
            None => {
                // The failing file keeps the name the chain already gave it.
                let last = failure.chain.last();
                let module = match (last, self.chain.last()) {
                    (Some(link), Some(known))
                        if known.location.as_deref() == Some(link.path.as_str()) =>
                    {
                        known.module.clone()
                    }
                    (Some(link), _) => link.name.clone(),
                    (None, _) => String::new(),
                };
                self.fail(
                    module,
                    last.map(|link| link.path.clone()),
                    failure.reason.clone(),
                    Some(failure.code),
                )
            }
        }
    }

    /// Finishes the explanation.
    pub(crate) fn finish(
        mut self,
        request: &Request<'_>,
        location: Option<String>,
        loads: bool,
        verdict: String,
    ) -> Explanation {
        let resolved = location.is_some();
        if self.chain.is_empty() {
            self.chain.push(ChainLink {
                module: request.target.to_string(),
                location: location.clone(),
            });
        }
        // Only a failure the family recorded itself carries the runtime's own error text.
        let explicit = self.failure.is_some();
        let failure = if resolved && loads {
            None
        } else if let Some(failure) = self.failure.take() {
            Some(failure)
        } else if !resolved {
            Some(Failure {
                module: request.target.to_string(),
                reason: verdict.clone(),
                code: self.near_misses.iter().find_map(|miss| miss.code),
            })
        } else {
            let miss = self.near_misses.iter().find(|miss| miss.code.is_some());
            Some(Failure {
                module: miss.map_or_else(|| request.target.to_string(), |miss| miss.path.clone()),
                reason: miss.map_or_else(|| verdict.clone(), |miss| miss.reason.clone()),
                code: miss.and_then(|miss| miss.code),
            })
        };
        if let Some(failure) = &failure
            && self
                .chain
                .last()
                .is_none_or(|link| link.module != failure.module)
        {
            let location = failure
                .module
                .starts_with('/')
                .then(|| failure.module.clone());
            self.chain.push(ChainLink {
                module: failure.module.clone(),
                location,
            });
        }
        let lambda_error = failure
            .as_ref()
            .filter(|_| explicit)
            .map(|failure| lambda_error(request.kind, &failure.reason));
        Explanation {
            target: request.target.to_string(),
            runtime: request.runtime.id.to_string(),
            arch: request.arch.aws_name().to_string(),
            resolved,
            location,
            search_path: self.steps,
            near_misses: self.near_misses,
            chain: self.chain,
            failure,
            cause: self.cause,
            lambda_error,
            verdict,
            loads,
            symlink_loops: Vec::new(),
        }
    }
}

/// The line Lambda would log when the handler's module imports something that fails with
/// `reason` (the runtime's own error text).
pub(crate) fn lambda_error(kind: Kind, reason: &str) -> String {
    match kind {
        Kind::Python => {
            format!(
                "Runtime.ImportModuleError: Unable to import module '<handler module>': {reason}"
            )
        }
        Kind::Node => format!("Runtime.ImportModuleError: Error: {reason}"),
        Kind::Ruby => format!("Init<LoadError>: {reason}"),
        Kind::Java => format!("java.lang.NoClassDefFoundError: {reason}"),
        Kind::Bin | Kind::Lib | Kind::Bootstrap | Kind::Extension | Kind::ExecWrapper => {
            reason.to_string()
        }
    }
}

/// Splits `bin:jq` / `lib:libpq.so.5` and infers the kind of a target from its form and the
/// runtime's family, unless `kind` is given.
pub(crate) fn parse_target<'t>(
    target: &'t str,
    kind: Option<Kind>,
    runtime: &Runtime,
) -> (Kind, &'t str) {
    if let Some(name) = target.strip_prefix("bin:") {
        return (kind.unwrap_or(Kind::Bin), name);
    }
    if let Some(name) = target.strip_prefix("lib:") {
        return (kind.unwrap_or(Kind::Lib), name);
    }
    if let Some(name) = target.strip_prefix("extension:") {
        return (kind.unwrap_or(Kind::Extension), name);
    }
    if let Some(kind) = kind {
        return (kind, target);
    }
    match target {
        "bootstrap" => return (Kind::Bootstrap, target),
        "exec-wrapper" => return (Kind::ExecWrapper, target),
        _ => {}
    }
    let last = target.rsplit('.').next().unwrap_or(target);
    let java_like = target.contains('.')
        && !target.contains('/')
        && last.chars().next().is_some_and(char::is_uppercase);
    let inferred = match runtime.family {
        Family::Python => Kind::Python,
        Family::Nodejs => Kind::Node,
        Family::Ruby => Kind::Ruby,
        Family::Java => Kind::Java,
        Family::Provided if target.contains(".so") => Kind::Lib,
        Family::Provided => Kind::Bin,
    };
    let inferred = if java_like && runtime.family != Family::Python {
        Kind::Java
    } else if target.starts_with('@') || (target.contains('/') && inferred != Kind::Ruby) {
        Kind::Node
    } else {
        inferred
    };
    (inferred, target)
}

/// Replays the lookup.
pub fn explain(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut explanation = explain_kind(view, request);
    explanation.symlink_loops = view.symlink_loops();
    explanation
}

fn explain_kind(view: &MergedView, request: &Request<'_>) -> Explanation {
    match request.kind {
        Kind::Python => python::explain(view, request),
        Kind::Node => node::explain(view, request),
        Kind::Ruby => ruby::explain(view, request),
        Kind::Java => java::explain(view, request),
        Kind::Bin => native::explain_command(view, request),
        Kind::Lib => native::explain_library(view, request),
        Kind::Bootstrap => entry::explain_bootstrap(view, request),
        Kind::Extension => entry::explain_extension(view, request),
        Kind::ExecWrapper => entry::explain_exec_wrapper(view, request),
    }
}

/// The `BIN` rules that judge whether a file would load by its content (BIN008, the
/// exec bit, is for commands and asked for separately).
/// BIN006 (extension suffixes) is judged by each family's own lookup, which knows the module.
/// Missing libraries and symbol versions (BIN007, BIN004) are judged by replaying the loader
/// over the whole stack ([`loader`]), not one layer.
const LOAD_RULES: &[Code] = &[Code::BIN001, Code::BIN002, Code::BIN003, Code::BIN005];

/// Runs the loading `BIN` rules over the files of `source` at `rel` (a file, or a folder and
/// everything below it) as the request's runtime and architecture would load them, and returns
/// each error as a near miss (absolute path, the finding's message, its code). A library a file
/// needs that another layer provides in `lib/` (on `LD_LIBRARY_PATH` for every file) is not
/// missing.
pub(crate) fn native_failures(
    view: &MergedView,
    request: &Request<'_>,
    source: Source,
    rel: &str,
) -> Vec<NearMiss> {
    let loader = loader::Loader::new(view, request.runtime, request.arch);
    native_check(view, request.linter, &loader, source, rel).misses
}

/// What [`native_check`] finds: every error as a near miss, and the loader's failures with
/// their chains (also among the near misses).
#[derive(Default)]
pub(crate) struct NativeCheck {
    pub(crate) misses: Vec<NearMiss>,
    /// (absolute path of the file loaded, why loading it fails).
    pub(crate) failures: Vec<(String, loader::LoadFailure)>,
}

/// [`native_failures`] with a loader that the caller keeps (each ELF file is read once per
/// loader), and the loader's failures kept apart for the verdict's chain.
pub(crate) fn native_check(
    view: &MergedView,
    linter: LayerLinter,
    loader: &loader::Loader<'_>,
    source: Source,
    rel: &str,
) -> NativeCheck {
    let (runtime, arch) = (loader.runtime(), loader.arch());
    let Some(inventory) = view.inventory(source) else {
        return NativeCheck::default();
    };
    let entries: Vec<&crate::inventory::Entry> = match inventory.get(rel) {
        Some(entry) if !entry.is_dir() => vec![entry],
        _ => inventory
            .below(rel)
            .iter()
            .filter(|entry| entry.is_file())
            .collect(),
    };
    let binaries: Vec<inspect::Binary> = entries
        .iter()
        .filter(|entry| entry.size >= 4)
        .filter_map(|entry| inspect::inspect_entry(inventory, entry))
        .collect();
    let by_name = entries
        .iter()
        .any(|entry| crate::domain::extension::parse(entry.path.file_name()).is_some());
    if binaries.is_empty() && !by_name {
        return NativeCheck::default();
    }
    let runtimes = [runtime];
    let architectures = [arch];
    let context = LayerContext {
        name: "",
        inventory,
        runtimes: &runtimes,
        architectures: &architectures,
        binaries: &binaries,
        budget: Budget::default(),
        exec_wrapper: None,
        // Only a layer being built from sources reads it; `why` reads folders and zips.
        zip_mtime: crate::archive::DosDateTime::EPOCH.to_unix(),
    };
    let settings = LintSettings {
        select: LOAD_RULES
            .iter()
            .map(|code| code.as_str().to_string())
            .collect(),
        ..LintSettings::default()
    };
    let within = |path: &str| ArchivePath::new(path).is_ok_and(|path| path.is_within(rel));
    let mut misses: Vec<NearMiss> = linter(&context, &settings)
        .into_iter()
        .filter(|finding| finding.severity == crate::finding::Severity::Error)
        .filter(|finding| within(&finding.path))
        .map(|finding| NearMiss {
            path: MergedView::absolute(source, &finding.path),
            reason: finding.message,
            code: Some(finding.code),
        })
        .collect();
    let failures = load_failures(loader, source, &binaries);
    for (path, failure) in &failures {
        misses.push(NearMiss {
            path: path.clone(),
            reason: failure.summary(),
            code: Some(failure.code),
        });
    }
    NativeCheck { misses, failures }
}

/// Loads every binary of `source` that the runtime would load (a library, a program, a file in
/// `bin/` or `lib/`, not one in another platform's folder) and returns each failure with the
/// absolute path of the file loaded.
pub(crate) fn load_failures(
    loader: &loader::Loader<'_>,
    source: Source,
    binaries: &[inspect::Binary],
) -> Vec<(String, loader::LoadFailure)> {
    use crate::domain::placement::{is_loaded, platform_marker};
    binaries
        .iter()
        .filter_map(|binary| match &binary.format {
            inspect::BinaryFormat::Elf(info) => Some((binary, info)),
            _ => None,
        })
        .filter(|(binary, info)| is_loaded(&binary.path, Some(info)))
        .filter(|(binary, _)| {
            platform_marker(&binary.path).is_none_or(|marker| marker.matches(&[loader.arch()]))
        })
        .filter_map(|(binary, _)| {
            let abs = MergedView::absolute(source, binary.path.as_str());
            loader.load(&abs).err().map(|failure| (abs, failure))
        })
        .collect()
}

/// Near misses for files of a resolved package that a later layer replaced: the package mixes
/// two layers' files (STK003).
pub(crate) fn replaced_files(view: &MergedView, abs_dir: &str, trace: &mut Trace) {
    let Some(rel) = abs_dir.strip_prefix("/opt/") else {
        return;
    };
    let mut replaced: BTreeMap<(usize, usize), (usize, String)> = BTreeMap::new();
    for (later_index, later) in view.layers.iter().enumerate() {
        let itself = later.inventory.get(rel).filter(|entry| !entry.is_dir());
        let below = later
            .inventory
            .below(rel)
            .iter()
            .filter(|entry| !entry.is_dir());
        for entry in itself.into_iter().chain(below) {
            for (earlier_index, earlier) in view.layers[..later_index].iter().enumerate() {
                if earlier
                    .inventory
                    .get(entry.path.as_str())
                    .is_some_and(|e| !e.is_dir())
                {
                    let slot = replaced
                        .entry((earlier_index, later_index))
                        .or_insert((0, entry.path.as_str().to_string()));
                    slot.0 += 1;
                }
            }
        }
    }
    for ((earlier, later), (count, first)) in replaced {
        let (path, what) = if count == 1 {
            (format!("/opt/{first}"), "its file".to_string())
        } else {
            (
                abs_dir.to_string(),
                format!("{count} of its files (first: /opt/{first})"),
            )
        };
        trace.near_miss(
            path,
            format!(
                "layer `{}` replaced {what} from layer `{}`, attached before it: the runtime sees a mix of both layers' copies",
                view.source_name(Source::Layer(later)),
                view.source_name(Source::Layer(earlier)),
            ),
            Some(Code::STK003),
        );
    }
}

/// Classifies where an archive path lies that the runtime does not read, relative to the
/// folder `expected` (an archive path such as `python/lib/python3.12/site-packages`) it would
/// be read from: at the root, or inside a wrapping folder.
pub(crate) fn misplacement(path: &str, language_root: &str) -> Option<(&'static str, Code)> {
    let top = path.split('/').next().unwrap_or(path);
    if top == language_root {
        return None;
    }
    let wrapped = path
        .split_once('/')
        .is_some_and(|(_, rest)| rest.split('/').next() == Some(language_root));
    if wrapped {
        Some((
            "inside a wrapping folder: the zip's top folder becomes part of the path in /opt",
            Code::LAY002,
        ))
    } else {
        Some(("at a place no runtime reads", Code::LAY001))
    }
}

/// "a, b and c".
pub(crate) use crate::text::and_list as list;
