//! Stack rules (`STK`): a function together with its ordered layers.
//!
//! Lambda merges the layers into `/opt` in attachment order and adds the function's code at
//! `/var/task`; these rules judge what only the whole stack shows: the layer count and combined
//! size quotas, files one layer silently replaces in another, function packages that shadow a
//! layer's, and layers declared for another runtime or architecture.

use std::collections::BTreeMap;

use crate::finding::Severity;
use crate::inventory::{Entry, Inventory};
use crate::lint::{Reporter, StackContext};
use crate::rules::binary::placement::package_root;
use crate::rules::{Check, Rule};
use crate::runtime::{Family, limits};

pub static STK001: Rule = Rule {
    code: "STK001",
    name: "too-many-layers",
    severity: Severity::Error,
    summary: "more than 5 layers attached to one function",
    explanation: r#"## What it does

Counts the layers attached to the function and reports when there are more than 5.

## Why this breaks at run time

Lambda refuses the configuration before anything runs; the deployment fails with:

```
InvalidParameterValueException: Cannot reference more than 5 layers.
```

## Example

```toml
[function.api]
runtime = "python3.12"
layers = ["numpy", "pandas", "requests", "otel", "auth", "utils"]
```

## Fix

Merge layers that always travel together into one (`[[layer.NAME.source]]` can take several
folders), or move small libraries into the function's own code.
"#,
    check: Check::Stack(check_too_many_layers),
};

fn check_too_many_layers(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let count = context.layers.len();
    if count > limits::LAYERS_PER_FUNCTION {
        let names: Vec<&str> = context
            .layers
            .iter()
            .map(|layer| layer.name.as_str())
            .collect();
        report.report(
            "",
            format!(
                "{count} layers attached ({}); Lambda allows {}: deploying fails with \"Cannot reference more than {} layers\"",
                names.join(", "),
                limits::LAYERS_PER_FUNCTION,
                limits::LAYERS_PER_FUNCTION
            ),
            "merge layers that are always used together, or move small libraries into the function's code",
        );
    }
}

pub static STK002: Rule = Rule {
    code: "STK002",
    name: "stack-over-quota",
    severity: Severity::Error,
    summary: "function plus layers over 250 MiB unzipped",
    explanation: r#"## What it does

Adds the unzipped size of the function's code and of every attached layer and reports when
the sum is over 262,144,000 bytes (250 MiB as Lambda counts it), listing the largest
contributors.

## Why this breaks at run time

Lambda checks the quota when the function is created or updated:

```
InvalidParameterValueException: Function code combined with layers exceeds the maximum
allowed size of 262144000 bytes.
```

## Example

A 180 MB function package with a 100 MB layer.

## Fix

Drop what the code does not import (tests, docs, `.pyc` caches, duplicate binaries), strip
debug symbols from native libraries, or move to a container image (10 GB).
"#,
    check: Check::Stack(check_stack_over_quota),
};

fn check_stack_over_quota(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let mut parts: Vec<(String, u64)> = Vec::new();
    if let Some(function) = context.function {
        parts.push(("function code".to_string(), function.unzipped_bytes()));
    }
    for layer in context.layers {
        parts.push((
            format!("layer `{}`", layer.name),
            layer.inventory.unzipped_bytes(),
        ));
    }
    let total: u64 = parts.iter().map(|(_, bytes)| bytes).sum();
    if total <= limits::UNZIPPED_BYTES {
        return;
    }
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let largest: Vec<String> = parts
        .iter()
        .take(3)
        .map(|(name, bytes)| format!("{name} {bytes} bytes"))
        .collect();
    report.report(
        "",
        format!(
            "function and layers together are {total} bytes unzipped, over Lambda's {} (largest: {}): deploying fails with \"Function code combined with layers exceeds the maximum allowed size of {} bytes\"",
            limits::UNZIPPED_BYTES,
            largest.join(", "),
            limits::UNZIPPED_BYTES
        ),
        "drop files the code never loads from the largest contributors, or move to a container image",
    );
}

pub static STK003: Rule = Rule {
    code: "STK003",
    name: "file-replaced-by-later-layer",
    severity: Severity::Warning,
    summary: "a file that a later layer replaces",
    explanation: r#"## What it does

Finds paths that two attached layers both hold with different content. Layers are extracted
into `/opt` in attachment order, and the later layer's file replaces the earlier one's. When a
package's files are replaced, one finding names the package folder and counts the files.
Identical files are not reported.

## Why this breaks at run time

Nothing fails at the moment of replacement; the function runs with a mix of two versions of a
package: the later layer's `__init__.py` with the earlier layer's extension modules, for example.
The errors that follow look unrelated:

```
ImportError: cannot import name 'X' from partially initialized module 'pkg'
AttributeError: module 'pkg' has no attribute 'Y'
```

AWS documents the merge order, but not which file wins, so relying on it is fragile.

## Example

```
layer 1 (requests-layer): python/urllib3/__init__.py   (urllib3 1.26)
layer 2 (boto-layer):     python/urllib3/__init__.py   (urllib3 2.2)
```

## Fix

Keep each package in one layer only: remove it from one of them, or build both from one lock
file so they ship the same version.
"#,
    check: Check::Stack(check_file_replaced_by_later_layer),
};

