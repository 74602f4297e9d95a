//! What each Lambda runtime already provides, as file-system dumps taken inside live functions
//! recorded it.
//!
//! A layer is judged against the machine it will run on: which shared libraries the loader finds
//! without the layer (the OS's `/lib64`, and the runtime's own `/var/lang/lib`, `/var/runtime`,
//! `/var/runtime/lib`, in `LD_LIBRARY_PATH` order, where `/var/lang/lib` comes first and shadows
//! the OS), which commands are on `PATH`, which glibc / libstdc++ / libgcc symbol versions exist,
//! which packages (the AWS SDKs) the runtime bundles, and where its language looks for them
//! (`NODE_PATH`, `GEM_PATH`, `RUBYLIB`, Python's `sys.path`). Memory gets these wrong (Amazon Linux
//! 2 has no `libcurl.so.4`; nodejs24.x loads its own older libstdc++), so they are not written by
//! hand: `scripts/gen-runtime-facts.py` turns `../shared/reference/runtime-facts/` into
//! `generated`, whose header names every source file, its hash and the dumps it cites, and a test
//! fails when the committed data no longer matches its source.
//!
//! One fact is not a file-system fact and is kept here, documented: the mapping from a
//! libstdc++ / libgcc release to the symbol versions it defines (`CXXABI_BY_LIBSTDCXX`).
//!
//! This module sits below the runtime table (`crate::runtime`) and imports nothing of the crate:
//! the dumps are found by AWS's runtime identifier ([`runtime`]), and the platform types every
//! stage names ([`Os`], [`Arch`], [`GlibcVersion`]) and the fixed folders of Lambda
//! (`environment`) are defined here, with the dumps that describe them.

#[rustfmt::skip]
// Written by scripts/gen-runtime-facts.py, which spells its tables `pub`.
#[allow(unreachable_pub)]
mod generated;

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

/// The Amazon Linux release a runtime runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Os {
    /// Amazon Linux 2.
    Al2,
    /// Amazon Linux 2023.
    Al2023,
}

impl Os {
    /// The glibc version the OS ships (its `glibc` rpm in the in-Lambda dump); an ELF that needs
    /// a newer `GLIBC_x.y` symbol version fails to load.
    pub(crate) fn glibc(self) -> GlibcVersion {
        os_glibc(self)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Os::Al2 => "Amazon Linux 2",
            Os::Al2023 => "Amazon Linux 2023",
        }
    }
}

/// A glibc symbol version such as `GLIBC_2.28`, compared numerically.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct GlibcVersion(pub u32, pub u32);

impl GlibcVersion {
    /// Parses `GLIBC_2.28` or `2.28` (a third component, as in `GLIBC_2.2.5`, is ignored).
    pub fn parse(text: &str) -> Option<GlibcVersion> {
        let text = text.strip_prefix("GLIBC_").unwrap_or(text);
        let mut parts = text.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().unwrap_or("0").parse().ok()?;
        Some(GlibcVersion(major, minor))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// An instruction set architecture a layer can declare.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Arch {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Arm64];

    /// Parses AWS's names (`x86_64`, `arm64`), accepting the common aliases `amd64` and `aarch64`.
    pub(crate) fn parse(text: &str) -> Option<Arch> {
        match text {
            "x86_64" | "amd64" => Some(Arch::X86_64),
            "arm64" | "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// AWS's name for the architecture.
    pub fn aws_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The name used in platform tags and GNU triples (`x86_64`, `aarch64`).
    pub(crate) fn gnu_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.aws_name())
    }
}

/// Where a function's code, its layers and the runtime's own code are on Lambda, the same in
/// every runtime (`LAMBDA_TASK_ROOT`, `LAMBDA_RUNTIME_DIR`: the images' and the dumps' common
/// environment; layers are extracted in `/opt`).
pub(crate) mod environment {
    /// The function's code (`LAMBDA_TASK_ROOT`).
    pub(crate) const TASK_ROOT: &str = "/var/task";
    /// Where layers are extracted, in attachment order.
    pub(crate) const LAYER_ROOT: &str = "/opt";
    /// The runtime's own code (`LAMBDA_RUNTIME_DIR`).
    pub(crate) const RUNTIME_DIR: &str = "/var/runtime";

    /// True when `path` is `root` or inside it.
    pub(crate) fn within(path: &str, root: &str) -> bool {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// One folder on `LD_LIBRARY_PATH` that the OS or the runtime fills, with the library file names
/// in it (sorted, byte order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LibraryDir {
    pub dir: &'static str,
    pub sonames: &'static [&'static str],
}

/// One folder on `PATH` that the OS or the runtime fills, with the command names in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct CommandDir {
    pub(crate) dir: &'static str,
    pub(crate) names: &'static [&'static str],
}

