//! Binary rules (`BIN`): native code that the runtime's loader would refuse.
//!
//! Every rule reads the binaries the inspect stage found by content. Whether a file matters
//! depends on who would load it ([`placement`]): a library name, `bin/`, `lib/` or a program is
//! loaded and gets an error; the same code in a folder nothing loads from (an npm package's
//! prebuilt binary for another platform, a 32-bit test fixture) is dead weight and gets a warning.

pub mod extension;
pub mod libraries;
pub mod placement;

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::Severity;
use crate::inspect::{Binary, BinaryFormat, ElfInfo};
use crate::inventory::ArchivePath;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::{Arch, Family, Runtime};

use extension::ExtensionTarget;
use libraries::{Found, LayerLibraries};
use placement::{is_loaded, platform_marker, reinstall_help, runtimes_reading};

/// The ELF files of the layer with their facts.
fn elfs<'a>(context: &'a LayerContext<'_>) -> impl Iterator<Item = (&'a Binary, &'a ElfInfo)> {
    context
        .binaries
        .iter()
        .filter_map(|binary| match &binary.format {
            BinaryFormat::Elf(info) => Some((binary, info)),
            _ => None,
        })
}

/// How a binary at this place counts: `None` when a package picks its binaries by platform and
/// this one is for another platform (never loaded on Lambda, reported by no rule but kept out
/// of the errors); else the severity for a defect: the rule's own where the file is loaded, a
/// warning where nothing would load it.
fn severity_at(
    context: &LayerContext<'_>,
    path: &ArchivePath,
    elf: Option<&ElfInfo>,
    rule: Severity,
) -> Option<Severity> {
    if let Some(marker) = platform_marker(path)
        && !marker.matches(context.architectures)
    {
        return None;
    }
    Some(if is_loaded(path, elf) {
        rule
    } else {
        Severity::Warning
    })
}

