//! `why bootstrap`, `why extension:NAME` and `why exec-wrapper`: which file Lambda starts, from
//! the function or which layer, and whether the kernel can start it.
//!
//! The lookup is Lambda's own, not a search path: the function's `/var/task/bootstrap` before
//! the layers' `/opt/bootstrap` (OS-only runtimes), the files directly in `/opt/extensions`, the
//! path in `AWS_LAMBDA_EXEC_WRAPPER` (managed runtimes). What decides whether it starts is what
//! `execve` needs: an execute bit, machine code the `BIN` rules accept or a `#!` line whose
//! interpreter exists on the runtime (the verified command lists of [`crate::facts`], plus the
//! layers' `/opt/bin`), and, for a script, the commands it hands over to with `exec`, judged the
//! same way, one hop after another.

use crate::entrypoint::{self, Launch, Program, Role, SystemProgram};
use crate::facts::environment::{LAYER_ROOT, RUNTIME_DIR};
use crate::finding::Code;
use crate::resolve::merged::{Hit, MergedView, Source, normalize};
use crate::resolve::{ChainLink, Explanation, Request, Trace, native_failures, replaced_files};
use crate::runtime::entry_points::{BOOTSTRAP_PATHS, EXEC_WRAPPER_VAR, EXTENSIONS_DIR};

/// How many `exec` hops (and interpreters) are followed from the entry point.
const MAX_HOPS: usize = 4;

pub(crate) fn explain_bootstrap(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let runtime = request.runtime;
    if !runtime.runs_bootstrap() {
        let own = format!("{RUNTIME_DIR}/bootstrap");
        for path in BOOTSTRAP_PATHS {
            trace.step(
                *path,
                "bootstrap",
                None,
                format!("not looked at: {} starts its own runtime", runtime.id),
            );
            if let Some(hit) = view.file(path) {
                trace.near_miss(
                    *path,
                    format!(
                        "this bootstrap (from {}) is never run: only the OS-only runtimes \
                         (provided.al2, provided.al2023) start a bootstrap of the function or a layer",
                        view.source_name(hit.source)
                    ),
                    matches!(hit.source, Source::Layer(_)).then_some(Code::LAY001),
                );
            }
        }
        trace.step(
            RUNTIME_DIR,
            "bootstrap",
            Some(own.clone()),
            "the runtime's own start-up (outside the function code and the layers)",
        );
        let verdict = format!(
            "{} starts its own runtime ({own}); a bootstrap in the function or a layer is not run",
            runtime.id
        );
        return trace.finish(request, Some(own), true, verdict);
    }
    let mut location = None;
    let mut starts = true;
    for path in BOOTSTRAP_PATHS {
        let hit = view.file(path);
        if location.is_some() {
            let note = if hit.is_some() {
                "shadowed: Lambda runs the first bootstrap it finds, so this one never runs"
            } else {
                "not reached"
            };
            trace.step(*path, "bootstrap", None, note);
            if let Some(hit) = hit {
                trace.near_miss(
                    *path,
                    format!(
                        "the bootstrap of {} is never run: the function's /var/task/bootstrap \
                         comes first",
                        view.source_name(hit.source)
                    ),
                    None,
                );
            }
            continue;
        }
        let Some(hit) = hit else {
            trace.step(*path, "bootstrap", None, "no such file");
            continue;
        };
        trace.step(
            *path,
            "bootstrap",
            Some(path.to_string()),
            format!("from {}", view.source_name(hit.source)),
        );
        if !hit.replaced.is_empty() {
            replaced_files(view, path, &mut trace);
        }
        starts = judge_start(view, request, Role::Bootstrap, path, &mut trace);
        location = Some(path.to_string());
    }
    if location.is_none() {
        misplaced(view, "bootstrap", &mut trace, |entry_path| {
            if entry_path.contains('/') {
                "Lambda looks for the bootstrap only at /var/task/bootstrap and /opt/bootstrap"
            } else {
                ""
            }
        });
    }
    let verdict = match &location {
        Some(path) if starts => format!("Lambda starts {path}"),
        Some(path) => format!("the bootstrap is {path}, but Lambda cannot start it: see the chain"),
        None => format!(
            "Runtime.InvalidEntrypoint: Couldn't find valid bootstrap(s): [{}]",
            BOOTSTRAP_PATHS.join(" ")
        ),
    };
    let loads = starts && location.is_some();
    trace.finish(request, location, loads, verdict)
}

