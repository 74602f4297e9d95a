//! Bytecode rules: Python `.pyc` files that are dead weight or slow every cold start.
//!
//! Both rules read only the 16-byte pyc headers (in parallel), never whole files, so they stay
//! cheap on a layer with thousands of modules. Findings are grouped per Python search folder
//! (`python`, `python/lib/python3.N/site-packages`) so a big layer gets one line, not thousands.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::bytecode::{
    self, CachedPyc, HEADER_LEN, PycHeader, Validation, mtime_as_recorded, size_as_recorded,
};
use crate::finding::Severity;
use crate::inventory::{Entry, Inventory, Origin};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::{Family, Runtime};

pub static HYG001: Rule = Rule {
    code: "HYG001",
    name: "foreign-bytecode",
    severity: Severity::Warning,
    summary: "bytecode caches for a Python version none of the runtimes runs",
    explanation: r#"## What it does

Finds compiled Python files that none of the layer's Python runtimes can use:
`__pycache__/NAME.cpython-3XY.pyc` files whose tag names another Python version (or
another interpreter, such as `pypy39`), and sourceless `NAME.pyc` modules whose magic number
belongs to another Python version.

## Why this breaks at run time

Python only reads the cache file named with its own tag (`cpython-312` for python3.12), so
the others are dead weight: they count against the 250 MiB unzipped quota and are downloaded
and extracted on every cold start. They usually mean the layer was installed with a local
Python that differs from the runtime, so its compiled extensions may not load either.

A sourceless module compiled by another version fails outright:

```
ImportError: bad magic number in 'settings': b'\xa7\r\r\n'
```

## Example

A layer for `python3.12` built with a local Python 3.11:

```
python/requests/__pycache__/api.cpython-311.pyc
```

## Fix

Install the layer with the runtime's Python (`python3.12 -m pip install --target python ...`,
or `pip install --python-version 3.12 --only-binary=:all:`). `layerpack build` drops cache files
for other versions by default (`bytecode = "keep-valid"`).
"#,
    check: Check::Layer(check_foreign_bytecode),
};

pub static HYG007: Rule = Rule {
    code: "HYG007",
    name: "stale-bytecode",
    severity: Severity::Warning,
    summary: "timestamp-based `.pyc` files that Python rejects at import, recompiling on every cold start",
    explanation: r#"## What it does

Counts the timestamp-based `.pyc` files that Python would reject when it imports the layer
from `/opt`: the pyc records its source's modification time and size, and Python compares them
with the source it finds (`int(st_mtime) & 0xFFFFFFFF`, `st_size & 0xFFFFFFFF`,
`_validate_timestamp_pyc` in `importlib/_bootstrap_external.py`). In a zip, the source's time is
the zip entry's date (a DOS date, read as UTC, the way Lambda's extraction sets it); in a folder,
the file's modification time. Pycs whose magic number is not their Python's are counted too.

## Why this breaks at run time

Nothing fails, the layer is slow. Python logs `bytecode is stale for 'requests.api'` (with
`python -v`), compiles the module from source, and tries to write a fresh pyc; `/opt` is
read-only, so the work is lost and repeated on **every cold start**. `pip install --target`
writes timestamp pycs, and any tool that normalizes zip dates (for reproducible zips) or
extracts them with new dates makes every one of them stale. Fixing this cut cold starts by
40–47 % in the Serverless Framework's Python packaging.

## Example

A layer installed with `pip install --target python requests` and zipped with all dates set
to 1980-01-01: every `python/requests/__pycache__/*.cpython-312.pyc` records the install time.

## Fix

Build the layer with `layerpack build`: with `bytecode = "keep-valid"` (the default) it turns
every pyc that was valid at build time into a hash-based pyc (PEP 552), valid whatever the
dates. Or compile hash-based pycs yourself before zipping:
`python3.12 -m compileall --invalidation-mode checked-hash python/`.
"#,
    check: Check::Layer(check_stale_bytecode),
};

