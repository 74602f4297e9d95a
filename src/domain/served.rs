//! Which runtimes and architectures a layer serves, judged from its own content: the runtimes
//! that read its folders, the architectures of its native code, and, when nothing declares
//! them, the runtimes and architectures `check` assumes (and says so).
//!
//! `inspect` prints what a layer serves and `check` lints a layer for what it serves: both ask
//! here, so they cannot disagree.

use std::collections::BTreeSet;

use crate::domain::extension::{self, ExtensionTarget};
use crate::domain::layout::wrapper_folder;
use crate::domain::placement::owning_package_dir;
use crate::domain::pycache::CachedPyc;
use crate::inspect::{Binary, BinaryFormat};
use crate::inventory::Inventory;
use crate::runtime::{Arch, Family, RUNTIMES, Runtime};

/// Runtimes that would read at least one file: the most specific package folder holding a file
/// decides which runtimes read it (a `python3.12` site-packages folder serves python3.12 only,
/// `python/` itself every Python runtime).
pub(crate) fn runtimes_reading(inventory: &Inventory) -> Vec<&'static Runtime> {
    let dirs: BTreeSet<String> = inventory
        .entries()
        .iter()
        .filter(|entry| !entry.is_dir())
        .filter_map(|entry| owning_package_dir(&entry.path))
        .collect();
    RUNTIMES
        .iter()
        .filter(|runtime| runtime.package_dirs().iter().any(|dir| dirs.contains(dir)))
        .collect()
}

/// The newest runtime of a family (the last in the runtime table's order).
pub(crate) fn newest_of(family: Family) -> Option<&'static Runtime> {
    RUNTIMES
        .iter()
        .rev()
        .find(|runtime| runtime.family == family)
}

/// Runtimes a layer was evidently made for, judged from its folders (inside a wrapping folder,
/// if there is one), with the reason in words.
pub(crate) fn assume_runtimes(inventory: &Inventory) -> (Vec<&'static Runtime>, String) {
    let base = wrapper_folder(inventory).map_or(String::new(), |dir| format!("{dir}/"));
    let is_dir = |path: &str| inventory.is_dir(&format!("{base}{path}"));
    let mut runtimes: Vec<&'static Runtime> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let newest = |family: Family,
                  root: &str,
                  runtimes: &mut Vec<&'static Runtime>,
                  reasons: &mut Vec<String>| {
        if let Some(runtime) = newest_of(family) {
            runtimes.push(runtime);
            reasons.push(format!("the newest for `{base}{root}/`"));
        }
    };

    // Python: the versioned site-packages folder, else the CPython tags of extensions.
    let versioned: Vec<&'static Runtime> = RUNTIMES
        .iter()
        .filter(|runtime| runtime.family == Family::Python)
        .filter(|runtime| is_dir(&runtime.python_site_packages()))
        .collect();
    if !versioned.is_empty() {
        for runtime in &versioned {
            reasons.push(format!("from `{base}{}/`", runtime.python_site_packages()));
        }
        runtimes.extend(versioned);
    } else if is_dir("python") {
        let versions = python_versions_named(inventory, &format!("{base}python"));
        let tagged: Vec<&'static Runtime> = RUNTIMES
            .iter()
            .filter(|runtime| runtime.family == Family::Python)
            .filter(|runtime| versions.contains(&runtime.version()))
            .collect();
        if tagged.is_empty() {
            newest(Family::Python, "python", &mut runtimes, &mut reasons);
        } else {
            reasons.push("from the CPython tags of its extension modules".to_string());
            runtimes.extend(tagged);
        }
    }

    // Node.js: `nodejs/nodeNN/node_modules`, else the newest.
    let versioned: Vec<&'static Runtime> = RUNTIMES
        .iter()
        .filter(|runtime| runtime.family == Family::Nodejs)
        .filter(|runtime| {
            runtime
                .package_dirs()
                .first()
                .is_some_and(|dir| is_dir(dir))
        })
        .collect();
    if !versioned.is_empty() {
        reasons.push(format!("from `{base}nodejs/nodeNN/`"));
        runtimes.extend(versioned);
    } else if is_dir("nodejs") {
        newest(Family::Nodejs, "nodejs", &mut runtimes, &mut reasons);
    }

    // Ruby: the gem ABI folder, else the newest.
    let versioned: Vec<&'static Runtime> = RUNTIMES
        .iter()
        .filter(|runtime| runtime.family == Family::Ruby)
        .filter(|runtime| is_dir(&runtime.ruby_gem_dir()))
        .collect();
    if !versioned.is_empty() {
        reasons.push(format!("from `{base}ruby/gems/X.Y.0/`"));
        runtimes.extend(versioned);
    } else if is_dir("ruby") {
        newest(Family::Ruby, "ruby", &mut runtimes, &mut reasons);
    }

    if is_dir("java") {
        newest(Family::Java, "java", &mut runtimes, &mut reasons);
    }
    if runtimes.is_empty()
        && let Some(runtime) = newest_of(Family::Provided)
    {
        runtimes.push(runtime);
        reasons.push("no language folder found".to_string());
    }
    (runtimes, reasons.join(", "))
}