/// "python3.11 and python3.12".
fn list_runtimes(runtimes: &[&Runtime]) -> String {
    let ids: Vec<&str> = runtimes.iter().map(|runtime| runtime.id).collect();
    match ids.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// What the user would see when the loader refuses a file, by what the file is: a program is
/// run (and the kernel refuses it), a library is loaded (and the loader says `library_error`).
fn failure(path: &ArchivePath, elf: Option<&ElfInfo>, library_error: &str) -> String {
    if elf.is_some_and(|info| info.is_program(path)) || path.is_within("bin") {
        "running it fails with \"cannot execute binary file: Exec format error\"".to_string()
    } else {
        format!("loading it fails with \"{library_error}\"")
    }
}

pub static BIN001: Rule = Rule {
    code: "BIN001",
    name: "wrong-architecture",
    severity: Severity::Error,
    summary: "ELF machine code for an architecture the layer does not declare",
    explanation: r#"## What it does

Reads the `e_machine` field of every 64-bit ELF file in the layer (found by content, whatever its
name) and reports code for a machine that is not among the layer's architectures: an `aarch64`
`.so` in an `x86_64` layer, an `x86_64` executable in an `arm64` layer, or code for a machine
Lambda does not run at all (RISC-V, POWER, s390x). 32-bit code is BIN003's.

## Why this breaks at run time

The loader refuses a library built for another machine, and says so in the least helpful way:

```
ImportError: /opt/python/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so:
cannot open shared object file: No such file or directory
```

although the file is right there. A program in `bin/` fails with `cannot execute binary file:
Exec format error`. This usually happens when the layer is built on an Apple Silicon Mac or an
arm64 CI runner and deployed to an `x86_64` function (or the reverse).

Files that nothing loads (a folder of prebuilt binaries for another platform that an npm package
chooses from at run time) are skipped; other foreign code that no loader would open is a warning.

## Example

```
python/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so   # ELF, machine aarch64
```

## Fix

Install the packages for the function's architecture, e.g.
`pip install --platform manylinux2014_x86_64 --only-binary=:all: --target python pydantic`, or
`npm install --os=linux --cpu=x64`; or build the layer inside the Lambda build image for the
right architecture; or declare the architecture the code is really for.
"#,
    check: Check::Layer(check_wrong_architecture),
};

fn check_wrong_architecture(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    if context.architectures.is_empty() {
        return;
    }
    for (binary, info) in elfs(context) {
        if !info.is_64
            || info
                .machine
                .arch()
                .is_some_and(|arch| context.architectures.contains(&arch))
        {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let declared: Vec<&str> = context.architectures.iter().map(|a| a.aws_name()).collect();
        let library_error = "cannot open shared object file: No such file or directory";
        let mut error = failure(&binary.path, Some(info), library_error);
        if error.contains(library_error) {
            error.push_str(" although the file exists");
        }
        report.report_as(
            severity,
            binary.path.as_str(),
            format!(
                "{} code in a layer for {}: {error}",
                info.machine.name(),
                declared.join(" and ")
            ),
            reinstall_help(&binary.path, context.architectures[0], context.runtimes),
        );
    }
}

pub static BIN002: Rule = Rule {
    code: "BIN002",
    name: "not-linux-binary",
    severity: Severity::Error,
    summary: "Mach-O or PE (macOS or Windows) code where Linux code is needed",
    explanation: r#"## What it does

Finds macOS (Mach-O, thin or universal) and Windows (PE) code by content and reports it where a
Linux process would load or run it: a `.so`, `.so.N` or `.node` file, anything in `bin/` or
`lib/`. Elsewhere, Mach-O code is a warning: it is never loaded, and usually means the package was
installed on a Mac, so its Linux build is missing. Windows `.exe` and `.dll` files outside `bin/`
and `lib/` are not reported: pip packages carry Windows launchers (`setuptools/cli-64.exe`,
`pip/_vendor/distlib/t64.exe`) that are inert on Linux. A `.pyd` is BIN006's. An ELF file that
cannot be parsed is reported here as a warning where it would be loaded.

## Why this breaks at run time

glibc's loader reads the first bytes and gives up:

```
ImportError: /opt/python/_cffi_backend.so: invalid ELF header
Error: /opt/nodejs/node_modules/sharp/build/Release/sharp.node: invalid ELF header
```

and a Mach-O program in `bin/` fails with `cannot execute binary file: Exec format error`.

## Example

```
nodejs/node_modules/bcrypt/lib/binding/napi-v3/bcrypt_lib.node   # Mach-O 64-bit arm64
```

## Fix

Install the dependencies on Linux, or ask the package manager for the Lambda platform:
`pip install --platform manylinux2014_x86_64 --only-binary=:all: --target python PACKAGE`,
`npm install --os=linux --cpu=x64`. Building the layer inside the Lambda build image
(`sam build --use-container`) avoids the problem altogether.
"#,
    check: Check::Layer(check_not_linux_binary),
};

fn check_not_linux_binary(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for binary in context.binaries {
        let path = &binary.path;
        let kind = match &binary.format {
            BinaryFormat::MachO => "macOS (Mach-O)",
            BinaryFormat::Pe => "Windows (PE)",
            BinaryFormat::Malformed(reason) => {
                if is_loaded(path, None)
                    && severity_at(context, path, None, Severity::Warning).is_some()
                {
                    report.report_as(
                        Severity::Warning,
                        path.as_str(),
                        format!(
                            "starts like ELF but cannot be read ({reason}); loading it would fail \
                             with \"invalid ELF header\" or \"file too short\""
                        ),
                        "replace it with an intact copy (a truncated download or a text file \
                         with an ELF-like start)",
                    );
                }
                continue;
            }
            BinaryFormat::Elf(_) => continue,
        };
        let name = path.file_name();
        if extension::parse(name).is_some_and(|ext| {
            !matches!(ext.target, ExtensionTarget::AnyCPython) && path.is_within("python")
        }) {
            continue; // a tagged or .pyd extension: Python never tries it on Linux (BIN006)
        }
        let loaded = is_loaded(path, None);
        let windows_inert = binary.format == BinaryFormat::Pe
            && [".exe", ".dll"]
                .iter()
                .any(|suffix| name.to_ascii_lowercase().ends_with(suffix));
        if !loaded && windows_inert {
            continue;
        }
        let Some(severity) = severity_at(context, path, None, Severity::Error) else {
            continue;
        };
        let arch = context
            .architectures
            .first()
            .copied()
            .unwrap_or(Arch::X86_64);
        let error = failure(path, None, "invalid ELF header");
        let message = if loaded {
            format!("{kind} code where Linux code is needed: {error}")
        } else {
            format!(
                "{kind} code; nothing on Lambda loads it, which usually means the package was \
                 installed on another OS and its Linux build is missing"
            )
        };
        report.report_as(
            severity,
            path.as_str(),
            message,
            reinstall_help(path, arch, context.runtimes),
        );
    }
}

pub static BIN003: Rule = Rule {
    code: "BIN003",
    name: "elf-32-bit",
    severity: Severity::Error,
    summary: "32-bit ELF code, which a 64-bit Lambda cannot load",
    explanation: r#"## What it does

Reports ELF files of class ELFCLASS32 (i386, 32-bit ARM) where they would be loaded or run
(libraries by name, `bin/`, `lib/`, programs); elsewhere (test fixtures and the like), a warning.

## Why this breaks at run time

Lambda runs 64-bit x86_64 and arm64 only, with no 32-bit libraries. The loader says:

```
OSError: /opt/lib/libfoo.so: wrong ELF class: ELFCLASS32
```

and a 32-bit program in `bin/` fails with `cannot execute binary file: Exec format error` (or
`No such file or directory`, for its missing 32-bit interpreter `/lib/ld-linux.so.2`).

## Example

```
bin/ffmpeg        # ELF 32-bit LSB executable, Intel 80386
```

## Fix

Use the 64-bit build (`x86_64`/`amd64` or `aarch64`/`arm64` downloads, `manylinux2014_x86_64`
wheels), or rebuild it with a 64-bit toolchain.
"#,
    check: Check::Layer(check_elf_32_bit),
};

fn check_elf_32_bit(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (binary, info) in elfs(context) {
        if info.is_64 {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let error = failure(&binary.path, Some(info), "wrong ELF class: ELFCLASS32");
        let arch = context
            .architectures
            .first()
            .copied()
            .unwrap_or(Arch::X86_64);
        report.report_as(
            severity,
            binary.path.as_str(),
            format!(
                "32-bit {} code: Lambda is 64-bit only and {error}",
                info.machine.name()
            ),
            reinstall_help(&binary.path, arch, context.runtimes),
        );
    }
}

pub static BIN004: Rule = Rule {
    code: "BIN004",
    name: "glibc-too-new",
    severity: Severity::Error,
    summary: "code that needs a newer glibc than the runtime's OS has",
    explanation: r#"## What it does

Reads the version needs (`.gnu.version_r`) of every ELF file, takes the highest `GLIBC_x.y` as
auditwheel does, and compares it with the glibc of each runtime that reads the file: Amazon Linux
2 (python3.9–3.11, nodejs18.x, java8.al2/11/17, provided.al2) has glibc 2.26, Amazon Linux 2023
(python3.12+, nodejs20.x+, java21+, provided.al2023) has 2.34. One finding per file names every
runtime that would fail, so a file can pass for python3.12 and fail for python3.11.

## Why this breaks at run time

The loader checks every versioned symbol before running any code:

```
ImportError: /lib64/libc.so.6: version `GLIBC_2.28' not found
(required by /opt/python/cryptography/hazmat/bindings/_rust.abi3.so)
```

Typical causes: a wheel tagged `manylinux_2_28` or newer installed for an Amazon Linux 2 runtime,
or a binary built on a recent Ubuntu or Debian.

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
    for (binary, info) in elfs(context) {
        let Some(needed) = info.glibc else {
            continue;
        };
        if info.musl {
            continue;
        }
        let failing: Vec<&Runtime> = runtimes_reading(&binary.path, context.runtimes)
            .into_iter()
            .filter(|runtime| runtime.os.glibc() < needed)
            .collect();
        if failing.is_empty() {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let oses: Vec<String> = {
            let mut oses: Vec<_> = failing.iter().map(|runtime| runtime.os).collect();
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
                .map(|runtime| runtime.os.glibc())
                .min()
                .unwrap_or(needed)
        ));
        report.report_as(
            severity,
            binary.path.as_str(),
            format!(
                "needs GLIBC_{needed} but {} ({}): loading it fails with \"version `GLIBC_{needed}' not found\"",
                list_runtimes(&failing),
                oses.join(", ")
            ),
            help,
        );
    }
}

