//! `BIN006` cpython-tag-mismatch: a CPython extension whose tag or platform no runtime of the layer loads.
//!
//! The rule, its explanation (printed by `layerpack rule BIN006`) and its check.

use crate::domain::extension::ExtensionTarget;
use crate::domain::placement::{reinstall_help, runtimes_reading};
use crate::finding::{Code, Severity};
use crate::inventory::ArchivePath;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::{Arch, Family, Runtime};
use std::collections::BTreeMap;

pub(crate) static BIN006: Rule = Rule {
    code: Code::BIN006,
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
or a folder `NAME/` with Python code stands in; a folder of `.pyi` type stubs is no build); a file that no runtime would try while another file serves the
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
        if let Some(ext) = crate::domain::extension::parse(entry.path.file_name()) {
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
        // Pure Python that stands in: `module.py`, or a folder `module/` with Python code. A
        // folder of type stubs (`.pyi`) is a namespace package without the module's names,
        // not a build.
        let module_py = format!("{dir}/{module}.py");
        let module_dir = format!("{dir}/{module}");
        let fallback = if context.inventory.get(&module_py).is_some() {
            Some(format!("the pure-Python `{module}.py`"))
        } else if context.inventory.is_dir(&module_dir)
            && context
                .inventory
                .below(&module_dir)
                .iter()
                .any(|entry| entry.is_file() && entry.path.file_name().ends_with(".py"))
        {
            Some(format!("the package `{module}/`"))
        } else {
            None
        };
        let stub_folder = fallback.is_none() && context.inventory.is_dir(&module_dir);
        let has_python_fallback = fallback.is_some();
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
                    "{}; {} skips it and fails with \"No module named '{dotted}'\"{}",
                    builds.join(", "),
                    unserved.join(", "),
                    if stub_folder {
                        format!(" (the folder `{module}/` beside it holds no Python code, only type stubs or data: it is not a build, and `from .{module} import ...` fails with \"unknown location\")")
                    } else {
                        String::new()
                    }
                ),
                reinstall_help(files[0].0, arch, &readers),
            );
            continue;
        }
        let served_by = if files.iter().any(|(_, target)| {
            combos
                .iter()
                .any(|(runtime, arch)| target.loads_on(runtime, *arch))
        }) {
            "another build".to_string()
        } else {
            fallback.unwrap_or_else(|| "another build".to_string())
        };
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
                    "built for {}: no runtime of the layer ever loads it ({served_by} serves `{dotted}`); dead weight",
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
    let site = crate::domain::placement::owning_package_dir(path).unwrap_or_default();
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