/// Which package manager's world a bundled package belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Ecosystem {
    /// A Python distribution (`*.dist-info`; the name as its folder spells it).
    Python,
    /// A Node.js package (a folder under `node_modules`).
    Node,
    /// A Ruby gem.
    Ruby,
    /// A Java jar on the runtime's class path.
    Java,
}

/// A package the runtime ships itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BundledPackage {
    pub(crate) ecosystem: Ecosystem,
    pub name: &'static str,
    /// `None` where the dump did not record it (Node.js packages: the listing holds paths only).
    pub version: Option<&'static str>,
    /// The folder it lives in on Lambda (`/var/lang/lib/python3.12/site-packages`).
    pub path: &'static str,
    /// What the dump's notes say about it (on `sys.path`, `NODE_PATH`, not resolvable…).
    pub(crate) note: &'static str,
}

impl BundledPackage {
    /// False for what user code cannot load by name: Node's packages nested under
    /// `@aws-sdk/node_modules` and npm's global folder, which are not on `NODE_PATH`.
    pub(crate) fn resolvable(&self) -> bool {
        !(self.path.contains("/@aws-sdk/node_modules") || self.path == "/var/lang/lib/node_modules")
    }
}

/// A package a runtime is known NOT to ship, with the dump's note (the AWS SDK for JavaScript v2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct AbsentPackage {
    pub(crate) name: &'static str,
    pub(crate) path: &'static str,
    pub(crate) note: &'static str,
}

/// The base OS of one Amazon Linux release on one architecture. (The dump each list comes from is
/// named in a comment of `generated`.)
#[derive(Debug)]
pub struct OsFacts {
    pub(crate) os: Os,
    pub(crate) arch: Arch,
    /// Every `*.so*` name in `/lib64` (= `/usr/lib64`).
    pub sonames: &'static [&'static str],
    /// Every name in `/usr/bin`, `/usr/sbin`, `/usr/local/bin` (`/bin` is `usr/bin`).
    pub commands: &'static [&'static str],
    /// `rpm -qa` of the image.
    pub(crate) rpm_packages: &'static [&'static str],
}

/// One runtime of the dumps, found by its AWS identifier ([`runtime`]). The runtime table
/// (`crate::runtime`) reads each runtime's OS, language version and search paths from here, so it
/// names only identifiers and families. (When the runtime was last dumped and where its bundled
/// packages were read are comments of `generated`.)
#[derive(Debug)]
pub struct RuntimeFacts {
    pub(crate) id: &'static str,
    /// The Amazon Linux release it runs on.
    pub(crate) os: Os,
    pub(crate) glibc: &'static str,
    /// The language version as the dump gives it: `3.12`, `20`, `3.3.12` (Ruby's patch comes from
    /// `libruby.so.X.Y.Z`), `n/a` for the OS-only runtimes.
    pub(crate) language_version: &'static str,
    /// `PATH` as the images and dumps record it (`/usr/bin/` with its trailing slash).
    pub(crate) path: &'static [&'static str],
    /// `LD_LIBRARY_PATH` as the images and dumps record it.
    pub(crate) ld_library_path: &'static [&'static str],
    /// The language's search-path variables as the runtime sets them (`NODE_PATH`,
    /// `PYTHONPATH`, `GEM_PATH`, `RUBYLIB`…), each with its entries in lookup order; none for the
    /// OS-only runtimes, nor for Java, which sets no `CLASSPATH`.
    pub(crate) language_env: &'static [(&'static str, &'static [&'static str])],
    /// Python's `sys.path` as printed inside Lambda, the function setting no `PYTHONPATH`; empty
    /// for other languages.
    pub(crate) sys_path: &'static [&'static str],
    /// Per architecture, the library folders the runtime fills.
    pub(crate) libraries: &'static [(Arch, LibraryDir)],
    /// Per architecture, the names in `/var/lang/bin`.
    pub(crate) commands: &'static [(Arch, &'static [&'static str])],
    pub(crate) bundled: &'static [BundledPackage],
    pub(crate) absent: &'static [AbsentPackage],
}

/// The dump of `os` on `arch`. Every pair is generated; a missing one is a generator bug.
pub fn os_facts(os: Os, arch: Arch) -> &'static OsFacts {
    generated::OS_FACTS
        .iter()
        .find(|facts| facts.os == os && facts.arch == arch)
        .unwrap_or_else(|| {
            panic!("no OS facts for {os:?} {arch}: regenerate src/facts/generated.rs")
        })
}

/// The dump of the runtime AWS calls `id` (`python3.12`), when the dumps have it.
pub fn runtime(id: &str) -> Option<&'static RuntimeFacts> {
    generated::RUNTIME_FACTS.iter().find(|facts| facts.id == id)
}

/// Every runtime of the dumps, in the order of their source table.
#[cfg(test)]
fn runtimes() -> &'static [RuntimeFacts] {
    generated::RUNTIME_FACTS
}

