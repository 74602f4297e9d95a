//! Entry-point rules (`EXT`): the files Lambda starts by itself — a custom runtime's
//! `bootstrap`, the external extensions in `extensions/`, the exec wrapper — and whether the
//! kernel can start them. One file per rule; what counts as an entry point is
//! [`crate::entrypoint`]'s to say.

mod ext001_not_executable;
mod ext002_interpreter_missing;
mod ext003_crlf_shebang;
mod ext004_ignored_extension_path;
mod ext005_too_many_extensions;

pub(crate) use ext001_not_executable::EXT001;
pub(crate) use ext002_interpreter_missing::EXT002;
pub(crate) use ext003_crlf_shebang::EXT003;
pub(crate) use ext004_ignored_extension_path::EXT004;
pub(crate) use ext005_too_many_extensions::EXT005;

use crate::entrypoint::{self, EntryPoint, Launch};
use crate::inventory::Entry;
use crate::lint::LayerContext;

/// The entry points of the layer being checked.
fn entry_points<'a>(context: &LayerContext<'a>) -> Vec<EntryPoint<'a>> {
    entrypoint::layer_entry_points(context.inventory, context.runtimes, context.exec_wrapper)
}

/// The path Lambda starts a layer's entry point from.
fn absolute(point: &EntryPoint<'_>) -> String {
    point.absolute(crate::facts::environment::LAYER_ROOT)
}

/// `` (its link leads to `x`)`` when the entry point is a symlink.
fn via_link(point: &EntryPoint<'_>) -> String {
    match point.target {
        Some(target) if target.path != point.entry.path => {
            format!(" (a link to `{}`)", target.path)
        }
        _ => String::new(),
    }
}

/// An entry point that is a file Lambda starts, with what the `#!` rules read of it.
struct StartedFile<'a> {
    point: EntryPoint<'a>,
    /// The file `execve` opens (the entry, or where its link leads).
    target: &'a Entry,
    /// How the kernel starts it, read from its first bytes.
    launch: Launch,
    /// The path Lambda starts it from (`/opt/bootstrap`).
    absolute: String,
    /// How a message names it: `` `bootstrap` is the custom runtime's bootstrap (a link to …)``.
    what: String,
}

/// The layer's entry points that are readable files, for the rules that read their first line.
fn started_files<'a>(context: &LayerContext<'a>) -> Vec<StartedFile<'a>> {
    entry_points(context)
        .into_iter()
        .filter_map(|point| {
            let target = point.target.filter(|target| target.is_file())?;
            let launch = entrypoint::launch_of(context.inventory, target)?;
            let what = format!(
                "`{}` is {}{}",
                point.entry.path,
                point.role.describe(),
                via_link(&point)
            );
            Some(StartedFile {
                absolute: absolute(&point),
                point,
                target,
                launch,
                what,
            })
        })
        .collect()
}