pub static BIN005: Rule = Rule {
    code: "BIN005",
    name: "musl-linked",
    severity: Severity::Error,
    summary: "code linked against musl libc, which Lambda does not have",
    explanation: r#"## What it does

Reports ELF files linked against musl libc (Alpine Linux): an interpreter such as
`/lib/ld-musl-x86_64.so.1`, or a needed `libc.musl-x86_64.so.1`. `musllinux` wheels and
`node_modules` installed on Alpine carry such files.

## Why this breaks at run time

Lambda's runtimes are glibc systems with no musl, so a musl extension fails with

```
ImportError: libc.musl-x86_64.so.1: cannot open shared object file: No such file or directory
```

and a musl program in `bin/` fails with the baffling `No such file or directory` (its
interpreter is missing, not the program).

## Example

```
python/orjson/orjson.cpython-312-x86_64-linux-musl.so
```

## Fix

Install the glibc build: `manylinux` wheels rather than `musllinux`
(`pip install --platform manylinux2014_x86_64 --only-binary=:all: ...`), `npm install
--libc=glibc`, or build on a glibc image (the Lambda build images), not Alpine.
"#,
    check: Check::Layer(check_musl_linked),
};

fn check_musl_linked(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (binary, info) in elfs(context) {
        if !info.musl {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let error = if info.is_program(&binary.path) {
            format!(
                "running it fails with \"No such file or directory\" (its interpreter {} does not exist on Lambda)",
                info.interpreter.as_deref().unwrap_or("ld-musl")
            )
        } else {
            let musl_libc = info
                .needed
                .iter()
                .find(|name| name.starts_with("libc.musl-"))
                .cloned()
                .unwrap_or_else(|| "libc.musl".to_string());
            format!(
                "loading it fails with \"{musl_libc}: cannot open shared object file: No such file or directory\""
            )
        };
        let arch = info
            .machine
            .arch()
            .or(context.architectures.first().copied())
            .unwrap_or(Arch::X86_64);
        report.report_as(
            severity,
            binary.path.as_str(),
            format!("linked against musl libc, which Lambda does not have: {error}"),
            format!(
                "{} (a glibc build, not musllinux or Alpine)",
                reinstall_help(&binary.path, arch, context.runtimes)
            ),
        );
    }
}

pub static BIN006: Rule = Rule {
    code: "BIN006",
    name: "cpython-tag-mismatch",
    severity: Severity::Error,
    summary: "a CPython extension whose tag or platform no runtime of the layer loads",
    explanation: r#"## What it does

Reads the file names of Python extension modules under `python/`
(`NAME.cpython-312-x86_64-linux-gnu.so`, `NAME.abi3.so`, `NAME.so`, `NAME.pyd`) and works out,
for every Python runtime that reads the folder and every architecture of the layer, whether
CPython would try any file of that module. Python on Lambda accepts exactly
`.cpython-3XY-<arch>-linux-gnu.so` for its own version and architecture, `.abi3.so` and `.so`.
A module with no file for some runtime/architecture is an error (unless a pure-Python `NAME.py`
or package `NAME/` stands in); a file that no runtime would try while another file serves the
module is a warning (dead weight).

## Why this breaks at run time

Python does not complain about an extension built for another version or platform: it does not
see it. The import fails as if the file were not there:

```
Runtime.ImportModuleError: Unable to import module 'app':
No module named 'pydantic_core._pydantic_core'
```

## Example

```
python/pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so   # layer for python3.12
python/pydantic_core/_pydantic_core.cpython-312-darwin.so              # installed on a Mac
```

## Fix

Install the wheels for the runtime's Python version and platform:
`pip install --platform manylinux2014_x86_64 --python-version 3.12 --only-binary=:all:
--target python PACKAGE` — or build the layer with the runtime's own Python (the Lambda build
image), or set the layer's runtimes to the Python the extensions were built for.
"#,
    check: Check::Layer(check_cpython_tag_mismatch),
};