pub(crate) fn explain_extension(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let name = request.name;
    let dir = format!("{LAYER_ROOT}/{EXTENSIONS_DIR}");
    let path = format!("{dir}/{name}");
    let hit = (!name.is_empty() && !name.contains('/'))
        .then(|| view.file(&path))
        .flatten();
    let Some(hit) = hit else {
        let present = view.children(&dir);
        let note = if present.is_empty() {
            "no extensions in any layer".to_string()
        } else {
            format!("extensions here: {}", present.join(", "))
        };
        trace.step(dir.clone(), name, None, note);
        misplaced(view, name, &mut trace, |entry_path| {
            if entry_path.starts_with("extensions/") {
                "in a sub-folder of extensions/: Lambda starts only the files directly in \
                 /opt/extensions"
            } else {
                "Lambda starts only the files directly in /opt/extensions (of the layers)"
            }
        });
        let verdict = format!(
            "no extension `{name}`: Lambda starts only the files directly in /opt/extensions"
        );
        return trace.finish(request, None, false, verdict);
    };
    trace.step(
        dir,
        name,
        Some(path.clone()),
        format!("from {}", view.source_name(hit.source)),
    );
    if !hit.replaced.is_empty() {
        replaced_files(view, &path, &mut trace);
    }
    let starts = judge_start(view, request, Role::Extension, &path, &mut trace);
    let verdict = if starts {
        format!("Lambda starts {path} at init")
    } else {
        format!("the extension is {path}, but Lambda cannot start it: see the chain")
    };
    trace.finish(request, Some(path), starts, verdict)
}

pub(crate) fn explain_exec_wrapper(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let runtime = request.runtime;
    let Some(path) = request.env.get(EXEC_WRAPPER_VAR).cloned() else {
        trace.step(
            EXEC_WRAPPER_VAR,
            "a script",
            None,
            "not set: give it with --env, or `env` in [function.NAME]",
        );
        let verdict = format!("{EXEC_WRAPPER_VAR} is not set: no exec wrapper runs");
        return trace.finish(request, None, false, verdict);
    };
    if !runtime.runs_exec_wrapper() {
        trace.step(
            EXEC_WRAPPER_VAR,
            path.clone(),
            None,
            format!("ignored: {} runs the function's own bootstrap", runtime.id),
        );
        let verdict = format!(
            "{} ignores {EXEC_WRAPPER_VAR}: only the managed runtimes run an exec wrapper; the \
             bootstrap is the place for start-up code",
            runtime.id
        );
        return trace.finish(request, None, false, verdict);
    }
    let path = normalize(&path);
    if !view.models(&path) {
        trace.step(
            EXEC_WRAPPER_VAR,
            path.clone(),
            None,
            "outside the function code and the layers (not modelled)",
        );
        let verdict = format!(
            "{path} is not in the function code or a layer: layerpack cannot tell whether it exists"
        );
        return trace.finish(request, None, false, verdict);
    }
    let Some(hit) = view.file(&path) else {
        trace.step(EXEC_WRAPPER_VAR, path.clone(), None, "no such file");
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        misplaced(
            view,
            &name,
            &mut trace,
            |_| "not at the path AWS_LAMBDA_EXEC_WRAPPER names",
        );
        let verdict = format!(
            "{path}: no such file or directory: the runtime cannot run the exec wrapper \
             (Runtime.ExitError)"
        );
        return trace.finish(request, None, false, verdict);
    };
    trace.step(
        EXEC_WRAPPER_VAR,
        path.clone(),
        Some(path.clone()),
        format!("from {}", view.source_name(hit.source)),
    );
    if !hit.replaced.is_empty() {
        replaced_files(view, &path, &mut trace);
    }
    let mut starts = judge_start(view, request, Role::ExecWrapper, &path, &mut trace);
    if starts && let Some(script) = script_text(view, &path) {
        // The runtime passes its own start-up command as the wrapper's arguments; a wrapper that
        // never runs them leaves the function without a runtime.
        let runs_arguments = ["$@", "${@}", "$*", "${*}"]
            .iter()
            .any(|form| script.contains(form));
        if !runs_arguments {
            let why = format!(
                "{path} never runs its arguments (\"$@\"), which are the runtime's own start-up \
                 command: the runtime never starts"
            );
            trace.near_miss(path.clone(), why.clone(), None);
            trace.cause = Some(why);
            trace.fail(
                request.target,
                Some(path.clone()),
                format!("{path} exits without starting the runtime: Runtime.ExitError"),
                None,
            );
            starts = false;
        }
    }
    let verdict = if starts {
        format!(
            "{} runs {path}, which hands over to the runtime",
            runtime.id
        )
    } else {
        format!(
            "the exec wrapper is {path}, but the runtime does not start through it: see the chain"
        )
    };
    trace.finish(request, Some(path), starts, verdict)
}

