//! What a layer ships that the runtime already has.
//!
//! Every Python runtime bundles boto3, botocore and their dependencies; every Node.js runtime from
//! nodejs18.x on bundles the AWS SDK for JavaScript v3. A layer that ships them again pays for
//! them twice in its 250 MiB quota, and its copy is the one imported, because the layer's folders
//! come before the runtime's own on `sys.path` and `NODE_PATH`. Sometimes that is the point (a
//! newer SDK than the runtime's); often it is an accident of `pip install -r requirements.txt`.
//! `inspect` lists these copies with what they cost and which runtime version they hide, from the
//! in-Lambda dumps of [`crate::facts`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::distribution::normalize_distribution_name;
use crate::facts::{self, BundledPackage, Ecosystem};
use crate::inventory::{Entry, Inventory};
use crate::runtime::{Family, RUNTIMES, Runtime};

/// The most of a `RECORD` or `package.json` read to size or version a copy.
const METADATA_READ_LIMIT: usize = 4 * 1024 * 1024;

/// One package of the layer that a runtime it serves bundles too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct RuntimeDuplicate {
    pub(crate) ecosystem: Ecosystem,
    /// The package's name as the runtime's dump spells it (`boto3`, `@aws-sdk/client-s3`).
    pub(crate) name: String,
    /// The version the layer ships, when its metadata says.
    pub(crate) version: Option<String>,
    /// The layer's folder holding it (`python`, `nodejs/node_modules`).
    pub(crate) folder: String,
    /// The layer's files of that package, with their unzipped size.
    pub(crate) files: usize,
    pub(crate) bytes: u64,
    /// The runtimes that bundle it, each with the version it bundles.
    pub(crate) runtimes: Vec<BundledCopy>,
}

/// The runtime's own copy of a package the layer ships.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct BundledCopy {
    pub(crate) runtime: &'static str,
    /// `None` where the dump did not record it.
    pub(crate) version: Option<&'static str>,
    /// Where the runtime keeps it.
    pub(crate) path: &'static str,
    /// True when the layer's copy is found first, so the runtime's is never imported.
    pub(crate) shadowed: bool,
}

/// Every package of `inventory` (a layer, extracted to `/opt`) that a runtime reading the
/// layer's folder also bundles, largest first.
pub(crate) fn runtime_duplicates(inventory: &Inventory) -> Vec<RuntimeDuplicate> {
    let mut found: BTreeMap<(String, String), RuntimeDuplicate> = BTreeMap::new();
    for runtime in RUNTIMES {
        let ecosystem = match runtime.family {
            Family::Python => Ecosystem::Python,
            Family::Nodejs => Ecosystem::Node,
            _ => continue,
        };
        for folder in runtime.package_dirs() {
            if !inventory.is_dir(&folder) || inventory.below(&folder).is_empty() {
                continue;
            }
            for package in runtime.facts().bundled_packages() {
                if package.ecosystem != ecosystem || !package.resolvable() {
                    continue;
                }
                let copy = match ecosystem {
                    Ecosystem::Python => python_copy(inventory, &folder, package.name),
                    _ => node_copy(inventory, &folder, package.name),
                };
                let Some(copy) = copy else {
                    continue;
                };
                let duplicate = found
                    .entry((folder.clone(), package.name.to_string()))
                    .or_insert_with(|| RuntimeDuplicate {
                        ecosystem,
                        name: package.name.to_string(),
                        version: copy.version,
                        folder: folder.clone(),
                        files: copy.files,
                        bytes: copy.bytes,
                        runtimes: Vec::new(),
                    });
                duplicate.runtimes.push(BundledCopy {
                    runtime: runtime.id,
                    version: package.version,
                    path: package.path,
                    shadowed: layer_comes_first(runtime, &folder, package),
                });
            }
        }
    }
    let mut list: Vec<RuntimeDuplicate> = found.into_values().collect();
    list.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.folder.cmp(&b.folder))
    });
    list
}

/// The unzipped bytes of the layer's copies, each file counted once.
pub(crate) fn duplicated_bytes(duplicates: &[RuntimeDuplicate]) -> u64 {
    duplicates
        .iter()
        .fold(0u64, |sum, duplicate| sum.saturating_add(duplicate.bytes))
}

/// What the layer holds of one package in one folder.
struct Copy {
    version: Option<String>,
    files: usize,
    bytes: u64,
}

