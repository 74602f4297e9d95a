//! Where a layer's content starts: the folder names a runtime reads at the top of `/opt`, and
//! the single folder that wraps a whole layer layout (`my-layer/python/…`), which Lambda would
//! extract to `/opt/my-layer/python/…` where no runtime looks.
//!
//! `LAY002` reports the wrapper, `LAY001` looks inside it for what is misplaced, and `check`
//! looks inside it to judge which runtimes a layer was made for.

use crate::inventory::Inventory;
use crate::runtime::entry_points::EXTENSIONS_DIR;
use crate::runtime::{COMMON_DIRS, RUNTIMES};

/// The single top-level folder wrapping a real layer layout (`my-layer/python/…`), if any.
pub(crate) fn wrapper_folder(inventory: &Inventory) -> Option<&str> {
    let mut tops = inventory.children("");
    let only = tops.next()?;
    if tops.next().is_some() || !only.is_dir() {
        return None;
    }
    let name = only.path.as_str();
    if is_layer_top(name) {
        return None;
    }
    inventory
        .children(name)
        .any(|child| child.is_dir() && is_layer_top(child.path.file_name()))
        .then_some(name)
}

/// A folder name that some runtime reads at the top of a layer.
pub(crate) fn is_layer_top(name: &str) -> bool {
    name == EXTENSIONS_DIR
        || COMMON_DIRS.contains(&name)
        || RUNTIMES
            .iter()
            .any(|runtime| runtime.language_root() == Some(name))
}
