//! Entry-point rules (`EXT`): the files Lambda starts by itself — a custom runtime's
//! `bootstrap`, the external extensions in `extensions/`, the exec wrapper — and whether the
//! kernel can start them. One file per rule; what counts as an entry point is
//! [`crate::entrypoint`]'s to say.

mod ext001_not_executable;
mod ext002_interpreter_missing;
mod ext003_crlf_shebang;
mod ext004_ignored_extension_path;
mod ext005_too_many_extensions;

pub use ext001_not_executable::EXT001;
pub use ext002_interpreter_missing::EXT002;
pub use ext003_crlf_shebang::EXT003;
pub use ext004_ignored_extension_path::EXT004;
pub use ext005_too_many_extensions::EXT005;

use crate::entrypoint::{self, EntryPoint};
use crate::lint::LayerContext;

/// The entry points of the layer being checked.
fn entry_points<'a>(context: &LayerContext<'a>) -> Vec<EntryPoint<'a>> {
    entrypoint::layer_entry_points(context.inventory, context.runtimes, context.exec_wrapper)
}

/// The path Lambda starts a layer's entry point from.
fn absolute(point: &EntryPoint<'_>) -> String {
    point.absolute(crate::runtime::environment::LAYER_ROOT)
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