/// The OS's library folders: `/lib64` and `/usr/lib64` are one folder on Amazon Linux, and the
/// dumps list it once.
const OS_LIBRARY_DIRS: &[&str] = &["/lib64", "/usr/lib64"];

/// The runtime's own commands' folder, whose names the dumps list per runtime.
const RUNTIME_COMMAND_DIR: &str = "/var/lang/bin";

impl RuntimeFacts {
    /// The Amazon Linux release the runtime runs on.
    pub(crate) fn os(&self) -> Os {
        self.os
    }

    /// The language's (major, minor) version: `3.12` is (3, 12), `20` is (20, 0), Ruby's
    /// `3.3.12` is (3, 3), and the OS-only runtimes' `n/a` is (0, 0).
    pub(crate) fn language_version(&self) -> (u32, u32) {
        let mut numbers = self
            .language_version
            .split('.')
            .map(|part| part.parse::<u32>().ok());
        match (numbers.next().flatten(), numbers.next().flatten()) {
            (Some(major), minor) => (major, minor.unwrap_or(0)),
            (None, _) => (0, 0),
        }
    }

    /// `PATH`, in lookup order (`/usr/bin/` is given without its trailing slash).
    pub(crate) fn command_path(&self) -> Vec<&'static str> {
        self.path
            .iter()
            .map(|dir| match dir.trim_end_matches('/') {
                "" => *dir,
                trimmed => trimmed,
            })
            .collect()
    }

    /// `LD_LIBRARY_PATH`, in lookup order. The OS-only runtimes have no `/var/lang/lib` folder,
    /// but the variable names it.
    pub(crate) fn library_path(&self) -> &'static [&'static str] {
        self.ld_library_path
    }

    /// The entries of the language's search-path variable `name` (`NODE_PATH`, `GEM_PATH`,
    /// `RUBYLIB`), in lookup order; empty when the runtime does not set it.
    pub(crate) fn language_variable(&self, name: &str) -> &'static [&'static str] {
        self.language_env
            .iter()
            .find(|(variable, _)| *variable == name)
            .map_or(&[], |(_, entries)| *entries)
    }

    /// Python's `sys.path` when the function sets no `PYTHONPATH`; empty for other languages.
    pub(crate) fn python_sys_path(&self) -> &'static [&'static str] {
        self.sys_path
    }

    /// The folders on `library_path` that the runtime or its OS fills, in the loader's
    /// order: `/var/lang/lib` (the runtime's; first, so it shadows the OS), `/lib64` and
    /// `/usr/lib64` (the same folder on Amazon Linux: both carry the OS's list), `/var/runtime`,
    /// `/var/runtime/lib`. A folder the runtime leaves empty is listed with no names.
    /// `/var/task`, `/var/task/lib` and `/opt/lib` belong to the function and the layers.
    pub fn library_dirs(&self, arch: Arch) -> Vec<LibraryDir> {
        use environment::{LAYER_ROOT, TASK_ROOT, within};
        let own = |dir: &'static str| {
            self.libraries
                .iter()
                .find(|(on, library)| *on == arch && library.dir == dir)
                .map_or(&[][..], |(_, library)| library.sonames)
        };
        let os = os_facts(self.os(), arch).sonames;
        self.library_path()
            .iter()
            .copied()
            .filter(|dir| !within(dir, TASK_ROOT) && !within(dir, LAYER_ROOT))
            .map(|dir| LibraryDir {
                dir,
                sonames: if OS_LIBRARY_DIRS.contains(&dir) {
                    os
                } else {
                    own(dir)
                },
            })
            .collect()
    }

    /// The folder from which the loader would take `soname` without help from the function or
    /// the layers, or `None` when neither the runtime nor its OS has it.
    pub(crate) fn find_library(&self, arch: Arch, soname: &str) -> Option<&'static str> {
        self.library_dirs(arch)
            .into_iter()
            .find(|dir| dir.sonames.binary_search(&soname).is_ok())
            .map(|dir| dir.dir)
    }

    /// The folders on `PATH` that the runtime or its OS fills, in `PATH` order (`/var/lang/bin`,
    /// then `/usr/local/bin`, `/usr/bin`, `/bin`). The dumps list the OS's `/usr/bin`,
    /// `/usr/sbin` and `/usr/local/bin` names together, so they are all reported under
    /// `/usr/bin` (and `/bin`, a link to it); `/usr/local/bin` is listed empty. `/opt/bin`
    /// belongs to the layers.
    pub(crate) fn commands(&self, arch: Arch) -> Vec<CommandDir> {
        use environment::{LAYER_ROOT, within};
        let lang = self
            .commands
            .iter()
            .find(|(on, _)| *on == arch)
            .map_or(&[][..], |(_, names)| *names);
        let os = os_facts(self.os(), arch).commands;
        self.command_path()
            .into_iter()
            .filter(|dir| !within(dir, LAYER_ROOT))
            .map(|dir| CommandDir {
                dir,
                names: match dir {
                    RUNTIME_COMMAND_DIR => lang,
                    "/usr/bin" | "/bin" => os,
                    _ => &[],
                },
            })
            .collect()
    }

    /// The absolute path `PATH` lookup of `name` finds among the runtime's and the OS's
    /// commands.
    pub(crate) fn find_command(&self, arch: Arch, name: &str) -> Option<String> {
        self.commands(arch)
            .into_iter()
            .find(|dir| dir.names.binary_search(&name).is_ok())
            .map(|dir| format!("{}/{name}", dir.dir))
    }

    /// The packages the runtime ships (AWS SDKs and what they need, interpreter tooling), sorted
    /// by name then folder.
    pub fn bundled_packages(&self) -> &'static [BundledPackage] {
        self.bundled
    }

    /// The bundled package `name` of `ecosystem` that user code can load, if any. Python names
    /// are compared after PEP 503 normalization (`python-dateutil` = `python_dateutil`).
    pub(crate) fn find_bundled(
        &self,
        ecosystem: Ecosystem,
        name: &str,
    ) -> Option<&'static BundledPackage> {
        let wanted = normalize(ecosystem, name);
        self.bundled.iter().find(|package| {
            package.ecosystem == ecosystem
                && package.resolvable()
                && normalize(ecosystem, package.name) == wanted
        })
    }

    /// The bundled Python dist that provides the top-level module `import_name` (`boto3`,
    /// `dateutil`), if the runtime ships one on `sys.path`.
    pub(crate) fn bundled_python_module(
        &self,
        import_name: &str,
    ) -> Option<&'static BundledPackage> {
        let dist = PYTHON_IMPORT_ALIASES
            .iter()
            .find(|(module, _)| *module == import_name)
            .map_or(import_name, |(_, dist)| *dist);
        self.find_bundled(Ecosystem::Python, dist)
    }

    /// Packages the dumps say the runtime does NOT ship (`aws-sdk` v2 on nodejs18.x and later).
    pub(crate) fn absent_packages(&self) -> &'static [AbsentPackage] {
        self.absent
    }
}