fn check_cpython_tag_mismatch(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let pythons: Vec<&'static Runtime> = context
        .runtimes
        .iter()
        .copied()
        .filter(|runtime| runtime.family == Family::Python)
        .collect();
    if pythons.is_empty() || context.architectures.is_empty() {
        return;
    }
    // Group extension files by folder and module name: one module, several builds.
    let mut modules: BTreeMap<(&str, String), Vec<(&ArchivePath, ExtensionTarget)>> =
        BTreeMap::new();
    for entry in context.inventory.below("python") {
        if !entry.is_file() {
            continue;
        }
        if let Some(ext) = extension::parse(entry.path.file_name()) {
            modules
                .entry((entry.path.parent(), ext.module))
                .or_default()
                .push((&entry.path, ext.target));
        }
    }
    for ((dir, module), files) in &modules {
        if files
            .iter()
            .all(|(_, target)| *target == ExtensionTarget::AnyCPython)
        {
            continue;
        }
        let readers = runtimes_reading(files[0].0, &pythons);
        let combos: Vec<(&Runtime, Arch)> = readers
            .iter()
            .flat_map(|runtime| {
                context
                    .architectures
                    .iter()
                    .map(move |arch| (*runtime, *arch))
            })
            .collect();
        let has_python_fallback = context
            .inventory
            .get(&format!("{dir}/{module}.py"))
            .is_some()
            || context.inventory.is_dir(&format!("{dir}/{module}"));
        let unserved: Vec<String> = combos
            .iter()
            .filter(|(runtime, arch)| {
                !files
                    .iter()
                    .any(|(_, target)| target.loads_on(runtime, *arch))
            })
            .map(|(runtime, arch)| format!("{runtime} on {arch}"))
            .collect();
        let dotted = dotted_module(files[0].0, module);
        if !unserved.is_empty() && !has_python_fallback {
            let builds: Vec<String> = files
                .iter()
                .map(|(path, target)| {
                    format!("`{}` is for {}", path.file_name(), target.describe())
                })
                .collect();
            let arch = context.architectures[0];
            report.report(
                files[0].0.as_str(),
                format!(
                    "{}; {} skips it and fails with \"No module named '{dotted}'\"",
                    builds.join(", "),
                    unserved.join(", ")
                ),
                reinstall_help(files[0].0, arch, &readers),
            );
            continue;
        }
        for (path, target) in files {
            if combos
                .iter()
                .any(|(runtime, arch)| target.loads_on(runtime, *arch))
            {
                continue;
            }
            report.report_as(
                Severity::Warning,
                path.as_str(),
                format!(
                    "built for {}: no runtime of the layer ever loads it (another build serves `{dotted}`); dead weight",
                    target.describe()
                ),
                "remove it, or install for one Python version and platform only",
            );
        }
    }
}