/// The text of a script at `absolute` (after links), when it is one (`#!` first).
fn script_text(view: &MergedView, absolute: &str) -> Option<String> {
    let (_, hit) = follow(view, absolute)?;
    let inventory = view.inventory(hit.source)?;
    if hit.entry.size > entrypoint::SCRIPT_READ_LIMIT as u64 {
        return None;
    }
    let bytes = inventory.read(hit.entry).ok()?;
    bytes
        .starts_with(b"#!")
        .then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// Files named `name` elsewhere in the function or the layers, as near misses; `reason` says
/// why such a place is not started (by the file's archive path).
fn misplaced(
    view: &MergedView,
    name: &str,
    trace: &mut Trace,
    reason: impl Fn(&str) -> &'static str,
) {
    for (source, inventory) in view.sources() {
        for entry in inventory.entries() {
            if entry.is_dir() || entry.path.file_name() != name {
                continue;
            }
            let text = reason(entry.path.as_str());
            if text.is_empty() {
                continue;
            }
            let code = match source {
                Source::Layer(_) if entry.path.parent().starts_with("extensions/") => {
                    Some(Code::EXT004)
                }
                Source::Layer(_) if entry.path.components().nth(1) == Some(name) => {
                    Some(Code::LAY002)
                }
                _ => None,
            };
            trace.near_miss(
                MergedView::absolute(source, entry.path.as_str()),
                text,
                code,
            );
        }
    }
}

/// Follows symlinks over the merged view from `absolute` to the file `execve` would open.
fn follow<'v>(view: &'v MergedView, absolute: &str) -> Option<(String, Hit<'v>)> {
    let mut path = absolute.to_string();
    for _ in 0..16 {
        let hit = view.file(&path)?;
        match &hit.entry.kind {
            crate::inventory::EntryKind::Symlink { target } => {
                path = if target.starts_with('/') {
                    normalize(target)
                } else {
                    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
                    normalize(&format!("{dir}/{target}"))
                };
            }
            _ => return Some((path, hit)),
        }
    }
    None
}

/// Judges whether the entry point at `absolute` starts; records the chain, the near misses and
/// the failure in `trace`.
fn judge_start(
    view: &MergedView,
    request: &Request<'_>,
    role: Role,
    absolute: &str,
    trace: &mut Trace,
) -> bool {
    // The chain starts at the target as the user named it, found at `absolute`.
    trace.chain.push(ChainLink {
        module: request.target.to_string(),
        location: Some(absolute.to_string()),
    });
    let judge = Judge {
        view,
        request,
        role,
        entry: absolute,
    };
    judge.program(absolute, 0, trace)
}

/// One entry point being judged, with what a failure anywhere along its chain means for it.
struct Judge<'a> {
    view: &'a MergedView,
    request: &'a Request<'a>,
    role: Role,
    /// The entry point's absolute path.
    entry: &'a str,
}