/// The Python versions of the layer's runtimes, `None` when it has no Python runtime.
fn layer_versions(runtimes: &[&'static Runtime]) -> Option<BTreeSet<(u32, u32)>> {
    let versions = bytecode::python_versions(runtimes);
    (!versions.is_empty()).then_some(versions)
}

/// The Python search folder a path lies in (the longest of the runtimes' package folders), or
/// its top-level folder; and the package or module below that folder.
fn group_of(path: &str, runtimes: &[&'static Runtime]) -> (String, String) {
    let root = runtimes
        .iter()
        .filter(|runtime| runtime.family == Family::Python)
        .flat_map(|runtime| runtime.package_dirs())
        .filter(|dir| {
            path.starts_with(dir.as_str()) && path.as_bytes().get(dir.len()) == Some(&b'/')
        })
        .max_by_key(String::len)
        .unwrap_or_else(|| path.split('/').next().unwrap_or(path).to_string());
    let rest = path.get(root.len() + 1..).unwrap_or_default();
    let package = rest.split('/').next().unwrap_or(rest);
    let package = if package == "__pycache__" {
        // A top-level module: `__pycache__/six.cpython-312.pyc` caches `six`.
        rest.rsplit('/')
            .next()
            .and_then(|file| file.split('.').next())
            .unwrap_or(package)
    } else {
        package.strip_suffix(".pyc").unwrap_or(package)
    };
    (root, package.to_string())
}

fn read_header(inventory: &Inventory, entry: &Entry) -> Option<Result<PycHeader, String>> {
    match inventory.read_prefix(entry, HEADER_LEN) {
        Ok(bytes) => Some(PycHeader::parse(&bytes).map_err(|err| err.describe())),
        // An unreadable entry is reported by the rules about the archive, not as bytecode.
        Err(_) => None,
    }
}

fn format_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn check_foreign_bytecode(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let Some(versions) = layer_versions(context.runtimes) else {
        return;
    };
    let runtime_ids = bytecode::python_runtime_ids(context.runtimes);
    let inventory = context.inventory;
    // Cache files: grouped per search folder and tag.
    let mut groups: BTreeMap<(String, String), (usize, u64)> = BTreeMap::new();
    for entry in inventory.files() {
        let Some(cached) = CachedPyc::parse(entry.path.as_str()) else {
            continue;
        };
        if cached
            .version
            .is_some_and(|version| versions.contains(&version))
        {
            continue;
        }
        let (root, _) = group_of(entry.path.as_str(), context.runtimes);
        let group = groups.entry((root, cached.tag)).or_default();
        group.0 += 1;
        group.1 += entry.size;
    }
    for ((root, tag), (count, bytes)) in groups {
        let who = match tag.strip_prefix("cpython-3") {
            Some(minor) => format!("Python 3.{minor}"),
            None => format!("`{tag}`"),
        };
        report.report(
            root,
            format!(
                "{count} bytecode file(s) for {who} ({}) that no runtime of the layer \
                 ({runtime_ids}) ever reads: dead weight in every cold start's download",
                format_size(bytes)
            ),
            format!(
                "install the layer with the runtime's own Python; `layerpack build` drops \
                 `*.{tag}.pyc` files (bytecode = \"keep-valid\")"
            ),
        );
    }
    // Sourceless modules (`NAME.pyc` with no `NAME.py`) compiled by another Python.
    let sourceless: Vec<&Entry> = inventory
        .files()
        .filter(|entry| {
            let path = entry.path.as_str();
            path.strip_suffix(".pyc").is_some_and(|stem| {
                CachedPyc::parse(path).is_none()
                    && !entry.path.parent().ends_with("__pycache__")
                    && inventory.get(&format!("{stem}.py")).is_none()
            })
        })
        .collect();
    let mut foreign: Vec<(&Entry, (u32, u32), u16)> = sourceless
        .par_iter()
        .filter_map(|entry| {
            let header = read_header(inventory, entry)?.ok()?;
            let version = bytecode::version_of_magic(header.magic)?;
            (!versions.contains(&version)).then_some((*entry, version, header.magic))
        })
        .collect();
    foreign.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    for (entry, version, magic) in foreign {
        let module = entry
            .path
            .file_name()
            .strip_suffix(".pyc")
            .unwrap_or(entry.path.file_name());
        let magic_bytes = magic.to_le_bytes();
        report.report_as(
            Severity::Error,
            entry.path.as_str(),
            format!(
                "sourceless module compiled by Python {}: {runtime_ids} refuses to import it \
                 (ImportError: bad magic number in '{module}': b'{}\\r\\n')",
                bytecode::version_text(version),
                magic_bytes
                    .iter()
                    .map(|byte| escape_byte(*byte))
                    .collect::<String>()
            ),
            "ship the module's `.py` source, or compile it with the runtime's Python",
        );
    }
}

/// A byte as Python's `bytes` repr shows it.
fn escape_byte(byte: u8) -> String {
    match byte {
        b'\r' => "\\r".to_string(),
        b'\n' => "\\n".to_string(),
        b'\\' => "\\\\".to_string(),
        b'\'' => "\\'".to_string(),
        0x20..=0x7e => (byte as char).to_string(),
        _ => format!("\\x{byte:02x}"),
    }
}

/// What Python will compare a timestamp pyc with, for a source entry: its modification time as
/// extracted on Lambda and its size.
fn source_time(inventory: &Inventory, source: &Entry) -> Option<i64> {
    match &inventory.origin {
        // Being built: every entry gets the build's one date in the zip.
        Origin::Sources { .. } => Some(
            crate::archive::DosDateTime::from_env()
                .unwrap_or(crate::archive::DosDateTime::EPOCH)
                .to_unix(),
        ),
        Origin::Zip(_) | Origin::Directory(_) => source.mtime,
    }
}

fn check_stale_bytecode(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let Some(versions) = layer_versions(context.runtimes) else {
        return;
    };
    let inventory = context.inventory;
    let candidates: Vec<(&Entry, &Entry)> = inventory
        .files()
        .filter_map(|entry| {
            let cached = CachedPyc::parse(entry.path.as_str())?;
            if !cached
                .version
                .is_some_and(|version| versions.contains(&version))
            {
                return None;
            }
            let source = inventory
                .get(&cached.source)
                .filter(|source| source.is_file())?;
            Some((entry, source))
        })
        .collect();
    let verdicts: Vec<(&Entry, Verdict)> = candidates
        .par_iter()
        .filter_map(|(pyc, source)| {
            let header = read_header(inventory, pyc)?.ok()?;
            let version = CachedPyc::parse(pyc.path.as_str())?.version?;
            if bytecode::magic_number(version).is_some_and(|magic| magic != header.magic) {
                return Some((*pyc, Verdict::WrongMagic));
            }
            let verdict = match header.validation {
                Validation::Hash { .. } => Verdict::Accepted,
                Validation::Timestamp { mtime, source_size } => {
                    let seen_mtime = source_time(inventory, source).map(mtime_as_recorded);
                    if seen_mtime == Some(mtime) && size_as_recorded(source.size) == source_size {
                        Verdict::Accepted
                    } else {
                        Verdict::Stale
                    }
                }
            };
            Some((*pyc, verdict))
        })
        .collect();
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    for (pyc, verdict) in verdicts {
        let (root, package) = group_of(pyc.path.as_str(), context.runtimes);
        let tally = groups.entry(root).or_default();
        tally.total += 1;
        match verdict {
            Verdict::Accepted => continue,
            Verdict::Stale => tally.stale += 1,
            Verdict::WrongMagic => tally.wrong_magic += 1,
        }
        *tally.packages.entry(package).or_default() += 1;
    }
    let against = match inventory.origin {
        Origin::Zip(_) => "the zip entries' dates",
        Origin::Directory(_) => "the files' modification times",
        Origin::Sources { .. } => "the zip's normalized date",
    };
    for (root, tally) in groups {
        let rejected = tally.stale + tally.wrong_magic;
        if rejected == 0 {
            continue;
        }
        let mut reasons = Vec::new();
        if tally.stale > 0 {
            reasons.push(format!(
                "{} timestamp-based: the source time or size they record disagrees with {against}",
                tally.stale
            ));
        }
        if tally.wrong_magic > 0 {
            reasons.push(format!(
                "{} carry another Python's magic number",
                tally.wrong_magic
            ));
        }
        let mut largest: Vec<(String, usize)> = tally.packages.into_iter().collect();
        largest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut listed: Vec<String> = largest
            .iter()
            .take(3)
            .map(|(package, count)| format!("{package} {count}"))
            .collect();
        if largest.len() > 3 {
            listed.push(format!("{} more packages", largest.len() - 3));
        }
        report.report(
            root,
            format!(
                "Python rejects {rejected} of {} cached modules at import and compiles them from \
                 source on every cold start, because /opt is read-only ({}; by package: {})",
                tally.total,
                reasons.join("; "),
                listed.join(", ")
            ),
            "build the layer with `layerpack build` (bytecode = \"keep-valid\" makes valid pycs \
             hash-based, valid whatever the dates), or compile with `python -m compileall \
             --invalidation-mode checked-hash`",
        );
    }
}

/// How Python treats one cached pyc at import.
enum Verdict {
    Accepted,
    /// Timestamp-based, and the recorded source time or size is not the source's.
    Stale,
    /// The magic number is not the one of the Python its name is tagged for.
    WrongMagic,
}

/// Cached pycs of one search folder.
#[derive(Default)]
struct Tally {
    total: usize,
    stale: usize,
    wrong_magic: usize,
    /// Rejected pycs per package.
    packages: BTreeMap<String, usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_search_folder_and_package() {
        let runtimes = [Runtime::find("python3.12").expect("runtime")];
        assert_eq!(
            group_of(
                "python/lib/python3.12/site-packages/requests/__pycache__/api.cpython-312.pyc",
                &runtimes
            ),
            (
                "python/lib/python3.12/site-packages".to_string(),
                "requests".to_string()
            )
        );
        assert_eq!(
            group_of("python/__pycache__/six.cpython-312.pyc", &runtimes),
            ("python".to_string(), "six".to_string())
        );
        assert_eq!(
            group_of("lib/x/__pycache__/a.cpython-312.pyc", &runtimes),
            ("lib".to_string(), "x".to_string())
        );
    }

    #[test]
    fn bytes_repr() {
        let text: String = [0xa7u8, 0x0d, b'\r', b'\n']
            .iter()
            .map(|byte| escape_byte(*byte))
            .collect();
        assert_eq!(text, "\\xa7\\r\\r\\n");
    }
}