/// The Python versions the file names below `dir` are built or compiled for: the tags of
/// extension modules (`x.cpython-312-x86_64-linux-gnu.so`) and of cached bytecode
/// (`__pycache__/x.cpython-312.pyc`).
fn python_versions_named(inventory: &Inventory, dir: &str) -> BTreeSet<(u32, u32)> {
    inventory
        .below(dir)
        .iter()
        .filter(|entry| entry.is_file())
        .filter_map(
            |entry| match extension::parse(entry.path.file_name()).map(|ext| ext.target) {
                Some(ExtensionTarget::CPython { version, .. }) => Some(version),
                _ => CachedPyc::parse(entry.path.as_str())?.version,
            },
        )
        .collect()
}

/// The Lambda architectures a layer's native code runs on: those of its 64-bit ELF files. Empty
/// when it has none: then the layer serves any architecture.
pub(crate) fn native_architectures(binaries: &[Binary]) -> Vec<Arch> {
    let archs: BTreeSet<Arch> = binaries
        .iter()
        .filter_map(|binary| match &binary.format {
            BinaryFormat::Elf(info) if info.is_64 => info.machine.arch(),
            _ => None,
        })
        .collect();
    archs.into_iter().collect()
}

/// The architectures to check a layer for when nothing says: those of its native code, else
/// x86_64 (a layer without native code serves both; the checks need one).
pub(crate) fn assume_architectures(binaries: &[Binary]) -> (Vec<Arch>, &'static str) {
    let archs = native_architectures(binaries);
    if archs.is_empty() {
        (vec![Arch::X86_64], "the default; no Linux binaries")
    } else {
        (archs, "from its ELF files")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::inventory_of;

    fn ids(inventory: &Inventory) -> Vec<&'static str> {
        assume_runtimes(inventory)
            .0
            .iter()
            .map(|runtime| runtime.id)
            .collect()
    }

    #[test]
    fn runtimes_are_assumed_from_the_layout() {
        assert_eq!(
            ids(&inventory_of(&["python/lib/python3.11/site-packages/x.py"])),
            ["python3.11"]
        );
        assert_eq!(
            ids(&inventory_of(&[
                "python/_x.cpython-310-x86_64-linux-gnu.so"
            ])),
            ["python3.10"]
        );
        assert_eq!(
            ids(&inventory_of(&[
                "python/six.py",
                "python/__pycache__/six.cpython-311.pyc"
            ])),
            ["python3.11"]
        );
        assert_eq!(
            ids(&inventory_of(&[
                "wrap/nodejs/node18/node_modules/a/index.js"
            ])),
            ["nodejs18.x"]
        );
        assert_eq!(
            ids(&inventory_of(&["ruby/gems/3.2.0/gems/a/a.rb"])),
            ["ruby3.2"]
        );
        let newest_python = newest_of(Family::Python).expect("python runtimes").id;
        assert_eq!(ids(&inventory_of(&["python/a.py"])), [newest_python]);
        let provided = newest_of(Family::Provided).expect("provided").id;
        assert_eq!(ids(&inventory_of(&["bin/tool"])), [provided]);
    }

    #[test]
    fn the_runtimes_reading_a_layer_are_those_of_its_package_folders() {
        let read = |paths: &[&str]| -> Vec<&'static str> {
            runtimes_reading(&inventory_of(paths))
                .iter()
                .map(|runtime| runtime.id)
                .collect()
        };
        assert_eq!(
            read(&["python/lib/python3.12/site-packages/x.py"]),
            ["python3.12"]
        );
        let pythons = read(&["python/x.py"]);
        assert!(pythons.len() > 1 && pythons.iter().all(|id| id.starts_with("python")));
        assert!(read(&["README.md"]).is_empty());
    }

    #[test]
    fn no_native_code_serves_any_architecture_and_is_checked_for_x86_64() {
        assert!(native_architectures(&[]).is_empty());
        assert_eq!(
            assume_architectures(&[]),
            (vec![Arch::X86_64], "the default; no Linux binaries")
        );
    }
}
