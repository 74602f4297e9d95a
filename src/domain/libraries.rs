//! Where the dynamic loader would find a `DT_NEEDED` library on Lambda.
//!
//! glibc's loader looks, for each needed name: in the requesting file's `DT_RPATH` (when it has
//! no `DT_RUNPATH`), in `LD_LIBRARY_PATH` (on Lambda `/var/lang/lib:/lib64:/usr/lib64:
//! /var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib`), in `DT_RUNPATH`, then in the
//! system folders; and a library already loaded under the same SONAME satisfies the need without
//! any search. The layer side of that is modelled here over the inventory (`/opt/...` is the
//! layer), the runtime's and the OS's side by [`crate::facts`] (the in-Lambda dumps).

use crate::inspect::{Binary, BinaryFormat, ElfInfo};
use crate::inventory::{ArchivePath, Inventory, normalize_relative};
use crate::runtime::{Arch, Runtime};

/// Where `runtime` on `arch` provides `name` without help from the layer: the folder on
/// `LD_LIBRARY_PATH` that has it (`/var/lang/lib` before the OS's `/lib64`), or "loaded by the
/// runtime" for a library its process loaded before user code (`libjvm.so`).
pub(crate) fn runtime_provides(runtime: &Runtime, arch: Arch, name: &str) -> Option<&'static str> {
    runtime.facts().find_library(arch, name).or_else(|| {
        runtime
            .loaded_libraries()
            .contains(&name)
            .then_some("loaded by the runtime")
    })
}

/// The layer folders (archive paths) searched for the libraries a file needs: its RPATH/RUNPATH
/// entries that point into `/opt` (`$ORIGIN`-relative ones included), the layer's `lib/` (on
/// `LD_LIBRARY_PATH`), and the file's own folder (found there when a sibling with that SONAME
/// was loaded first, which is how wheels repaired by auditwheel and pyarrow's libraries work).
pub(crate) fn layer_search_dirs(path: &ArchivePath, info: &ElfInfo) -> Vec<String> {
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
pub(crate) enum Found {
    /// In the layer, on the file's search path.
    Layer(String),
    /// In the layer, but not on the file's search path: it loads only if that copy was loaded
    /// first (by SONAME), e.g. preloaded with `ctypes.CDLL`.
    ElsewhereInLayer(String),
    /// Provided by the OS of these runtimes (or by the runtime itself); the list is the runtimes
    /// (with the architecture) that do NOT provide it (empty when all do).
    System {
        missing_on: Vec<(&'static Runtime, Arch)>,
    },
}

/// Every file name and SONAME in the layer, for the "elsewhere in the layer" check (gathered
/// on the first lookup that needs them: most libraries are found on their search path or in
/// the OS).
pub(crate) struct LayerLibraries<'a> {
    inventory: &'a Inventory,
    binaries: &'a [Binary],
    by_name: std::cell::OnceCell<std::collections::BTreeMap<&'a str, &'a str>>,
}

impl<'a> LayerLibraries<'a> {
    pub(crate) fn new(inventory: &'a Inventory, binaries: &'a [Binary]) -> LayerLibraries<'a> {
        LayerLibraries {
            inventory,
            binaries,
            by_name: std::cell::OnceCell::new(),
        }
    }

    /// The first file of the layer with each name, and each ELF file by its SONAME.
    fn by_name(&self) -> &std::collections::BTreeMap<&'a str, &'a str> {
        self.by_name.get_or_init(|| {
            let (inventory, binaries) = (self.inventory, self.binaries);
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
            by_name
        })
    }

    /// Looks `name`, needed by the file at `path`, up as the loader on `runtimes` would, on
    /// each of `arches`.
    pub(crate) fn find(
        &self,
        path: &ArchivePath,
        info: &ElfInfo,
        name: &str,
        runtimes: &[&'static Runtime],
        arches: &[Arch],
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
        let missing_on: Vec<(&'static Runtime, Arch)> = runtimes
            .iter()
            .flat_map(|runtime| arches.iter().map(move |arch| (*runtime, *arch)))
            .filter(|(runtime, arch)| runtime_provides(runtime, *arch, name).is_none())
            .collect();
        if missing_on.is_empty() {
            return Found::System { missing_on };
        }
        if let Some(elsewhere) = self.by_name().get(name) {
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
            rpath: Vec::new(),
            runpath: search_paths.iter().map(|s| s.to_string()).collect(),
            soname: None,
            glibc: None,
            version_needs: Vec::new(),
            version_defs: Vec::new(),
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
    fn runtime_and_os_libraries_per_runtime() {
        let x86 = Arch::X86_64;
        for id in ["provided.al2", "python3.12", "nodejs24.x", "java21"] {
            let runtime = Runtime::find(id).expect("runtime");
            for name in ["libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1"] {
                assert!(
                    runtime_provides(runtime, x86, name).is_some(),
                    "{id} {name}"
                );
            }
        }
        let py312 = Runtime::find("python3.12").expect("runtime");
        assert_eq!(
            runtime_provides(py312, x86, "libpython3.12.so.1.0"),
            Some("/var/lang/lib")
        );
        assert_eq!(runtime_provides(py312, x86, "libpython3.11.so.1.0"), None);
        assert_eq!(runtime_provides(py312, x86, "libGL.so.1"), None);
        let java = Runtime::find("java21").expect("runtime");
        assert_eq!(
            runtime_provides(java, x86, "libjvm.so"),
            Some("loaded by the runtime")
        );
    }
}