/// Import names that differ from their distribution's name, for the dists the runtimes bundle
/// (the dumps record `*.dist-info` names, not the modules inside).
const PYTHON_IMPORT_ALIASES: &[(&str, &str)] = &[
    ("dateutil", "python-dateutil"),
    ("setuptools", "setuptools"),
    ("pkg_resources", "setuptools"),
    ("_distutils_hack", "setuptools"),
];

/// The top-level modules a Python dist is imported by: its aliases above (`python-dateutil` is
/// `dateutil`), else its normalized name with `_` for `-`.
pub(crate) fn python_import_names(dist: &str) -> Vec<String> {
    let wanted = normalize_python_name(dist);
    let aliased: Vec<String> = PYTHON_IMPORT_ALIASES
        .iter()
        .filter(|(_, aliased_dist)| normalize_python_name(aliased_dist) == wanted)
        .map(|(module, _)| module.to_string())
        .collect();
    if aliased.is_empty() {
        vec![wanted.replace('-', "_")]
    } else {
        aliased
    }
}

fn normalize(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Python => normalize_python_name(name),
        _ => name.to_string(),
    }
}

/// A Python project name normalized per PEP 503: lowercase, runs of `-`, `_`, `.` become `-`.
pub(crate) fn normalize_python_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for ch in name.chars() {
        if matches!(ch, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !out.is_empty() {
            out.push('-');
        }
        separator = false;
        out.extend(ch.to_lowercase());
    }
    out
}

/// The family of an ELF symbol version the loader checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) enum SymbolFamily {
    /// `GLIBC_2.34` (libc, libm, libpthread…).
    Glibc,
    /// `GLIBCXX_3.4.29` (libstdc++).
    Glibcxx,
    /// `CXXABI_1.3.13` (libstdc++'s C++ ABI support).
    Cxxabi,
    /// `GCC_7.0.0` (libgcc_s).
    Gcc,
}

impl SymbolFamily {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            SymbolFamily::Glibc => "GLIBC",
            SymbolFamily::Glibcxx => "GLIBCXX",
            SymbolFamily::Cxxabi => "CXXABI",
            SymbolFamily::Gcc => "GCC",
        }
    }
}

/// A dotted symbol version such as `GLIBCXX_3.4.29`, compared numerically within its family
/// (`GLIBCXX_3.4` equals `GLIBCXX_3.4.0`). Names outside the numbered scheme (`GLIBC_PRIVATE`,
/// `CXXABI_TM_1`, `CXXABI_FLOAT128`) do not parse.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SymbolVersion {
    pub(crate) family: SymbolFamily,
    numbers: [u32; 4],
    len: u8,
}