/// True when two entries hold different bytes (sizes, then zip CRCs, then the bytes).
fn differs(a_inventory: &Inventory, a: &Entry, b_inventory: &Inventory, b: &Entry) -> bool {
    if a.size != b.size {
        return true;
    }
    if let (Some(a_crc), Some(b_crc)) = (a_inventory.zip_crc32(a), b_inventory.zip_crc32(b)) {
        return a_crc != b_crc;
    }
    match (a_inventory.read(a), b_inventory.read(b)) {
        (Ok(a_bytes), Ok(b_bytes)) => a_bytes != b_bytes,
        _ => false,
    }
}

fn check_file_replaced_by_later_layer(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    // (earlier, later, folder) -> replaced file paths
    let mut groups: BTreeMap<(usize, usize, String), Vec<String>> = BTreeMap::new();
    for (later_index, later) in context.layers.iter().enumerate() {
        for entry in later.inventory.files() {
            for (earlier_index, earlier) in context.layers[..later_index].iter().enumerate() {
                let Some(old) = earlier.inventory.get(entry.path.as_str()) else {
                    continue;
                };
                if old.is_dir() || !differs(earlier.inventory, old, later.inventory, entry) {
                    continue;
                }
                let folder =
                    package_root(&entry.path).unwrap_or_else(|| entry.path.parent().to_string());
                groups
                    .entry((earlier_index, later_index, folder))
                    .or_default()
                    .push(entry.path.as_str().to_string());
            }
        }
    }
    for ((earlier_index, later_index, folder), files) in groups {
        let earlier = &context.layers[earlier_index];
        let later = &context.layers[later_index];
        let help = "keep each package in one layer only, or build both layers from one lock file so they ship the same version";
        if files.len() == 1 {
            report.report_for(
                &later.name,
                files[0].clone(),
                format!(
                    "replaces `{}` of layer `{}` (attached before it, different content): the function sees only this layer's copy",
                    files[0], earlier.name
                ),
                help,
            );
            continue;
        }
        let total = earlier
            .inventory
            .below(&folder)
            .iter()
            .filter(|entry| entry.is_file())
            .count();
        let whole = if files.len() == total {
            " (the whole folder)"
        } else {
            ""
        };
        report.report_for(
            &later.name,
            folder.clone(),
            format!(
                "replaces {} of the {total} files of layer `{}` under `{folder}`{whole} with different content (first: `{}`): the function runs with a mix of both layers' copies",
                files.len(),
                earlier.name,
                files[0]
            ),
            help,
        );
    }
}

pub static STK004: Rule = Rule {
    code: "STK004",
    name: "function-shadows-layer-package",
    severity: Severity::Info,
    summary: "a package in the function code that shadows the same package in a layer",
    explanation: r#"## What it does

Finds Python packages (or modules) at the root of the function's code, and Node.js packages in
its `node_modules/`, that a layer also provides, and says which version wins: `/var/task` comes
before `/opt/python...` on `sys.path`, and Node.js finds `/var/task/node_modules` (the walk from
the handler) before `NODE_PATH`.

## Why this breaks at run time

Nothing fails by itself; but the layer's copy is never used, so updating the layer changes
nothing, and a layer package that needs a newer version of the shadowed one fails, e.g.:

```
ImportError: cannot import name 'X' from 'requests' (/var/task/requests/__init__.py)
```

## Example

```
function.zip: requests/__init__.py          (requests-2.25.1.dist-info)
layer:        python/requests/__init__.py   (requests-2.32.3.dist-info)
```

## Fix

Remove the package from the function's code when the layer should provide it (e.g. install the
function's dependencies without those the layers carry), or drop it from the layer.
"#,
    check: Check::Stack(check_function_shadows_layer_package),
};

/// The version a `NAME-VERSION.dist-info` folder in `dir` records for `name`.
fn dist_info_version(inventory: &Inventory, dir: &str, name: &str) -> Option<String> {
    let wanted = name.to_lowercase().replace('-', "_");
    inventory.children(dir).find_map(|entry| {
        let folder = entry.path.file_name().strip_suffix(".dist-info")?;
        let (project, version) = folder.split_once('-')?;
        (project.to_lowercase().replace('-', "_") == wanted).then(|| version.to_string())
    })
}

/// The `version` of a Node package's `package.json`.
fn package_version(inventory: &Inventory, dir: &str) -> Option<String> {
    let entry = inventory.get(&format!("{dir}/package.json"))?;
    let bytes = inventory.read(entry).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json.get("version")?.as_str().map(str::to_string)
}

