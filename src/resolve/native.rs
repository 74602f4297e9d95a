//! Commands on `PATH` and shared libraries on `LD_LIBRARY_PATH`, replayed.
//!
//! `PATH` is `/usr/local/bin:/usr/bin/:/bin:/opt/bin`: a command of the OS wins over a layer's
//! `bin/` copy; the OS's own commands are not modelled (they are not in the function or the
//! layers). A command found in `/opt/bin` must have an execute bit and, when it is machine code,
//! pass the `BIN` rules. `LD_LIBRARY_PATH` puts the runtime's and the OS's folders before
//! `/var/task/lib` and `/opt/lib`; the OS's libraries are known from the base image lists the
//! `BIN` rules use.

use crate::domain::libraries::system_libraries;
use crate::resolve::merged::{MergedView, Source};
use crate::resolve::{Explanation, Request, Trace, native_failures, replaced_files};
use crate::runtime::Family;
use crate::runtime::environment::{COMMAND_PATH, LIBRARY_PATH};

pub fn explain_command(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let name = request.name;
    let mut location = None;
    let mut loads = true;
    for dir in COMMAND_PATH {
        let file = format!("{dir}/{name}");
        if location.is_some() {
            trace.step(*dir, name, None, "not reached");
            continue;
        }
        if !view.models(dir) {
            trace.step(
                *dir,
                name,
                None,
                "the OS's own commands (not modelled: outside the function code and the layers)",
            );
            continue;
        }
        let Some(hit) = view.file(&file) else {
            trace.step(
                *dir,
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
            *dir,
            name,
            Some(file.clone()),
            format!("from {}", view.source_name(hit.source)),
        );
        let rel = hit.entry.path.as_str().to_string();
        if hit.entry.mode.is_some_and(|mode| mode & 0o111 == 0) {
            loads = false;
            trace.near_miss(
                file.clone(),
                format!(
                    "mode {:o} has no execute bit: running it fails with \"Permission denied\"",
                    hit.entry.mode.unwrap_or(0)
                ),
                Some("BIN008"),
            );
        }
        if !hit.replaced.is_empty() {
            replaced_files(view, &file, &mut trace);
        }
        for miss in native_failures(view, hit.source, &rel, request.runtime, request.arch, &[]) {
            loads = false;
            trace.near_misses.push(miss);
        }
        location = Some(file);
    }
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
                        Some("LAY001"),
                    )
                } else if layer && wrapped {
                    (
                        "inside a wrapping folder: /opt/bin is on PATH, this folder is not"
                            .to_string(),
                        Some("LAY002"),
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
    let verdict = match &location {
        Some(file) if loads => format!("`{name}` runs {file}"),
        Some(file) => format!("`{name}` is {file}, but running it would fail: see the near misses"),
        None => format!(
            "{name}: command not found (in the function code and the layers; the OS's own commands are not modelled)"
        ),
    };
    let loads = loads && location.is_some();
    trace.finish(request, location, loads, verdict)
}

pub fn explain_library(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let name = request.name;
    let runtime = request.runtime;
    let mut location = None;
    let mut loads = true;
    let dirs: Vec<&str> = LIBRARY_PATH
        .iter()
        .copied()
        .filter(|dir| runtime.family != Family::Provided || *dir != "/var/lang/lib")
        .collect();
    for dir in dirs {
        let file = format!("{dir}/{name}");
        if location.is_some() {
            let note = if view.file(&file).is_some() {
                "shadowed: this copy is never loaded"
            } else {
                "not reached"
            };
            trace.step(dir, name, None, note);
            continue;
        }
        if !view.models(dir) {
            let provided = match dir {
                "/lib64" => system_libraries(runtime.os).contains(name),
                "/var/lang/lib" => runtime.runtime_libraries().iter().any(|lib| lib == name),
                _ => false,
            };
            if provided {
                let what = if dir == "/lib64" {
                    format!("part of {}", runtime.os.name())
                } else {
                    format!("the {} runtime's own library", runtime.id)
                };
                trace.step(dir, name, Some(file.clone()), what);
                location = Some(file);
            } else {
                let note = match dir {
                    "/lib64" | "/usr/lib64" => format!(
                        "not part of {} (its base image's libraries are known)",
                        runtime.os.name()
                    ),
                    _ => "the runtime's own files (outside the function code and the layers)"
                        .to_string(),
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
        if !hit.replaced.is_empty() {
            replaced_files(view, &file, &mut trace);
        }
        let rel = hit.entry.path.as_str().to_string();
        for miss in native_failures(view, hit.source, &rel, runtime, request.arch, &[]) {
            loads = false;
            trace.near_misses.push(miss);
        }
        location = Some(file);
    }
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
                    "LAY001"
                } else {
                    "LAY002"
                });
                trace.near_miss(abs.clone(), format!("`{name}` is at {abs}, which is not on LD_LIBRARY_PATH: only a file whose RUNPATH names that folder finds it; put it in lib/"), code);
            }
        }
    }
    let verdict = match &location {
        Some(file) if loads => format!("`{name}` loads from {file}"),
        Some(file) => format!("`{name}` is {file}, but loading it would fail: see the near misses"),
        None => format!("{name}: cannot open shared object file: No such file or directory"),
    };
    let loads = loads && location.is_some();
    trace.finish(request, location, loads, verdict)
}
