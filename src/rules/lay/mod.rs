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

use crate::inventory::{Entry, Inventory};
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

/// Where a language keeps packages that only one version of its runtime reads: a folder per
/// version below `parent` (`python/lib/python3.11`, `nodejs/node18`, `ruby/gems/3.2.0`). LAY003,
/// LAY004 and LAY005 report the version folders that none of the layer's runtimes reads.
struct VersionFolders {
    family: Family,
    /// The folder that holds one folder per version.
    parent: &'static str,
    /// True for the name of a version folder.
    is_version: fn(&str) -> bool,
    /// Below a version folder, the folder its runtime reads (`""`: the version folder itself).
    read: &'static str,
    /// Below a version folder, the folder its packages are in.
    packages: &'static str,
}

/// A version folder that no runtime of the layer reads.
struct UnreadVersion<'a> {
    /// The version folder.
    entry: &'a Entry,
    /// Its name: `python3.11`, `node18`, `3.2.0`.
    name: &'a str,
    /// The first package in it, to name in a message.
    first_package: Option<&'a str>,
}

impl VersionFolders {
    /// The package folders that the runtimes of this language read in their version folders,
    /// in the order of `runtimes`.
    fn read_by(&self, runtimes: &[&'static Runtime]) -> Vec<String> {
        runtimes
            .iter()
            .filter(|runtime| runtime.family == self.family)
            .flat_map(|runtime| runtime.package_dirs())
            .filter(|dir| self.version_of(dir).is_some())
            .collect()
    }

    /// The version folder's name of a path in one: `python3.12` for
    /// `python/lib/python3.12/site-packages`.
    fn version_of<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(self.parent)?.strip_prefix('/')?;
        let name = rest.split('/').next()?;
        (self.is_version)(name).then_some(name)
    }

    /// The version folders of `inventory` whose packages no folder of `read` (from
    /// [`Self::read_by`]) covers.
    fn unread<'a>(&self, inventory: &'a Inventory, read: &[String]) -> Vec<UnreadVersion<'a>> {
        let below = |entry: &Entry, folder: &str| {
            if folder.is_empty() {
                entry.path.to_string()
            } else {
                format!("{}/{folder}", entry.path)
            }
        };
        inventory
            .children(self.parent)
            .filter(|entry| entry.is_dir() && (self.is_version)(entry.path.file_name()))
            .filter(|entry| !read.contains(&below(entry, self.read)))
            .map(|entry| UnreadVersion {
                entry,
                name: entry.path.file_name(),
                first_package: first_package(inventory, &below(entry, self.packages)),
            })
            .collect()
    }
}

/// The first package (not metadata) in a folder, to name in a message.
fn first_package<'a>(inventory: &'a Inventory, dir: &str) -> Option<&'a str> {
    inventory
        .children(dir)
        .map(|entry| entry.path.file_name())
        .find(|name| !name.ends_with("-info") && !name.starts_with('_') && !name.starts_with('.'))
}