fn check_function_shadows_layer_package(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let Some(function) = context.function else {
        return;
    };
    let runtime = context.runtime;
    let describe =
        |version: Option<String>| version.map_or(String::new(), |version| format!(" {version}"));
    match runtime.family {
        Family::Python => {
            let mut names: Vec<(String, bool)> = Vec::new();
            for entry in function.children("") {
                let name = entry.path.file_name();
                if entry.is_dir() && function.get(&format!("{name}/__init__.py")).is_some() {
                    names.push((name.to_string(), true));
                } else if let Some(module) = name.strip_suffix(".py") {
                    names.push((module.to_string(), false));
                }
            }
            for (name, is_package) in names {
                for layer in context.layers {
                    for dir in runtime.package_dirs() {
                        let layer_path = if is_package {
                            format!("{dir}/{name}/__init__.py")
                        } else {
                            format!("{dir}/{name}.py")
                        };
                        if layer.inventory.get(&layer_path).is_none() {
                            continue;
                        }
                        let function_version = describe(dist_info_version(function, "", &name));
                        let layer_version =
                            describe(dist_info_version(layer.inventory, &dir, &name));
                        let function_path = if is_package {
                            name.clone()
                        } else {
                            format!("{name}.py")
                        };
                        report.report(
                            function_path.clone(),
                            format!(
                                "`{name}`{function_version} in the function code shadows `{name}`{layer_version} of layer `{}` (/opt/{}): /var/task comes first on sys.path, so the function's copy wins and the layer's is never imported",
                                layer.name,
                                layer_path.trim_end_matches("/__init__.py")
                            ),
                            format!("remove `{function_path}` from the function's code if the layer should provide it, or drop it from the layer"),
                        );
                    }
                }
            }
        }
        Family::Nodejs => {
            let mut packages: Vec<String> = Vec::new();
            for entry in function.children("node_modules") {
                let name = entry.path.file_name();
                if name.starts_with('@') {
                    packages.extend(
                        function
                            .children(entry.path.as_str())
                            .map(|scoped| format!("{name}/{}", scoped.path.file_name())),
                    );
                } else if !name.starts_with('.') {
                    packages.push(name.to_string());
                }
            }
            for package in packages {
                let function_dir = format!("node_modules/{package}");
                for layer in context.layers {
                    for dir in runtime.package_dirs() {
                        let layer_dir = format!("{dir}/{package}");
                        if layer
                            .inventory
                            .get(&format!("{layer_dir}/package.json"))
                            .is_none()
                        {
                            continue;
                        }
                        let function_version = describe(package_version(function, &function_dir));
                        let layer_version = describe(package_version(layer.inventory, &layer_dir));
                        report.report(
                            function_dir.clone(),
                            format!(
                                "`{package}`{function_version} in the function code shadows `{package}`{layer_version} of layer `{}` (/opt/{layer_dir}): require() walks /var/task/node_modules before NODE_PATH, so the function's copy wins",
                                layer.name
                            ),
                            format!("remove `{function_dir}` from the function's code if the layer should provide it, or drop it from the layer"),
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

pub static STK005: Rule = Rule {
    code: "STK005",
    name: "layer-incompatible-with-function",
    severity: Severity::Error,
    summary: "a layer whose runtimes or architectures do not include the function's",
    explanation: r#"## What it does

Compares the runtimes and architectures each layer declares (in `layer.toml`) with the
function's runtime and architecture. A layer that declares none is not judged.

## Why this breaks at run time

A layer version published with `CompatibleRuntimes`/`CompatibleArchitectures` that exclude the
function's cannot be attached:

```
InvalidParameterValueException: Layer version arn:aws:lambda:...:layer:numpy:3 is not
compatible with the function's runtime (python3.12) / architecture (arm64)
```

and when the declaration is skipped, the layer's code was built for another runtime: its
packages sit in a folder the runtime does not read, or its binaries do not load.

## Example

```toml
[layer.numpy]
runtimes = ["python3.11"]
architectures = ["x86_64"]

[function.api]
runtime = "python3.12"
architecture = "arm64"
layers = ["numpy"]
```

## Fix

Build the layer for the function's runtime and architecture (and declare them), or run the
function on a runtime and architecture the layer supports.
"#,
    check: Check::Stack(check_layer_incompatible_with_function),
};

fn check_layer_incompatible_with_function(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    for layer in context.layers {
        if !layer.runtimes.is_empty() && !layer.runtimes.contains(&context.runtime) {
            let ids: Vec<&str> = layer.runtimes.iter().map(|runtime| runtime.id).collect();
            report.report_for(
                &layer.name,
                "",
                format!(
                    "declares runtimes {} but the function runs {}: Lambda refuses to attach it, and its content is laid out for another runtime",
                    ids.join(", "),
                    context.runtime.id
                ),
                format!("build the layer for {} too (add it to `runtimes`), or change the function's runtime", context.runtime.id),
            );
        }
        if !layer.architectures.is_empty() && !layer.architectures.contains(&context.arch) {
            let names: Vec<&str> = layer
                .architectures
                .iter()
                .map(|arch| arch.aws_name())
                .collect();
            report.report_for(
                &layer.name,
                "",
                format!(
                    "declares architectures {} but the function runs on {}: Lambda refuses to attach it, and its native code would not load",
                    names.join(", "),
                    context.arch
                ),
                format!("build the layer for {} too, or run the function on {}", context.arch, names.join(" or ")),
            );
        }
    }
}
