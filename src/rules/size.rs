//! Size rules (`SIZE`): Lambda's quotas and the team's own budgets.
//!
//! Sizes come from the inventory (entry sizes, and the zip's length when there is one); nothing
//! is read. Every size finding names the five largest contributors, counted per package (a
//! folder directly inside a search-path folder such as `site-packages` or `node_modules`) rather
//! than per file, since "pyarrow is 120 MiB" is what a user can act on.

use std::collections::BTreeMap;

use crate::finding::Severity;
use crate::inventory::Inventory;
use crate::lint::{LayerContext, Reporter};
use crate::report::{group_digits, short_bytes};
use crate::rules::{Check, Rule};
use crate::runtime::{COMMON_DIRS, RUNTIMES, limits};

/// How many contributors a size finding lists.
const LARGEST: usize = 5;

pub static SIZE001: Rule = Rule {
    code: "SIZE001",
    name: "unzipped-over-quota",
    severity: Severity::Error,
    summary: "over 250 MiB unzipped, the quota for a function and all its layers",
    explanation: r#"## What it does

Adds up the unzipped size of every file in the layer and reports a layer of 262,144,000 bytes
(250 MiB) or more, listing its five largest packages or folders.

## Why this breaks at run time

The 250 MiB quota covers the function's code and all its layers together, unzipped. A layer that
is over it on its own can never be attached; publishing the function fails with:

```
InvalidParameterValueException: Unzipped size must be smaller than 262144000 bytes
```

## Example

A Python layer with `pyarrow`, `pandas`, `numpy` and `scipy`, built with their test suites and
debug symbols: 310 MiB unzipped.

## Fix

Leave out what the function never imports (tests, docs, type stubs, packages the runtime already
ships), strip debug symbols from shared libraries (`strip --strip-unneeded`), split the layer in
two (the quota still counts both), or move to a container image, whose limit is 10 GB.
"#,
    check: Check::Layer(check_unzipped_over_quota),
};

fn check_unzipped_over_quota(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let unzipped = context.inventory.unzipped_bytes();
    // AWS's own words are "must be smaller than", so the quota itself is already too much.
    if unzipped < limits::UNZIPPED_BYTES {
        return;
    }
    report.report(
        "",
        format!(
            "{} unzipped ({} bytes), but a function and all its layers together must stay \
             below {} bytes: deploying fails with \"Unzipped size must be smaller than {} \
             bytes\"; largest: {}",
            short_bytes(unzipped),
            group_digits(unzipped),
            group_digits(limits::UNZIPPED_BYTES),
            limits::UNZIPPED_BYTES,
            largest_contributors(context.inventory)
        ),
        "leave out what the function never imports (tests, docs, stubs), strip debug symbols \
         from shared libraries, or split the layer; over the quota, use a container image",
    );
}

