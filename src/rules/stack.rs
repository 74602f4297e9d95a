//! Stack rules (`STK`): a function together with its ordered layers.
//!
//! Lambda extracts the layers into `/opt` in attachment order and the function into `/var/task`;
//! these rules look at what only the combination shows: counts and sizes against the quotas,
//! files a later layer overwrites, packages the function shadows, and declared runtimes or
//! architectures that exclude the function's.

use std::collections::BTreeMap;

use crate::finding::Severity;
use crate::inventory::{ArchivePath, Entry, Inventory};
use crate::lint::{Reporter, StackContext, StackLayer};
use crate::rules::binary::placement::package_root;
use crate::rules::{Check, Rule};
use crate::runtime::{Family, limits};

pub static STK001: Rule = Rule {
    code: "STK001",
    name: "too-many-layers",
    severity: Severity::Error,
    summary: "more than 5 layers attached to one function",
    explanation: r#"## What it does

Counts the layers attached to a function.

## Why this breaks at run time

Lambda takes at most 5 layers per function. Deploying a sixth fails before anything runs:
`InvalidParameterValueException: Layers ... exceeds the maximum number of layers (5)` from
`UpdateFunctionConfiguration`, or a failed CloudFormation/SAM/CDK deployment.

## Example

A function with a logging layer, a metrics layer, a tracing extension, two dependency layers and a
shared-utils layer: six.

## Fix

Merge layers that are always deployed together (one `layer.toml` layer can take several sources),
or move dependencies into the function package or a container image.
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
                "{count} layers are attached ({}); Lambda allows at most {} per function and \
                 refuses the deployment",
                names.join(", "),
                limits::LAYERS_PER_FUNCTION
            ),
            "merge layers that ship together into one, or move dependencies into the function package",
        );
    }
}

pub static STK002: Rule = Rule {
    code: "STK002",
    name: "stack-over-quota",
    severity: Severity::Error,
    summary: "function plus layers over 250 MiB unzipped",
    explanation: r#"## What it does

Adds the unzipped size of the function's code and of every attached layer, as Lambda counts it,
and compares the total with the 250 MiB (262,144,000 bytes) quota. Lists the contributions by
layer, largest first.

## Why this breaks at run time

Each layer can be fine on its own and the deployment still fails:
`InvalidParameterValueException: Function code combined with layers exceeds the maximum allowed
size of 262144000 bytes. The actual size is 281472371 bytes.`

## Example

A 180 MiB data-science layer and a 90 MiB pyarrow layer attached to one function.

## Fix

Leave out what the function does not import (tests, docs, stubs: see `.layerignore.example`),
share one copy of a library instead of two, or move to a container image (10 GB).
"#,
    check: Check::Stack(check_stack_over_quota),
};

