//! The offline `npm ls`: every package's `dependencies` against the package Node finds from that
//! package's folder.

use std::collections::BTreeMap;

use semver::{Version, VersionReq};
use serde_json::Value;

use super::{DepSource, Problem, ProblemKind, Subject};
use crate::facts::Ecosystem;
use crate::finding::PackageEcosystem;
use crate::runtime::Runtime;

/// One installed package: where its `package.json` is.
struct Installed {
    source: usize,
    /// Archive path of its `package.json`.
    manifest: String,
    name: String,
    version: Option<String>,
    dependencies: Vec<(String, String)>,
}

/// Every `node_modules/<name>/package.json` (and `@scope/name`) of the sources, by the absolute
/// folder the package occupies on Lambda; in `/opt` a later layer's file replaces an earlier one.
fn packages(sources: &[DepSource<'_>]) -> BTreeMap<String, Installed> {
    let mut found = BTreeMap::new();
    for (index, source) in sources.iter().enumerate() {
        for entry in source.inventory.files() {
            let path = entry.path.as_str();
            let Some(folder) = path.strip_suffix("/package.json") else {
                continue;
            };
            let Some((parent, name)) = package_folder(folder) else {
                continue;
            };
            if !parent.ends_with("node_modules") {
                continue;
            }
            let Ok(bytes) = source.inventory.read(entry) else {
                continue;
            };
            let Ok(manifest) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            let optional: Vec<&str> = ["optionalDependencies", "peerDependencies"]
                .iter()
                .filter_map(|key| manifest.get(*key).and_then(Value::as_object))
                .flat_map(|map| map.keys().map(String::as_str))
                .collect();
            let dependencies = manifest
                .get("dependencies")
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .filter(|(name, _)| !optional.contains(&name.as_str()))
                        .filter_map(|(name, spec)| Some((name.clone(), spec.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            let installed = Installed {
                source: index,
                manifest: path.to_string(),
                name: manifest
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_string(),
                version: manifest
                    .get("version")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                dependencies,
            };
            found.insert(format!("{}/{folder}", source.root), installed);
        }
    }
    found
}

/// `(parent, name)` of a package folder: `a/node_modules/@s/b` gives `(a/node_modules, @s/b)`.
fn package_folder(folder: &str) -> Option<(&str, &str)> {
    let (parent, last) = folder.rsplit_once('/')?;
    match parent.rsplit_once('/') {
        Some((grand, scope)) if scope.starts_with('@') => Some((grand, &folder[grand.len() + 1..])),
        _ if parent.starts_with('@') => None,
        _ => Some((parent, last)),
    }
}

/// The folders Node searches for `name` required from the package at `folder` (absolute): the
/// `node_modules` walk up from it, then `NODE_PATH`.
fn search_dirs(folder: &str, runtime: &Runtime) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut current = folder;
    loop {
        if !current.ends_with("/node_modules") && !current.is_empty() {
            dirs.push(format!("{current}/node_modules"));
        }
        match current.rsplit_once('/') {
            Some((parent, _)) => current = parent,
            None => break,
        }
    }
    dirs.push("/node_modules".to_string());
    dirs.extend(runtime.node_path());
    dirs
}

/// An npm range as `semver` requirements, one per `||` alternative; `None` for what is not a
/// registry range (`npm:` aliases are unwrapped; `workspace:`, git, `file:`, URLs, tags are not
/// checked).
pub(crate) fn npm_range(spec: &str) -> Option<Vec<VersionReq>> {
    let spec = spec.trim();
    let spec = match spec.strip_prefix("npm:") {
        Some(alias) => alias.rsplit_once('@').map_or("*", |(_, range)| range),
        None => spec,
    };
    if spec.contains(':') || spec.contains('/') {
        return None;
    }
    spec.split("||").map(alternative).collect()
}

fn alternative(text: &str) -> Option<VersionReq> {
    let text = text.trim();
    if text.is_empty() || text == "*" || text.eq_ignore_ascii_case("x") || text == "latest" {
        return Some(VersionReq::STAR);
    }
    if let Some((low, high)) = text.split_once(" - ") {
        return VersionReq::parse(&format!(">={}, <={}", bare(low.trim()), bare(high.trim()))).ok();
    }
    let mut comparators: Vec<String> = Vec::new();
    let mut pending_operator = String::new();
    for token in text.split_whitespace() {
        if token.chars().all(|c| "<>=~^".contains(c)) {
            pending_operator.push_str(token);
            continue;
        }
        let token = format!("{pending_operator}{token}");
        pending_operator.clear();
        let operator: String = token.chars().take_while(|c| "<>=~^".contains(*c)).collect();
        let version = bare(&token[operator.len()..]);
        if version == "*" {
            continue;
        }
        let operator = if operator.is_empty() { "=" } else { &operator };
        comparators.push(format!("{operator}{version}"));
    }
    if comparators.is_empty() {
        return Some(VersionReq::STAR);
    }
    VersionReq::parse(&comparators.join(", ")).ok()
}

/// `v1.2.x` → `1.2`; `x` → `*`.
fn bare(version: &str) -> String {
    let version = version.trim_start_matches(['v', '=']);
    let parts: Vec<&str> = version
        .split('.')
        .take_while(|part| !matches!(*part, "x" | "X" | "*"))
        .collect();
    if parts.is_empty() {
        "*".to_string()
    } else {
        parts.join(".")
    }
}

/// Every broken dependency on `runtime`.
pub(crate) fn check(sources: &[DepSource<'_>], runtime: &Runtime) -> Vec<Problem> {
    let installed = packages(sources);
    let bundled: Vec<&str> = runtime
        .facts()
        .bundled_packages()
        .iter()
        .filter(|package| package.ecosystem == Ecosystem::Node && package.resolvable())
        .map(|package| package.name)
        .collect();
    let mut problems = Vec::new();
    for (folder, package) in &installed {
        for (dependency, spec) in &package.dependencies {
            let Some(range) = npm_range(spec) else {
                continue;
            };
            let mut found: Option<(&str, &Installed)> = None;
            let mut from_runtime = false;
            for dir in search_dirs(folder, runtime) {
                let candidate = format!("{dir}/{dependency}");
                if let Some((at, hit)) = installed.get_key_value(&candidate) {
                    found = Some((at.as_str(), hit));
                    break;
                }
                if dir == "/var/runtime/node_modules" && bundled.contains(&dependency.as_str()) {
                    from_runtime = true;
                    break;
                }
            }
            let who = format!(
                "{}{}",
                package.name,
                package
                    .version
                    .as_deref()
                    .map_or(String::new(), |version| format!("@{version}"))
            );
            if from_runtime {
                continue; // the runtime's version is not recorded
            }
            let Some((at, hit)) = found else {
                let v2 = dependency == "aws-sdk"
                    && runtime
                        .facts()
                        .absent_packages()
                        .iter()
                        .any(|absent| absent.name == "aws-sdk");
                let runtime_note = if v2 {
                    format!(
                        "; the {} runtime bundles only the AWS SDK for JavaScript v3 (`@aws-sdk/client-*`), not aws-sdk v2",
                        runtime.id
                    )
                } else {
                    String::new()
                };
                problems.push(Problem {
                    kind: ProblemKind::Missing,
                    source: package.source,
                    path: package.manifest.clone(),
                    message: format!(
                        "{who} depends on `{dependency}@{spec}`, which Node does not find from {folder} (node_modules walk and NODE_PATH over {{where}} and the {{runtimes}} runtime){runtime_note}: require() fails with \"Cannot find module '{dependency}'\" (npm ls: \"missing: {dependency}@{spec}\")"
                    ),
                    help: if v2 {
                        format!(
                            "migrate to the v3 clients (`@aws-sdk/client-*`, bundled with {}) or ship aws-sdk v2 in the layer: `npm install --prefix nodejs aws-sdk@2`",
                            runtime.id
                        )
                    } else {
                        format!(
                            "install it in the same node_modules: `npm install --prefix nodejs {dependency}@'{spec}'`, or build the layer with one `npm install` of everything"
                        )
                    },
                    subject: Subject {
                        ecosystem: PackageEcosystem::Node,
                        package: dependency.clone(),
                        accepts: Some(spec.clone()),
                        found_version: None,
                        required_by: package.name.clone(),
                        required_by_version: package.version.clone(),
                    },
                });
                continue;
            };
            let Some(version) = hit.version.as_deref().and_then(|v| Version::parse(v).ok()) else {
                continue;
            };
            if range.iter().any(|req| req.matches(&version)) {
                continue;
            }
            problems.push(Problem {
                kind: ProblemKind::Mismatch,
                source: package.source,
                path: package.manifest.clone(),
                message: format!(
                    "{who} depends on `{dependency}@{spec}`, but Node loads {dependency}@{version} from {at} ({}): npm ls: \"invalid: {dependency}@{version}\"",
                    sources[hit.source].label
                ),
                help: format!(
                    "install a version in `{spec}` where {} finds it first (its own node_modules), or build the layer with one `npm install` so npm nests the versions each package needs",
                    package.name
                ),
                subject: Subject {
                    ecosystem: PackageEcosystem::Node,
                    package: dependency.clone(),
                    accepts: Some(spec.clone()),
                    found_version: Some(version.to_string()),
                    required_by: package.name.clone(),
                    required_by_version: package.version.clone(),
                },
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(spec: &str, version: &str) -> bool {
        let version = Version::parse(version).expect("version");
        npm_range(spec)
            .unwrap_or_else(|| panic!("{spec} parses"))
            .iter()
            .any(|req| req.matches(&version))
    }

    #[test]
    fn npm_ranges() {
        assert!(matches("^3.0.0", "3.5.1"));
        assert!(!matches("^3.0.0", "4.0.0"));
        assert!(matches("1.2.3", "1.2.3"));
        assert!(!matches("1.2.3", "1.2.4"));
        assert!(matches(">= 1.2.0 < 2", "1.9.0"));
        assert!(!matches(">=1.2.0 <2", "2.0.0"));
        assert!(matches("1.x", "1.9.0"));
        assert!(matches("~1.2.x", "1.2.7"));
        assert!(matches("^1 || ^2", "2.1.0"));
        assert!(matches("1.2 - 1.4", "1.4.9"));
        assert!(!matches("1.2 - 1.4", "1.5.0"));
        assert!(matches("*", "0.0.1"));
        assert!(matches("", "9.9.9"));
        assert!(matches("npm:string-width@^4.2.0", "4.2.3"));
        // A prerelease matches only a range that names that version's prerelease.
        assert!(!matches("^1.0.0", "1.1.0-beta.1"));
        assert!(matches("^1.1.0-beta.0", "1.1.0-beta.1"));
        for skipped in [
            "workspace:*",
            "git+https://x/y.git",
            "file:../x",
            "user/repo",
            "https://x/y.tgz",
        ] {
            assert!(npm_range(skipped).is_none(), "{skipped}");
        }
    }

    #[test]
    fn node_search_dirs() {
        let runtime = Runtime::find("nodejs20.x").expect("runtime");
        let dirs = search_dirs("/opt/nodejs/node_modules/a/node_modules/@s/b", runtime);
        assert_eq!(
            &dirs[..4],
            [
                "/opt/nodejs/node_modules/a/node_modules/@s/b/node_modules",
                "/opt/nodejs/node_modules/a/node_modules/@s/node_modules",
                "/opt/nodejs/node_modules/a/node_modules",
                "/opt/nodejs/node_modules",
            ]
        );
        assert!(dirs.contains(&"/var/runtime/node_modules".to_string()));
        assert_eq!(
            package_folder("nodejs/node_modules/@s/b"),
            Some(("nodejs/node_modules", "@s/b"))
        );
        assert_eq!(
            package_folder("nodejs/node_modules/a"),
            Some(("nodejs/node_modules", "a"))
        );
    }
}
