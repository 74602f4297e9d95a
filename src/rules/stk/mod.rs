//! Stack rules (`STK`): a function together with its ordered layers.
//!
//! Lambda extracts the layers into `/opt` in attachment order and the function into `/var/task`;
//! these rules look at what only the combination shows: counts and sizes against the quotas,
//! files a later layer overwrites, packages the function shadows, and declared runtimes or
//! architectures that exclude the function's.

mod stk001_too_many_layers;
mod stk002_stack_over_quota;
mod stk003_file_replaced_by_later_layer;
mod stk004_function_shadows_layer_package;
mod stk005_layer_incompatible_with_function;
mod stk006_unresolved_import;

pub(crate) use stk001_too_many_layers::STK001;
pub(crate) use stk002_stack_over_quota::STK002;
pub(crate) use stk003_file_replaced_by_later_layer::STK003;
pub(crate) use stk004_function_shadows_layer_package::STK004;
pub(crate) use stk005_layer_incompatible_with_function::STK005;
pub(crate) use stk006_unresolved_import::STK006;

use crate::inventory::{ArchivePath, Entry, Inventory};
use crate::runtime::Family;
use std::collections::BTreeMap;

/// A package found in a folder, with its version when metadata says it.
struct Package {
    path: String,
    version: Option<String>,
}

/// Top-level Python packages and modules, or Node.js packages, in the given folders (the first
/// folder that has a name wins, as in the runtime's lookup).
fn packages(inventory: &Inventory, dirs: &[String], family: Family) -> BTreeMap<String, Package> {
    let mut found = BTreeMap::new();
    for dir in dirs {
        if !dir.is_empty() && !inventory.is_dir(dir) {
            continue;
        }
        for entry in inventory.children(dir) {
            let name = entry.path.file_name();
            let package = match family {
                Family::Python => python_package(inventory, dir, entry),
                _ if name.starts_with('@') && entry.is_dir() => {
                    for scoped in inventory.children(entry.path.as_str()) {
                        if let Some(package) = node_package(inventory, scoped) {
                            let key = format!("{name}/{}", scoped.path.file_name());
                            found.entry(key).or_insert(package);
                        }
                    }
                    None
                }
                _ => node_package(inventory, entry),
            };
            if let Some((key, package)) = package.map(|package| (import_name(name), package)) {
                found.entry(key).or_insert(package);
            }
        }
    }
    found
}

fn import_name(file_name: &str) -> String {
    file_name
        .strip_suffix(".py")
        .unwrap_or(file_name)
        .to_string()
}

fn python_package(inventory: &Inventory, dir: &str, entry: &Entry) -> Option<Package> {
    let name = entry.path.file_name();
    let is_package = entry.is_dir()
        && !name.contains('.')
        && name != "__pycache__"
        && inventory
            .children(entry.path.as_str())
            .any(|child| child.path.file_name().ends_with(".py"));
    let is_module = entry.is_file() && name.ends_with(".py") && name != "__init__.py";
    if !(is_package || is_module) {
        return None;
    }
    let wanted = crate::domain::distribution::normalize_distribution_name(&import_name(name));
    let version = inventory.children(dir).find_map(|sibling| {
        let folder = sibling.path.file_name().strip_suffix(".dist-info")?;
        let (distribution, version) = folder.rsplit_once('-')?;
        (crate::domain::distribution::normalize_distribution_name(distribution) == wanted)
            .then(|| version.to_string())
    });
    Some(Package {
        path: entry.path.as_str().to_string(),
        version,
    })
}

fn node_package(inventory: &Inventory, entry: &Entry) -> Option<Package> {
    if !entry.is_dir() || entry.path.file_name().starts_with('.') {
        return None;
    }
    let manifest = ArchivePath::new(&format!("{}/package.json", entry.path)).ok()?;
    let manifest = inventory.get(manifest.as_str())?;
    let version = inventory
        .read_capped(manifest, 8 << 20)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|value| value["version"].as_str().map(str::to_string));
    Some(Package {
        path: entry.path.as_str().to_string(),
        version,
    })
}
