//! `BIN004` glibc-too-new: code that needs a newer glibc, libstdc++ or libgcc than the runtime
//! provides.
//!
//! The rule, its explanation (printed by `layerpack rule BIN004`) and its check.

use std::collections::BTreeMap;

use super::{elfs, list_runtimes, severity_at};
use crate::domain::placement::{reinstall_help, runtimes_reading};
use crate::finding::{Code, FindingData, Severity};
use crate::inspect::{Binary, ElfInfo};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::{Arch, Runtime};

pub(crate) static BIN004: Rule = Rule {
    code: Code::BIN004,
    name: "glibc-too-new",
    severity: Severity::Error,
    summary: "code that needs a newer glibc, libstdc++ or libgcc than the runtime provides",
    explanation: r#"## What it does

Reads the version needs (`.gnu.version_r`) of every ELF file, takes the highest `GLIBC_x.y` as
auditwheel does, and compares it with the glibc of each runtime that reads the file: Amazon Linux
2 (python3.9–3.11, nodejs18.x, java8.al2/11/17, provided.al2) has glibc 2.26, Amazon Linux 2023
(python3.12+, nodejs20.x+, java21+, provided.al2023) has 2.34. One finding per file names every
runtime that would fail, so a file can pass for python3.12 and fail for python3.11.

C++ code also needs symbol versions of libstdc++ (`GLIBCXX_3.4.x`, `CXXABI_1.3.x`) and of libgcc
(`GCC_x`). Each such need is checked against the library the loader would really use for that
file: Amazon Linux 2 has libstdc++ 6.0.24 (up to `GLIBCXX_3.4.24`) and GCC 7's libgcc, Amazon
Linux 2023 has libstdc++ 6.0.33 (up to `GLIBCXX_3.4.33`), and nodejs24.x loads its own libstdc++
6.0.32 from `/var/lang/lib`, first on `LD_LIBRARY_PATH`. A libstdc++ shipped in the layer counts
only where the loader finds it before the OS's copy: through the file's `DT_RPATH`. A copy in
`lib/` or on `DT_RUNPATH` comes after `/lib64`, which is on Lambda's `LD_LIBRARY_PATH`.

## Why this breaks at run time

The loader checks every versioned symbol before running any code:

```
ImportError: /lib64/libc.so.6: version `GLIBC_2.28' not found
(required by /opt/python/cryptography/hazmat/bindings/_rust.abi3.so)
```

Typical causes: a wheel tagged `manylinux_2_28` or newer installed for an Amazon Linux 2 runtime,
or a binary built on a recent Ubuntu or Debian. C++ code built with a newer GCC fails the same way:

```
OSError: /lib64/libstdc++.so.6: version `GLIBCXX_3.4.30' not found
(required by /opt/lib/libgeos.so.3)
```

## Example

```
python/lib/python3.11/site-packages/cryptography/hazmat/bindings/_rust.abi3.so   # needs GLIBC_2.28
```

## Fix

Install wheels built for an older glibc: `pip install --platform manylinux2014_x86_64
--only-binary=:all: --target python PACKAGE` (manylinux2014 means glibc 2.17); build native code
inside the Lambda build image of the oldest runtime; or drop the Amazon Linux 2 runtimes from the
layer's `runtimes`.
"#,
    check: Check::Layer(check_glibc_too_new),
};

fn check_glibc_too_new(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    check_glibc(context, report);
    check_libstdcxx_and_libgcc(context, report);
}