impl SymbolVersion {
    pub(crate) fn parse(text: &str) -> Option<SymbolVersion> {
        let (prefix, dotted) = text.split_once('_')?;
        let family = [
            SymbolFamily::Glibc,
            SymbolFamily::Glibcxx,
            SymbolFamily::Cxxabi,
            SymbolFamily::Gcc,
        ]
        .into_iter()
        .find(|family| family.prefix() == prefix)?;
        SymbolVersion::new(family, dotted)
    }

    /// `family` with the dotted numbers `3.4.29`.
    pub(crate) fn new(family: SymbolFamily, dotted: &str) -> Option<SymbolVersion> {
        let mut numbers = [0u32; 4];
        let mut len = 0u8;
        for part in dotted.split('.') {
            let slot = numbers.get_mut(usize::from(len))?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = part.parse().ok()?;
            len += 1;
        }
        Some(SymbolVersion {
            family,
            numbers,
            len,
        })
    }

    /// The numbers as written (`[3, 4, 29]`).
    pub(crate) fn numbers(&self) -> &[u32] {
        &self.numbers[..usize::from(self.len)]
    }
}

impl PartialEq for SymbolVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SymbolVersion {}

impl PartialOrd for SymbolVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SymbolVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.family, self.numbers).cmp(&(other.family, other.numbers))
    }
}

impl fmt::Display for SymbolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dotted: Vec<String> = self.numbers().iter().map(u32::to_string).collect();
        write!(f, "{}_{}", self.family.prefix(), dotted.join("."))
    }
}

impl Serialize for SymbolVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The highest symbol version of each family that a runtime's process can bind to: a file that
/// needs a higher one fails with "version `GLIBCXX_3.4.32' not found".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Abi {
    pub(crate) glibc: SymbolVersion,
    pub(crate) glibcxx: SymbolVersion,
    pub(crate) cxxabi: SymbolVersion,
    pub(crate) gcc: SymbolVersion,
    /// The folder of the libstdc++ that the loader picks (`/var/lang/lib` on nodejs24.x).
    pub(crate) libstdcxx_dir: &'static str,
    /// Its file name (`libstdc++.so.6.0.32`).
    pub(crate) libstdcxx_file: &'static str,
}

impl Abi {
    /// The highest version of `family`.
    pub(crate) fn highest(&self, family: SymbolFamily) -> SymbolVersion {
        match family {
            SymbolFamily::Glibc => self.glibc,
            SymbolFamily::Glibcxx => self.glibcxx,
            SymbolFamily::Cxxabi => self.cxxabi,
            SymbolFamily::Gcc => self.gcc,
        }
    }

    /// True when a file needing `needed` loads: same family, not newer.
    pub(crate) fn provides(&self, needed: SymbolVersion) -> bool {
        needed <= self.highest(needed.family)
    }
}

/// The newest `CXXABI_1.3.x` that each `libstdc++.so.6.0.N` defines, from the GCC manual's ABI
/// policy ("Symbol versioning", libstdc++-v3/doc/xml/manual/abi.xml): N is the GCC release's
/// library minor (6.0.24 = GCC 7.2/7.3, 6.0.32 = GCC 13.2, 6.0.33 = GCC 14.1), and libstdc++
/// 6.0.N always defines `GLIBCXX_3.4.N` (N ≥ 18; see [`RuntimeFacts::abi`]).
pub(crate) const CXXABI_BY_LIBSTDCXX: &[(u32, &str)] = &[
    (21, "1.3.9"),  // GCC 5
    (22, "1.3.10"), // GCC 6
    (23, "1.3.11"), // GCC 7.1
    (24, "1.3.11"), // GCC 7.2
    (25, "1.3.11"), // GCC 8
    (26, "1.3.12"), // GCC 9.1
    (27, "1.3.12"), // GCC 9.2
    (28, "1.3.12"), // GCC 9.3, 10
    (29, "1.3.13"), // GCC 11
    (30, "1.3.13"), // GCC 12
    (31, "1.3.14"), // GCC 13.1
    (32, "1.3.14"), // GCC 13.2
    (33, "1.3.15"), // GCC 14
];

