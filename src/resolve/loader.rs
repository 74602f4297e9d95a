//! The dynamic loader, replayed: what `ld.so` does on Lambda when a runtime loads a native file
//! (a Python extension, a `.node` addon, a command in `bin/`, a library in `lib/`).
//!
//! Finding the file is not the end: the loader then maps every `DT_NEEDED` library, breadth
//! first, each found by glibc's order — the requesting file's `DT_RPATH` (and its loaders',
//! only when it has no `DT_RUNPATH`), `LD_LIBRARY_PATH` (`/var/lang/lib`, the OS's `/lib64` and
//! `/usr/lib64`, `/var/runtime`, `/var/task`, `/var/task/lib`, `/opt/lib`), the file's own
//! `DT_RUNPATH`, then the OS's default folders — with `$ORIGIN` standing for the requesting
//! file's folder. A library of another machine or class is skipped, as the loader does. Once
//! everything is mapped, every symbol version a file needs (`.gnu.version_r`) must be defined by
//! the library that actually satisfied that need: glibc's `GLIBC_x`, libstdc++'s `GLIBCXX_x` and
//! `CXXABI_x`, libgcc's `GCC_x` are judged against what the runtime provides; a library shipped in
//! the function or a layer offers the versions of its own `.gnu.version_d`.
//!
//! The file system is the function and its layers ([`Tree`]: the merged view for `why` and the
//! stack rules, one layer at `/opt` for `check`) plus what the runtime itself provides, which is
//! known from the runtime facts. Each ELF file is read at most once per [`Loader`].

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::facts::{Abi, LibraryDir, SymbolFamily, SymbolVersion};
use crate::finding::Code;
use crate::inspect::{self, BinaryFormat, ElfInfo};
use crate::inventory::{Entry, EntryKind, Inventory};
use crate::resolve::merged::{MergedView, join, normalize};
use crate::runtime::{Arch, Runtime};

/// The files the loader can see beyond the runtime: absolute paths in `/var/task` and `/opt`.
pub trait Tree {
    /// The entry (file, or symlink not yet followed) at an absolute path, with its inventory.
    fn lookup(&self, abs: &str) -> Option<(&Inventory, &Entry)>;
    /// True when `abs` lies in what this tree holds (the rest is the runtime's and the OS's).
    fn models(&self, abs: &str) -> bool;
    /// True when `abs` is a folder of the tree.
    fn is_dir(&self, abs: &str) -> bool;
}

impl Tree for MergedView {
    fn lookup(&self, abs: &str) -> Option<(&Inventory, &Entry)> {
        let hit = self.file(abs)?;
        Some((self.inventory(hit.source)?, hit.entry))
    }

    fn models(&self, abs: &str) -> bool {
        MergedView::models(self, abs)
    }

    fn is_dir(&self, abs: &str) -> bool {
        MergedView::is_dir(self, abs)
    }
}

/// One layer on its own, extracted at `/opt` (what `check` sees of a layer).
pub(crate) struct LayerTree<'a>(pub(crate) &'a Inventory);

impl Tree for LayerTree<'_> {
    fn lookup(&self, abs: &str) -> Option<(&Inventory, &Entry)> {
        let rel = abs.strip_prefix("/opt/")?;
        let entry = self.0.get(rel)?;
        (!entry.is_dir()).then_some((self.0, entry))
    }

    fn models(&self, abs: &str) -> bool {
        abs == "/opt" || abs.starts_with("/opt/")
    }

    fn is_dir(&self, abs: &str) -> bool {
        match abs.strip_prefix("/opt/") {
            Some(rel) => self.0.is_dir(rel.trim_end_matches('/')),
            None => abs == "/opt",
        }
    }
}

/// How the runtime's library of a version family is described in messages: "Amazon Linux 2 has
/// glibc 2.26", "python3.11 loads /lib64/libstdc++.so.6.0.24, which goes up to GLIBCXX_3.4.24 and
/// CXXABI_1.3.11", "Amazon Linux 2023 has libgcc_s up to GCC_14.0.0".
pub(crate) fn describe_abi(abi: &Abi, runtime: &Runtime, family: SymbolFamily) -> String {
    match family {
        SymbolFamily::Glibc => {
            let numbers: Vec<String> = abi.glibc.numbers().iter().map(u32::to_string).collect();
            format!("{} has glibc {}", runtime.os().name(), numbers.join("."))
        }
        SymbolFamily::Glibcxx | SymbolFamily::Cxxabi => format!(
            "{} loads {}/{}, which goes up to {} and {}",
            runtime.id, abi.libstdcxx_dir, abi.libstdcxx_file, abi.glibcxx, abi.cxxabi
        ),
        SymbolFamily::Gcc => format!("{} has libgcc_s up to {}", runtime.os().name(), abi.gcc),
    }
}

