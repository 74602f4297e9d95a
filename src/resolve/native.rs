//! Commands on `PATH` and shared libraries on `LD_LIBRARY_PATH`, replayed.
//!
//! `PATH` is `/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin`: the runtime's and the OS's
//! commands win over a layer's `bin/` copy. A command found in `/opt/bin` must have an execute
//! bit and, when it is machine code, pass the `BIN` rules. `LD_LIBRARY_PATH` puts the runtime's
//! `/var/lang/lib` and the OS's folders before `/var/task/lib` and `/opt/lib`. What the runtime
//! and its OS have in those folders comes from the in-Lambda dumps ([`crate::facts`]).

use crate::finding::Code;
use crate::resolve::loader::{LoadFailure, Loader};
use crate::resolve::merged::{Hit, MergedView, Source};
use crate::resolve::{ChainLink, Explanation, Request, Trace, native_check, replaced_files};

/// On Amazon Linux `/lib64` is a link to `usr/lib64` and `/bin` to `usr/bin`: the later entry of
/// `PATH` / `LD_LIBRARY_PATH` is the same folder as the earlier one.
fn same_folder_as(dir: &str) -> Option<&'static str> {
    match dir {
        "/usr/lib64" => Some("/lib64"),
        "/bin" => Some("/usr/bin"),
        _ => None,
    }
}

/// How the runtime's or the OS's folder `dir` is described in a step.
fn owner(request: &Request<'_>, dir: &str) -> String {
    let runtime = request.runtime;
    if dir.starts_with("/var/lang") || dir.starts_with("/var/runtime") {
        format!("the {} runtime's own files", runtime.id)
    } else {
        format!("{} ({})", runtime.os().name(), request.arch)
    }
}

/// A search path walked as the shell (`PATH`) or the dynamic loader (`LD_LIBRARY_PATH`) walks it
/// for one name: the first folder that has it wins.
struct SearchPath<'a> {
    view: &'a MergedView,
    request: &'a Request<'a>,
    /// The folders, in order.
    dirs: &'a [&'a str],
    /// True for a folder of the runtime or the OS that has the name (the dumps' lists).
    in_runtime: &'a dyn Fn(&str) -> bool,
    /// The step's note for a copy after the one found: `shadowed: this copy is never run`.
    unused: &'a str,
}

/// What a walk along a search path found.
struct Found {
    /// Where the name was found: the runtime's or the OS's file, or one of the function or a
    /// layer.
    location: Option<String>,
    /// False when the file found would not load (or run).
    loads: bool,
    /// The loader's first failure on the file found.
    failure: Option<LoadFailure>,
}

impl SearchPath<'_> {
    /// Walks the folders for the request's name, recording a step per folder in `trace`.
    /// `found` is where the name is already satisfied before any folder (a library the runtime
    /// loaded); `usable` judges a file found in the function or a layer before the loader does
    /// (a command's execute bit) and records why not.
    fn find(
        &self,
        found: Option<String>,
        trace: &mut Trace,
        usable: impl Fn(&Hit<'_>, &str, &mut Trace) -> bool,
    ) -> Found {
        let (view, request, name) = (self.view, self.request, self.request.name);
        let loader = Loader::new(view, request.runtime, request.arch);
        let mut location = found;
        let mut loads = true;
        let mut failure = None;
        for &dir in self.dirs {
            let file = format!("{dir}/{name}");
            let in_runtime = (self.in_runtime)(dir);
            if location.is_some() {
                let shadowed = in_runtime || (view.models(dir) && view.file(&file).is_some());
                let note = match same_folder_as(dir) {
                    Some(same) if in_runtime => format!("the same folder as {same}"),
                    _ if shadowed => self.unused.to_string(),
                    _ => "not reached".to_string(),
                };
                trace.step(dir, name, None, note);
                continue;
            }
            if !view.models(dir) {
                if in_runtime {
                    trace.step(
                        dir,
                        name,
                        Some(file.clone()),
                        format!("part of {}", owner(request, dir)),
                    );
                    location = Some(file);
                } else {
                    let note = match same_folder_as(dir) {
                        Some(same) => format!("the same folder as {same}"),
                        None => format!("not in {}", owner(request, dir)),
                    };
                    trace.step(dir, name, None, note);
                }
                continue;
            }
            let Some(hit) = view.file(&file) else {
                trace.step(
                    dir,
                    name,
                    None,
                    if view.is_dir(dir) {
                        "nothing by that name"
                    } else {
                        "no such folder"
                    },
                );
                continue;
            };
            trace.step(
                dir,
                name,
                Some(file.clone()),
                format!("from {}", view.source_name(hit.source)),
            );
            loads &= usable(&hit, &file, trace);
            let (file_loads, file_failure) =
                check_found(view, request, &loader, &hit, &file, trace);
            loads &= file_loads;
            failure = file_failure;
            location = Some(file);
        }
        Found {
            location,
            loads,
            failure,
        }
    }
}

/// Records what the lookup learns of the file it found at `file`: the files of it a later layer
/// replaced, and every reason its native code would not load. Returns whether it loads and the
/// loader's first failure.
fn check_found(
    view: &MergedView,
    request: &Request<'_>,
    loader: &Loader<'_>,
    hit: &Hit<'_>,
    file: &str,
    trace: &mut Trace,
) -> (bool, Option<LoadFailure>) {
    if !hit.replaced.is_empty() {
        replaced_files(view, file, trace);
    }
    let check = native_check(
        view,
        request.linter,
        loader,
        hit.source,
        hit.entry.path.as_str(),
    );
    let loads = check.misses.is_empty();
    trace.near_misses.extend(check.misses);
    let failure = check
        .failures
        .into_iter()
        .next()
        .map(|(_, failure)| failure);
    (loads, failure)
}

