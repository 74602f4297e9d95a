//! Archive rules (`ZIP`): zips made elsewhere whose entries are unsafe or odd.
//!
//! The inventory never follows an unsafe name: it keeps such names, and repeated ones, aside as
//! [`Anomaly`]s when it reads a zip, and these rules report them. Symlink targets are resolved
//! as text (never on disk) with the same function `gather` uses.

use crate::finding::Severity;
use crate::gather::symlink_target_in_layer;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::inventory::{Anomaly, ArchivePath, EntryKind, Origin};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

/// The folder macOS Archive Utility adds to every zip it makes.
const MACOSX_DIR: &str = "__MACOSX";

pub static ZIP001: Rule = Rule {
    code: "ZIP001",
    name: "unsafe-entry-path",
    severity: Severity::Error,
    summary: "an entry path that is absolute, climbs out with `..`, or has a backslash or NUL",
    explanation: r#"## What it does

Reports zip entries whose name is not a safe relative path: absolute (`/etc/profile`, `C:/x`),
climbing out with `..` (`../../var/task/app.py`), or containing a backslash or a NUL byte.
layerpack reports them and never follows them; they are left out of everything else it checks.

## Why this breaks at run time

Such an entry is either an attack ("zip slip": writing outside the folder being extracted to) or
a zip made on Windows with `\` separators. Extractors disagree on what to do: Info-ZIP `unzip`
strips the dangerous part and says

```
warning:  skipped "../" path component(s) in ../../var/task/app.py
```

while others write outside the target folder or keep a file literally named `python\foo.py`
that no import finds. The layer's content then depends on the tool that unpacks it.

## Example

```
python\requests\__init__.py
../../var/task/app.py
```

## Fix

Rebuild the zip from a clean folder with a tool that writes `/`-separated relative paths
(`layerpack build`, or `zip -r` on Linux or macOS). Do not publish a zip from an unknown source
that contains such entries.
"#,
    check: Check::Layer(check_unsafe_entry_path),
};

fn check_unsafe_entry_path(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for anomaly in &context.inventory.anomalies {
        let Anomaly::UnsafeName { name, reason } = anomaly else {
            continue;
        };
        let shown = name.replace('\0', "\\0");
        report.report(
            shown.as_str(),
            format!(
                "the entry `{shown}` is not a safe path inside /opt ({}): extractors either \
                 skip it or write it where the layer has no business writing; layerpack did not \
                 follow it",
                reason.describe()
            ),
            "rebuild the zip from a clean folder with `/`-separated relative paths (e.g. with \
             `layerpack build`)",
        );
    }
}

pub static ZIP002: Rule = Rule {
    code: "ZIP002",
    name: "symlink-escapes-layer",
    severity: Severity::Error,
    summary: "a symlink whose target lies outside the layer",
    explanation: r#"## What it does

Reports symlinks whose target, resolved from the link's folder, lands outside the layer: a
relative target that climbs out with `..`, or an absolute one outside `/opt` (absolute targets
inside `/opt/` are fine, since Lambda extracts the layer there).

## Why this breaks at run time

On Lambda the link points into the function's own file system: at best at a file the runtime
image happens to have, usually at nothing, and the open fails:

```
OSError: [Errno 2] No such file or directory: '/opt/lib/libssl.so.3'
```

A link to `/home/me/.venv/lib/…` worked on the build machine only. Links out of the layer are
also how a hostile zip reads files it should not.

## Example

```
lib/libssl.so.3 -> /usr/local/opt/openssl/lib/libssl.so.3
python/data -> ../../../home/me/data
```

## Fix

Replace the link with the file it points to (`cp -L`, or `zip -r` without `--symlinks`), or make
it a relative link to a file inside the layer.
"#,
    check: Check::Layer(check_symlink_escapes_layer),
};

fn check_symlink_escapes_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for entry in context.inventory.entries() {
        let EntryKind::Symlink { target } = &entry.kind else {
            continue;
        };
        if symlink_target_in_layer(&entry.path, target).is_some() {
            continue;
        }
        report.report(
            entry.path.as_str(),
            format!(
                "`{}` is a symlink to `{target}`, which is outside the layer: on Lambda it \
                 points into the function's file system, where the target is usually missing \
                 (\"No such file or directory\")",
                entry.path
            ),
            "replace the link with the file it points to, or link to a path inside the layer",
        );
    }
}

pub static ZIP003: Rule = Rule {
    code: "ZIP003",
    name: "duplicate-entry",
    severity: Severity::Error,
    summary: "two entries with the same name",
    explanation: r#"## What it does

Reports names that appear more than once in a zip's central directory (after `./` and trailing
`/` are ignored).

## Why this breaks at run time

Which copy ends up in `/opt` depends on the extractor: Info-ZIP `unzip` asks
`replace python/app.py? [y]es, [n]o, [A]ll, [N]one, [r]ename:` (or takes the last one with
`-o`), other libraries keep the first. The code you tested may not be the code Lambda runs, and
a scanner that looked at one copy may have missed the other.

## Example

A zip updated with `zip layer.zip python/app.py` by a tool that appends instead of replacing.

## Fix

Rebuild the zip from a clean folder (`layerpack build`) instead of appending to an old one.
"#,
    check: Check::Layer(check_duplicate_entry),
};

fn check_duplicate_entry(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let mut duplicates: BTreeMap<String, usize> = BTreeMap::new();
    for anomaly in &context.inventory.anomalies {
        if let Anomaly::Duplicate { path, count } = anomaly {
            duplicates.insert(path.to_string(), *count);
        }
    }
    // A zip reader keyed by name keeps one of two entries with the very same name, so the
    // inventory cannot see those: count the central directory's names here.
    if let Origin::Zip(zip) = &context.inventory.origin
        && let Ok(names) = central_directory_names(zip)
    {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for name in names {
            let name = String::from_utf8_lossy(&name).into_owned();
            if let Ok(path) = ArchivePath::new(&name) {
                *counts.entry(path.to_string()).or_default() += 1;
            }
        }
        for (path, count) in counts.into_iter().filter(|(_, count)| *count > 1) {
            let known = duplicates.entry(path).or_default();
            *known = (*known).max(count);
        }
    }
    for (path, count) in &duplicates {
        report.report(
            path.as_str(),
            format!(
                "`{path}` appears {count} times in the zip: which copy lands in /opt depends on \
                 the extractor"
            ),
            "rebuild the zip from a clean folder instead of appending to an old one",
        );
    }
}

/// The raw names of a zip's central directory, in order, duplicates included. Reads only the
/// end records and the directory itself; every offset is checked, so a hostile or truncated
/// file gives an error, never a panic.
pub fn central_directory_names(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    const END_SIGNATURE: u32 = 0x0605_4b50;
    const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
    const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
    const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let u16_at = |bytes: &[u8], at: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            bytes.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |bytes: &[u8], at: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            bytes.get(at..at + 4)?.try_into().ok()?,
        )))
    };
    let u64_at = |bytes: &[u8], at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };

    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let tail_len = len.min(22 + 65_535 + 20);
    let tail_start = len - tail_len;
    let mut tail = vec![0u8; usize::try_from(tail_len).map_err(|_| invalid("zip too large"))?];
    file.seek(SeekFrom::Start(tail_start))?;
    file.read_exact(&mut tail)?;
    let end = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&at| u32_at(&tail, at) == Some(u64::from(END_SIGNATURE)))
        .ok_or_else(|| invalid("no end of central directory"))?;
    let mut entries = u16_at(&tail, end + 10).ok_or_else(|| invalid("short end record"))?;
    let mut size = u32_at(&tail, end + 12).ok_or_else(|| invalid("short end record"))?;
    let mut offset = u32_at(&tail, end + 16).ok_or_else(|| invalid("short end record"))?;
    if (entries == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF)
        && end >= 20
        && u32_at(&tail, end - 20) == Some(u64::from(ZIP64_LOCATOR_SIGNATURE))
    {
        let zip64_end = u64_at(&tail, end - 12).ok_or_else(|| invalid("short zip64 locator"))?;
        let mut record = [0u8; 56];
        file.seek(SeekFrom::Start(zip64_end))?;
        file.read_exact(&mut record)?;
        if u32_at(&record, 0) != Some(u64::from(ZIP64_END_SIGNATURE)) {
            return Err(invalid("bad zip64 end record"));
        }
        entries = u64_at(&record, 32).ok_or_else(|| invalid("short zip64 end record"))?;
        size = u64_at(&record, 40).ok_or_else(|| invalid("short zip64 end record"))?;
        offset = u64_at(&record, 48).ok_or_else(|| invalid("short zip64 end record"))?;
    }
    if offset.checked_add(size).is_none_or(|stop| stop > len) {
        return Err(invalid("central directory outside the file"));
    }
    let mut directory = vec![0u8; usize::try_from(size).map_err(|_| invalid("zip too large"))?];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut directory)?;
    let mut names = Vec::new();
    let mut at = 0usize;
    while names.len() as u64 != entries && at < directory.len() {
        if u32_at(&directory, at) != Some(u64::from(CENTRAL_SIGNATURE)) {
            return Err(invalid("bad central directory record"));
        }
        let field = |delta: usize| u16_at(&directory, at + delta).map(|value| value as usize);
        let (Some(name_len), Some(extra_len), Some(comment_len)) =
            (field(28), field(30), field(32))
        else {
            return Err(invalid("short central directory record"));
        };
        let name = directory
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| invalid("short central directory record"))?;
        names.push(name.to_vec());
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(names)
}

pub static ZIP004: Rule = Rule {
    code: "ZIP004",
    name: "macosx-metadata",
    severity: Severity::Warning,
    summary: "`__MACOSX/` resource-fork entries from macOS Archive Utility",
    explanation: r#"## What it does

Reports a `__MACOSX/` folder: the resource forks and extended attributes (`._name` files) that
macOS Archive Utility ("Compress") adds to every zip.

## Why this breaks at run time

Nothing reads them; they land in `/opt/__MACOSX/`, add size, and a `._module.py` beside the real
one can confuse tools that scan for modules. A Node.js or Python loader that walks folders may
also try to parse them:

```
SyntaxError: source code string cannot contain null bytes
```

## Example

```
__MACOSX/python/._requests
__MACOSX/python/requests/.___init__.py
```

## Fix

Remove them (`zip -d layer.zip '__MACOSX/*'`), and make the zip with `layerpack build` or with
`zip -r -X` instead of Finder's "Compress".
"#,
    check: Check::Layer(check_macosx_metadata),
};

fn check_macosx_metadata(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    if !context.inventory.is_dir(MACOSX_DIR) {
        return;
    }
    let files = context
        .inventory
        .below(MACOSX_DIR)
        .iter()
        .filter(|entry| !entry.is_dir())
        .count();
    report.report(
        MACOSX_DIR,
        format!(
            "`{MACOSX_DIR}/` holds {} that macOS Archive Utility added: {} in \
             /opt/{MACOSX_DIR}/ and nothing reads {}",
            if files == 1 {
                "1 resource-fork file".to_string()
            } else {
                format!("{files} resource-fork files")
            },
            if files == 1 { "it lands" } else { "they land" },
            if files == 1 { "it" } else { "them" }
        ),
        format!(
            "remove them (`zip -d layer.zip '{MACOSX_DIR}/*'`) and zip with `layerpack build` or \
             `zip -r -X` instead of Finder's Compress"
        ),
    );
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A stored zip with the given names (duplicates allowed), written by hand.
    fn zip_with_names(names: &[&str]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        for name in names {
            offsets.push(bytes.len() as u32);
            bytes.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            bytes.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
            bytes.extend_from_slice(&[0; 12]);
            bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&[0, 0]);
            bytes.extend_from_slice(name.as_bytes());
        }
        let start = bytes.len() as u32;
        for (name, offset) in names.iter().zip(&offsets) {
            bytes.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            bytes.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
            bytes.extend_from_slice(&[0; 12]);
            bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&[0; 8]);
            bytes.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
            bytes.extend_from_slice(&offset.to_le_bytes());
            bytes.extend_from_slice(name.as_bytes());
        }
        let size = bytes.len() as u32 - start;
        bytes.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&(names.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&(names.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(&start.to_le_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes
    }

    fn names_of(bytes: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        let mut file = tempfile::NamedTempFile::new()?;
        file.write_all(bytes)?;
        central_directory_names(file.path())
    }

    #[test]
    fn central_directory_keeps_duplicate_names() {
        let names = names_of(&zip_with_names(&["a.py", "b/", "a.py"])).expect("names");
        assert_eq!(names, [b"a.py".to_vec(), b"b/".to_vec(), b"a.py".to_vec()]);
    }

    #[test]
    fn truncated_or_hostile_zips_give_errors_not_panics() {
        let good = zip_with_names(&["python/a.py", "python/b.py"]);
        for cut in 0..good.len() {
            let _ = names_of(&good[..cut]);
            let _ = names_of(&good[cut..]);
        }
        // An end record that points past the end of the file.
        let mut hostile = good.clone();
        let end = hostile.len() - 22;
        hostile[end + 16..end + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(names_of(&hostile).is_err());
        // Name lengths that run past the directory.
        let mut long_name = good;
        let directory = long_name
            .windows(4)
            .position(|window| window == 0x0201_4b50u32.to_le_bytes())
            .expect("central record");
        long_name[directory + 28..directory + 30].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(names_of(&long_name).is_err());
        assert!(names_of(b"").is_err());
    }
}