/// `pydantic_core._pydantic_core` for `python/pydantic_core/_pydantic_core.cpython-…so`.
fn dotted_module(path: &ArchivePath, module: &str) -> String {
    let parent = path.parent();
    let site = placement::owning_package_dir(path).unwrap_or_default();
    let package = parent
        .strip_prefix(site.as_str())
        .unwrap_or(parent)
        .trim_start_matches('/');
    if package.is_empty() {
        module.to_string()
    } else {
        format!("{}.{module}", package.replace('/', "."))
    }
}

pub static BIN007: Rule = Rule {
    code: "BIN007",
    name: "missing-shared-library",
    severity: Severity::Error,
    summary: "a needed shared library found neither in the layer nor in the runtime OS",
    explanation: r#"## What it does

Follows every `DT_NEEDED` entry of every glibc ELF file the way the loader would on Lambda: in
the layer (the file's own folder, its `RPATH`/`RUNPATH` entries with `$ORIGIN` resolved inside
`/opt`, such as `$ORIGIN/../numpy.libs`, and `/opt/lib`, which is on `LD_LIBRARY_PATH`), then in
the runtime's OS (the base library lists of Amazon Linux 2 and 2023 kept in `src/data/`, with
their source) and the runtime's own libraries (`libpython3.12.so.1.0` in `/var/lang/lib`). A
library that is nowhere is an error; one that is in the layer but not on the file's search path is
a warning (it loads only if that copy was loaded first). musl's libc is BIN005's.

The check looks at one layer: a library that another layer of the same function provides in its
`lib/` does satisfy the loader (all layers merge into `/opt`). If your layers are split that way,
check them together (`layerpack check --function ...`) or lower this rule to a warning in
`[lint.severity]` of `layer.toml`.

## Why this breaks at run time

```
ImportError: libGL.so.1: cannot open shared object file: No such file or directory
ImportError: libpq.so.5: cannot open shared object file: No such file or directory
```

Lambda's images are minimal: no X11 or OpenGL, no database client libraries, and Amazon Linux
2023 has no `libcrypt.so.1`.

## Example

```
python/cv2/cv2.abi3.so    # needs libGL.so.1 (opencv-python instead of opencv-python-headless)
```

## Fix

Ship the library in the layer's `lib/` (built for the runtime's OS), or install a build that
bundles it: manylinux wheels repaired by auditwheel carry their libraries in `PACKAGE.libs/`
(e.g. `psycopg2-binary` instead of `psycopg2`, `opencv-python-headless` instead of
`opencv-python`).
"#,
    check: Check::Layer(check_missing_shared_library),
};

