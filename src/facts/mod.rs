//! What each Lambda runtime already provides, as file-system dumps taken inside live functions
//! recorded it.
//!
//! A layer is judged against the machine it will run on: which shared libraries the loader finds
//! without the layer (the OS's `/lib64`, and the runtime's own `/var/lang/lib`, `/var/runtime`,
//! `/var/runtime/lib`, in `LD_LIBRARY_PATH` order, where `/var/lang/lib` comes first and shadows
//! the OS), which commands are on `PATH`, which glibc / libstdc++ / libgcc symbol versions exist,
//! and which packages (the AWS SDKs) the runtime bundles. Memory gets these wrong (Amazon Linux 2
//! has no `libcurl.so.4`; nodejs24.x loads its own older libstdc++), so they are not written by
//! hand: `scripts/gen-runtime-facts.py` turns `../shared/reference/runtime-facts/` into
//! `generated`, whose header names every source file, its hash and the dumps it cites, and a
//! test fails when the committed data no longer matches its source.
//!
//! Two facts are not file-system facts and are kept here, documented: the mapping from a
//! libstdc++ / libgcc release to the symbol versions it defines (`CXXABI_BY_LIBSTDCXX`), and
//! the libraries a runtime's process has already loaded before user code runs
//! (`loaded_by_the_runtime`).

#[rustfmt::skip]
// Written by scripts/gen-runtime-facts.py, which spells its tables `pub`.
#[allow(unreachable_pub)]
mod generated;

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

use crate::runtime::{Arch, GlibcVersion, Os, Runtime};

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
    pub(crate) os: &'static str,
    pub(crate) arch: &'static str,
    /// Every `*.so*` name in `/lib64` (= `/usr/lib64`).
    pub sonames: &'static [&'static str],
    /// Every name in `/usr/bin`, `/usr/sbin`, `/usr/local/bin` (`/bin` is `usr/bin`).
    pub commands: &'static [&'static str],
    /// `rpm -qa` of the image.
    pub(crate) rpm_packages: &'static [&'static str],
}

/// One runtime of the dumps. [`Runtime::os`] and [`Runtime::version`] read it, so the runtime
/// table in [`crate::runtime`] names only identifiers and families. (When the runtime was last
/// dumped and where its bundled packages were read are comments of [`generated`].)
#[derive(Debug)]
pub(crate) struct RuntimeFacts {
    pub(crate) id: &'static str,
    /// `al2` or `al2023`.
    pub(crate) os: &'static str,
    pub(crate) glibc: &'static str,
    /// The language version as the dump gives it: `3.12`, `20`, `3.3.12` (Ruby's patch comes from
    /// `libruby.so.X.Y.Z`), `n/a` for the OS-only runtimes.
    pub(crate) language_version: &'static str,
    /// `PATH` as the images and dumps record it (`/usr/bin/` with its trailing slash).
    pub(crate) path: &'static [&'static str],
    /// `LD_LIBRARY_PATH` as the images and dumps record it.
    pub(crate) ld_library_path: &'static [&'static str],
    /// Per architecture, the library folders the runtime fills.
    pub(crate) libraries: &'static [(&'static str, LibraryDir)],
    /// Per architecture, the names in `/var/lang/bin`.
    pub(crate) commands: &'static [(&'static str, &'static [&'static str])],
    pub(crate) bundled: &'static [BundledPackage],
    pub(crate) absent: &'static [AbsentPackage],
}

fn os_key(os: Os) -> &'static str {
    match os {
        Os::Al2 => "al2",
        Os::Al2023 => "al2023",
    }
}

/// The dump of `os` on `arch`. Every pair is generated; a missing one is a generator bug.
pub fn os_facts(os: Os, arch: Arch) -> &'static OsFacts {
    generated::OS_FACTS
        .iter()
        .find(|facts| facts.os == os_key(os) && facts.arch == arch.aws_name())
        .unwrap_or_else(|| {
            panic!("no OS facts for {os:?} {arch}: regenerate src/facts/generated.rs")
        })
}

/// The dump of one runtime, when the dumps have it (every runtime of [`crate::runtime::RUNTIMES`]
/// does; a test checks it).
pub(crate) fn runtime_facts(runtime: &Runtime) -> Option<&'static RuntimeFacts> {
    generated::RUNTIME_FACTS
        .iter()
        .find(|facts| facts.id == runtime.id)
}