/// GLIBCXX/CXXABI (libstdc++) and GCC (libgcc_s) needs, each looked up as the loader would for
/// the file (a libstdc++ the layer ships on the file's DT_RPATH provides its own versions; one in
/// `lib/` or on DT_RUNPATH comes after the OS's copy and does not count).
fn check_libstdcxx_and_libgcc(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    use crate::facts::SymbolFamily;
    use crate::resolve::loader::{LayerTree, Loader};
    let wants_cxx = |info: &ElfInfo| {
        info.version_needs.iter().any(|need| {
            need.versions.iter().any(|version| {
                ["GLIBCXX_", "CXXABI_", "GCC_"]
                    .iter()
                    .any(|prefix| version.starts_with(prefix))
            })
        })
    };
    let candidates: Vec<(&Binary, &ElfInfo, Arch)> = elfs(context)
        .filter(|(_, info)| wants_cxx(info) && info.is_64 && !info.musl)
        .filter_map(|(binary, info)| {
            let arch = info.machine.arch()?;
            context
                .architectures
                .contains(&arch)
                .then_some((binary, info, arch))
        })
        .collect();
    if candidates.is_empty() {
        return;
    }
    let tree = LayerTree(context.inventory);
    let known =
        || elfs(context).map(|(binary, info)| (format!("/opt/{}", binary.path), info.clone()));
    let mut loaders: Vec<Loader<'_>> = Vec::new();
    for (binary, info, arch) in candidates {
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let abs = format!("/opt/{}", binary.path);
        // version → (runtimes that fail, what each has)
        let mut failing: BTreeMap<String, (Vec<&'static Runtime>, Vec<String>, String)> =
            BTreeMap::new();
        for runtime in runtimes_reading(&binary.path, context.runtimes) {
            let index = match loaders
                .iter()
                .position(|loader| loader.runtime() == runtime && loader.arch() == arch)
            {
                Some(index) => index,
                None => {
                    loaders.push(Loader::new(&tree, runtime, arch).with_known(known()));
                    loaders.len() - 1
                }
            };
            for problem in loaders[index].own_version_problems(&abs) {
                if !matches!(
                    problem.family,
                    Some(SymbolFamily::Glibcxx | SymbolFamily::Cxxabi | SymbolFamily::Gcc)
                ) {
                    continue;
                }
                let entry = failing
                    .entry(problem.version.clone())
                    .or_insert_with(|| (Vec::new(), Vec::new(), problem.library.clone()));
                entry.0.push(runtime);
                if !entry.1.contains(&problem.has) {
                    entry.1.push(problem.has.clone());
                }
            }
        }
        for (version, (runtimes, has, library)) in failing {
            let help = format!(
                "build it with the toolchain of the oldest runtime's OS (the Lambda build image), link libstdc++ and libgcc statically (-static-libstdc++ -static-libgcc), or ship a newer {library} in the layer and point the file's DT_RPATH at it (DT_RPATH, not DT_RUNPATH: /lib64 on LD_LIBRARY_PATH comes before DT_RUNPATH)"
            );
            let data = FindingData {
                library: Some(library.clone()),
                needed_version: Some(version.clone()),
                available: has.clone(),
                runtimes: runtimes
                    .iter()
                    .map(|runtime| runtime.id.to_string())
                    .collect(),
                ..FindingData::default()
            };
            report.report_as_with_data(
                severity,
                binary.path.as_str(),
                format!(
                    "needs {version} from {library} but {}: loading it fails with \"version `{version}' not found\"",
                    has.join("; ")
                ),
                if runtimes.len() < context.runtimes.len() {
                    format!("{help}; or drop {} from the layer's runtimes", list_runtimes(&runtimes))
                } else {
                    help
                },
                data,
            );
        }
    }
}

fn check_glibc(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (binary, info) in elfs(context) {
        let Some(needed) = info.glibc else {
            continue;
        };
        if info.musl {
            continue;
        }
        let failing: Vec<&Runtime> = runtimes_reading(&binary.path, context.runtimes)
            .into_iter()
            .filter(|runtime| runtime.os().glibc() < needed)
            .collect();
        if failing.is_empty() {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let oses: Vec<String> = {
            let mut oses: Vec<_> = failing.iter().map(|runtime| runtime.os()).collect();
            oses.dedup();
            oses.iter()
                .map(|os| format!("{} has glibc {}", os.name(), os.glibc()))
                .collect()
        };
        let arch = context
            .architectures
            .first()
            .copied()
            .unwrap_or(Arch::X86_64);
        let mut help = reinstall_help(&binary.path, arch, &failing);
        help.push_str(&format!(
            "; or build it against glibc {} or older",
            failing
                .iter()
                .map(|runtime| runtime.os().glibc())
                .min()
                .unwrap_or(needed)
        ));
        let needed_version = format!("GLIBC_{needed}");
        let data = FindingData {
            library: info
                .version_needs
                .iter()
                .find(|need| need.versions.contains(&needed_version))
                .map(|need| need.file.clone()),
            needed_version: Some(needed_version),
            available: oses.clone(),
            runtimes: failing
                .iter()
                .map(|runtime| runtime.id.to_string())
                .collect(),
            ..FindingData::default()
        };
        report.report_as_with_data(
            severity,
            binary.path.as_str(),
            format!(
                "needs GLIBC_{needed} but {} ({}): loading it fails with \"version `GLIBC_{needed}' not found\"",
                list_runtimes(&failing),
                oses.join(", ")
            ),
            help,
            data,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Abi;

    /// `layerpack rule BIN004` spells out the versions each OS has; they must be the dumps'
    /// (a regenerated dump that changes one fails here until the explanation follows).
    #[test]
    fn the_explanation_gives_the_dumped_versions() {
        let text = BIN004
            .explanation
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let of = |id: &str| {
            Runtime::find(id)
                .expect("runtime")
                .facts()
                .abi(Arch::X86_64)
        };
        let glibc = |abi: &Abi| {
            let numbers: Vec<String> = abi.glibc.numbers().iter().map(u32::to_string).collect();
            numbers.join(".")
        };
        let libstdcxx = |abi: &Abi| abi.libstdcxx_file.trim_start_matches("libstdc++.so.");
        let (al2, al2023, node24) = (of("provided.al2"), of("provided.al2023"), of("nodejs24.x"));
        for phrase in [
            format!("has glibc {}, Amazon Linux 2023", glibc(&al2)),
            format!("provided.al2023) has {}.", glibc(&al2023)),
            format!(
                "Amazon Linux 2 has libstdc++ {} (up to `{}`) and GCC {}'s libgcc",
                libstdcxx(&al2),
                al2.glibcxx,
                al2.gcc.numbers()[0]
            ),
            format!(
                "Amazon Linux 2023 has libstdc++ {} (up to `{}`)",
                libstdcxx(&al2023),
                al2023.glibcxx
            ),
            format!(
                "nodejs24.x loads its own libstdc++ {} from `{}`",
                libstdcxx(&node24),
                node24.libstdcxx_dir
            ),
        ] {
            assert!(
                text.contains(&phrase),
                "BIN004's explanation lacks {phrase:?}"
            );
        }
    }
}