impl Judge<'_> {
    /// The line Lambda logs when `path` fails with `error`: a launch error when `path` is the
    /// entry point itself (the kernel refuses it), else the entry point exits after its `exec`
    /// or its interpreter failed.
    fn lambda_line(&self, path: &str, errno: &str, launched: bool) -> String {
        if path == self.entry && !launched {
            self.role.launch_error(self.entry, errno)
        } else {
            self.role
                .exit_error(self.entry, &format!("exec {path}: {errno}"))
        }
    }

    /// Records a failing link and returns false.
    fn fail(
        &self,
        trace: &mut Trace,
        path: &str,
        code: Option<Code>,
        why: String,
        lambda: String,
    ) -> bool {
        trace.near_miss(path, why.clone(), code);
        trace.cause = Some(why);
        let module = if path == self.entry {
            self.request.target
        } else {
            path
        };
        trace.fail(module, Some(path.to_string()), lambda, code);
        false
    }

    /// Judges one program of the chain: the entry point, an interpreter from a layer, or a
    /// command a script `exec`s.
    fn program(&self, absolute: &str, hops: usize, trace: &mut Trace) -> bool {
        let view = self.view;
        let request = self.request;
        let Some((path, hit)) = follow(view, absolute) else {
            let lambda = self.lambda_line(absolute, "no such file or directory", false);
            return self.fail(
                trace,
                absolute,
                None,
                format!("{absolute} is a link that leads to no file of the function or the layers"),
                lambda,
            );
        };
        let rule = if path == self.entry || absolute == self.entry {
            Code::EXT001
        } else {
            Code::BIN008
        };
        let no_exec = match hit.entry.mode {
            None if rule == Code::EXT001 => Some(
                "the zip records no Unix mode for it, so Lambda extracts it without the execute \
                 bit"
                .to_string(),
            ),
            Some(mode) if mode & 0o111 == 0 => {
                Some(format!("mode {:o} has no execute bit", mode & 0o7777))
            }
            _ => None,
        };
        if let Some(why) = no_exec {
            let lambda = self.lambda_line(absolute, "permission denied", false);
            return self.fail(trace, &path, Some(rule), format!("{path}: {why}"), lambda);
        }
        let Some(inventory) = view.inventory(hit.source) else {
            return true;
        };
        let Some(launch) = entrypoint::launch_of(inventory, hit.entry) else {
            return true;
        };
        let rel = hit.entry.path.as_str().to_string();
        let kernel_refuses = |errno: &str| self.lambda_line(absolute, errno, false);
        match launch {
            Launch::Binary => {
                let failures = native_failures(view, request, hit.source, &rel);
                let Some(first) = failures.first().cloned() else {
                    return true;
                };
                for miss in failures {
                    trace.near_misses.push(miss);
                }
                trace.cause = Some(first.reason.clone());
                let lambda = self.role.exit_error(self.entry, &first.reason);
                trace.fail(&first.path, Some(first.path.clone()), lambda, first.code);
                false
            }
            Launch::ByteOrderMark => self.fail(
                trace,
                &path,
                Some(Code::EXT003),
                format!("{path} starts with a UTF-8 byte order mark, which hides its `#!` line"),
                kernel_refuses("exec format error"),
            ),
            Launch::Unknown => self.fail(
                trace,
                &path,
                Some(Code::EXT002),
                format!("{path} is neither machine code nor a script with a `#!` line"),
                kernel_refuses("exec format error"),
            ),
            Launch::Script(shebang) if shebang.carriage_return => self.fail(
                trace,
                &path,
                Some(Code::EXT003),
                format!(
                    "{path}: its `#!{}` line ends in CRLF, so the kernel looks for an interpreter \
                     whose name ends in \\r",
                    shebang.shown()
                ),
                kernel_refuses("no such file or directory"),
            ),
            Launch::Script(shebang) => {
                let program = shebang.program();
                match locate(view, request, &program) {
                    Err(why) => {
                        let lambda = match &program {
                            // `env` itself starts, then finds nothing to run.
                            Program::OnPath(name) => self
                                .role
                                .exit_error(self.entry, &shebang.env_not_found(name)),
                            _ => kernel_refuses("no such file or directory"),
                        };
                        return self.fail(
                            trace,
                            &path,
                            Some(Code::EXT002),
                            format!("{path}: interpreter missing: {why}"),
                            lambda,
                        );
                    }
                    Ok(Some(interpreter)) if hops < MAX_HOPS => {
                        trace.chain.push(ChainLink {
                            module: interpreter.clone(),
                            location: Some(interpreter.clone()),
                        });
                        if !self.program(&interpreter, hops + 1, trace) {
                            return false;
                        }
                    }
                    Ok(_) => {}
                }
                let Ok(script) = inventory.read(hit.entry) else {
                    return true;
                };
                if script.len() > entrypoint::SCRIPT_READ_LIMIT || hops >= MAX_HOPS {
                    return true;
                }
                entrypoint::exec_commands(&script)
                    .iter()
                    .all(|command| self.exec(&path, command, hops, trace))
            }
        }
    }

    /// Judges a command a script hands over to with `exec`.
    fn exec(&self, script: &str, command: &str, hops: usize, trace: &mut Trace) -> bool {
        let program = if command.starts_with('/') {
            Program::Path(command.to_string())
        } else if command.contains('/') {
            // `exec ./agent` runs relative to the working folder, which is not modelled.
            return true;
        } else {
            Program::OnPath(command.to_string())
        };
        match locate(self.view, self.request, &program) {
            Err(why) => {
                trace.step(script, format!("exec {command}"), None, why.clone());
                let error = format!("{script}: exec: {command}: not found");
                trace.near_miss(script, format!("{error} ({why})"), None);
                trace.cause = Some(format!("{error} ({why})"));
                let lambda = self.role.exit_error(self.entry, &error);
                trace.fail(command, None, lambda, None);
                false
            }
            Ok(None) => true,
            Ok(Some(path)) => {
                trace.step(
                    script,
                    format!("exec {command}"),
                    Some(path.clone()),
                    "handed over to with exec",
                );
                trace.chain.push(ChainLink {
                    module: path.clone(),
                    location: Some(path.clone()),
                });
                self.program(&path, hops + 1, trace)
            }
        }
    }
}