/// Libraries of glibc itself: their `GLIBC_x` versions are the OS's glibc.
fn is_glibc_library(name: &str) -> bool {
    [
        "libc.so.",
        "libm.so.",
        "libpthread.so.",
        "libdl.so.",
        "librt.so.",
        "libresolv.so.",
        "libutil.so.",
        "libanl.so.",
        "libnsl.so.",
        "libmvec.so.",
        "ld-linux",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
}

/// Where a needed library was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    /// A file of the function or a layer (absolute path, symlinks followed).
    File(String),
    /// The runtime or its OS, in this `LD_LIBRARY_PATH` folder.
    Runtime(String),
}

impl Provider {
    /// The absolute path the library is loaded from.
    pub(crate) fn path(&self, name: &str) -> String {
        match self {
            Provider::File(path) => path.clone(),
            Provider::Runtime(dir) => join(dir, name),
        }
    }
}

/// One file on the way from the loaded file to the one that fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    /// The name it was asked for by (`DT_NEEDED`), or the file name of the first link.
    pub(crate) name: String,
    /// Where it is, as an absolute path on Lambda.
    pub(crate) path: String,
}

/// Why loading fails, with the chain from the loaded file to the failing one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadFailure {
    /// From the loaded file to the one that fails: for a missing library, the file that needs
    /// it is last and `missing` names it; for a version, the file that needs the version is last.
    pub(crate) chain: Vec<Link>,
    /// The library that cannot be found, when that is the failure.
    pub(crate) missing: Option<String>,
    /// The loader's error as Lambda logs it.
    pub reason: String,
    /// What the runtime (or the shipped library) has instead, for a version failure.
    pub(crate) detail: Option<String>,
    /// `BIN007` (missing library) or `BIN004` (version).
    pub code: Code,
}

impl LoadFailure {
    /// `jq → libjq.so.1`: from the loaded file to the one whose need fails.
    pub(crate) fn chain_text(&self) -> String {
        let names: Vec<&str> = self.chain.iter().map(|link| link.name.as_str()).collect();
        names.join(" → ")
    }

    /// `jq → libjq.so.1: version `GLIBC_2.35' not found …`, or
    /// `jq → libjq.so.1: libonig.so.5: cannot open shared object file …`.
    pub fn summary(&self) -> String {
        format!("{}: {}", self.chain_text(), self.explained())
    }

    /// The loader's error, then what the runtime has instead when that is known.
    pub(crate) fn explained(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}; {detail}", self.reason),
            None => self.reason.clone(),
        }
    }
}

/// One version need that the library satisfying it does not define.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VersionProblem {
    /// The `DT_NEEDED` name the version is needed from.
    pub(crate) library: String,
    pub(crate) provider: Provider,
    pub(crate) version: String,
    /// What the provider has instead.
    pub(crate) has: String,
    /// Set when the runtime's own library is the provider.
    pub(crate) family: Option<SymbolFamily>,
}

/// A loaded ELF file: where it is and what it says.
struct Object {
    name: String,
    path: String,
    info: Rc<ElfInfo>,
    /// Index of the object whose need loaded it (`None` for the loaded file itself).
    parent: Option<usize>,
}

/// Replays the loader for one runtime and architecture over a tree; caches every ELF it reads.
pub struct Loader<'t> {
    tree: &'t dyn Tree,
    runtime: &'static Runtime,
    arch: Arch,
    abi: Abi,
    /// The runtime's and the OS's folders on `LD_LIBRARY_PATH` with their libraries.
    runtime_dirs: Vec<LibraryDir>,
    library_path: Vec<String>,
    infos: RefCell<HashMap<String, Option<Rc<ElfInfo>>>>,
}

/// How many symlinks are followed before giving up (the kernel allows 40; layers need few).
const MAX_SYMLINKS: usize = 16;

