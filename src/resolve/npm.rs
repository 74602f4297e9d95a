//! What loading a Node.js package pulls in: its `dependencies` (and required
//! `peerDependencies`), each found from the dependent package's own folder, and the platform
//! package its `optionalDependencies` select.
//!
//! `require('dep')` inside a package walks `node_modules` folders up from that package's folder,
//! then `NODE_PATH`; npm places (hoists) every dependency somewhere on that walk, so a dependency
//! that is not there fails with `Cannot find module 'dep'` as soon as the package is loaded.
//! Packages with native code for several platforms (sharp, esbuild, @swc/core, lightningcss,
//! napi-rs packages) list one package per platform as `optionalDependencies`, each declaring
//! `os`/`cpu`/`libc` in its `package.json`; npm installs only the one for the platform it runs on,
//! so a `node_modules` installed on a Mac or for arm64 lacks the linux-x64 one Lambda needs.
//! Optional dependencies that are not installed say nothing in their own words: their platform is
//! read from their names (`@img/sharp-linux-x64`, `@swc/core-linux-x64-gnu`) and only a set that
//! has a package for Lambda's platform counts, so `fsevents` (macOS only) is never reported.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use serde_json::Value;

use crate::facts::Ecosystem;
use crate::finding::Code;
use crate::resolve::loader::Tree;
use crate::resolve::merged::join;
use crate::runtime::{Arch, Family, Runtime};

/// Where a dependency was found from a package's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// A package folder of the function or a layer (absolute path).
    Folder(String),
    /// The runtime's own copy (`/var/runtime/node_modules`).
    Runtime(String),
}

/// One package on the way from the loaded package to the one that fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PackageLink {
    pub(crate) name: String,
    /// The package's folder.
    pub(crate) dir: String,
}

/// Why loading a package fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PackageFailure {
    /// From the loaded package to the one whose dependency fails.
    pub(crate) chain: Vec<PackageLink>,
    /// The dependency that cannot be found.
    pub(crate) missing: String,
    /// Node's error, and what is installed instead for a platform package.
    pub(crate) reason: String,
    /// `BIN009` for a platform package; `None` for a plain missing dependency.
    pub(crate) code: Option<Code>,
}

impl PackageFailure {
    /// `@aws-sdk/client-s3 → @smithy/types`.
    pub(crate) fn chain_text(&self) -> String {
        self.chain
            .iter()
            .map(|link| link.name.as_str())
            .chain([self.missing.as_str()])
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// A platform a package is for, from its `package.json` or its name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Platform {
    pub(crate) os: Vec<String>,
    pub(crate) cpu: Vec<String>,
    pub(crate) libc: Vec<String>,
}

/// npm's `cpu` name of a Lambda architecture.
pub(crate) fn npm_cpu(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x64",
        Arch::Arm64 => "arm64",
    }
}

/// npm's rule for one of `os`, `cpu`, `libc`: empty allows all; `!x` entries exclude; otherwise
/// the value must be listed.
fn allows(list: &[String], value: &str) -> bool {
    if list.is_empty() {
        return true;
    }
    if list.iter().any(|entry| entry == &format!("!{value}")) {
        return false;
    }
    let positive: Vec<&String> = list
        .iter()
        .filter(|entry| !entry.starts_with('!'))
        .collect();
    positive.is_empty() || positive.iter().any(|entry| *entry == value)
}

impl Platform {
    /// Lambda's platform on `arch`: linux, the architecture's npm name, glibc.
    pub(crate) fn lambda(arch: Arch) -> Platform {
        Platform {
            os: vec!["linux".to_string()],
            cpu: vec![npm_cpu(arch).to_string()],
            libc: vec!["glibc".to_string()],
        }
    }

    /// True when glibc Linux on `arch` (Lambda) may install it.
    pub(crate) fn matches(&self, arch: Arch) -> bool {
        allows(&self.os, "linux") && allows(&self.cpu, npm_cpu(arch)) && allows(&self.libc, "glibc")
    }

    /// True when it restricts anything at all.
    fn restricts(&self) -> bool {
        !(self.os.is_empty() && self.cpu.is_empty() && self.libc.is_empty())
    }

    /// `linux-arm64`, `darwin-x64`, `linux-x64 (musl)`.
    pub(crate) fn describe(&self) -> String {
        let os = self.os.join("|");
        let cpu = self.cpu.join("|");
        let mut text = match (os.is_empty(), cpu.is_empty()) {
            (false, false) => format!("{os}-{cpu}"),
            (false, true) => os,
            (true, false) => cpu,
            (true, true) => "any platform".to_string(),
        };
        if !self.libc.is_empty() {
            text.push_str(&format!(" ({})", self.libc.join("|")));
        }
        text
    }