impl RuntimeFacts {
    /// The symbol versions a runtime provides on `arch`:
    /// - `GLIBC_x.y` from runtimes.tsv (the OS's glibc);
    /// - libstdc++: the first `libstdc++.so.6.0.N` in [`Self::library_dirs`] order (nodejs24.x's own
    ///   6.0.32 in `/var/lang/lib` shadows the OS's 6.0.33), giving `GLIBCXX_3.4.N` and the
    ///   `CXXABI_1.3.x` of `CXXABI_BY_LIBSTDCXX`;
    /// - `GCC_M.0.0` from the major version M of the OS's `libgcc` rpm: libgcc_s of GCC M defines no
    ///   version newer than `GCC_M.0.0` (`GCC_7.0.0` on x86_64 GCC 7, `GCC_14.0.0` with GCC 14).
    pub(crate) fn abi(&self, arch: Arch) -> Abi {
        let runtime = self;
        let glibc = SymbolVersion::new(SymbolFamily::Glibc, runtime.glibc)
            .unwrap_or_else(|| os_glibc_symbol(runtime.os(), arch));
        let (libstdcxx_dir, libstdcxx_file, minor) = runtime
            .library_dirs(arch)
            .into_iter()
            .find_map(|dir| {
                dir.sonames.iter().find_map(|name| {
                    let minor = name
                        .strip_prefix("libstdc++.so.6.0.")?
                        .parse::<u32>()
                        .ok()?;
                    Some((dir.dir, *name, minor))
                })
            })
            .unwrap_or(("", "", 0));
        let glibcxx = SymbolVersion {
            family: SymbolFamily::Glibcxx,
            numbers: [3, 4, minor, 0],
            len: 3,
        };
        let cxxabi = CXXABI_BY_LIBSTDCXX
            .iter()
            .rev()
            .find(|(n, _)| *n <= minor)
            .and_then(|(_, dotted)| SymbolVersion::new(SymbolFamily::Cxxabi, dotted))
            .unwrap_or(SymbolVersion {
                family: SymbolFamily::Cxxabi,
                numbers: [1, 3, 0, 0],
                len: 2,
            });
        let gcc_major = rpm_version(os_facts(runtime.os(), arch), "libgcc")
            .and_then(|version| version.split('.').next()?.parse::<u32>().ok())
            .unwrap_or(0);
        let gcc = SymbolVersion {
            family: SymbolFamily::Gcc,
            numbers: [gcc_major, 0, 0, 0],
            len: 3,
        };
        Abi {
            glibc,
            glibcxx,
            cxxabi,
            gcc,
            libstdcxx_dir,
            libstdcxx_file,
        }
    }
}

/// The version of the rpm package `name` in the OS's `rpm -qa` (`libgcc-7.3.1-18.amzn2.x86_64`
/// gives `7.3.1`).
pub(crate) fn rpm_version(os: &OsFacts, name: &str) -> Option<&'static str> {
    os.rpm_packages.iter().find_map(|nevra| {
        let rest = nevra.strip_prefix(name)?.strip_prefix('-')?;
        let version = rest.split('-').next()?;
        version
            .starts_with(|c: char| c.is_ascii_digit())
            .then_some(version)
    })
}

fn os_glibc_symbol(os: Os, arch: Arch) -> SymbolVersion {
    rpm_version(os_facts(os, arch), "glibc")
        .and_then(|version| SymbolVersion::new(SymbolFamily::Glibc, version))
        .unwrap_or(SymbolVersion {
            family: SymbolFamily::Glibc,
            numbers: [2, 0, 0, 0],
            len: 2,
        })
}