pub(crate) fn explain_command(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let name = request.name;
    let provided = request.runtime.facts().commands(request.arch);
    let in_runtime = |dir: &str| {
        provided
            .iter()
            .find(|listed| listed.dir == dir)
            .is_some_and(|listed| listed.names.binary_search(&name).is_ok())
    };
    let walk = SearchPath {
        view,
        request,
        dirs: &request.runtime.facts().command_path(),
        in_runtime: &in_runtime,
        unused: "shadowed: this copy is never run",
    };
    let Found {
        location,
        loads,
        failure,
    } = walk.find(None, &mut trace, |hit, file, trace| {
        let Some(mode) = hit.entry.mode.filter(|mode| mode & 0o111 == 0) else {
            return true;
        };
        trace.near_miss(
            file,
            format!(
                "mode {mode:o} has no execute bit: running it fails with \"Permission denied\""
            ),
            Some(Code::BIN008),
        );
        false
    });
    if location.is_none() {
        for (source, inventory) in view.sources() {
            for entry in inventory.files() {
                if entry.path.file_name() != name {
                    continue;
                }
                let abs = MergedView::absolute(source, entry.path.as_str());
                let parent = entry.path.parent();
                let layer = matches!(source, Source::Layer(_));
                let wrapped = parent.split('/').count() == 2
                    && parent.ends_with("/bin")
                    && !["python", "nodejs", "ruby", "java"].contains(&entry.path.top());
                let (reason, code) = if layer && parent.is_empty() {
                    (
                        "at the zip's root (/opt), which is not on PATH: commands go in bin/"
                            .to_string(),
                        Some(Code::LAY001),
                    )
                } else if layer && wrapped {
                    (
                        "inside a wrapping folder: /opt/bin is on PATH, this folder is not"
                            .to_string(),
                        Some(Code::LAY002),
                    )
                } else {
                    let dir = abs.rsplit_once('/').map_or("", |(dir, _)| dir);
                    (
                        format!(
                            "in {dir}, which is not on PATH (only /opt/bin is): call it by its full path, or put it in bin/"
                        ),
                        None,
                    )
                };
                trace.near_miss(abs, reason, code);
            }
        }
    }
    record_failure(&mut trace, request, &location, &failure);
    let verdict = match (&location, &failure) {
        (Some(file), _) if loads => format!("`{name}` runs {file}"),
        (Some(file), Some(failure)) => format!(
            "`{name}` is {file}, but running it fails: {}",
            failure.reason
        ),
        (Some(file), None) => {
            format!("`{name}` is {file}, but running it would fail: see the near misses")
        }
        (None, _) => format!("{name}: command not found"),
    };
    let loads = loads && location.is_some();
    trace.finish(request, location, loads, verdict)
}

pub(crate) fn explain_library(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let name = request.name;
    let runtime = request.runtime;
    let mut already_loaded = None;
    let provided = runtime.facts().library_dirs(request.arch);
    let in_runtime = |dir: &str| {
        provided
            .iter()
            .find(|listed| listed.dir == dir)
            .is_some_and(|listed| listed.sonames.binary_search(&name).is_ok())
    };
    if runtime.loaded_libraries().contains(&name) {
        trace.step(
            "(already loaded)",
            name,
            Some(name.to_string()),
            format!(
                "the {} runtime's process loaded `{name}` before any user code: a DT_NEEDED on it is satisfied without a search",
                runtime.id
            ),
        );
        already_loaded = Some(name.to_string());
    }
    let walk = SearchPath {
        view,
        request,
        dirs: runtime.facts().library_path(),
        in_runtime: &in_runtime,
        unused: "shadowed: this copy is never loaded",
    };
    let Found {
        location,
        loads,
        failure,
    } = walk.find(already_loaded, &mut trace, |_, _, _| true);
    if location.is_none() {
        for (source, inventory) in view.sources() {
            for entry in inventory.files() {
                if entry.path.file_name() != name {
                    continue;
                }
                let abs = MergedView::absolute(source, entry.path.as_str());
                let code = (matches!(source, Source::Layer(_))
                    && (entry.path.parent().is_empty() || entry.path.parent().ends_with("/lib")))
                .then_some(if entry.path.parent().is_empty() {
                    Code::LAY001
                } else {
                    Code::LAY002
                });
                trace.near_miss(abs.clone(), format!("`{name}` is at {abs}, which is not on LD_LIBRARY_PATH: only a file whose RUNPATH names that folder finds it; put it in lib/"), code);
            }
        }
    }
    record_failure(&mut trace, request, &location, &failure);
    let verdict = match (&location, &failure) {
        (Some(file), _) if loads => format!("`{name}` loads from {file}"),
        (Some(file), Some(failure)) => format!(
            "`{name}` is {file}, but loading it fails: {}",
            failure.reason
        ),
        (Some(file), None) => {
            format!("`{name}` is {file}, but loading it would fail: see the near misses")
        }
        (None, _) => format!("{name}: cannot open shared object file: No such file or directory"),
    };
    let loads = loads && location.is_some();
    trace.finish(request, location, loads, verdict)
}

/// The chain of a loader failure, from the target (the command or library found) down.
fn record_failure(
    trace: &mut Trace,
    request: &Request<'_>,
    location: &Option<String>,
    failure: &Option<LoadFailure>,
) {
    if let Some(failure) = failure {
        trace.chain.push(ChainLink {
            module: request.target.to_string(),
            location: location.clone(),
        });
        trace.fail_to_load(failure);
    }
}