    /// The platform a package name says, when it names both an OS and a CPU
    /// (`@img/sharp-linux-x64`, `@esbuild/darwin-arm64`, `@swc/core-linux-x64-musl`,
    /// `lightningcss-linux-x64-gnu`, `@img/sharp-linuxmusl-arm64`).
    pub(crate) fn from_name(name: &str) -> Option<Platform> {
        let mut platform = Platform::default();
        let tail = name.rsplit('/').next().unwrap_or(name);
        for word in tail.split(['-', '_', '.']) {
            match word {
                "linux" | "darwin" | "win32" | "freebsd" | "openbsd" | "netbsd" | "android"
                | "sunos" | "aix" => platform.os.push(word.to_string()),
                "linuxmusl" => {
                    platform.os.push("linux".to_string());
                    platform.libc.push("musl".to_string());
                }
                "musl" => platform.libc.push("musl".to_string()),
                "gnu" | "gnueabihf" | "glibc" => platform.libc.push("glibc".to_string()),
                "x64" | "arm64" | "arm" | "ia32" | "s390x" | "ppc64" | "riscv64" | "loong64"
                | "mips64el" | "wasm32" | "universal" => platform.cpu.push(word.to_string()),
                "x86_64" | "amd64" => platform.cpu.push("x64".to_string()),
                "aarch64" => platform.cpu.push("arm64".to_string()),
                _ => {}
            }
        }
        platform.libc.dedup();
        (platform.os.len() == 1 && platform.cpu.len() == 1).then_some(platform)
    }
}

/// Reads packages of a tree for one runtime: `package.json` files are parsed once.
pub(crate) struct Packages<'t> {
    tree: &'t dyn Tree,
    runtime: &'static Runtime,
    /// `NODE_PATH`, searched after the `node_modules` walk.
    node_path: Vec<String>,
    manifests: RefCell<HashMap<String, Option<Rc<Value>>>>,
}

impl<'t> Packages<'t> {
    pub(crate) fn new(
        tree: &'t dyn Tree,
        runtime: &'static Runtime,
        node_path: Vec<String>,
    ) -> Self {
        Packages {
            tree,
            runtime,
            node_path,
            manifests: RefCell::new(HashMap::new()),
        }
    }

