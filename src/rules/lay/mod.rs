//! Layout rules (`LAY`): content placed where no runtime of the layer looks.
//!
//! Lambda extracts a layer to `/opt` and each runtime adds a few fixed folders below it to its
//! search path (see [`crate::runtime`]). Anything elsewhere is dead weight at best and, when it is
//! the package the function imports, the cause of a "No module named" at cold start. These rules
//! only read names from the inventory; they stay conservative: code where no runtime looks is an
//! error, other stray files (a README at the root) only a warning, since a function may still open
//! them by their full path.

mod lay001_unread_content;
mod lay002_wrapped_layer;
mod lay003_python_version_mismatch;
mod lay004_node_version_mismatch;
mod lay005_ruby_gem_abi_mismatch;
mod lay006_jar_below_java_lib;
mod lay007_empty_layer;

pub(crate) use lay001_unread_content::LAY001;
pub(crate) use lay002_wrapped_layer::LAY002;
pub(crate) use lay003_python_version_mismatch::LAY003;
pub(crate) use lay004_node_version_mismatch::LAY004;
pub(crate) use lay005_ruby_gem_abi_mismatch::LAY005;
pub(crate) use lay006_jar_below_java_lib::LAY006;
pub(crate) use lay007_empty_layer::LAY007;

use crate::inventory::Inventory;
use crate::runtime::{Family, Runtime};

fn runtime_ids(runtimes: &[&'static Runtime]) -> String {
    runtimes
        .iter()
        .map(|runtime| runtime.id)
        .collect::<Vec<_>>()
        .join(", ")
}

fn has_family(runtimes: &[&'static Runtime], family: Family) -> bool {
    runtimes.iter().any(|runtime| runtime.family == family)
}

/// The first runtime of a family, for messages.
fn first_of(runtimes: &[&'static Runtime], family: Family) -> Option<&'static Runtime> {
    runtimes
        .iter()
        .copied()
        .find(|runtime| runtime.family == family)
}

/// `18` for `node18`.
fn node_major(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("node")?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The first package (not metadata) in a folder, to name in a message.
fn first_package<'a>(inventory: &'a Inventory, dir: &'a str) -> Option<&'a str> {
    inventory
        .children(dir)
        .map(|entry| entry.path.file_name())
        .find(|name| !name.ends_with("-info") && !name.starts_with('_') && !name.starts_with('.'))
}
