//! The Java class path, replayed: the function's classes in `/var/task`, the jars directly in
//! `/var/task/lib` and `/opt/java/lib` (a `/*` class path entry takes the jars of that folder,
//! not of its sub-folders). Each jar's central directory is read with the `zip` crate, from the
//! layer's bytes, without extracting it. The JVM's own order among the jars of one folder is
//! the folder listing's; they are listed here by name.

use std::io::Cursor;

use crate::finding::Code;
use crate::resolve::merged::{MergedView, Source, join};
use crate::resolve::{Explanation, Request, Trace};

pub(crate) fn explain(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let class_file = format!("{}.class", request.name.replace('.', "/"));
    let mut location: Option<String> = None;
    for entry in request.runtime.java_classpath() {
        match entry.strip_suffix("/*") {
            None => {
                let file = join(&entry, &class_file);
                if location.is_none() && view.file(&file).is_some() {
                    trace.step(
                        entry,
                        class_file.clone(),
                        Some(file.clone()),
                        "class folder",
                    );
                    location = Some(file);
                } else {
                    let note = if location.is_some() {
                        "not reached"
                    } else {
                        "nothing by that name (class folder)"
                    };
                    trace.step(entry, class_file.clone(), None, note);
                }
            }
            Some(dir) => {
                let jars: Vec<String> = view
                    .children(dir)
                    .into_iter()
                    .filter(|name| name.ends_with(".jar"))
                    .collect();
                if jars.is_empty() {
                    trace.step(
                        entry.clone(),
                        class_file.clone(),
                        None,
                        if view.is_dir(dir) {
                            "no jars directly in this folder"
                        } else {
                            "no such folder"
                        },
                    );
                }
                for jar in jars {
                    let path = join(dir, &jar);
                    if location.is_some() {
                        let note = if jar_has(view, &path, &class_file) {
                            "shadowed: also holds the class, never used"
                        } else {
                            "not reached"
                        };
                        trace.step(path, class_file.clone(), None, note);
                        continue;
                    }
                    if jar_has(view, &path, &class_file) {
                        let found = format!("{path}!/{class_file}");
                        trace.step(
                            path,
                            class_file.clone(),
                            Some(found.clone()),
                            "jar on the class path",
                        );
                        location = Some(found);
                    } else {
                        trace.step(path, class_file.clone(), None, "the jar does not hold it");
                    }
                }
            }
        }
    }
    if location.is_none() {
        near_misses(view, &class_file, &mut trace);
    }
    let verdict = match &location {
        Some(found) => format!("`{}` resolves to {found}", request.name),
        None => format!("java.lang.ClassNotFoundException: {}", request.name),
    };
    let loads = location.is_some();
    trace.finish(request, location, loads, verdict)
}

/// True when the jar at `abs` lists `class_file`; an unreadable jar holds nothing.
fn jar_has(view: &MergedView, abs: &str, class_file: &str) -> bool {
    let Some(hit) = view.file(abs) else {
        return false;
    };
    let Some(bytes) = view.read(&hit, crate::inventory::MAX_WHOLE_READ) else {
        return false;
    };
    zip::ZipArchive::new(Cursor::new(bytes)).is_ok_and(|archive| {
        archive
            .file_names()
            .any(|name| name.as_ref().is_ok_and(|name| name == class_file))
    })
}

fn near_misses(view: &MergedView, class_file: &str, trace: &mut Trace) {
    for (source, inventory) in view.sources() {
        for entry in inventory.files() {
            let path = entry.path.as_str();
            let abs = MergedView::absolute(source, path);
            if path.ends_with(".jar") {
                let on_path = match source {
                    Source::Function => entry.path.parent() == "lib",
                    Source::Layer(_) => entry.path.parent() == "java/lib",
                };
                if on_path || !jar_has(view, &abs, class_file) {
                    continue;
                }
                let (reason, code) = if path.starts_with("java/lib/") {
                    (
                        "in a jar below a sub-folder of /opt/java/lib: the class path takes only the jars directly in it",
                        Some(Code::LAY006),
                    )
                } else if path.split('/').nth(1) == Some("java") {
                    (
                        "in a jar inside a wrapping folder: the zip's top folder becomes part of the path in /opt",
                        Some(Code::LAY002),
                    )
                } else {
                    (
                        "in a jar that is not on the class path: layer jars go in java/lib/",
                        Some(Code::LAY001),
                    )
                };
                trace.near_miss(format!("{abs}!/{class_file}"), reason, code);
            } else if path.ends_with(&format!("/{class_file}")) || path == class_file {
                if abs == format!("/var/task/{class_file}") {
                    continue;
                }
                trace.near_miss(abs, "a loose class file outside the class path: layers put classes in jars in java/lib/", Some(Code::LAY001));
            }
        }
    }
}