    /// The parsed `package.json` of the package folder `dir`.
    pub(crate) fn manifest(&self, dir: &str) -> Option<Rc<Value>> {
        if let Some(cached) = self.manifests.borrow().get(dir) {
            return cached.clone();
        }
        let value = self
            .tree
            .lookup(&join(dir, "package.json"))
            .and_then(|(inventory, entry)| inventory.read(entry).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .map(Rc::new);
        self.manifests
            .borrow_mut()
            .insert(dir.to_string(), value.clone());
        value
    }

    /// True when the runtime itself lets user code `require()` this package: the AWS SDK for
    /// JavaScript v3 clients in `/var/runtime/node_modules/@aws-sdk/` on nodejs18.x and later
    /// (what they use, `@smithy/*` and the rest, sits in `@aws-sdk/node_modules`, out of reach).
    fn runtime_has(&self, name: &str) -> bool {
        self.runtime.family == Family::Nodejs
            && self
                .runtime
                .facts()
                .find_bundled(Ecosystem::Node, name)
                .is_some()
    }

    /// Finds package `name` as `require(name)` would from inside the package folder `from`.
    pub(crate) fn find(&self, from: &str, name: &str) -> Option<Found> {
        let mut dirs: Vec<String> = Vec::new();
        let mut at = from.trim_end_matches('/').to_string();
        loop {
            if !at.ends_with("/node_modules") && !at.is_empty() {
                dirs.push(format!("{at}/node_modules"));
            }
            match at.rsplit_once('/') {
                Some((parent, _)) => at = parent.to_string(),
                None => break,
            }
            if at.is_empty() {
                dirs.push("/node_modules".to_string());
                break;
            }
        }
        dirs.extend(self.node_path.iter().cloned());
        for dir in dirs {
            if !self.tree.models(&dir) {
                if dir == "/var/runtime/node_modules" && self.runtime_has(name) {
                    return Some(Found::Runtime(join(&dir, name)));
                }
                continue;
            }
            let candidate = join(&dir, name);
            if self.tree.is_dir(&candidate)
                || self.tree.lookup(&format!("{candidate}.js")).is_some()
            {
                return Some(Found::Folder(candidate));
            }
        }
        None
    }

    /// The names of a manifest's dependencies that loading the package requires:
    /// `dependencies`, and `peerDependencies` not marked optional.
    fn required(manifest: &Value) -> Vec<String> {
        let keys = |field: &str| -> Vec<String> {
            manifest
                .get(field)
                .and_then(Value::as_object)
                .map(|object| object.keys().cloned().collect())
                .unwrap_or_default()
        };
        let optional_peer = |name: &str| {
            manifest
                .get("peerDependenciesMeta")
                .and_then(|meta| meta.get(name))
                .and_then(|meta| meta.get("optional"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let mut names: Vec<String> = keys("dependencies");
        // An optional dependency listed again under `dependencies` stays optional for npm.
        let optional: BTreeSet<String> = keys("optionalDependencies").into_iter().collect();
        names.retain(|name| !optional.contains(name));
        for peer in keys("peerDependencies") {
            if !optional_peer(&peer) && !names.contains(&peer) {
                names.push(peer);
            }
        }
        names
    }

    /// The platform a package folder declares (`os`, `cpu`, `libc` of its `package.json`).
    pub(crate) fn declared_platform(&self, dir: &str) -> Platform {
        let list = |manifest: &Value, field: &str| -> Vec<String> {
            match manifest.get(field) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            }
        };
        match self.manifest(dir) {
            Some(manifest) => Platform {
                os: list(&manifest, "os"),
                cpu: list(&manifest, "cpu"),
                libc: list(&manifest, "libc"),
            },
            None => Platform::default(),
        }
    }

    /// Judges the platform packages among the `optionalDependencies` of the package in `dir`:
    /// `Ok(installed)` with the matching ones that are installed (to follow), or the failure.
    pub(crate) fn platform_packages(
        &self,
        dir: &str,
        arch: Arch,
    ) -> Result<Vec<(String, String)>, PlatformMissing> {
        let Some(manifest) = self.manifest(dir) else {
            return Ok(Vec::new());
        };
        let Some(optional) = manifest
            .get("optionalDependencies")
            .and_then(Value::as_object)
        else {
            return Ok(Vec::new());
        };
        let mut matching_installed = Vec::new();
        let mut matching_missing = Vec::new();
        let mut other_installed = Vec::new();
        for name in optional.keys() {
            match self.find(dir, name) {
                Some(Found::Folder(found)) => {
                    let platform = self.declared_platform(&found);
                    if !platform.restricts() {
                        continue;
                    }
                    if platform.matches(arch) {
                        matching_installed.push((name.clone(), found));
                    } else {
                        other_installed.push((name.clone(), platform));
                    }
                }
                Some(Found::Runtime(_)) => {}
                None => {
                    if let Some(platform) = Platform::from_name(name)
                        && platform.matches(arch)
                    {
                        matching_missing.push(name.clone());
                    }
                }
            }
        }
        if !matching_installed.is_empty() || matching_missing.is_empty() {
            return Ok(matching_installed);
        }
        // The package with the addon first: `@img/sharp-linux-x64` before its
        // `@img/sharp-libvips-linux-x64`.
        matching_missing.sort_by_key(|name| (name.len(), name.clone()));
        Err(PlatformMissing {
            missing: matching_missing,
            installed: other_installed,
        })
    }

    /// Follows the dependencies of the package `name` in folder `dir`, transitively; the first
    /// that cannot be found (in a stable, depth-first order) is the failure. On success, the
    /// chain to every package loaded (the first is the package itself).
    pub(crate) fn closure(
        &self,
        name: &str,
        dir: &str,
        arch: Arch,
    ) -> Result<Vec<Vec<PackageLink>>, PackageFailure> {
        let mut visited: BTreeSet<String> = BTreeSet::new();
        let mut chain = vec![PackageLink {
            name: name.to_string(),
            dir: dir.to_string(),
        }];
        visited.insert(dir.to_string());
        let mut loaded = Vec::new();
        self.visit(&mut chain, &mut visited, &mut loaded, arch)?;
        Ok(loaded)
    }

    fn visit(
        &self,
        chain: &mut Vec<PackageLink>,
        visited: &mut BTreeSet<String>,
        loaded: &mut Vec<Vec<PackageLink>>,
        arch: Arch,
    ) -> Result<(), PackageFailure> {
        let Some(current) = chain.last().cloned() else {
            return Ok(());
        };
        loaded.push(chain.clone());
        let Some(manifest) = self.manifest(&current.dir) else {
            return Ok(());
        };
        let mut next: Vec<(String, String)> = Vec::new();
        for dependency in Self::required(&manifest) {
            match self.find(&current.dir, &dependency) {
                Some(Found::Folder(found)) => next.push((dependency, found)),
                Some(Found::Runtime(_)) => {}
                None => {
                    return Err(PackageFailure {
                        chain: chain.clone(),
                        reason: format!("Cannot find module '{dependency}'"),
                        missing: dependency,
                        code: None,
                    });
                }
            }
        }
        match self.platform_packages(&current.dir, arch) {
            Ok(installed) => next.extend(installed),
            Err(missing) => {
                return Err(PackageFailure {
                    chain: chain.clone(),
                    missing: missing.missing[0].clone(),
                    reason: missing.describe(&current.name, arch),
                    code: Some(Code::BIN009),
                });
            }
        }
        for (name, dir) in next {
            if !visited.insert(dir.clone()) {
                continue;
            }
            chain.push(PackageLink { name, dir });
            self.visit(chain, visited, loaded, arch)?;
            chain.pop();
        }
        Ok(())
    }
}

/// A platform package set with no package for Lambda's platform installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlatformMissing {
    /// The packages for linux, the architecture and glibc that the set lists.
    pub(crate) missing: Vec<String>,
    /// The set's packages that are installed, with the platform each is for.
    pub(crate) installed: Vec<(String, Platform)>,
}

impl PlatformMissing {
    /// Node's error and what is there instead.
    pub(crate) fn describe(&self, package: &str, arch: Arch) -> String {
        let instead = if self.installed.is_empty() {
            "none of its platform packages is installed".to_string()
        } else {
            let list: Vec<String> = self
                .installed
                .iter()
                .map(|(name, platform)| format!("{name} ({})", platform.describe()))
                .collect();
            format!("installed instead: {}", list.join(", "))
        };
        format!(
            "Cannot find module '{}': `{package}` loads its native build for {} from {}; {instead}",
            self.missing[0],
            Platform::lambda(arch).describe(),
            crate::resolve::list(
                &self
                    .missing
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_read_os_cpu_and_libc() {
        let p = |name: &str| Platform::from_name(name);
        assert!(
            p("@img/sharp-linux-x64")
                .expect("sharp")
                .matches(Arch::X86_64)
        );
        assert!(
            !p("@img/sharp-linux-x64")
                .expect("sharp")
                .matches(Arch::Arm64)
        );
        assert!(
            !p("@img/sharp-linuxmusl-x64")
                .expect("musl")
                .matches(Arch::X86_64)
        );
        assert!(
            !p("@img/sharp-libvips-linuxmusl-arm64")
                .expect("musl")
                .matches(Arch::Arm64)
        );
        assert!(
            p("@img/sharp-libvips-linux-arm64")
                .expect("vips")
                .matches(Arch::Arm64)
        );
        assert!(
            p("@swc/core-linux-x64-gnu")
                .expect("swc")
                .matches(Arch::X86_64)
        );
        assert!(
            !p("@swc/core-linux-x64-musl")
                .expect("swc")
                .matches(Arch::X86_64)
        );
        assert!(
            p("@esbuild/linux-arm64")
                .expect("esbuild")
                .matches(Arch::Arm64)
        );
        assert!(
            !p("@esbuild/darwin-arm64")
                .expect("esbuild")
                .matches(Arch::Arm64)
        );
        assert!(
            p("lightningcss-linux-x64-gnu")
                .expect("lcss")
                .matches(Arch::X86_64)
        );
        assert!(!p("@img/sharp-wasm32").is_some_and(|p| p.matches(Arch::X86_64)));
        // Names that are not platform packages.
        assert_eq!(p("fsevents"), None);
        assert_eq!(p("bufferutil"), None);
        assert_eq!(p("@aws-sdk/client-s3"), None);
        assert_eq!(p("linux-tools"), None);
    }

    #[test]
    fn declared_fields_follow_npm_rules() {
        let platform = |os: &[&str], cpu: &[&str], libc: &[&str]| Platform {
            os: os.iter().map(|s| s.to_string()).collect(),
            cpu: cpu.iter().map(|s| s.to_string()).collect(),
            libc: libc.iter().map(|s| s.to_string()).collect(),
        };
        assert!(platform(&["linux"], &["x64"], &["glibc"]).matches(Arch::X86_64));
        assert!(!platform(&["linux"], &["x64"], &["musl"]).matches(Arch::X86_64));
        assert!(platform(&["!win32"], &[], &[]).matches(Arch::Arm64));
        assert!(!platform(&["darwin"], &[], &[]).matches(Arch::Arm64));
        assert!(!platform(&[], &["!arm64"], &[]).matches(Arch::Arm64));
        assert_eq!(
            platform(&["linux"], &["arm64"], &["glibc"]).describe(),
            "linux-arm64 (glibc)"
        );
    }
}
