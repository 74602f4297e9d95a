//! BIN009: a Node.js package whose native build comes from a platform package, and the one for
//! Lambda's platform is not installed.

use std::collections::BTreeSet;

use crate::finding::{Code, FindingData, PackageEcosystem, Platform, PlatformPackage, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::resolve::loader::LayerTree;
use crate::resolve::npm::{Packages, Platform as NpmPlatform, PlatformMissing, npm_cpu};
use crate::rules::{Check, Rule};
use crate::runtime::{Arch, Family, Runtime};

pub(crate) static BIN009: Rule = Rule {
    code: Code::BIN009,
    name: "missing-platform-package",
    severity: Severity::Error,
    summary: "a Node.js package's platform package for Lambda (linux, the architecture, glibc) is not installed",
    explanation: r#"## What it does

Reads the `package.json` of every Node.js package in the layer. A package that ships its native
code as one package per platform lists them all as `optionalDependencies` (sharp lists
`@img/sharp-linux-x64`, `@img/sharp-linux-arm64`, `@img/sharp-darwin-arm64` …; esbuild, @swc/core,
lightningcss and napi-rs packages do the same), and each of those declares `os`, `cpu` and `libc`
in its own `package.json`. For each architecture of the layer, one of them for `linux`, that CPU
(`x64` or `arm64`) and `glibc` must be installed where the package finds it (the `node_modules`
walk up from its folder, then `NODE_PATH`). Optional dependencies that are not installed are read
by name (`-linux-x64`, `-linux-x64-gnu`, `-linuxmusl-arm64`); a set with no package for Linux at
all (such as `fsevents`, for macOS) is not reported.

## Why this breaks at run time

npm installs only the platform package of the machine that ran `npm install`. A `node_modules`
made on a Mac, or on an arm64 machine for an `x86_64` function, has the wrong one, and the package
fails as soon as it is loaded:

```
Error: Could not load the "sharp" module using the linux-x64 runtime
Error: Cannot find module '@img/sharp-linux-x64'
```

## Example

```
nodejs/node_modules/sharp/                      # optionalDependencies: @img/sharp-linux-x64, …
nodejs/node_modules/@img/sharp-linux-arm64/     # the only one installed: cpu ["arm64"]
```

## Fix

Install for Lambda's platform: `npm install --os=linux --cpu=x64 --libc=glibc` (npm 10 and later;
`--cpu=arm64` for arm64 functions), or run `npm ci` inside the Lambda build image
(`sam build --use-container`). For both architectures, install both platform packages.
"#,
    check: Check::Layer(check_missing_platform_package),
};

/// `nodejs/node_modules/sharp/package.json` → `nodejs/node_modules/sharp` and `sharp`.
fn package_of(path: &str) -> Option<(&str, &str)> {
    let dir = path.strip_suffix("/package.json")?;
    let (parent, name) = dir.rsplit_once('/')?;
    if parent.ends_with("/node_modules") || parent == "node_modules" {
        return Some((dir, name));
    }
    let (scope_parent, scope) = parent.rsplit_once('/')?;
    let scoped = scope.starts_with('@')
        && (scope_parent.ends_with("/node_modules") || scope_parent == "node_modules");
    scoped.then(|| (dir, &dir[scope_parent.len() + 1..]))
}

fn check_missing_platform_package(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    if context.architectures.is_empty() || !context.inventory.is_dir("nodejs") {
        return;
    }
    let nodes: Vec<&'static Runtime> = context
        .runtimes
        .iter()
        .copied()
        .filter(|runtime| runtime.family == Family::Nodejs)
        .collect();
    let Some(runtime) = nodes
        .first()
        .copied()
        .or_else(|| Runtime::find("nodejs20.x"))
    else {
        return;
    };
    // Every Node.js runtime of the layer reads `nodejs/node_modules` and its own `nodeNN` folder.
    let node_path: Vec<String> = {
        let mut dirs: BTreeSet<String> = BTreeSet::new();
        for node in &nodes {
            for dir in node.package_dirs() {
                dirs.insert(format!("/opt/{dir}"));
            }
        }
        dirs.insert("/opt/nodejs/node_modules".to_string());
        dirs.into_iter().collect()
    };
    let tree = LayerTree(context.inventory);
    let packages = Packages::new(&tree, runtime, node_path);
    for entry in context.inventory.below("nodejs") {
        let Some((dir, name)) = package_of(entry.path.as_str()) else {
            continue;
        };
        let abs = format!("/opt/{dir}");
        for arch in context.architectures {
            let Err(missing) = packages.platform_packages(&abs, *arch) else {
                continue;
            };
            report.report_with_data(
                dir,
                missing.describe(name, *arch),
                format!(
                    "install the {}: `npm install --os=linux --cpu={} --libc=glibc` (npm 10+), or install inside the Lambda build image",
                    if missing.missing.len() == 1 { "missing package" } else { "missing packages" },
                    npm_cpu(*arch)
                ),
                finding_data(name, &missing, *arch),
            );
        }
    }
}

/// The missing platform packages of `package` as a finding's data: the one Node reports, all
/// of them, the platform Lambda needs and what is installed instead.
fn finding_data(package: &str, missing: &PlatformMissing, arch: Arch) -> FindingData {
    let platform = |platform: &NpmPlatform| Platform {
        os: platform.os.clone(),
        cpu: platform.cpu.clone(),
        libc: platform.libc.clone(),
    };
    FindingData {
        module: missing.missing.first().cloned(),
        required_by: Some(package.to_string()),
        ecosystem: Some(PackageEcosystem::Node),
        missing: missing.missing.clone(),
        platform: Some(platform(&NpmPlatform::lambda(arch))),
        installed_instead: missing
            .installed
            .iter()
            .map(|(name, installed)| PlatformPackage {
                package: name.clone(),
                platform: platform(installed),
            })
            .collect(),
        ..FindingData::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_folders_are_read_from_manifest_paths() {
        assert_eq!(
            package_of("nodejs/node_modules/sharp/package.json"),
            Some(("nodejs/node_modules/sharp", "sharp"))
        );
        assert_eq!(
            package_of("nodejs/node_modules/@img/sharp-linux-x64/package.json"),
            Some((
                "nodejs/node_modules/@img/sharp-linux-x64",
                "@img/sharp-linux-x64"
            ))
        );
        assert_eq!(
            package_of("nodejs/node20/node_modules/a/node_modules/b/package.json"),
            Some(("nodejs/node20/node_modules/a/node_modules/b", "b"))
        );
        assert_eq!(
            package_of("nodejs/node_modules/sharp/lib/package.json"),
            None
        );
        assert_eq!(package_of("nodejs/package.json"), None);
    }
}
