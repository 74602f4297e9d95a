//! Where a binary sits in the layer decides who would load it: which runtimes read that folder,
//! whether a loader would ever open the file, and what command fixes it.

use crate::inspect::is_library_name;
use crate::inspect::{ElfInfo, ElfKind};
use crate::inventory::ArchivePath;
use crate::runtime::{Arch, COMMON_DIRS, Family, RUNTIMES, Runtime};

/// The runtimes of the layer that read `path`: the most specific package folder that holds it
/// decides (`python/lib/python3.12/site-packages` is read by python3.12 only, though it lies
/// within `python/`, which every Python runtime reads). `bin/` and `lib/` are read by all. A path
/// no runtime reads (the `LAY` rules' concern) is judged against every runtime of the layer.
pub(crate) fn runtimes_reading(
    path: &ArchivePath,
    runtimes: &[&'static Runtime],
) -> Vec<&'static Runtime> {
    if COMMON_DIRS.iter().any(|dir| path.is_within(dir)) {
        return runtimes.to_vec();
    }
    let Some(best) = owning_package_dir(path) else {
        return runtimes.to_vec();
    };
    let readers: Vec<&'static Runtime> = runtimes
        .iter()
        .copied()
        .filter(|runtime| runtime.package_dirs().contains(&best))
        .collect();
    if readers.is_empty() {
        runtimes.to_vec()
    } else {
        readers
    }
}

/// The most specific package folder of any known runtime that holds `path` (or is `path`):
/// `python/lib/python3.12/site-packages` rather than `python`.
pub(crate) fn owning_package_dir(path: &ArchivePath) -> Option<String> {
    RUNTIMES
        .iter()
        .flat_map(|runtime| runtime.package_dirs())
        .filter(|dir| path.is_within(dir))
        .max_by_key(String::len)
}

/// The folder that holds one package of a runtime's package folder
/// (`python/lib/python3.12/site-packages/numpy`, `nodejs/node_modules/@aws-sdk/client-s3`);
/// `None` for a path outside every package folder or the package folder itself.
pub(crate) fn package_root(path: &ArchivePath) -> Option<String> {
    let dir = owning_package_dir(path)?;
    let rest = path.as_str().get(dir.len() + 1..)?;
    let mut parts = rest.split('/');
    let first = parts.next()?;
    match (first.starts_with('@'), parts.next()) {
        (true, Some(second)) => Some(format!("{dir}/{first}/{second}")),
        _ => Some(format!("{dir}/{first}")),
    }
}

/// True when something on Lambda would load or run this file: a library by name (`.so`,
/// `.so.N`, `.node`), anything in `bin/` (on `PATH`) or `lib/` (on `LD_LIBRARY_PATH`), or a
/// program. Relocatable objects (`.o`) and oddly named data files are never loaded.
pub(crate) fn is_loaded(path: &ArchivePath, elf: Option<&ElfInfo>) -> bool {
    if elf.is_some_and(|info| info.kind == ElfKind::Relocatable) {
        return false;
    }
    is_library_name(path.file_name())
        || path.is_within("bin")
        || path.is_within("lib")
        || elf.is_some_and(|info| info.is_program(path))
}

/// A platform a folder name says its binaries are for, as npm packages that ship prebuilt
/// binaries per platform name them (`prebuilds/linux-x64/`, `@img/sharp-darwin-arm64/`,
/// `@next/swc-linux-x64-musl/`). Such packages pick the folder that matches the running
/// platform, so the others are never loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PlatformMarker {
    pub(crate) os: Option<&'static str>,
    pub(crate) arch: Option<Arch>,
    pub(crate) other_arch: bool,
    pub(crate) musl: bool,
}

impl PlatformMarker {
    /// True when Lambda (glibc Linux on one of `archs`) is the platform this folder is for.
    pub(crate) fn matches(&self, archs: &[Arch]) -> bool {
        self.os.is_none_or(|os| os == "linux")
            && !self.other_arch
            && self.arch.is_none_or(|arch| archs.contains(&arch))
            && !self.musl
    }
}

/// Reads platform words from the folders of a path below `nodejs/` (never from the file name).
pub(crate) fn platform_marker(path: &ArchivePath) -> Option<PlatformMarker> {
    if !path.is_within("nodejs") {
        return None;
    }
    let parent = path.parent();
    let mut marker = PlatformMarker::default();
    let mut found = false;
    for word in parent.split(['/', '-', '_', '.', '@']) {
        match word {
            "linux" => marker.os = Some("linux"),
            "darwin" | "macos" | "mac" => marker.os = Some("darwin"),
            "win32" | "windows" | "win" => marker.os = Some("windows"),
            "freebsd" | "android" | "openbsd" | "sunos" => marker.os = Some("other"),
            "x64" | "amd64" => marker.arch = Some(Arch::X86_64),
            "arm64" | "aarch64" => marker.arch = Some(Arch::Arm64),
            "ia32" | "x86" | "arm" | "armv7" | "armv6" | "ppc64" | "s390x" | "riscv64"
            | "loong64" | "mips64el" => marker.other_arch = true,
            "musl" => marker.musl = true,
            _ => continue,
        }
        found = true;
    }
    (found && marker.os.is_some()).then_some(marker)
}