/// The glibc of an OS, from its `glibc` rpm in the dump ([`Os::glibc`] reads this).
fn os_glibc(os: Os) -> GlibcVersion {
    let symbol = os_glibc_symbol(os, Arch::X86_64);
    let numbers = symbol.numbers();
    GlibcVersion(
        numbers.first().copied().unwrap_or(2),
        numbers.get(1).copied().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(id: &str) -> &'static RuntimeFacts {
        super::runtime(id).expect("a dumped runtime")
    }

    #[test]
    fn every_dumped_glibc_is_its_os_glibc_rpm() {
        for runtime in runtimes() {
            for arch in Arch::ALL {
                assert_eq!(
                    SymbolVersion::new(SymbolFamily::Glibc, runtime.glibc),
                    Some(os_glibc_symbol(runtime.os(), arch)),
                    "{} {arch}",
                    runtime.id
                );
            }
        }
    }

    #[test]
    fn search_paths_are_the_dumped_ones() {
        let python = runtime("python3.12");
        assert_eq!(
            python.command_path(),
            [
                "/var/lang/bin",
                "/usr/local/bin",
                "/usr/bin",
                "/bin",
                "/opt/bin"
            ]
        );
        assert_eq!(
            python.library_path(),
            [
                "/var/lang/lib",
                "/lib64",
                "/usr/lib64",
                "/var/runtime",
                "/var/runtime/lib",
                "/var/task",
                "/var/task/lib",
                "/opt/lib"
            ]
        );
        let dirs: Vec<&str> = python
            .commands(Arch::X86_64)
            .iter()
            .map(|dir| dir.dir)
            .collect();
        assert_eq!(
            dirs,
            ["/var/lang/bin", "/usr/local/bin", "/usr/bin", "/bin"]
        );
    }

    #[test]
    fn library_lists_are_sorted_for_binary_search() {
        for runtime in runtimes() {
            for arch in Arch::ALL {
                for dir in runtime.library_dirs(arch) {
                    assert!(dir.sonames.is_sorted(), "{} {arch} {}", runtime.id, dir.dir);
                }
                for dir in runtime.commands(arch) {
                    assert!(dir.names.is_sorted(), "{} {arch} {}", runtime.id, dir.dir);
                }
            }
        }
    }

    #[test]
    fn the_dumps_contradict_the_old_lists() {
        let x86 = Arch::X86_64;
        // Amazon Linux 2 has none of these; python3.11 ships two of them itself.
        for name in [
            "libcrypt.so.1",
            "libcurl.so.4",
            "liblzma.so.5",
            "libsqlite3.so.0",
        ] {
            assert_eq!(
                runtime("provided.al2").find_library(x86, name),
                None,
                "{name}"
            );
            assert_eq!(
                runtime("nodejs18.x").find_library(x86, name),
                None,
                "{name}"
            );
        }
        for name in ["libcrypt.so.1", "liblzma.so.5", "libsqlite3.so.0"] {
            assert_eq!(
                runtime("python3.11").find_library(x86, name),
                Some("/var/lang/lib"),
                "{name}"
            );
        }
        // Amazon Linux 2023 lacks libexpat and libcrypt, has glib2, libcurl and libxml2.
        let al2023 = runtime("provided.al2023");
        assert_eq!(al2023.find_library(x86, "libexpat.so.1"), None);
        assert_eq!(al2023.find_library(x86, "libcrypt.so.2"), None);
        for name in ["libglib-2.0.so.0", "libcurl.so.4", "libxml2.so.2"] {
            assert_eq!(al2023.find_library(x86, name), Some("/lib64"), "{name}");
        }
        // Node.js runtimes bring OpenSSL 3, the only one on Amazon Linux 2.
        assert_eq!(
            runtime("nodejs18.x").find_library(x86, "libssl.so.3"),
            Some("/var/lang/lib")
        );
        assert_eq!(
            runtime("provided.al2").find_library(x86, "libssl.so.3"),
            None
        );
        // ruby3.3 ships libcrypt.so.2 in /var/runtime/lib.
        assert_eq!(
            runtime("ruby3.3").find_library(x86, "libcrypt.so.2"),
            Some("/var/runtime/lib")
        );
        // python3.12 ships libcrypt.so.1 on x86_64 only.
        assert_eq!(
            runtime("python3.12").find_library(x86, "libcrypt.so.1"),
            Some("/var/lang/lib")
        );
        assert_eq!(
            runtime("python3.12").find_library(Arch::Arm64, "libcrypt.so.1"),
            None
        );
    }

    #[test]
    fn library_dirs_follow_ld_library_path() {
        let dirs: Vec<&str> = runtime("nodejs24.x")
            .library_dirs(Arch::Arm64)
            .iter()
            .map(|dir| dir.dir)
            .collect();
        assert_eq!(
            dirs,
            [
                "/var/lang/lib",
                "/lib64",
                "/usr/lib64",
                "/var/runtime",
                "/var/runtime/lib"
            ]
        );
        // The runtime's own libstdc++ comes first and shadows the OS's.
        assert_eq!(
            runtime("nodejs24.x").find_library(Arch::Arm64, "libstdc++.so.6"),
            Some("/var/lang/lib")
        );
        assert_eq!(
            runtime("nodejs22.x").find_library(Arch::Arm64, "libstdc++.so.6"),
            Some("/lib64")
        );
    }

    #[test]
    fn abi_follows_the_shadowing_libstdcxx() {
        let node24 = runtime("nodejs24.x").abi(Arch::X86_64);
        assert_eq!(
            node24.glibcxx,
            SymbolVersion::parse("GLIBCXX_3.4.32").expect("parse")
        );
        assert_eq!(node24.cxxabi.to_string(), "CXXABI_1.3.14");
        assert_eq!(node24.libstdcxx_dir, "/var/lang/lib");
        assert_eq!(node24.libstdcxx_file, "libstdc++.so.6.0.32");
        let node22 = runtime("nodejs22.x").abi(Arch::X86_64);
        assert_eq!(node22.glibcxx.to_string(), "GLIBCXX_3.4.33");
        assert_eq!(node22.cxxabi.to_string(), "CXXABI_1.3.15");
        assert_eq!(node22.gcc.to_string(), "GCC_14.0.0");
        assert_eq!(node22.glibc.to_string(), "GLIBC_2.34");
        let al2 = runtime("python3.11").abi(Arch::Arm64);
        assert_eq!(al2.glibc.to_string(), "GLIBC_2.26");
        assert_eq!(al2.glibcxx.to_string(), "GLIBCXX_3.4.24");
        assert_eq!(al2.cxxabi.to_string(), "CXXABI_1.3.11");
        assert_eq!(al2.gcc.to_string(), "GCC_7.0.0");
        assert!(al2.provides(SymbolVersion::parse("GLIBCXX_3.4.21").expect("parse")));
        assert!(!al2.provides(SymbolVersion::parse("GLIBCXX_3.4.29").expect("parse")));
        assert!(!node24.provides(SymbolVersion::parse("GLIBCXX_3.4.33").expect("parse")));
        assert!(node24.provides(SymbolVersion::parse("GCC_4.2.0").expect("parse")));
    }

    #[test]
    fn every_loaded_libstdcxx_is_in_the_cxxabi_table() {
        for runtime in runtimes() {
            for arch in Arch::ALL {
                let abi = runtime.abi(arch);
                assert!(
                    CXXABI_BY_LIBSTDCXX
                        .iter()
                        .any(|(n, _)| *n == abi.glibcxx.numbers()[2]),
                    "{} {arch}: libstdc++ 6.0.{} missing from the CXXABI table",
                    runtime.id,
                    abi.glibcxx.numbers()[2]
                );
            }
        }
    }

    #[test]
    fn os_glibc_is_the_glibc_rpm_of_both_architectures() {
        assert_eq!(os_glibc(Os::Al2), GlibcVersion(2, 26));
        assert_eq!(os_glibc(Os::Al2023), GlibcVersion(2, 34));
        for os in [Os::Al2, Os::Al2023] {
            assert_eq!(
                os_glibc_symbol(os, Arch::X86_64),
                os_glibc_symbol(os, Arch::Arm64)
            );
        }
    }

    #[test]
    fn symbol_versions_parse_and_compare() {
        let parse = |text| SymbolVersion::parse(text).expect(text);
        assert!(parse("GLIBCXX_3.4.29") > parse("GLIBCXX_3.4.9"));
        assert_eq!(parse("GLIBCXX_3.4"), parse("GLIBCXX_3.4.0"));
        assert_eq!(parse("GLIBC_2.2.5").to_string(), "GLIBC_2.2.5");
        assert_eq!(parse("GCC_3.4.4").numbers(), [3, 4, 4]);
        for bad in [
            "GLIBC_PRIVATE",
            "CXXABI_TM_1",
            "CXXABI_FLOAT128",
            "GLIBC_",
            "FOO_1.0",
            "GLIBC_1.2.3.4.5",
        ] {
            assert_eq!(SymbolVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn commands_on_path() {
        let py = runtime("python3.12");
        assert_eq!(
            py.find_command(Arch::X86_64, "python3").as_deref(),
            Some("/var/lang/bin/python3")
        );
        assert_eq!(
            py.find_command(Arch::X86_64, "sh").as_deref(),
            Some("/usr/bin/sh")
        );
        // Neither base OS has python3 or node.
        let provided = runtime("provided.al2023");
        assert_eq!(provided.find_command(Arch::X86_64, "python3"), None);
        assert_eq!(provided.find_command(Arch::X86_64, "node"), None);
        assert_eq!(
            runtime("nodejs20.x")
                .find_command(Arch::Arm64, "node")
                .as_deref(),
            Some("/var/lang/bin/node")
        );
    }

    #[test]
    fn bundled_packages_with_versions() {
        let boto3 = runtime("python3.12")
            .find_bundled(Ecosystem::Python, "boto3")
            .expect("boto3");
        assert_eq!(boto3.path, "/var/lang/lib/python3.12/site-packages");
        assert!(boto3.version.is_some());
        assert!(
            runtime("python3.12")
                .find_bundled(Ecosystem::Python, "python-dateutil")
                .is_some()
        );
        assert_eq!(
            runtime("python3.9")
                .find_bundled(Ecosystem::Python, "botocore")
                .map(|package| package.path),
            Some("/var/runtime")
        );
        let client = runtime("nodejs20.x")
            .find_bundled(Ecosystem::Node, "@aws-sdk/client-s3")
            .expect("client-s3");
        assert_eq!(client.version, None);
        assert!(
            runtime("nodejs20.x")
                .find_bundled(Ecosystem::Node, "aws-sdk")
                .is_none()
        );
        assert!(
            runtime("nodejs20.x")
                .absent_packages()
                .iter()
                .any(|absent| absent.name == "aws-sdk")
        );
        assert!(runtime("provided.al2023").bundled_packages().is_empty());
    }

    #[test]
    fn bundled_python_modules_by_import_name() {
        let py = runtime("python3.12");
        let dateutil = py.bundled_python_module("dateutil").expect("dateutil");
        assert_eq!(dateutil.name, "python_dateutil");
        assert!(py.bundled_python_module("boto3").is_some());
        assert!(py.bundled_python_module("requests").is_none());
        assert!(
            runtime("nodejs20.x")
                .bundled_python_module("boto3")
                .is_none()
        );
    }

    #[test]
    fn pep503_names() {
        assert_eq!(normalize_python_name("Python_Dateutil"), "python-dateutil");
        assert_eq!(normalize_python_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_python_name("a--b__c"), "a-b-c");
    }
}