/// True when the runtime's search path reaches the layer's `folder` before the runtime's copy.
fn layer_comes_first(runtime: &Runtime, folder: &str, package: &BundledPackage) -> bool {
    let path = match runtime.family {
        Family::Python => runtime.python_sys_path(None),
        _ => runtime.node_path(),
    };
    let layer = path.iter().position(|dir| *dir == format!("/opt/{folder}"));
    let bundled = path.iter().position(|dir| dir == package.path);
    match (layer, bundled) {
        (Some(layer), Some(bundled)) => layer < bundled,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The layer's copy of Python distribution `dist` directly in `folder`: its `*.dist-info` (the
/// files its `RECORD` lists) or, without one, its import package or module.
fn python_copy(inventory: &Inventory, folder: &str, dist: &str) -> Option<Copy> {
    let wanted = normalize_distribution_name(dist);
    let dist_info = inventory.children(folder).find(|entry| {
        entry.is_dir()
            && entry
                .path
                .file_name()
                .strip_suffix(".dist-info")
                .and_then(|stem| stem.split_once('-'))
                .is_some_and(|(name, _)| normalize_distribution_name(name) == wanted)
    });
    let modules: Vec<String> = facts::python_import_names(dist)
        .into_iter()
        .filter(|name| {
            inventory.is_dir(&format!("{folder}/{name}"))
                || inventory
                    .get(&format!("{folder}/{name}.py"))
                    .is_some_and(Entry::is_file)
        })
        .collect();
    if dist_info.is_none() && modules.is_empty() {
        return None;
    }
    let version = dist_info.and_then(|entry| {
        let stem = entry.path.file_name().strip_suffix(".dist-info")?;
        stem.split_once('-').map(|(_, version)| version.to_string())
    });
    let mut paths: Vec<String> = Vec::new();
    if let Some(info) = dist_info {
        let record = inventory.get(&format!("{}/RECORD", info.path));
        if let Some(listed) = record.and_then(|record| record_paths(inventory, record, folder)) {
            paths.extend(listed);
        }
        paths.extend(
            inventory
                .below(info.path.as_str())
                .iter()
                .filter(|entry| entry.is_file())
                .map(|entry| entry.path.to_string()),
        );
    }
    for module in &modules {
        let file = format!("{folder}/{module}.py");
        if inventory.get(&file).is_some_and(Entry::is_file) {
            paths.push(file);
        }
        paths.extend(
            inventory
                .below(&format!("{folder}/{module}"))
                .iter()
                .filter(|entry| entry.is_file())
                .map(|entry| entry.path.to_string()),
        );
    }
    paths.sort();
    paths.dedup();
    let (files, bytes) = sizes(inventory, &paths);
    Some(Copy {
        version,
        files,
        bytes,
    })
}

/// The files a `RECORD` lists, as archive paths below `folder`; `None` when it cannot be read.
fn record_paths(inventory: &Inventory, record: &Entry, folder: &str) -> Option<Vec<String>> {
    let bytes = inventory.read_capped(record, METADATA_READ_LIMIT).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let paths = text
        .lines()
        .filter_map(|line| {
            let path = match line.strip_prefix('"') {
                Some(quoted) => quoted.split_once('"')?.0,
                None => line.split(',').next()?,
            };
            crate::inventory::normalize_relative(&format!("{folder}/{path}"))
        })
        .collect();
    Some(paths)
}

/// The layer's copy of Node.js package `name` directly in the `node_modules` `folder`.
fn node_copy(inventory: &Inventory, folder: &str, name: &str) -> Option<Copy> {
    let root = format!("{folder}/{name}");
    let manifest = inventory
        .get(&format!("{root}/package.json"))
        .filter(|entry| entry.is_file())?;
    let version = inventory
        .read_capped(manifest, METADATA_READ_LIMIT)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|json| json.get("version")?.as_str().map(str::to_string));
    let paths: Vec<String> = inventory
        .below(&root)
        .iter()
        .filter(|entry| entry.is_file())
        .map(|entry| entry.path.to_string())
        .collect();
    let (files, bytes) = sizes(inventory, &paths);
    Some(Copy {
        version,
        files,
        bytes,
    })
}

/// How many of `paths` are files of the layer, and their summed size.
fn sizes(inventory: &Inventory, paths: &[String]) -> (usize, u64) {
    paths
        .iter()
        .filter_map(|path| inventory.get(path).filter(|entry| entry.is_file()))
        .fold((0, 0u64), |(files, bytes), entry| {
            (files + 1, bytes.saturating_add(entry.size))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Origin;
    use crate::inventory::testing::file;

    #[test]
    fn import_names_follow_the_dists_that_differ() {
        assert_eq!(facts::python_import_names("python-dateutil"), ["dateutil"]);
        assert_eq!(facts::python_import_names("Jmespath"), ["jmespath"]);
        assert_eq!(
            facts::python_import_names("typing_extensions"),
            ["typing_extensions"]
        );
        assert_eq!(
            facts::python_import_names("setuptools"),
            ["setuptools", "pkg_resources", "_distutils_hack"]
        );
    }

    #[test]
    fn a_module_without_dist_info_counts_and_sizes_its_folder() {
        let inventory = Inventory::new(
            Origin::Directory("/layer".into()),
            vec![
                file("python/boto3/__init__.py", 10),
                file("python/boto3/session.py", 32),
                file("python/requests/__init__.py", 7),
            ],
        );
        let duplicates = runtime_duplicates(&inventory);
        assert_eq!(duplicates.len(), 1, "{duplicates:#?}");
        assert_eq!(duplicates[0].name, "boto3");
        assert_eq!(duplicates[0].version, None);
        assert_eq!((duplicates[0].files, duplicates[0].bytes), (2, 42));
        assert!(duplicates[0].runtimes.iter().all(|copy| copy.shadowed));
    }
}
