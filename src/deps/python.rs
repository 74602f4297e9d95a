//! The offline `pip check` over `sys.path`: which dist wins each name, and whether every
//! requirement of every dist is met there.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use pep508_rs::pep440_rs::Version;
use pep508_rs::{
    ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, PackageName, Requirement, VersionOrUrl,
};

use super::{DepSource, Problem, ProblemKind, Subject};
use crate::facts::{self, Ecosystem};
use crate::finding::PackageEcosystem;
use crate::runtime::{Arch, Runtime};

/// The parts of the AWS SDK for Python that must come from one release: a layer that replaces
/// some of them and not the others leaves the runtime's copies of the rest.
pub(crate) const SDK_PARTS: &[&str] = &["boto3", "botocore", "s3transfer"];

/// Requires-Dist of the runtime-bundled SDK dists (the dumps record names and versions only).
const BUNDLED_REQUIRES: &str = include_str!("../facts/bundled-requires.txt");

/// Where a dist is installed.
#[derive(Clone, Debug)]
enum Origin {
    /// In source `index`; `metadata` is the archive path of its METADATA.
    Source { index: usize, metadata: String },
    /// Bundled with the runtime, in this folder.
    Runtime { dir: &'static str },
}

#[derive(Clone, Debug)]
struct Dist {
    name: String,
    version: String,
    requires: Vec<String>,
    origin: Origin,
}

impl Dist {
    fn key(&self) -> String {
        facts::normalize_python_name(&self.name)
    }
}

/// The marker environment of a Python runtime on Lambda (CPython on Linux; the patch version is
/// not recorded in the dumps and taken as `.0`).
pub(crate) fn marker_environment(runtime: &Runtime, arch: Arch) -> Option<MarkerEnvironment> {
    let (major, minor) = runtime.version();
    let short = format!("{major}.{minor}");
    let full = format!("{major}.{minor}.0");
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: &full,
        os_name: "posix",
        platform_machine: arch.gnu_name(),
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: &full,
        python_version: &short,
        sys_platform: "linux",
    })
    .ok()
}

/// Reads `Name`, `Version` and every `Requires-Dist` from METADATA headers (RFC 822 style; the
/// body after the first blank line is the description and is ignored).
fn parse_metadata(text: &str) -> Option<(String, String, Vec<String>)> {
    let mut name = None;
    let mut version = None;
    let mut requires = Vec::new();
    let mut last: Option<(String, String)> = None;
    let mut flush = |field: Option<(String, String)>| {
        if let Some((key, value)) = field {
            match key.to_ascii_lowercase().as_str() {
                "name" => name = Some(value.trim().to_string()),
                "version" => version = Some(value.trim().to_string()),
                "requires-dist" => requires.push(value.trim().to_string()),
                _ => {}
            }
        }
    };
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = last.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        flush(last.take());
        if let Some((key, value)) = line.split_once(':') {
            last = Some((key.to_string(), value.to_string()));
        }
    }
    flush(last);
    Some((name?, version?, requires))
}