/// Where a program named by path or by `PATH` lookup is: `Ok(Some(path))` in the function or a
/// layer, `Ok(None)` the runtime's or the OS's own (or a folder not modelled), `Err(text)`
/// nowhere.
fn locate(
    view: &MergedView,
    request: &Request<'_>,
    program: &Program,
) -> Result<Option<String>, String> {
    match program {
        Program::Path(path) => {
            let path = normalize(path);
            if view.models(&path) {
                return if view.file(&path).is_some() {
                    Ok(Some(path))
                } else {
                    Err(format!(
                        "{path} is in no layer and not in the function code"
                    ))
                };
            }
            match entrypoint::system_program(request.runtime, request.arch, &path) {
                SystemProgram::Absent => Err(format!(
                    "{path} does not exist on {} ({})",
                    request.runtime.id,
                    request.arch.aws_name()
                )),
                SystemProgram::Present(_) | SystemProgram::NotModelled => Ok(None),
            }
        }
        Program::OnPath(name) => {
            if entrypoint::system_command(request.runtime, request.arch, name).is_some() {
                return Ok(None);
            }
            let layer_path = format!("{LAYER_ROOT}/bin/{name}");
            if view.file(&layer_path).is_some() {
                return Ok(Some(layer_path));
            }
            Err(format!(
                "`{name}` is on no folder of PATH on {} ({}): not in /var/lang/bin, /usr/bin, \
                 /bin, nor any layer's /opt/bin",
                request.runtime.id,
                request.arch.aws_name()
            ))
        }
        Program::Relative(name) => Err(format!(
            "the interpreter `{name}` is a relative path, resolved against the working folder"
        )),
    }
}