pub static SIZE002: Rule = Rule {
    code: "SIZE002",
    name: "zipped-over-direct-upload",
    severity: Severity::Warning,
    summary: "over 50 MiB zipped: direct upload is refused, use S3",
    explanation: r#"## What it does

Reports a layer zip over 52,428,800 bytes (50 MiB), listing its five largest packages or folders.
It only runs when the zipped size is known: for a zip, and during `layerpack build`.

## Why this breaks at run time

A zip sent directly in the `PublishLayerVersion` request (`aws lambda publish-layer-version
--zip-file fileb://layer.zip`, the console's upload button) may be at most 50 MiB. A larger one is
refused before it is ever published:

```
RequestEntityTooLargeException: Request must be smaller than 69905067 bytes for the PublishLayerVersion operation
```

Uploads through S3 are not limited this way, which is why this is a warning.

## Example

A layer with `numpy`, `pandas` and `pyarrow`: 68 MiB zipped.

## Fix

Upload the zip to S3 and publish from there (`--content S3Bucket=…,S3Key=…`; SAM, CDK and
Terraform do this when you give them a bucket), or make the layer smaller.
"#,
    check: Check::Layer(check_zipped_over_direct_upload),
};

fn check_zipped_over_direct_upload(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let Some(zipped) = context.inventory.zipped_bytes else {
        return;
    };
    if zipped <= limits::DIRECT_UPLOAD_ZIPPED_BYTES {
        return;
    }
    report.report(
        "",
        format!(
            "{} zipped ({} bytes) is over the {} bytes Lambda accepts in a direct upload: \
             publishing the zip itself fails with \"RequestEntityTooLargeException: Request must \
             be smaller than 69905067 bytes\"; largest (unzipped): {}",
            short_bytes(zipped),
            group_digits(zipped),
            group_digits(limits::DIRECT_UPLOAD_ZIPPED_BYTES),
            largest_contributors(context.inventory)
        ),
        "upload the zip to S3 and publish it from there (SAM, CDK and Terraform do this when \
         given a bucket), or make the layer smaller",
    );
}

pub static SIZE003: Rule = Rule {
    code: "SIZE003",
    name: "over-budget",
    severity: Severity::Error,
    summary: "over a size budget set in `layer.toml`",
    explanation: r#"## What it does

Compares the layer with the budget set in `layer.toml` and reports it when it is over,
listing its five largest packages or folders:

```toml
[layer.shared-utils.budget]
unzipped_bytes = 104857600   # 100 MiB
zipped_bytes = 31457280      # 30 MiB, checked when the zipped size is known
```

## Why this breaks at run time

The 250 MiB unzipped quota is shared by a function and all of its layers: every megabyte one
layer takes is missing for the others. A team sets a budget so that the combination still
deploys; past it, some function that attaches this layer with its other layers fails with:

```
InvalidParameterValueException: Unzipped size must be smaller than 262144000 bytes
```

A larger layer also makes every cold start slower, since it is downloaded and extracted first.

## Example

A budget of 100 MiB unzipped and a layer that grew to 140 MiB after `boto3` and its stubs were
added.

## Fix

Leave out what the function never imports (the runtime already ships the AWS SDK), or raise the
budget deliberately in `layer.toml`.
"#,
    check: Check::Layer(check_over_budget),
};

fn check_over_budget(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    let budget = context.budget;
    let unzipped = inventory.unzipped_bytes();
    let mut over = Vec::new();
    if let Some(limit) = budget.unzipped_bytes.filter(|limit| unzipped > *limit) {
        over.push(format!(
            "{} unzipped ({} bytes) is over the budget of {} bytes",
            short_bytes(unzipped),
            group_digits(unzipped),
            group_digits(limit)
        ));
    }
    if let (Some(limit), Some(zipped)) = (budget.zipped_bytes, inventory.zipped_bytes)
        && zipped > limit
    {
        over.push(format!(
            "{} zipped ({} bytes) is over the budget of {} bytes",
            short_bytes(zipped),
            group_digits(zipped),
            group_digits(limit)
        ));
    }
    if over.is_empty() {
        return;
    }
    report.report(
        "",
        format!(
            "{} set in layer.toml; the 250 MiB quota is shared by a function and all its \
             layers, so a function attaching this layer may no longer deploy; largest: {}",
            over.join(", and "),
            largest_contributors(inventory)
        ),
        "leave out what the function never imports, or raise the budget in layer.toml \
         deliberately",
    );
}

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
pub fn largest_contributors(inventory: &Inventory) -> String {
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
    use std::path::PathBuf;

    use super::*;
    use crate::inventory::{ArchivePath, Content, Entry, EntryKind, Origin};
    use crate::lint::{Budget, LintSettings};
    use crate::runtime::{Arch, Runtime};

    fn file(path: &str, size: u64) -> Entry {
        Entry {
            path: ArchivePath::new(path).expect("valid"),
            kind: EntryKind::File,
            mode: Some(0o644),
            size,
            mtime: None,
            content: Content::None,
            implied: false,
        }
    }

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
        let findings = crate::lint::check_inventory(
            "big.zip",
            &inventory,
            &[runtime],
            &[Arch::X86_64],
            Budget::default(),
            &settings,
        );
        let codes: Vec<&str> = findings.iter().map(|finding| finding.code).collect();
        assert_eq!(codes, ["SIZE001", "SIZE002"]);
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