/// The dists directly in `dir` (archive path) of a source.
fn dists_in(sources: &[DepSource<'_>], index: usize, dir: &str) -> Vec<Dist> {
    let source = &sources[index];
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut found = Vec::new();
    for entry in source.inventory.below(dir) {
        let path = entry.path.as_str();
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let Some(folder) = rest.strip_suffix("/METADATA") else {
            continue;
        };
        if folder.contains('/') || !folder.ends_with(".dist-info") || !entry.is_file() {
            continue;
        }
        let Ok(bytes) = source.inventory.read(entry) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Some((name, version, requires)) = parse_metadata(&text) {
            found.push(Dist {
                name,
                version,
                requires,
                origin: Origin::Source {
                    index,
                    metadata: path.to_string(),
                },
            });
        }
    }
    found
}

/// The dists on `sys.path` in lookup order; the first of each normalized name wins.
fn installed(sources: &[DepSource<'_>], runtime: &Runtime) -> BTreeMap<String, Dist> {
    let mut order: Vec<Dist> = Vec::new();
    let function: Vec<usize> = (0..sources.len())
        .filter(|index| sources[*index].root == "/var/task")
        .collect();
    let layers: Vec<usize> = (0..sources.len())
        .filter(|index| sources[*index].root == "/opt")
        .collect();
    for index in &function {
        order.extend(dists_in(sources, *index, ""));
    }
    for dir in runtime.package_dirs() {
        // Later layers' files replace earlier ones at the same path in /opt.
        for index in layers.iter().rev() {
            order.extend(dists_in(sources, *index, &dir));
        }
    }
    for package in runtime.facts().bundled_packages() {
        if package.ecosystem != Ecosystem::Python || !package.resolvable() {
            continue;
        }
        let Some(version) = package.version else {
            continue;
        };
        let wanted = facts::normalize_python_name(package.name);
        let requires = BUNDLED_REQUIRES
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('\t'))
            .filter(|(dist, _)| {
                dist.split_once("==").is_some_and(|(name, at)| {
                    facts::normalize_python_name(name) == wanted && at == version
                })
            })
            .map(|(_, requirement)| requirement.to_string())
            .collect();
        order.push(Dist {
            name: package.name.to_string(),
            version: version.to_string(),
            requires,
            origin: Origin::Runtime { dir: package.path },
        });
    }
    let mut winners = BTreeMap::new();
    for dist in order {
        winners.entry(dist.key()).or_insert(dist);
    }
    winners
}

fn describe(sources: &[DepSource<'_>], runtime: &Runtime, dist: &Dist) -> String {
    match &dist.origin {
        Origin::Source { index, metadata } => {
            let source = &sources[*index];
            format!("{} at {}/{metadata}", source.label, source.root)
        }
        Origin::Runtime { dir } => format!("bundled with the {} runtime ({dir})", runtime.id),
    }
}

/// Every broken requirement on `runtime`.
pub(crate) fn check(sources: &[DepSource<'_>], runtime: &Runtime, arch: Arch) -> Vec<Problem> {
    let Some(environment) = marker_environment(runtime, arch) else {
        return Vec::new();
    };
    let installed = installed(sources, runtime);
    let parsed: BTreeMap<&str, Vec<Requirement>> = installed
        .iter()
        .map(|(key, dist)| {
            let requirements = dist
                .requires
                .iter()
                .filter_map(|text| Requirement::from_str(text).ok())
                .collect();
            (key.as_str(), requirements)
        })
        .collect();
    // Extras are active only when a dependent asks for them; follow the requests to a fixpoint.
    let mut extras: BTreeMap<String, BTreeSet<ExtraName>> = BTreeMap::new();
    loop {
        let mut changed = false;
        for (key, requirements) in &parsed {
            let active: Vec<ExtraName> = extras
                .get(*key)
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default();
            for requirement in requirements {
                if requirement.extras.is_empty()
                    || !requirement.marker.evaluate(&environment, &active)
                {
                    continue;
                }
                let set = extras.entry(requirement.name.to_string()).or_default();
                for extra in &requirement.extras {
                    changed |= set.insert(extra.clone());
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut problems = Vec::new();
    for (key, requirements) in &parsed {
        let Some(dependent) = installed.get(*key) else {
            continue;
        };
        let active: Vec<ExtraName> = extras
            .get(*key)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        for requirement in requirements {
            if !requirement.marker.evaluate(&environment, &active) {
                continue;
            }
            if let Some(problem) = judge(sources, runtime, &installed, dependent, requirement) {
                problems.push(problem);
            }
        }
    }
    problems
}

fn judge(
    sources: &[DepSource<'_>],
    runtime: &Runtime,
    installed: &BTreeMap<String, Dist>,
    dependent: &Dist,
    requirement: &Requirement,
) -> Option<Problem> {
    let target_key = PackageName::as_ref(&requirement.name).to_string();
    let wanted = requirement_text(requirement);
    let target = installed.get(&target_key);
    let dependent_from_runtime = matches!(dependent.origin, Origin::Runtime { .. });
    let target_from_runtime =
        target.is_some_and(|dist| matches!(dist.origin, Origin::Runtime { .. }));
    // The runtime's own packages agree with each other; only what the sources change matters.
    if dependent_from_runtime && (target.is_none() || target_from_runtime) {
        return None;
    }
    let Some(target) = target else {
        let Origin::Source { index, metadata } = &dependent.origin else {
            return None;
        };
        return Some(Problem {
            kind: ProblemKind::Missing,
            source: *index,
            path: metadata.clone(),
            message: format!(
                "{} {} requires `{wanted}`, which is neither in {{where}} nor in the {{runtimes}} runtime: importing what needs it fails with \"ModuleNotFoundError\" (pip check: \"{} {} requires {}, which is not installed\")",
                dependent.name,
                dependent.version,
                dependent.name,
                dependent.version,
                requirement.name
            ),
            help: format!(
                "install it beside {}: `pip install --target python '{wanted}'`, or build the layer with one `pip install` of everything so pip resolves every requirement",
                dependent.name
            ),
            subject: subject(dependent, requirement, None),
        });
    };
    let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url else {
        return None;
    };
    let version = Version::from_str(&target.version).ok()?;
    if specifiers.contains(&version) {
        return None;
    }
    let sdk = SDK_PARTS.contains(&dependent.key().as_str())
        && SDK_PARTS.contains(&target_key.as_str())
        && dependent_from_runtime != target_from_runtime;
    if sdk {
        // Report at the part the layer ships.
        let (layer_dist, runtime_dist) = if dependent_from_runtime {
            (target, dependent)
        } else {
            (dependent, target)
        };
        let Origin::Source { index, metadata } = &layer_dist.origin else {
            return None;
        };
        let label = &sources[*index].label;
        let missing: Vec<&str> = SDK_PARTS
            .iter()
            .copied()
            .filter(|part| {
                installed
                    .get(*part)
                    .is_some_and(|dist| matches!(dist.origin, Origin::Runtime { .. }))
            })
            .collect();
        return Some(Problem {
            kind: ProblemKind::SdkSkew,
            source: *index,
            path: metadata.clone(),
            message: format!(
                "{label} ships {} {} but not {}, so the {} runtime's {} {} is used with it; {} {} requires `{wanted}` and gets {} {}: boto3 fails at import or at the first call (ImportError, AttributeError or UnknownServiceError)",
                layer_dist.name,
                layer_dist.version,
                crate::text::and_list(&missing),
                runtime.id,
                runtime_dist.name,
                runtime_dist.version,
                dependent.name,
                dependent.version,
                target.name,
                target.version,
            ),
            help: "ship boto3, botocore and s3transfer together (one `pip install --target python boto3`), or none of them and use the runtime's".to_string(),
            subject: subject(dependent, requirement, Some(target)),
        });
    }
    let Origin::Source { index, metadata } = &dependent.origin else {
        return None;
    };
    Some(Problem {
        kind: ProblemKind::Mismatch,
        source: *index,
        path: metadata.clone(),
        message: format!(
            "{} {} requires `{wanted}`, but {} {} is the one imported ({}): pip check: \"{} {} has requirement {wanted}, but you have {} {}\"",
            dependent.name,
            dependent.version,
            target.name,
            target.version,
            describe(sources, runtime, target),
            dependent.name,
            dependent.version,
            target.name,
            target.version,
        ),
        help: format!(
            "install {} and {} in one `pip install --target python` so pip picks versions that agree, or pin {} to a version in `{wanted}`",
            dependent.name, target.name, target.name
        ),
        subject: subject(dependent, requirement, Some(target)),
    })
}

/// The requirement of `dependent` as data, with the version of the dist `found` for it.
fn subject(dependent: &Dist, requirement: &Requirement, found: Option<&Dist>) -> Subject {
    let accepts = match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => Some(specifiers.to_string()),
        _ => None,
    };
    Subject {
        ecosystem: PackageEcosystem::Python,
        package: requirement.name.to_string(),
        accepts: accepts.filter(|text| !text.is_empty()),
        found_version: found.map(|dist| dist.version.clone()),
        required_by: dependent.name.clone(),
        required_by_version: Some(dependent.version.clone()),
    }
}

/// `numpy>=1.26.0` (name, extras, versions; no marker).
fn requirement_text(requirement: &Requirement) -> String {
    let mut text = requirement.name.to_string();
    if !requirement.extras.is_empty() {
        let extras: Vec<String> = requirement.extras.iter().map(ToString::to_string).collect();
        text.push_str(&format!("[{}]", extras.join(",")));
    }
    if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url {
        text.push_str(&specifiers.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_headers_with_continuations() {
        let text = "Metadata-Version: 2.1\nName: pandas\nVersion: 2.2.3\nRequires-Dist: numpy>=1.26.0; python_version >= \"3.12\"\nRequires-Dist: pytz\n  >=2020.1\n\nRequires-Dist: not-a-header\n";
        let (name, version, requires) = parse_metadata(text).expect("parsed");
        assert_eq!((name.as_str(), version.as_str()), ("pandas", "2.2.3"));
        assert_eq!(
            requires,
            ["numpy>=1.26.0; python_version >= \"3.12\"", "pytz >=2020.1"]
        );
    }

    #[test]
    fn every_bundled_sdk_version_has_its_requirements() {
        for runtime in crate::runtime::RUNTIMES {
            for package in runtime.facts().bundled_packages() {
                if !["boto3", "s3transfer"].contains(&package.name) {
                    continue;
                }
                let key = format!("{}=={}", package.name, package.version.unwrap_or("?"));
                assert!(
                    BUNDLED_REQUIRES
                        .lines()
                        .any(|line| line.starts_with(&format!("{key}\t"))),
                    "{}: {key} has no Requires-Dist in src/facts/bundled-requires.txt",
                    runtime.id
                );
            }
        }
    }

    #[test]
    fn markers_for_the_runtime() {
        let runtime = Runtime::find("python3.12").expect("runtime");
        let environment = marker_environment(runtime, Arch::Arm64).expect("environment");
        let yes = |text: &str| {
            Requirement::<pep508_rs::VerbatimUrl>::from_str(text)
                .expect(text)
                .marker
                .evaluate(&environment, &[])
        };
        assert!(yes("a; python_version >= '3.12'"));
        assert!(!yes("a; python_version < '3.11'"));
        assert!(yes(
            "a; sys_platform == 'linux' and platform_machine == 'aarch64'"
        ));
        assert!(!yes("a; sys_platform == 'win32'"));
        assert!(!yes("a; extra == 'test'"));
        assert!(yes("a; platform_python_implementation == 'CPython'"));
    }
}
