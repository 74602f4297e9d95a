//! `HYG001` foreign-bytecode: bytecode caches for a Python version none of the runtimes runs.
//!
//! The rule, its explanation (printed by `layerpack rule HYG001`) and its check.

use super::bytecode::{group_of, layer_versions, read_header};
use crate::bytecode;
use crate::domain::pycache::CachedPyc;
use crate::finding::{Code, Severity};
use crate::inventory::Entry;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::units::kib_or_mib;
use rayon::prelude::*;
use std::collections::BTreeMap;

pub(crate) static HYG001: Rule = Rule {
    code: Code::HYG001,
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
                kib_or_mib(bytes)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_repr() {
        let text: String = [0xa7u8, 0x0d, b'\r', b'\n']
            .iter()
            .map(|byte| escape_byte(*byte))
            .collect();
        assert_eq!(text, "\\xa7\\r\\r\\n");
    }
}