/// The dump of a runtime of [`crate::runtime::RUNTIMES`]. Every one has a dump (a test checks
/// it), so a missing one is a bug of the runtime table or the generator, not of user input.
fn dumped(runtime: &Runtime) -> &'static RuntimeFacts {
    runtime_facts(runtime).unwrap_or_else(|| {
        panic!(
            "no runtime facts for {}: regenerate src/facts/generated.rs",
            runtime.id
        )
    })
}

/// The Amazon Linux release `runtime` runs on, as its dump records it ([`Runtime::os`]).
pub(crate) fn runtime_os(runtime: &Runtime) -> Os {
    let os = dumped(runtime).os;
    [Os::Al2, Os::Al2023]
        .into_iter()
        .find(|candidate| os_key(*candidate) == os)
        .unwrap_or_else(|| panic!("{}: unknown os {os:?} in the runtime facts", runtime.id))
}

/// The language's (major, minor) version as the runtime's dump records it
/// ([`Runtime::version`]): `3.12` is (3, 12), `20` is (20, 0), Ruby's `3.3.12` is (3, 3), and the
/// OS-only runtimes' `n/a` is (0, 0).
pub(crate) fn language_version(runtime: &Runtime) -> (u32, u32) {
    let mut numbers = dumped(runtime)
        .language_version
        .split('.')
        .map(|part| part.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), minor) => (major, minor.unwrap_or(0)),
        (None, _) => (0, 0),
    }
}

/// `PATH` of `runtime`, as its dump records it, in lookup order (`/usr/bin/` is given without
/// its trailing slash).
pub(crate) fn command_path(runtime: &Runtime) -> Vec<&'static str> {
    dumped(runtime)
        .path
        .iter()
        .map(|dir| match dir.trim_end_matches('/') {
            "" => *dir,
            trimmed => trimmed,
        })
        .collect()
}

/// `LD_LIBRARY_PATH` of `runtime`, as its dump records it, in lookup order. The OS-only runtimes
/// have no `/var/lang/lib` folder, but the variable names it.
pub(crate) fn library_path(runtime: &Runtime) -> &'static [&'static str] {
    dumped(runtime).ld_library_path
}

/// The OS's library folders: `/lib64` and `/usr/lib64` are one folder on Amazon Linux, and the
/// dumps list it once.
const OS_LIBRARY_DIRS: &[&str] = &["/lib64", "/usr/lib64"];

/// The folders on `library_path` that the runtime or its OS fills, in the loader's order:
/// `/var/lang/lib` (the runtime's; first, so it shadows the OS), `/lib64` and `/usr/lib64` (the
/// same folder on Amazon Linux: both carry the OS's list), `/var/runtime`, `/var/runtime/lib`.
/// A folder the runtime leaves empty is listed with no names. `/var/task`, `/var/task/lib` and
/// `/opt/lib` belong to the function and the layers.
pub fn library_dirs(runtime: &Runtime, arch: Arch) -> Vec<LibraryDir> {
    use crate::runtime::environment::{LAYER_ROOT, TASK_ROOT};
    let own = |dir: &'static str| {
        dumped(runtime)
            .libraries
            .iter()
            .find(|(on, library)| *on == arch.aws_name() && library.dir == dir)
            .map_or(&[][..], |(_, library)| library.sonames)
    };
    let os = os_facts(runtime.os(), arch).sonames;
    library_path(runtime)
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

/// True when `path` is `root` or inside it.
fn within(path: &str, root: &str) -> bool {
    path.strip_prefix(root)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The folder from which the loader would take `soname` without help from the function or the
/// layers, or `None` when neither the runtime nor its OS has it.
pub(crate) fn find_library(runtime: &Runtime, arch: Arch, soname: &str) -> Option<&'static str> {
    library_dirs(runtime, arch)
        .into_iter()
        .find(|dir| dir.sonames.binary_search(&soname).is_ok())
        .map(|dir| dir.dir)
}

/// Libraries a runtime's process has loaded before any user code, so a `DT_NEEDED` on their
/// SONAME is satisfied without a search: the JVM loads `libjvm.so` from `/var/lang/lib/server/`
/// (not on `LD_LIBRARY_PATH`) before it loads any JNI library. Not a file-system fact, so it is
/// kept here rather than in the dumps.
pub(crate) fn loaded_by_the_runtime(runtime: &Runtime) -> &'static [&'static str] {
    match runtime.family {
        crate::runtime::Family::Java => &["libjvm.so"],
        _ => &[],
    }
}

