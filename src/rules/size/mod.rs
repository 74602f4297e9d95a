//! Size rules (`SIZE`): Lambda's quotas and the team's own budgets.
//!
//! Sizes come from the inventory (entry sizes, and the zip's length when there is one); nothing
//! is read. Every size finding names the five largest contributors, counted per package (a
//! folder directly inside a search-path folder such as `site-packages` or `node_modules`) rather
//! than per file, since "pyarrow is 120 MiB" is what a user can act on.

mod size001_unzipped_over_quota;
mod size002_zipped_over_direct_upload;
mod size003_over_budget;

pub(crate) use size001_unzipped_over_quota::SIZE001;
pub(crate) use size002_zipped_over_direct_upload::SIZE002;
pub(crate) use size003_over_budget::SIZE003;

use crate::inventory::Inventory;
use crate::runtime::{COMMON_DIRS, RUNTIMES};
use crate::units::short_bytes;
use std::collections::BTreeMap;

/// How many contributors a size finding lists.
const LARGEST: usize = 5;

/// Folders whose children are the units a user thinks in: every runtime's package folders,
/// the gems inside a Ruby gem folder, `bin` and `lib`. Longest first.
fn package_containers() -> Vec<String> {
    let mut containers: Vec<String> = RUNTIMES
        .iter()
        .flat_map(|runtime| {
            let mut dirs = runtime.package_dirs();
            if runtime.family == crate::runtime::Family::Ruby {
                dirs.push(format!("{}/gems", runtime.ruby_gem_dir()));
            }
            dirs
        })
        .chain(COMMON_DIRS.iter().map(|dir| dir.to_string()))
        .collect();
    containers.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    containers.dedup();
    containers
}

/// The unit a file's size is counted under: `python/lib/python3.12/site-packages/pyarrow` for
/// any file of pyarrow, `nodejs/node_modules/@aws-sdk/client-s3` for a scoped npm package,
/// otherwise the first two components of the path.
fn contributor<'a>(path: &'a str, containers: &[String]) -> &'a str {
    let end_after = |start: usize, components: usize| -> &'a str {
        let mut end = start;
        for _ in 0..components {
            match path[end..].find('/') {
                Some(offset) => end += offset + 1,
                None => return path,
            }
        }
        &path[..end - 1]
    };
    for container in containers {
        if path.len() > container.len()
            && path.starts_with(container.as_str())
            && path.as_bytes()[container.len()] == b'/'
        {
            let start = container.len() + 1;
            let scoped = path[start..].starts_with('@');
            return end_after(start, if scoped { 2 } else { 1 });
        }
    }
    end_after(0, 2)
}

/// `python/lib/python3.12/site-packages/pyarrow (120.3 MiB), …` — the five largest units.
pub(crate) fn largest_contributors(inventory: &Inventory) -> String {
    let containers = package_containers();
    let mut sizes: BTreeMap<&str, u64> = BTreeMap::new();
    for entry in inventory.files() {
        *sizes
            .entry(contributor(entry.path.as_str(), &containers))
            .or_default() += entry.size;
    }
    let mut ranked: Vec<(&str, u64)> = sizes.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ranked
        .iter()
        .filter(|(_, size)| *size > 0)
        .take(LARGEST)
        .map(|(path, size)| format!("{path} ({})", short_bytes(*size)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Budget, LintSettings};
    use crate::finding::{Code, Severity};
    use crate::inventory::Origin;
    use crate::inventory::testing::file;
    use crate::runtime::{Arch, Runtime};
    use std::path::PathBuf;

    #[test]
    fn contributors_are_packages() {
        let containers = package_containers();
        assert_eq!(
            contributor(
                "python/lib/python3.12/site-packages/pyarrow/lib.so",
                &containers
            ),
            "python/lib/python3.12/site-packages/pyarrow"
        );
        assert_eq!(
            contributor(
                "nodejs/node_modules/@aws-sdk/client-s3/dist/index.js",
                &containers
            ),
            "nodejs/node_modules/@aws-sdk/client-s3"
        );
        assert_eq!(contributor("python/six.py", &containers), "python/six.py");
        assert_eq!(contributor("README.md", &containers), "README.md");
        assert_eq!(contributor("data/a/b.bin", &containers), "data/a");
    }

    /// A synthetic 300 MB, 60 MB-zipped inventory: no bytes exist, only sizes.
    #[test]
    fn quotas_fire_on_a_synthetic_inventory() {
        let mut inventory = Inventory::new(
            Origin::Zip(PathBuf::from("big.zip")),
            vec![
                file(
                    "python/lib/python3.12/site-packages/pyarrow/a.so",
                    200_000_000,
                ),
                file(
                    "python/lib/python3.12/site-packages/pyarrow/b.so",
                    20_000_000,
                ),
                file("python/lib/python3.12/site-packages/numpy/c.so", 80_000_000),
            ],
        );
        inventory.zipped_bytes = Some(60 * 1024 * 1024);
        let runtime = Runtime::find("python3.12").expect("runtime");
        let settings = LintSettings {
            select: vec!["SIZE".to_string()],
            ..LintSettings::default()
        };
        let findings = crate::rules::check_inventory(
            "big.zip",
            &inventory,
            &[runtime],
            &[Arch::X86_64],
            Budget::default(),
            0,
            &settings,
        );
        let codes: Vec<Code> = findings.iter().map(|finding| finding.code).collect();
        assert_eq!(codes, [Code::SIZE001, Code::SIZE002]);
        assert!(
            findings[0]
                .message
                .contains("largest: python/lib/python3.12/site-packages/pyarrow (209.8 MiB), python/lib/python3.12/site-packages/numpy (76.3 MiB)"),
            "{}",
            findings[0].message
        );
        assert_eq!(findings[1].severity, Severity::Warning);
    }
}