/// The first folder below the runtime's package folder: the package that ships the file
/// (`numpy` for `python/numpy/_core/x.so`, `numpy` for `python/numpy.libs/libx.so`).
pub(crate) fn package_name(path: &ArchivePath) -> Option<String> {
    let root = package_root(path)?;
    let dir = owning_package_dir(path)?;
    let name = root[dir.len() + 1..].to_string();
    let name = name.strip_suffix(".libs").unwrap_or(&name);
    let name = name.split('.').next().unwrap_or(name);
    Some(name.to_string())
}

/// How to get a build of the file's package for Linux on `arch`, in the terms of its ecosystem.
pub(crate) fn reinstall_help(
    path: &ArchivePath,
    arch: Arch,
    runtimes: &[&'static Runtime],
) -> String {
    let package = package_name(path).unwrap_or_else(|| "PACKAGE".to_string());
    if path.is_within("python") {
        let version = runtimes
            .iter()
            .find(|runtime| runtime.family == Family::Python)
            .map_or(String::new(), |runtime| {
                format!(
                    " --python-version {}.{}",
                    runtime.version().0,
                    runtime.version().1
                )
            });
        format!(
            "install the manylinux2014_{gnu} wheel: pip install --platform manylinux2014_{gnu} \
             --only-binary=:all:{version} --target python {package}",
            gnu = arch.gnu_name()
        )
    } else if path.is_within("nodejs") {
        let cpu = match arch {
            Arch::X86_64 => "x64",
            Arch::Arm64 => "arm64",
        };
        format!(
            "reinstall for Lambda: npm install --os=linux --cpu={cpu} --libc=glibc {package} \
             (or run npm install inside the Lambda build image)"
        )
    } else if path.is_within("ruby") {
        format!(
            "reinstall the gem for {arch}-linux (bundle lock --add-platform {gnu}-linux, or bundle \
             install inside the Lambda build image)",
            gnu = arch.gnu_name()
        )
    } else {
        format!(
            "rebuild it for Linux {arch} with glibc (e.g. inside the public.ecr.aws/lambda/provided \
             image for your runtime), or download the {gnu}-linux-gnu release",
            gnu = arch.gnu_name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> ArchivePath {
        ArchivePath::new(text).expect("path")
    }

    #[test]
    fn the_most_specific_folder_decides_the_readers() {
        let runtimes = [
            Runtime::find("python3.11").expect("runtime"),
            Runtime::find("python3.12").expect("runtime"),
        ];
        let readers =
            runtimes_reading(&path("python/lib/python3.12/site-packages/x.so"), &runtimes);
        assert_eq!(readers, [runtimes[1]]);
        assert_eq!(runtimes_reading(&path("python/x.so"), &runtimes).len(), 2);
        assert_eq!(runtimes_reading(&path("lib/libx.so"), &runtimes).len(), 2);
    }

    #[test]
    fn package_names() {
        assert_eq!(
            package_name(&path("python/numpy.libs/libx.so")).as_deref(),
            Some("numpy")
        );
        assert_eq!(
            package_name(&path(
                "python/lib/python3.12/site-packages/_cffi_backend.cpython-312-x86_64-linux-gnu.so"
            ))
            .as_deref(),
            Some("_cffi_backend")
        );
        assert_eq!(
            package_name(&path("nodejs/node_modules/@img/sharp-linux-x64/lib/x.node")).as_deref(),
            Some("@img/sharp-linux-x64")
        );
    }

    #[test]
    fn platform_markers() {
        let marker = |text: &str| platform_marker(&path(text));
        assert!(
            marker("nodejs/node_modules/x/prebuilds/linux-x64/a.node")
                .expect("marker")
                .matches(&[Arch::X86_64])
        );
        assert!(
            !marker("nodejs/node_modules/x/prebuilds/darwin-arm64/a.node")
                .expect("marker")
                .matches(&[Arch::Arm64])
        );
        assert!(
            !marker("nodejs/node_modules/@next/swc-linux-x64-musl/a.node")
                .expect("marker")
                .matches(&[Arch::X86_64])
        );
        assert!(marker("nodejs/node_modules/sharp/build/Release/a.node").is_none());
        assert!(marker("python/linux/x.so").is_none());
    }
}