impl<'t> Loader<'t> {
    pub fn new(tree: &'t dyn Tree, runtime: &'static Runtime, arch: Arch) -> Loader<'t> {
        let library_path = runtime
            .facts()
            .library_path()
            .iter()
            .map(|dir| dir.to_string())
            .collect();
        Loader {
            tree,
            runtime,
            arch,
            abi: runtime.facts().abi(arch),
            runtime_dirs: runtime.facts().library_dirs(arch),
            library_path,
            infos: RefCell::new(HashMap::new()),
        }
    }

    /// Seeds the cache with ELF facts already read (the inspect stage's, for `check`).
    pub(crate) fn with_known(
        self,
        known: impl IntoIterator<Item = (String, ElfInfo)>,
    ) -> Loader<'t> {
        {
            let mut infos = self.infos.borrow_mut();
            for (path, info) in known {
                infos.insert(path, Some(Rc::new(info)));
            }
        }
        self
    }

    pub(crate) fn arch(&self) -> Arch {
        self.arch
    }

    pub(crate) fn runtime(&self) -> &'static Runtime {
        self.runtime
    }

    /// True when the runtime (not the function or a layer) has a library of this name in `dir`,
    /// one of the `LD_LIBRARY_PATH` folders outside `/var/task` and `/opt`.
    fn runtime_dir_has(&self, dir: &str, name: &str) -> bool {
        self.runtime_dirs
            .iter()
            .any(|listed| listed.dir == dir && listed.sonames.binary_search(&name).is_ok())
    }

    /// Follows symlinks in the tree: the final absolute path and its entry, if it is a file.
    fn real_file(&self, abs: &str) -> Option<(String, &'t Inventory, &'t Entry)> {
        let mut path = normalize(abs);
        for _ in 0..MAX_SYMLINKS {
            let (inventory, entry) = self.tree.lookup(&path)?;
            match &entry.kind {
                EntryKind::File => return Some((path, inventory, entry)),
                EntryKind::Symlink { target } => {
                    let parent = path
                        .rsplit_once('/')
                        .map_or("/", |(dir, _)| dir)
                        .to_string();
                    path = if target.starts_with('/') {
                        normalize(target)
                    } else {
                        normalize(&join(&parent, target))
                    };
                }
                EntryKind::Dir => return None,
            }
        }
        None
    }

    /// The ELF facts of the file at `abs` (symlinks followed), read once.
    pub(crate) fn elf(&self, abs: &str) -> Option<(String, Rc<ElfInfo>)> {
        let (real, inventory, entry) = self.real_file(abs)?;
        if let Some(cached) = self.infos.borrow().get(&real) {
            return cached.clone().map(|info| (real.clone(), info));
        }
        let info =
            inspect::inspect_entry(inventory, entry).and_then(|binary| match binary.format {
                BinaryFormat::Elf(info) => Some(Rc::new(info)),
                _ => None,
            });
        self.infos.borrow_mut().insert(real.clone(), info.clone());
        info.map(|info| (real, info))
    }

    /// True when the loader on this architecture can map the file (64-bit, same machine, glibc).
    fn compatible(&self, info: &ElfInfo) -> bool {
        info.is_64 && info.machine.arch() == Some(self.arch)
    }

    /// Expands `$ORIGIN` (and `$LIB`, `$PLATFORM`) in a search path entry of the file at `path`.
    fn expand(&self, entry: &str, path: &str) -> String {
        let origin = path.rsplit_once('/').map_or("/", |(dir, _)| dir);
        let origin = if origin.is_empty() { "/" } else { origin };
        let expanded = entry
            .replace("${ORIGIN}", origin)
            .replace("$ORIGIN", origin)
            .replace("${LIB}", "lib64")
            .replace("$LIB", "lib64")
            .replace("${PLATFORM}", self.arch.gnu_name())
            .replace("$PLATFORM", self.arch.gnu_name());
        normalize(&expanded)
    }

    /// Looks in one folder: `Some` when the library is there and loadable.
    fn try_dir(&self, dir: &str, name: &str) -> Option<Provider> {
        if self.tree.models(dir) {
            // The loader names (and takes `$ORIGIN` from) the path it opened, not a symlink's target.
            let path = normalize(&join(dir, name));
            let (_, info) = self.elf(&path)?;
            return self.compatible(&info).then_some(Provider::File(path));
        }
        self.runtime_dir_has(dir, name)
            .then(|| Provider::Runtime(dir.to_string()))
    }

    /// The folders searched for a need of `objects[index]`, in the loader's order.
    fn search_dirs(&self, objects: &[Object], index: usize) -> Vec<String> {
        let object = &objects[index];
        let mut dirs = Vec::new();
        if object.info.runpath.is_empty() {
            let mut at = Some(index);
            while let Some(current) = at {
                let ancestor = &objects[current];
                if ancestor.info.runpath.is_empty() {
                    for entry in &ancestor.info.rpath {
                        dirs.push(self.expand(entry, &ancestor.path));
                    }
                }
                at = ancestor.parent;
            }
        }
        dirs.extend(self.library_path.iter().cloned());
        for entry in &object.info.runpath {
            dirs.push(self.expand(entry, &object.path));
        }
        dirs.push("/lib64".to_string());
        dirs.push("/usr/lib64".to_string());
        dirs
    }

    /// Finds one needed library for `objects[index]`.
    fn find(&self, objects: &[Object], index: usize, name: &str) -> Option<Provider> {
        if self.runtime.loaded_libraries().contains(&name) {
            return Some(Provider::Runtime("(already loaded)".to_string()));
        }
        if name.contains('/') {
            // A path: opened as is, no search.
            if !self.tree.models(name) {
                return Some(Provider::Runtime(
                    name.rsplit_once('/')
                        .map_or("/", |(dir, _)| dir)
                        .to_string(),
                ));
            }
            let (_, info) = self.elf(name)?;
            return self
                .compatible(&info)
                .then(|| Provider::File(normalize(name)));
        }
        self.search_dirs(objects, index)
            .iter()
            .find_map(|dir| self.try_dir(dir, name))
    }

    /// The chain from the loaded file to `objects[index]`.
    fn chain(objects: &[Object], index: usize) -> Vec<Link> {
        let mut chain = Vec::new();
        let mut at = Some(index);
        while let Some(current) = at {
            chain.push(Link {
                name: objects[current].name.clone(),
                path: objects[current].path.clone(),
            });
            at = objects[current].parent;
        }
        chain.reverse();
        chain
    }

    /// Loads the file at `abs` as the runtime would (`dlopen` or `execve`): every library it
    /// needs, transitively, then every symbol version. `Ok` also when the file is not ELF code
    /// of this architecture: other rules say why such a file does not load.
    pub fn load(&self, abs: &str) -> Result<(), LoadFailure> {
        let Some((_, info)) = self.elf(abs) else {
            return Ok(());
        };
        if !self.compatible(&info) || info.musl {
            return Ok(());
        }
        let name = abs.rsplit('/').next().unwrap_or(abs).to_string();
        let path = normalize(abs);
        let mut objects = vec![Object {
            name,
            path: path.clone(),
            info,
            parent: None,
        }];
        // Libraries mapped so far, by the names they satisfy (DT_NEEDED and SONAME).
        let mut loaded: BTreeMap<String, (Provider, Option<usize>)> = BTreeMap::new();
        if let Some(soname) = &objects[0].info.soname {
            loaded.insert(soname.clone(), (Provider::File(path), Some(0)));
        }
        let mut next = 0;
        while next < objects.len() {
            let needs = objects[next].info.needed.clone();
            for need in needs {
                if loaded.contains_key(&need) {
                    continue;
                }
                let Some(provider) = self.find(&objects, next, &need) else {
                    return Err(LoadFailure {
                        chain: Self::chain(&objects, next),
                        reason: format!(
                            "{need}: cannot open shared object file: No such file or directory"
                        ),
                        missing: Some(need),
                        detail: None,
                        code: Code::BIN007,
                    });
                };
                let object = match &provider {
                    Provider::File(path) => self.elf(path).map(|(_, info)| {
                        objects.push(Object {
                            name: need.clone(),
                            path: path.clone(),
                            info: info.clone(),
                            parent: Some(next),
                        });
                        if let Some(soname) = &info.soname {
                            loaded
                                .entry(soname.clone())
                                .or_insert((provider.clone(), Some(objects.len() - 1)));
                        }
                        objects.len() - 1
                    }),
                    Provider::Runtime(_) => None,
                };
                loaded.insert(need, (provider, object));
            }
            next += 1;
        }
        for index in 0..objects.len() {
            let problems = self.version_problems(&objects[index].info, |library| {
                loaded.get(library).map(|(provider, object)| {
                    (
                        provider.clone(),
                        object.map(|object| objects[object].info.clone()),
                    )
                })
            });
            if let Some(problem) = problems.into_iter().next() {
                let provider = problem.provider.path(&problem.library);
                return Err(LoadFailure {
                    chain: Self::chain(&objects, index),
                    missing: None,
                    reason: format!(
                        "{provider}: version `{}' not found (required by {})",
                        problem.version, objects[index].path
                    ),
                    detail: Some(match self.shadowed_copy(&objects, index, &problem) {
                        Some(copy) => format!(
                            "{}; the copy at {copy} is never used: {} comes first in the search order (DT_RUNPATH and /opt/lib come after the OS's folders on LD_LIBRARY_PATH; DT_RPATH comes before)",
                            problem.has, provider
                        ),
                        None => problem.has,
                    }),
                    code: Code::BIN004,
                });
            }
        }
        Ok(())
    }

    /// A copy of the library of a version problem in the function or a layer that the search
    /// reaches only after the runtime's copy.
    fn shadowed_copy(
        &self,
        objects: &[Object],
        index: usize,
        problem: &VersionProblem,
    ) -> Option<String> {
        if !matches!(problem.provider, Provider::Runtime(_)) {
            return None;
        }
        self.search_dirs(objects, index)
            .iter()
            .filter(|dir| self.tree.models(dir))
            .map(|dir| normalize(&join(dir, &problem.library)))
            .find(|path| self.elf(path).is_some())
    }

    /// Checks the version needs of one file against the libraries that satisfy its needs
    /// (`provider_of` maps a `DT_NEEDED` name to its provider and, for a file, its facts).
    fn version_problems(
        &self,
        info: &ElfInfo,
        provider_of: impl Fn(&str) -> Option<(Provider, Option<Rc<ElfInfo>>)>,
    ) -> Vec<VersionProblem> {
        let mut problems = Vec::new();
        for need in &info.version_needs {
            let Some((provider, provided)) = provider_of(&need.file) else {
                continue;
            };
            for version in &need.versions {
                let problem = match (&provider, &provided) {
                    (Provider::File(path), Some(provided)) => {
                        // A library without version definitions only earns a warning from ld.so.
                        (!provided.version_defs.is_empty()
                            && !provided.version_defs.contains(version))
                        .then(|| VersionProblem {
                            library: need.file.clone(),
                            provider: provider.clone(),
                            version: version.clone(),
                            has: format!(
                                "{path} (shipped in the function or a layer) does not define it"
                            ),
                            family: None,
                        })
                    }
                    (Provider::File(_), None) => None,
                    (Provider::Runtime(_), _) => {
                        let Some(wanted) = SymbolVersion::parse(version) else {
                            continue;
                        };
                        let applies = match wanted.family {
                            SymbolFamily::Glibc => is_glibc_library(&need.file),
                            SymbolFamily::Glibcxx | SymbolFamily::Cxxabi => {
                                need.file.starts_with("libstdc++.so")
                            }
                            SymbolFamily::Gcc => need.file.starts_with("libgcc_s.so"),
                        };
                        (applies && !self.abi.provides(wanted)).then(|| VersionProblem {
                            library: need.file.clone(),
                            provider: provider.clone(),
                            version: version.clone(),
                            has: describe_abi(&self.abi, self.runtime, wanted.family),
                            family: Some(wanted.family),
                        })
                    }
                };
                problems.extend(problem);
            }
        }
        problems
    }

    /// The version needs of the one file at `abs` that would fail, each need looked up as the
    /// loader would for that file alone (what `check` reports file by file).
    pub(crate) fn own_version_problems(&self, abs: &str) -> Vec<VersionProblem> {
        let Some((_, info)) = self.elf(abs) else {
            return Vec::new();
        };
        if !self.compatible(&info) || info.musl {
            return Vec::new();
        }
        let objects = vec![Object {
            name: String::new(),
            path: normalize(abs),
            info: info.clone(),
            parent: None,
        }];
        self.version_problems(&info, |library| {
            let provider = self.find(&objects, 0, library)?;
            let provided = match &provider {
                Provider::File(path) => self.elf(path).map(|(_, info)| info),
                Provider::Runtime(_) => None,
            };
            Some((provider, provided))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_messages_name_the_runtime_library() {
        let describe = |id: &str, family| {
            let runtime = Runtime::find(id).expect("runtime");
            describe_abi(&runtime.facts().abi(Arch::X86_64), runtime, family)
        };
        assert_eq!(
            describe("python3.11", SymbolFamily::Glibc),
            "Amazon Linux 2 has glibc 2.26"
        );
        assert_eq!(
            describe("nodejs24.x", SymbolFamily::Glibcxx),
            "nodejs24.x loads /var/lang/lib/libstdc++.so.6.0.32, which goes up to GLIBCXX_3.4.32 and CXXABI_1.3.14"
        );
        assert!(describe("python3.12", SymbolFamily::Cxxabi).contains("GLIBCXX_3.4.33"));
    }
}
