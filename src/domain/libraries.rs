//! Where the dynamic loader would find a `DT_NEEDED` library on Lambda.
//!
//! glibc's loader looks, for each needed name: in the requesting file's `DT_RPATH` (when it has
//! no `DT_RUNPATH`), in `LD_LIBRARY_PATH` (on Lambda `/var/lang/lib:/lib64:/usr/lib64:
//! /var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib`), in `DT_RUNPATH`, then in the
//! system folders; and a library already loaded under the same SONAME satisfies the need without
//! any search. The layer side of that is modelled here over the inventory (`/opt/...` is the
//! layer), the OS side by the base library lists in `src/data/`.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::inspect::{Binary, BinaryFormat, ElfInfo};
use crate::inventory::{ArchivePath, Inventory, normalize_relative};
use crate::runtime::{Os, Runtime};

const AL2_LIBRARIES: &str = include_str!("../data/al2-libs.txt");
const AL2023_LIBRARIES: &str = include_str!("../data/al2023-libs.txt");

/// The SONAMEs the OS of a runtime image provides (see the header of each data file).
pub fn system_libraries(os: Os) -> &'static BTreeSet<&'static str> {
    static AL2: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    static AL2023: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    let parse = |text: &'static str| {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    };
    match os {
        Os::Al2 => AL2.get_or_init(|| parse(AL2_LIBRARIES)),
        Os::Al2023 => AL2023.get_or_init(|| parse(AL2023_LIBRARIES)),
    }
}

/// True when `runtime` provides `name` without help from the layer: its OS, or the runtime's own
/// libraries (`libpython3.12.so.1.0` in `/var/lang/lib`).
pub fn runtime_provides(runtime: &Runtime, name: &str) -> bool {
    system_libraries(runtime.os).contains(name)
        || runtime
            .runtime_libraries()
            .iter()
            .any(|provided| provided == name)
}

/// The layer folders (archive paths) searched for the libraries a file needs: its RPATH/RUNPATH
/// entries that point into `/opt` (`$ORIGIN`-relative ones included), the layer's `lib/` (on
/// `LD_LIBRARY_PATH`), and the file's own folder (found there when a sibling with that SONAME
/// was loaded first, which is how wheels repaired by auditwheel and pyarrow's libraries work).
pub fn layer_search_dirs(path: &ArchivePath, info: &ElfInfo) -> Vec<String> {
    let origin = path.parent();
    let mut dirs = Vec::new();
    for entry in &info.search_paths {
        let expanded = entry
            .replace("${ORIGIN}", &format!("/opt/{origin}"))
            .replace("$ORIGIN", &format!("/opt/{origin}"));
        if let Some(dir) = expanded.strip_prefix("/opt/").and_then(normalize_relative) {
            dirs.push(dir);
        } else if expanded == "/opt" {
            dirs.push(String::new());
        }
    }
    dirs.push("lib".to_string());
    dirs.push(origin.to_string());
    dirs.dedup();
    dirs
}

/// Where a needed library was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// In the layer, on the file's search path.
    Layer(String),
    /// In the layer, but not on the file's search path: it loads only if that copy was loaded
    /// first (by SONAME), e.g. preloaded with `ctypes.CDLL`.
    ElsewhereInLayer(String),
    /// Provided by the OS of these runtimes (or by the runtime itself); the list is the runtimes
    /// that do NOT provide it (empty when all do).
    System { missing_on: Vec<&'static Runtime> },
}

/// Every file name and SONAME in the layer, for the "elsewhere in the layer" check.
pub struct LayerLibraries<'a> {
    inventory: &'a Inventory,
    by_name: std::collections::BTreeMap<&'a str, &'a str>,
}

impl<'a> LayerLibraries<'a> {
    pub fn new(inventory: &'a Inventory, binaries: &'a [Binary]) -> LayerLibraries<'a> {
        let mut by_name = std::collections::BTreeMap::new();
        for entry in inventory.entries() {
            if !entry.is_dir() {
                by_name
                    .entry(entry.path.file_name())
                    .or_insert(entry.path.as_str());
            }
        }
        for binary in binaries {
            if let BinaryFormat::Elf(info) = &binary.format
                && let Some(soname) = &info.soname
            {
                by_name
                    .entry(soname.as_str())
                    .or_insert(binary.path.as_str());
            }
        }
        LayerLibraries { inventory, by_name }
    }

    /// Looks `name`, needed by the file at `path`, up as the loader on `runtimes` would.
    pub fn find(
        &self,
        path: &ArchivePath,
        info: &ElfInfo,
        name: &str,
        runtimes: &[&'static Runtime],
    ) -> Found {
        for dir in layer_search_dirs(path, info) {
            let candidate = if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            };
            if self
                .inventory
                .get(&candidate)
                .is_some_and(|entry| !entry.is_dir())
            {
                return Found::Layer(candidate);
            }
        }
        let missing_on: Vec<&'static Runtime> = runtimes
            .iter()
            .copied()
            .filter(|runtime| !runtime_provides(runtime, name))
            .collect();
        if missing_on.is_empty() {
            return Found::System { missing_on };
        }
        if let Some(elsewhere) = self.by_name.get(name) {
            return Found::ElsewhereInLayer((*elsewhere).to_string());
        }
        Found::System { missing_on }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{ElfKind, ElfMachine};

    fn info(search_paths: &[&str]) -> ElfInfo {
        ElfInfo {
            is_64: true,
            machine: ElfMachine::X86_64,
            kind: ElfKind::SharedObject,
            interpreter: None,
            needed: Vec::new(),
            search_paths: search_paths.iter().map(|s| s.to_string()).collect(),
            soname: None,
            glibc: None,
            musl: false,
        }
    }

    #[test]
    fn origin_relative_paths_map_into_the_layer() {
        let path = ArchivePath::new("python/numpy/_core/_multiarray_umath.so").expect("path");
        let dirs = layer_search_dirs(
            &path,
            &info(&["$ORIGIN/../../numpy.libs", "/usr/local/lib", "/opt/lib64"]),
        );
        assert_eq!(
            dirs,
            ["python/numpy.libs", "lib64", "lib", "python/numpy/_core"]
        );
    }

    #[test]
    fn base_sets_hold_glibc_and_differ_where_the_os_does() {
        for os in [Os::Al2, Os::Al2023] {
            for name in ["libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1"] {
                assert!(system_libraries(os).contains(name), "{os:?} {name}");
            }
        }
        assert!(system_libraries(Os::Al2).contains("libcrypt.so.1"));
        assert!(!system_libraries(Os::Al2023).contains("libcrypt.so.1"));
        assert!(!system_libraries(Os::Al2023).contains("libGL.so.1"));
        let py312 = Runtime::find("python3.12").expect("runtime");
        assert!(runtime_provides(py312, "libpython3.12.so.1.0"));
        assert!(!runtime_provides(py312, "libpython3.11.so.1.0"));
    }
}