fn check_missing_shared_library(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let layer = LayerLibraries::new(context.inventory, context.binaries);
    for (binary, info) in elfs(context) {
        if info.needed.is_empty() {
            continue;
        }
        // Foreign code cannot be loaded at all; other rules say why.
        let foreign = !info.is_64
            || info.musl
            || info
                .machine
                .arch()
                .is_none_or(|arch| !context.architectures.contains(&arch));
        if foreign {
            continue;
        }
        let Some(severity) = severity_at(context, &binary.path, Some(info), Severity::Error) else {
            continue;
        };
        let readers = runtimes_reading(&binary.path, context.runtimes);
        for name in &info.needed {
            if name.contains('/') {
                continue;
            }
            match layer.find(&binary.path, info, name, &readers) {
                Found::Layer(_) => {}
                Found::System { missing_on } if missing_on.is_empty() => {}
                Found::ElsewhereInLayer(elsewhere) => report.report_as(
                    Severity::Warning,
                    binary.path.as_str(),
                    format!(
                        "needs `{name}`, which is in the layer at `{elsewhere}` but not on this file's search path: it loads only if that copy was loaded first, else \"{name}: cannot open shared object file: No such file or directory\""
                    ),
                    format!(
                        "move `{name}` into `lib/` or next to this file, or add its folder to the file's RUNPATH ($ORIGIN-relative)"
                    ),
                ),
                Found::System { missing_on } => {
                    let mut oses: Vec<&str> = missing_on.iter().map(|runtime| runtime.os.name()).collect();
                    oses.dedup();
                    report.report_as(
                        severity,
                        binary.path.as_str(),
                        format!(
                            "needs `{name}`, which is neither in the layer nor on {} ({}): loading it fails with \"{name}: cannot open shared object file: No such file or directory\"",
                            oses.join(" or "),
                            list_runtimes(&missing_on)
                        ),
                        format!(
                            "put `{name}` (built for {}) in the layer's lib/, or install a build of the package that bundles it (a manylinux wheel repaired by auditwheel)",
                            oses.join(" / ")
                        ),
                    );
                }
            }
        }
    }
}

pub static BIN008: Rule = Rule {
    code: "BIN008",
    name: "missing-exec-bit",
    severity: Severity::Error,
    summary: "a command or ELF executable without an execute bit",
    explanation: r#"## What it does

Reports every file directly in `bin/` (which Lambda puts on `PATH`), and every ELF program
anywhere (`ET_EXEC`, or a position-independent executable: `ET_DYN` with an interpreter and no
library name), whose mode has no execute bit. Entries of a zip that record no Unix mode at all
are skipped: nothing can be said about them. The files Lambda starts by itself (`bootstrap`,
`extensions/*`, the exec wrapper) are judged by EXT001 instead.

## Why this breaks at run time

Lambda extracts the layer with the modes the zip records. Running a file without an execute bit
fails:

```
/bin/sh: /opt/bin/jq: Permission denied
[ERROR] PermissionError: [Errno 13] Permission denied: '/opt/bin/ffmpeg'
```

Zips made on Windows, or with tools that drop modes, and files downloaded without `chmod +x`
cause it.

## Example

```
bin/jq      # mode 0644
```

## Fix

`chmod 755 bin/jq` before packing; `layerpack build` keeps the execute bit (normalized to 0755).
"#,
    check: Check::Layer(check_missing_exec_bit),
};

fn check_missing_exec_bit(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let programs: BTreeMap<&str, bool> = elfs(context)
        .map(|(binary, info)| (binary.path.as_str(), info.is_program(&binary.path)))
        .collect();
    // What Lambda starts by itself is EXT001's to report, in the terms of its launch error.
    let started: BTreeSet<&str> = crate::entrypoint::layer_entry_points(
        context.inventory,
        context.runtimes,
        context.exec_wrapper,
    )
    .iter()
    .filter_map(|point| point.target)
    .map(|target| target.path.as_str())
    .collect();
    for entry in context.inventory.files() {
        let in_bin = entry.path.parent() == "bin";
        let program = programs.get(entry.path.as_str()).copied().unwrap_or(false);
        if !(in_bin || program) || started.contains(entry.path.as_str()) {
            continue;
        }
        let Some(mode) = entry.mode else {
            continue;
        };
        if mode & 0o111 != 0 {
            continue;
        }
        let what = if program {
            "an ELF program"
        } else {
            "a command on PATH"
        };
        report.report(
            entry.path.as_str(),
            format!(
                "{what} with mode {mode:04o} (no execute bit): running it fails with \"Permission denied\" (EACCES)"
            ),
            format!(
                "chmod 755 {} before packing; layerpack build keeps the execute bit",
                entry.path
            ),
        );
    }
}