/// The folders on `PATH` that the runtime or its OS fills, in `PATH` order (`/var/lang/bin`, then
/// `/usr/local/bin`, `/usr/bin`, `/bin`). The dumps list the OS's `/usr/bin`, `/usr/sbin` and
/// `/usr/local/bin` names together, so they are all reported under `/usr/bin` (and `/bin`, a link
/// to it); `/usr/local/bin` is listed empty. `/opt/bin` belongs to the layers.
pub(crate) fn commands(runtime: &Runtime, arch: Arch) -> Vec<CommandDir> {
    use crate::runtime::environment::LAYER_ROOT;
    let lang = dumped(runtime)
        .commands
        .iter()
        .find(|(on, _)| *on == arch.aws_name())
        .map_or(&[][..], |(_, names)| *names);
    let os = os_facts(runtime.os(), arch).commands;
    command_path(runtime)
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

/// The runtime's own commands' folder, whose names the dumps list per runtime.
const RUNTIME_COMMAND_DIR: &str = "/var/lang/bin";

/// The absolute path `PATH` lookup of `name` finds among the runtime's and the OS's commands.
pub(crate) fn find_command(runtime: &Runtime, arch: Arch, name: &str) -> Option<String> {
    commands(runtime, arch)
        .into_iter()
        .find(|dir| dir.names.binary_search(&name).is_ok())
        .map(|dir| format!("{}/{name}", dir.dir))
}

/// The packages the runtime ships (AWS SDKs and what they need, interpreter tooling), sorted by
/// name then folder.
pub fn bundled_packages(runtime: &Runtime) -> &'static [BundledPackage] {
    runtime_facts(runtime).map_or(&[], |facts| facts.bundled)
}

/// The bundled package `name` of `ecosystem` that user code can load, if any. Python names are
/// compared after PEP 503 normalization (`python-dateutil` = `python_dateutil`).
pub(crate) fn find_bundled(
    runtime: &Runtime,
    ecosystem: Ecosystem,
    name: &str,
) -> Option<&'static BundledPackage> {
    let wanted = normalize(ecosystem, name);
    bundled_packages(runtime).iter().find(|package| {
        package.ecosystem == ecosystem
            && package.resolvable()
            && normalize(ecosystem, package.name) == wanted
    })
}

/// Import names that differ from their distribution's name, for the dists the runtimes bundle
/// (the dumps record `*.dist-info` names, not the modules inside).
const PYTHON_IMPORT_ALIASES: &[(&str, &str)] = &[
    ("dateutil", "python-dateutil"),
    ("setuptools", "setuptools"),
    ("pkg_resources", "setuptools"),
    ("_distutils_hack", "setuptools"),
];

/// The bundled Python dist that provides the top-level module `import_name` (`boto3`,
/// `dateutil`), if the runtime ships one on `sys.path`.
pub(crate) fn bundled_python_module(
    runtime: &Runtime,
    import_name: &str,
) -> Option<&'static BundledPackage> {
    let dist = PYTHON_IMPORT_ALIASES
        .iter()
        .find(|(module, _)| *module == import_name)
        .map_or(import_name, |(_, dist)| *dist);
    find_bundled(runtime, Ecosystem::Python, dist)
}

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

/// Packages the dumps say the runtime does NOT ship (`aws-sdk` v2 on nodejs18.x and later).
pub(crate) fn absent_packages(runtime: &Runtime) -> &'static [AbsentPackage] {
    runtime_facts(runtime).map_or(&[], |facts| facts.absent)
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
/// 6.0.N always defines `GLIBCXX_3.4.N` (N ≥ 18; see [`abi`]).
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

