//! Dependency metadata over a merged stack: an offline `pip check` and `npm ls`.
//!
//! A layer built in two `pip install --target` steps, or one that ships botocore without boto3,
//! imports fine on the build machine and fails on Lambda, where the function, every layer and the
//! runtime's own packages meet in one search path. This module lays the sources out where Lambda
//! puts them (the function in `/var/task`, layers merged into `/opt` in attachment order, later
//! files replacing earlier ones, the runtime's bundled packages last) and checks every declared
//! requirement against the version the runtime would really find:
//! - Python: `Requires-Dist` of every `*.dist-info/METADATA` on `sys.path`, markers evaluated for
//!   the runtime (PEP 508, `pep508_rs`), extras only when a dependent asks for them, versions per
//!   PEP 440; the runtime's dists count as installed with their recorded versions.
//! - Node.js: each package's `dependencies` (semver ranges, `semver`) against the package that
//!   Node's lookup from that package's folder finds (`node_modules` walk, then `NODE_PATH`).
//!
//! The `DEP` rules turn the problems into findings, per layer and per stack.

pub(crate) mod node;
pub(crate) mod python;

use crate::finding::PackageEcosystem;
use crate::inventory::Inventory;
use crate::runtime::{Arch, Family, Runtime};

/// One source of files as Lambda places it.
pub(crate) struct DepSource<'a> {
    /// How findings name it: the layer's name, or `function code`.
    pub(crate) label: String,
    pub(crate) inventory: &'a Inventory,
    /// `/opt` for a layer, `/var/task` for the function.
    pub(crate) root: &'static str,
}

/// What is wrong with one requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ProblemKind {
    /// DEP001: nothing by that name is installed where the dependent looks.
    Missing,
    /// DEP002: installed, at a version outside the range.
    Mismatch,
    /// DEP003: the mismatch is between the runtime's AWS SDK and a part of it a layer replaced.
    SdkSkew,
}

/// A broken requirement as data: which package requires which, and what was found.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Subject {
    pub(crate) ecosystem: PackageEcosystem,
    /// The package required (`idna`, `dayjs`).
    pub(crate) package: String,
    /// The versions the requirement accepts, as it spells them (`>=2.5, <4`, `^1.11.0`); `None`
    /// when it accepts any.
    pub(crate) accepts: Option<String>,
    /// The version installed where the dependent looks (`None` when nothing is).
    pub(crate) found_version: Option<String>,
    /// The package that requires it, and its version.
    pub(crate) required_by: String,
    pub(crate) required_by_version: Option<String>,
}

/// One broken requirement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Problem {
    pub(crate) kind: ProblemKind,
    /// The index in the sources of the file the finding is about.
    pub(crate) source: usize,
    /// The archive path (inside that source) of the metadata the finding is about.
    pub(crate) path: String,
    /// The message, with `{runtimes}` where the runtimes it fails on go.
    pub(crate) message: String,
    pub(crate) help: String,
    pub(crate) subject: Subject,
}

/// Every broken requirement of the sources on `runtime` (Python and Node.js runtimes; none for
/// the others). Sources are in attachment order: the function (if any) first, then the layers.
pub(crate) fn check(sources: &[DepSource<'_>], runtime: &Runtime, arch: Arch) -> Vec<Problem> {
    let mut problems = match runtime.family {
        Family::Python => python::check(sources, runtime, arch),
        Family::Nodejs => node::check(sources, runtime),
        _ => Vec::new(),
    };
    problems.sort();
    problems.dedup();
    problems
}

/// Problems of one layer checked on several runtimes, merged: the same problem on several
/// runtimes becomes one, naming them all.
pub(crate) fn check_on_runtimes(
    sources: &[DepSource<'_>],
    runtimes: &[&'static Runtime],
    arch: Arch,
) -> Vec<(Problem, Vec<&'static Runtime>)> {
    let mut merged: Vec<(Problem, Vec<&'static Runtime>)> = Vec::new();
    for runtime in runtimes {
        for problem in check(sources, runtime, arch) {
            match merged.iter_mut().find(|(known, _)| *known == problem) {
                Some((_, on)) => on.push(runtime),
                None => merged.push((problem, vec![runtime])),
            }
        }
    }
    merged
}
