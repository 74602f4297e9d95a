//! `HYG006` duplicate-distribution: two versions of one Python distribution or npm package side by side.
//!
//! The rule, its explanation (printed by `layerpack rule HYG006`) and its check.

use crate::domain::distribution::normalize_distribution_name;
use crate::finding::{Code, Severity};
use crate::inventory::{Entry, Inventory};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::{Family, RUNTIMES};
use std::collections::BTreeMap;

pub(crate) static HYG006: Rule = Rule {
    code: Code::HYG006,
    name: "duplicate-distribution",
    severity: Severity::Warning,
    summary: "two versions of one Python distribution or npm package side by side",
    explanation: r#"## What it does

Finds two installs of one package that were mixed into one layer:

- two `*.dist-info` (or `*.egg-info`) folders in one folder for the same distribution name
  (compared as PEP 503 normalizes names: `Typing_Extensions` is `typing-extensions`);
- one npm package installed with different versions in `nodejs/node_modules/` and in a
  `nodejs/nodeNN/node_modules/` folder.

## Why this breaks at run time

Two `pip install --target` runs into the same folder leave the files of both versions mixed in
one package folder: modules of the old version that the new one deleted stay importable,
`importlib.metadata.version()` answers with whichever `dist-info` it meets first, and a compiled
extension can belong to the other version than the Python code beside it:

```
ImportError: cannot import name 'Self' from 'typing_extensions'
```

For npm, Node.js 20 finds `nodejs/node20/node_modules/x` first and every other version finds
`nodejs/node_modules/x`, so the same layer runs different code on different runtimes.

## Example

```
python/requests-2.31.0.dist-info/
python/requests-2.32.3.dist-info/
```

## Fix

Install into an empty folder in one `pip install` (or `npm ci`) run; keep one version of each
package.
"#,
    check: Check::Layer(check_duplicate_distribution),
};

/// `("requests", "2.31.0")` for `requests-2.31.0.dist-info`.
fn split_distribution(folder_name: &str) -> Option<(&str, &str)> {
    let stem = folder_name
        .strip_suffix(".dist-info")
        .or_else(|| folder_name.strip_suffix(".egg-info"))?;
    Some(stem.split_once('-').unwrap_or((stem, "")))
}

fn check_duplicate_distribution(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    // Python: metadata folders grouped by their folder and normalized name.
    let mut installs: BTreeMap<(&str, String), Vec<&Entry>> = BTreeMap::new();
    for entry in inventory.entries().iter().filter(|entry| entry.is_dir()) {
        if let Some((name, _)) = split_distribution(entry.path.file_name()) {
            installs
                .entry((entry.path.parent(), normalize_distribution_name(name)))
                .or_default()
                .push(entry);
        }
    }
    for ((folder, name), entries) in &installs {
        if entries.len() < 2 {
            continue;
        }
        let versions: Vec<String> = entries
            .iter()
            .map(|entry| format!("`{}`", entry.path.file_name()))
            .collect();
        let shown_folder = if folder.is_empty() {
            "the layer's root"
        } else {
            folder
        };
        report.report(
            entries[0].path.as_str(),
            format!(
                "`{name}` is installed more than once in {shown_folder}: {}; the files of both \
                 are mixed, and which version Python reports and runs depends on what each \
                 left behind",
                versions.join(" and ")
            ),
            "reinstall into an empty folder in one pip run, keeping one version",
        );
    }
    check_duplicate_npm_packages(inventory, report);
}

/// The packages in a `node_modules` folder (scoped ones as `@scope/name`).
fn npm_packages(inventory: &Inventory, node_modules: &str) -> Vec<String> {
    let mut names = Vec::new();
    for child in inventory
        .children(node_modules)
        .filter(|entry| entry.is_dir())
    {
        let name = child.path.file_name();
        if name.starts_with('.') {
            continue;
        }
        if name.starts_with('@') {
            for scoped in inventory
                .children(child.path.as_str())
                .filter(|e| e.is_dir())
            {
                names.push(format!("{name}/{}", scoped.path.file_name()));
            }
        } else {
            names.push(name.to_string());
        }
    }
    names
}

/// The `version` of `DIR/package.json`, if it can be read.
fn npm_version(inventory: &Inventory, package_dir: &str) -> Option<String> {
    let entry = inventory.get(&format!("{package_dir}/package.json"))?;
    let bytes = inventory.read_prefix(entry, 1 << 20).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("version")?.as_str().map(str::to_string)
}

fn check_duplicate_npm_packages(inventory: &Inventory, report: &mut Reporter<'_>) {
    // Every Node.js runtime reads its own folder first, then the shared one.
    let shared = "nodejs/node_modules";
    let shared_packages = npm_packages(inventory, shared);
    if shared_packages.is_empty() {
        return;
    }
    for runtime in RUNTIMES.iter().filter(|r| r.family == Family::Nodejs) {
        let dirs = runtime.package_dirs();
        let Some(own) = dirs.first().filter(|dir| dir.as_str() != shared) else {
            continue;
        };
        if !inventory.is_dir(own) {
            continue;
        }
        let own_packages = npm_packages(inventory, own);
        for package in own_packages.iter().filter(|p| shared_packages.contains(p)) {
            let own_dir = format!("{own}/{package}");
            let shared_dir = format!("{shared}/{package}");
            let (Some(own_version), Some(shared_version)) = (
                npm_version(inventory, &own_dir),
                npm_version(inventory, &shared_dir),
            ) else {
                continue;
            };
            if own_version == shared_version {
                continue;
            }
            report.report(
                own_dir.as_str(),
                format!(
                    "`{package}` is installed twice: {own_version} in `{own}` and \
                     {shared_version} in `{shared}`; {} loads {own_version}, every other \
                     Node.js version loads {shared_version}",
                    runtime.id
                ),
                "keep one version of the package (in `nodejs/node_modules` unless a runtime \
                 really needs its own)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_names() {
        assert_eq!(
            normalize_distribution_name("Typing_Extensions"),
            "typing-extensions"
        );
        assert_eq!(
            normalize_distribution_name("zope.interface"),
            "zope-interface"
        );
        assert_eq!(normalize_distribution_name("a__-.b"), "a-b");
        assert_eq!(
            split_distribution("requests-2.31.0.dist-info"),
            Some(("requests", "2.31.0"))
        );
        assert_eq!(split_distribution("foo.egg-info"), Some(("foo", "")));
        assert_eq!(split_distribution("foo"), None);
    }
}