/// The symbol versions a runtime provides on `arch`:
/// - `GLIBC_x.y` from runtimes.tsv (the OS's glibc);
/// - libstdc++: the first `libstdc++.so.6.0.N` in [`library_dirs`] order (nodejs24.x's own
///   6.0.32 in `/var/lang/lib` shadows the OS's 6.0.33), giving `GLIBCXX_3.4.N` and the
///   `CXXABI_1.3.x` of [`CXXABI_BY_LIBSTDCXX`];
/// - `GCC_M.0.0` from the major version M of the OS's `libgcc` rpm: libgcc_s of GCC M defines no
///   version newer than `GCC_M.0.0` (`GCC_7.0.0` on x86_64 GCC 7, `GCC_14.0.0` with GCC 14).
pub(crate) fn abi(runtime: &Runtime, arch: Arch) -> Abi {
    let glibc = runtime_facts(runtime)
        .and_then(|facts| SymbolVersion::new(SymbolFamily::Glibc, facts.glibc))
        .unwrap_or_else(|| os_glibc_symbol(runtime.os(), arch));
    let (libstdcxx_dir, libstdcxx_file, minor) = library_dirs(runtime, arch)
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

/// The glibc of an OS, from its `glibc` rpm in the dump (`Os::glibc` reads this).
pub(crate) fn os_glibc(os: Os) -> GlibcVersion {
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
    use crate::runtime::RUNTIMES;

    fn runtime(id: &str) -> &'static Runtime {
        Runtime::find(id).expect("known runtime")
    }

    #[test]
    fn every_declared_runtime_has_dumped_facts() {
        for runtime in RUNTIMES {
            let facts =
                runtime_facts(runtime).unwrap_or_else(|| panic!("{} has no facts", runtime.id));
            assert_eq!(
                SymbolVersion::new(SymbolFamily::Glibc, facts.glibc),
                Some(abi(runtime, Arch::Arm64).glibc),
                "{}",
                runtime.id
            );
        }
    }

    /// The OS and language version come from the dumps alone; the identifiers AWS chose name
    /// them too, so the two must agree.
    #[test]
    fn os_and_language_version_of_the_dumps_agree_with_the_identifiers() {
        use crate::runtime::Family;
        for runtime in RUNTIMES {
            let (major, minor) = runtime.version();
            let named = match runtime.family {
                Family::Python => format!("python{major}.{minor}"),
                Family::Nodejs => format!("nodejs{major}.x"),
                Family::Ruby => format!("ruby{major}.{minor}"),
                Family::Java => format!("java{major}"),
                Family::Provided => "provided".to_string(),
            };
            let rest = runtime.id.strip_prefix(&named);
            assert!(
                rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('.')),
                "{} has version {major}.{minor} in its dump",
                runtime.id
            );
            for (suffix, os) in [(".al2", Os::Al2), (".al2023", Os::Al2023)] {
                if runtime.id.ends_with(suffix) {
                    assert_eq!(runtime.os(), os, "{}", runtime.id);
                }
            }
        }
        assert_eq!(runtime("python3.11").os(), Os::Al2);
        assert_eq!(runtime("python3.12").os(), Os::Al2023);
        assert_eq!(runtime("nodejs18.x").os(), Os::Al2);
        assert_eq!(runtime("java17").os(), Os::Al2);
        assert_eq!(runtime("java21").os(), Os::Al2023);
        // Ruby's dump gives a patch version (3.3.12); the OS-only runtimes have none.
        assert_eq!(runtime("ruby3.3").version(), (3, 3));
        assert_eq!(runtime("provided.al2023").version(), (0, 0));
    }

    #[test]
    fn search_paths_are_the_dumped_ones() {
        let python = runtime("python3.12");
        assert_eq!(
            command_path(python),
            [
                "/var/lang/bin",
                "/usr/local/bin",
                "/usr/bin",
                "/bin",
                "/opt/bin"
            ]
        );
        assert_eq!(
            library_path(python),
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
        let dirs: Vec<&str> = commands(python, Arch::X86_64)
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
        for runtime in RUNTIMES {
            for arch in Arch::ALL {
                for dir in library_dirs(runtime, arch) {
                    assert!(dir.sonames.is_sorted(), "{} {arch} {}", runtime.id, dir.dir);
                }
                for dir in commands(runtime, arch) {
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
                find_library(runtime("provided.al2"), x86, name),
                None,
                "{name}"
            );
            assert_eq!(
                find_library(runtime("nodejs18.x"), x86, name),
                None,
                "{name}"
            );
        }
        for name in ["libcrypt.so.1", "liblzma.so.5", "libsqlite3.so.0"] {
            assert_eq!(
                find_library(runtime("python3.11"), x86, name),
                Some("/var/lang/lib"),
                "{name}"
            );
        }
        // Amazon Linux 2023 lacks libexpat and libcrypt, has glib2, libcurl and libxml2.
        let al2023 = runtime("provided.al2023");
        assert_eq!(find_library(al2023, x86, "libexpat.so.1"), None);
        assert_eq!(find_library(al2023, x86, "libcrypt.so.2"), None);
        for name in ["libglib-2.0.so.0", "libcurl.so.4", "libxml2.so.2"] {
            assert_eq!(find_library(al2023, x86, name), Some("/lib64"), "{name}");
        }
        // Node.js runtimes bring OpenSSL 3, the only one on Amazon Linux 2.
        assert_eq!(
            find_library(runtime("nodejs18.x"), x86, "libssl.so.3"),
            Some("/var/lang/lib")
        );
        assert_eq!(
            find_library(runtime("provided.al2"), x86, "libssl.so.3"),
            None
        );
        // ruby3.3 ships libcrypt.so.2 in /var/runtime/lib.
        assert_eq!(
            find_library(runtime("ruby3.3"), x86, "libcrypt.so.2"),
            Some("/var/runtime/lib")
        );
        // python3.12 ships libcrypt.so.1 on x86_64 only.
        assert_eq!(
            find_library(runtime("python3.12"), x86, "libcrypt.so.1"),
            Some("/var/lang/lib")
        );
        assert_eq!(
            find_library(runtime("python3.12"), Arch::Arm64, "libcrypt.so.1"),
            None
        );
    }

    #[test]
    fn library_dirs_follow_ld_library_path() {
        let dirs: Vec<&str> = library_dirs(runtime("nodejs24.x"), Arch::Arm64)
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
            find_library(runtime("nodejs24.x"), Arch::Arm64, "libstdc++.so.6"),
            Some("/var/lang/lib")
        );
        assert_eq!(
            find_library(runtime("nodejs22.x"), Arch::Arm64, "libstdc++.so.6"),
            Some("/lib64")
        );
    }

    #[test]
    fn abi_follows_the_shadowing_libstdcxx() {
        let node24 = abi(runtime("nodejs24.x"), Arch::X86_64);
        assert_eq!(
            node24.glibcxx,
            SymbolVersion::parse("GLIBCXX_3.4.32").expect("parse")
        );
        assert_eq!(node24.cxxabi.to_string(), "CXXABI_1.3.14");
        assert_eq!(node24.libstdcxx_dir, "/var/lang/lib");
        assert_eq!(node24.libstdcxx_file, "libstdc++.so.6.0.32");
        let node22 = abi(runtime("nodejs22.x"), Arch::X86_64);
        assert_eq!(node22.glibcxx.to_string(), "GLIBCXX_3.4.33");
        assert_eq!(node22.cxxabi.to_string(), "CXXABI_1.3.15");
        assert_eq!(node22.gcc.to_string(), "GCC_14.0.0");
        assert_eq!(node22.glibc.to_string(), "GLIBC_2.34");
        let al2 = abi(runtime("python3.11"), Arch::Arm64);
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
        for runtime in RUNTIMES {
            for arch in Arch::ALL {
                let abi = abi(runtime, arch);
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
            find_command(py, Arch::X86_64, "python3").as_deref(),
            Some("/var/lang/bin/python3")
        );
        assert_eq!(
            find_command(py, Arch::X86_64, "sh").as_deref(),
            Some("/usr/bin/sh")
        );
        // Neither base OS has python3 or node.
        let provided = runtime("provided.al2023");
        assert_eq!(find_command(provided, Arch::X86_64, "python3"), None);
        assert_eq!(find_command(provided, Arch::X86_64, "node"), None);
        assert_eq!(
            find_command(runtime("nodejs20.x"), Arch::Arm64, "node").as_deref(),
            Some("/var/lang/bin/node")
        );
    }

    #[test]
    fn bundled_packages_with_versions() {
        let boto3 = find_bundled(runtime("python3.12"), Ecosystem::Python, "boto3").expect("boto3");
        assert_eq!(boto3.path, "/var/lang/lib/python3.12/site-packages");
        assert!(boto3.version.is_some());
        assert!(
            find_bundled(runtime("python3.12"), Ecosystem::Python, "python-dateutil").is_some()
        );
        assert_eq!(
            find_bundled(runtime("python3.9"), Ecosystem::Python, "botocore")
                .map(|package| package.path),
            Some("/var/runtime")
        );
        let client = find_bundled(runtime("nodejs20.x"), Ecosystem::Node, "@aws-sdk/client-s3")
            .expect("client-s3");
        assert_eq!(client.version, None);
        assert!(find_bundled(runtime("nodejs20.x"), Ecosystem::Node, "aws-sdk").is_none());
        assert!(
            absent_packages(runtime("nodejs20.x"))
                .iter()
                .any(|absent| absent.name == "aws-sdk")
        );
        assert!(bundled_packages(runtime("provided.al2023")).is_empty());
    }

    #[test]
    fn bundled_python_modules_by_import_name() {
        let py = runtime("python3.12");
        let dateutil = bundled_python_module(py, "dateutil").expect("dateutil");
        assert_eq!(dateutil.name, "python_dateutil");
        assert!(bundled_python_module(py, "boto3").is_some());
        assert!(bundled_python_module(py, "requests").is_none());
        assert!(bundled_python_module(runtime("nodejs20.x"), "boto3").is_none());
    }

    #[test]
    fn pep503_names() {
        assert_eq!(normalize_python_name("Python_Dateutil"), "python-dateutil");
        assert_eq!(normalize_python_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_python_name("a--b__c"), "a-b-c");
    }
}