fn check_stack_over_quota(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let mut parts: Vec<(String, u64)> = context
        .layers
        .iter()
        .map(|layer| {
            (
                format!("layer {}", layer.name),
                layer.inventory.unzipped_bytes(),
            )
        })
        .collect();
    if let Some(function) = context.function {
        parts.push(("function code".to_string(), function.unzipped_bytes()));
    }
    let total: u64 = parts.iter().map(|(_, bytes)| bytes).sum();
    if total < limits::UNZIPPED_BYTES {
        return;
    }
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let listing: Vec<String> = parts
        .iter()
        .map(|(name, bytes)| format!("{name} {}", mib(*bytes)))
        .collect();
    report.report(
        "",
        format!(
            "function and layers take {} unzipped ({total} bytes); Lambda refuses more than {} \
             bytes: {}",
            mib(total),
            limits::UNZIPPED_BYTES,
            listing.join(", ")
        ),
        "trim the largest contributors (tests, docs, duplicate libraries) or use a container image",
    );
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub static STK003: Rule = Rule {
    code: "STK003",
    name: "file-replaced-by-later-layer",
    severity: Severity::Warning,
    summary: "a file that a later layer replaces",
    explanation: r#"## What it does

Finds files that two attached layers both put at the same path in `/opt` with different content,
and names both layers. Files are grouped by package, so a whole library that two layers ship is
one finding.

## Why this breaks at run time

Layers are extracted into `/opt` in attachment order, and users consistently see the later layer's
file win (AWS documents the order, not the overwrite). The earlier layer's code then runs against
files it was never tested with: `ImportError: cannot import name 'X' from 'requests'`, or a
version mismatch between a package and its own native extension.

## Example

Layer 1 ships `python/requests` 2.31; layer 3 ships `python/requests` 2.28 as a dependency of
something else. Every function with both layers imports 2.28.

## Fix

Ship each library in one layer only (leave it out of the other with `ignore`), or attach the
layers in the order that gives the version you want and pin the same version in both.
"#,
    check: Check::Stack(check_file_replaced),
};

fn check_file_replaced(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    // Latest owner of each file so far: (layer index, entry).
    let mut owners: BTreeMap<&str, (usize, &Entry)> = BTreeMap::new();
    // (earlier, later, group) → (replaced files, one example path).
    let mut groups: BTreeMap<(usize, usize, String), (usize, String)> = BTreeMap::new();
    for (index, layer) in context.layers.iter().enumerate() {
        for entry in layer.inventory.files() {
            let path = entry.path.as_str();
            if let Some(&(earlier, earlier_entry)) = owners.get(path)
                && !same_content(&context.layers[earlier], earlier_entry, layer, entry)
            {
                let group =
                    package_root(&entry.path).unwrap_or_else(|| entry.path.parent().to_string());
                let slot = groups
                    .entry((earlier, index, group))
                    .or_insert_with(|| (0, path.to_string()));
                slot.0 += 1;
            }
            owners.insert(path, (index, entry));
        }
    }
    for ((earlier, later, group), (count, example)) in groups {
        let earlier_name = &context.layers[earlier].name;
        let later_name = &context.layers[later].name;
        let what = if count == 1 {
            format!("/opt/{example}")
        } else {
            format!("{count} files under /opt/{group} (e.g. /opt/{example})")
        };
        report.report_for(
            later_name,
            if group.is_empty() {
                example.clone()
            } else {
                group.clone()
            },
            format!(
                "{what} from layer {earlier_name} (#{}) {} replaced by layer {later_name} (#{}), \
                 attached later; code from {earlier_name} runs against {later_name}'s files",
                earlier + 1,
                if count == 1 { "is" } else { "are" },
                later + 1
            ),
            "ship it in one layer only, or pin the same version in both",
        );
    }
}

/// True when two layers' files at one path hold the same bytes (then replacing is harmless).
fn same_content(first: &StackLayer<'_>, a: &Entry, second: &StackLayer<'_>, b: &Entry) -> bool {
    if a.size != b.size {
        return false;
    }
    if let (Some(crc_a), Some(crc_b)) =
        (first.inventory.zip_crc32(a), second.inventory.zip_crc32(b))
    {
        return crc_a == crc_b;
    }
    match (first.inventory.open(a), second.inventory.open(b)) {
        (Ok(reader_a), Ok(reader_b)) => same_stream(reader_a, reader_b).unwrap_or(false),
        _ => false,
    }
}

/// Compares two streams chunk by chunk, holding neither whole.
fn same_stream(mut a: impl std::io::Read, mut b: impl std::io::Read) -> std::io::Result<bool> {
    let mut buffer_a = vec![0u8; 1 << 16];
    let mut buffer_b = vec![0u8; 1 << 16];
    loop {
        let read = fill(&mut a, &mut buffer_a)?;
        if read != fill(&mut b, &mut buffer_b)? || buffer_a[..read] != buffer_b[..read] {
            return Ok(false);
        }
        if read == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buffer` is full or the stream ends.
fn fill(reader: &mut impl std::io::Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}

pub static STK004: Rule = Rule {
    code: "STK004",
    name: "function-shadows-layer-package",
    severity: Severity::Info,
    summary: "a package in the function code that shadows the same package in a layer",
    explanation: r#"## What it does

Finds Python packages and modules, and Node.js packages, that the function's own code ships and a
layer ships too, and says which copy (and version, when the metadata shows it) the runtime loads.

## Why this breaks at run time

The function's folder `/var/task` comes first: it is the first entry of Python's `sys.path`, and
Node.js looks in `/var/task/node_modules` before `NODE_PATH`. The layer's copy is never imported.
That is often intended (a newer version for one function), but it also explains "I updated the
layer and nothing changed", and a function copy that is older than the layer's.

## Example

The function's zip contains `requests/` (2.25.1, vendored long ago) and the shared layer ships
`python/requests` 2.32.3: the function keeps importing 2.25.1.

## Fix

Remove the package from the function's code to use the layer's, or remove it from the layer if
each function should bring its own.
"#,
    check: Check::Stack(check_function_shadows),
};

fn check_function_shadows(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let Some(function) = context.function else {
        return;
    };
    let runtime = context.runtime;
    let (function_dirs, layer_dirs): (Vec<String>, Vec<String>) = match runtime.family {
        Family::Python => (vec![String::new()], runtime.package_dirs()),
        Family::Nodejs => (vec!["node_modules".to_string()], runtime.package_dirs()),
        _ => return,
    };
    let function_packages = packages(function, &function_dirs, runtime.family);
    for layer in context.layers {
        let layer_packages = packages(layer.inventory, &layer_dirs, runtime.family);
        for (name, function_package) in &function_packages {
            let Some(layer_package) = layer_packages.get(name) else {
                continue;
            };
            let describe = |package: &Package| match &package.version {
                Some(version) => format!("{name} {version}"),
                None => name.clone(),
            };
            report.report_for(
                &layer.name,
                layer_package.path.clone(),
                format!(
                    "the function's own {} (/var/task/{}) shadows layer {}'s {} (/opt/{}): \
                     /var/task comes first, so the function's copy is the one {} loads",
                    describe(function_package),
                    function_package.path,
                    layer.name,
                    describe(layer_package),
                    layer_package.path,
                    runtime.id
                ),
                "remove one of the two copies so it is clear which one runs",
            );
        }
    }
}

/// A package found in a folder, with its version when metadata says it.
struct Package {
    path: String,
    version: Option<String>,
}

/// Top-level Python packages and modules, or Node.js packages, in the given folders (the first
/// folder that has a name wins, as in the runtime's lookup).
fn packages(inventory: &Inventory, dirs: &[String], family: Family) -> BTreeMap<String, Package> {
    let mut found = BTreeMap::new();
    for dir in dirs {
        if !dir.is_empty() && !inventory.is_dir(dir) {
            continue;
        }
        for entry in inventory.children(dir) {
            let name = entry.path.file_name();
            let package = match family {
                Family::Python => python_package(inventory, dir, entry),
                _ if name.starts_with('@') && entry.is_dir() => {
                    for scoped in inventory.children(entry.path.as_str()) {
                        if let Some(package) = node_package(inventory, scoped) {
                            let key = format!("{name}/{}", scoped.path.file_name());
                            found.entry(key).or_insert(package);
                        }
                    }
                    None
                }
                _ => node_package(inventory, entry),
            };
            if let Some((key, package)) = package.map(|package| (import_name(name), package)) {
                found.entry(key).or_insert(package);
            }
        }
    }
    found
}

fn import_name(file_name: &str) -> String {
    file_name
        .strip_suffix(".py")
        .unwrap_or(file_name)
        .to_string()
}

fn python_package(inventory: &Inventory, dir: &str, entry: &Entry) -> Option<Package> {
    let name = entry.path.file_name();
    let is_package = entry.is_dir()
        && !name.contains('.')
        && name != "__pycache__"
        && inventory
            .children(entry.path.as_str())
            .any(|child| child.path.file_name().ends_with(".py"));
    let is_module = entry.is_file() && name.ends_with(".py") && name != "__init__.py";
    if !(is_package || is_module) {
        return None;
    }
    let wanted = crate::rules::hygiene::normalize_distribution_name(&import_name(name));
    let version = inventory.children(dir).find_map(|sibling| {
        let folder = sibling.path.file_name().strip_suffix(".dist-info")?;
        let (distribution, version) = folder.rsplit_once('-')?;
        (crate::rules::hygiene::normalize_distribution_name(distribution) == wanted)
            .then(|| version.to_string())
    });
    Some(Package {
        path: entry.path.as_str().to_string(),
        version,
    })
}

fn node_package(inventory: &Inventory, entry: &Entry) -> Option<Package> {
    if !entry.is_dir() || entry.path.file_name().starts_with('.') {
        return None;
    }
    let manifest = ArchivePath::new(&format!("{}/package.json", entry.path)).ok()?;
    let manifest = inventory.get(manifest.as_str())?;
    let version = inventory
        .read_capped(manifest, 8 << 20)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|value| value["version"].as_str().map(str::to_string));
    Some(Package {
        path: entry.path.as_str().to_string(),
        version,
    })
}

pub static STK005: Rule = Rule {
    code: "STK005",
    name: "layer-incompatible-with-function",
    severity: Severity::Error,
    summary: "a layer whose runtimes or architectures do not include the function's",
    explanation: r#"## What it does

Compares the runtimes and architectures each layer declares (in `layer.toml`, or in the manifest
`layerpack build` writes beside a zip) with the function's runtime and architecture.

## Why this breaks at run time

Lambda lets you attach the layer anyway; the mismatch shows up later. A layer built for
python3.11 keeps its packages in `python/lib/python3.11/site-packages`, which python3.12 never
searches: `Runtime.ImportModuleError: No module named 'pydantic'`. A layer built for x86_64 carries
x86_64 native code that an arm64 function cannot load: `cannot open shared object file: No such
file or directory`, although the file is there.

## Example

`layer.toml` declares `architectures = ["x86_64"]` for a layer, and the function it is attached
to runs on `arm64` (Graviton).

## Fix

Build the layer for the function's runtime and architecture (and declare both), or attach the
variant of the layer that matches.
"#,
    check: Check::Stack(check_layer_incompatible),
};

fn check_layer_incompatible(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    for layer in context.layers {
        if !layer.runtimes.is_empty() && !layer.runtimes.contains(&context.runtime) {
            let declared: Vec<&str> = layer.runtimes.iter().map(|runtime| runtime.id).collect();
            report.report_for(
                &layer.name,
                "",
                format!(
                    "layer {} is declared for {}, but the function runs {}: what it keeps in \
                     version-specific folders is invisible, and its native code may not load",
                    layer.name,
                    declared.join(", "),
                    context.runtime.id
                ),
                format!(
                    "build the layer for {} too (add it to `runtimes`), or attach a matching layer",
                    context.runtime.id
                ),
            );
        }
        if !layer.architectures.is_empty() && !layer.architectures.contains(&context.arch) {
            let declared: Vec<&str> = layer
                .architectures
                .iter()
                .map(|arch| arch.aws_name())
                .collect();
            report.report_for(
                &layer.name,
                "",
                format!(
                    "layer {} is declared for {}, but the function runs on {}: its native code \
                     fails with \"cannot open shared object file: No such file or directory\"",
                    layer.name,
                    declared.join(", "),
                    context.arch
                ),
                format!(
                    "build the layer's native dependencies for {} and declare it in `architectures`",
                    context.arch
                ),
            );
        }
    }
}
