//! Hygiene and safety rules (`HYG`): files that should not ship, or cannot be read at run time.
//!
//! These rules read names, sizes and modes from the inventory. Only a handful of candidate
//! files are opened: possible secrets (`*.pem`, `.npmrc`, …, to tell a private key from a CA
//! bundle) and the `package.json` of npm packages installed twice. A secret's content is never
//! printed.

use std::collections::BTreeMap;

use crate::finding::Severity;
use crate::inventory::{Entry, EntryKind, Inventory, Origin};
use crate::lint::{LayerContext, Reporter};
use crate::report::short_bytes;
use crate::rules::{Check, Rule};
use crate::runtime::{Family, RUNTIMES};

/// Folders of version-control systems.
const VCS_DIRS: &[&str] = &[".git", ".svn", ".hg", ".bzr", "CVS"];
/// Files operating systems drop into folders.
const OS_JUNK_FILES: &[&str] = &[".DS_Store", "Thumbs.db", "desktop.ini", "ehthumbs.db"];
/// macOS Archive Utility's resource-fork folder: the `ZIP004` rule reports it.
const MACOSX_DIR: &str = "__MACOSX";

/// A version-control folder name (`.git`).
pub fn is_vcs_dir(name: &str) -> bool {
    VCS_DIRS.contains(&name)
}

/// A file name operating systems leave behind (`.DS_Store`, `._name`).
pub fn is_os_junk_file(name: &str) -> bool {
    OS_JUNK_FILES.contains(&name) || (name.starts_with("._") && name.len() > 2)
}

/// True for an entry another rule reports as junk (`HYG002`, `ZIP004`), so that layout rules
/// do not report it a second time.
pub fn is_reported_junk(entry: &Entry) -> bool {
    let name = entry.path.file_name();
    entry.path.top() == MACOSX_DIR
        || (entry.is_dir() && is_vcs_dir(name))
        || (!entry.is_dir() && is_os_junk_file(name))
}

pub static HYG002: Rule = Rule {
    code: "HYG002",
    name: "vcs-os-junk",
    severity: Severity::Warning,
    summary: "version-control folders and OS junk files",
    explanation: r#"## What it does

Finds version-control folders (`.git/`, `.svn/`, `.hg/`) and files operating systems leave
behind (`.DS_Store`, `Thumbs.db`, `desktop.ini`, AppleDouble `._name` files).

## Why this breaks at run time

Nothing at run time reads them, so they do not fail an import; they make the layer larger (a
`.git/` folder often outweighs the code), slow every cold start that downloads the layer, and can
publish the repository's history, including secrets that were committed once and removed, to
everyone the layer is shared with. Closer to the 250 MiB quota, they turn into
`Unzipped size must be smaller than 262144000 bytes`.

## Example

```
python/mylib/.git/objects/pack/pack-3f2a….pack
python/.DS_Store
```

## Fix

Leave them out: `layerpack build` drops `.git/`, `.hg/`, `.svn/`, `.DS_Store` and `Thumbs.db` by
default, and a `.layerignore` pattern drops the rest. With `zip`, use
`zip -r layer.zip python -x '*.git*' '*.DS_Store'`.
"#,
    check: Check::Layer(check_vcs_os_junk),
};

fn check_vcs_os_junk(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    let mut skip_below: Option<String> = None;
    for entry in inventory.entries() {
        if let Some(dir) = &skip_below {
            if entry.path.is_within(dir) {
                continue;
            }
            skip_below = None;
        }
        let path = entry.path.as_str();
        let name = entry.path.file_name();
        if entry.path.top() == MACOSX_DIR {
            continue;
        }
        if entry.is_dir() && is_vcs_dir(name) {
            let below = inventory.below(path);
            let files = below.iter().filter(|inner| inner.is_file()).count();
            let bytes: u64 = below.iter().filter(|e| e.is_file()).map(|e| e.size).sum();
            report.report(
                path,
                format!(
                    "`{path}/` is version-control data ({files} file{}, {}): nothing at run time \
                     reads it, and it publishes the repository's history with the layer",
                    if files == 1 { "" } else { "s" },
                    short_bytes(bytes)
                ),
                "leave it out (`layerpack build` drops it by default; with zip: `-x '*.git*'`)",
            );
            skip_below = Some(path.to_string());
        } else if !entry.is_dir() && is_os_junk_file(name) {
            let what = if name.starts_with("._") {
                "a macOS AppleDouble file (resource fork)"
            } else {
                "a file the operating system's file manager left behind"
            };
            report.report(
                path,
                format!("`{path}` is {what}: nothing at run time reads it"),
                "leave it out with a .layerignore pattern (or `zip -x`)",
            );
        }
    }
}

pub static HYG003: Rule = Rule {
    code: "HYG003",
    name: "secret-like-file",
    severity: Severity::Error,
    summary: "files that look like secrets: `.env`, private keys, credentials",
    explanation: r#"## What it does

Finds files that hold secrets: `.env` and `.env.*` (but not `.env.example`, `.env.sample`,
`.env.template`), private keys (`*.pem` or `*.key` containing `PRIVATE KEY`, `id_rsa`,
`id_ecdsa`, `id_ed25519`, `id_dsa`), `.aws/credentials`, an `.npmrc` with an `_authToken`, and a
`.pypirc` with a password. Only these few candidate files are opened, and their content is never
printed.

## Why this breaks at run time

Nothing fails: that is the danger. Anyone who may call `GetLayerVersion` on the layer (every
account it is shared with, or everyone for a public layer) gets a download link to the whole zip,
and `/opt` is readable by the function's code and every dependency in it. A CA bundle such as
certifi's `cacert.pem` holds only `CERTIFICATE` blocks and is not reported.

## Example

```
python/.env                  # DATABASE_URL=postgres://admin:…
python/certs/client.key      # -----BEGIN PRIVATE KEY-----
nodejs/.npmrc                # //registry.npmjs.org/:_authToken=…
```

## Fix

Remove the file from the layer, and rotate the secret: it has been shipped. Give the function
secrets at run time instead, through AWS Secrets Manager, Parameter Store, or environment
variables encrypted with KMS.
"#,
    check: Check::Layer(check_secret_like_file),
};

/// At most this many bytes of a candidate are read.
const SECRET_SNIFF_BYTES: usize = 256 * 1024;

/// Why a file name is a secret candidate, and what in its content (if anything) confirms it.
fn secret_candidate(entry: &Entry) -> Option<(&'static str, Option<&'static [&'static str]>)> {
    let name = entry.path.file_name();
    let lower = name.to_ascii_lowercase();
    if lower == ".env"
        || (lower.starts_with(".env.")
            && ![".env.example", ".env.sample", ".env.template", ".env.dist"]
                .contains(&lower.as_str()))
    {
        return Some((
            "an environment file, the usual home of passwords and API keys",
            None,
        ));
    }
    if ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"].contains(&name) {
        return Some(("an SSH private key", None));
    }
    if lower.ends_with(".pem") || lower.ends_with(".key") {
        return Some(("a private key", Some(&["PRIVATE KEY"])));
    }
    if name == "credentials" && entry.path.parent().rsplit('/').next() == Some(".aws") {
        return Some(("an AWS credentials file", None));
    }
    if name == ".npmrc" {
        return Some((
            "an npm config with a registry token",
            Some(&["_authToken", "_auth=", "_password"]),
        ));
    }
    if name == ".pypirc" {
        return Some(("a PyPI config with a password", Some(&["password"])));
    }
    None
}

fn check_secret_like_file(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    for entry in inventory.files() {
        let Some((what, markers)) = secret_candidate(entry) else {
            continue;
        };
        if entry.size == 0 {
            continue;
        }
        if let Some(markers) = markers {
            // A file that cannot be read is not evidence of a secret.
            let Ok(bytes) = inventory.read_prefix(entry, SECRET_SNIFF_BYTES) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            if !markers.iter().any(|marker| text.contains(marker)) {
                continue;
            }
        }
        report.report(
            entry.path.as_str(),
            format!(
                "`{}` looks like {what}: everyone who can download this layer version (every \
                 account it is shared with) can read it",
                entry.path
            ),
            "remove it from the layer and rotate the secret; give the function secrets at run \
             time (Secrets Manager, Parameter Store, KMS-encrypted environment variables)",
        );
    }
}

pub static HYG004: Rule = Rule {
    code: "HYG004",
    name: "unreadable-mode",
    severity: Severity::Error,
    summary: "files not world-readable, or folders not world-searchable",
    explanation: r#"## What it does

Reads the Unix permissions stored in a zip (or found on disk) and reports files that are not
readable by others (`o+r`), executables not executable by others (`o+x`), and folders others may
not enter (`o+rx`). Under an unreadable folder, only the folder is reported.

## Why this breaks at run time

Lambda extracts the layer with the modes in the zip, and the function runs as a different user
(`sbx_user1051`) than the owner of the files. A file with mode `0600` or a folder with `0700` is
there but cannot be opened:

```
[ERROR] PermissionError: [Errno 13] Permission denied: '/opt/python/mylib/__init__.py'
```

(`EACCES: permission denied` in Node.js, `Permission denied` from a shell.)

A zip made by `layerpack build` always has normalized modes (0644 files, 0755 folders and
executables), so this rule is an error for zips from elsewhere, a warning for a folder (whether
it breaks depends on the tool that zips it), and it does not run on the sources of `layer.toml`.

## Example

```
-rw-------  python/mylib/config.py
drwx------  python/mylib/
```

## Fix

`chmod -R o+rX python/` before zipping (or `find . -type d -exec chmod 755 {} +` and
`find . -type f -exec chmod 644 {} +`), or build the zip with `layerpack build`.
"#,
    check: Check::Layer(check_unreadable_mode),
};

fn check_unreadable_mode(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let severity = match context.inventory.origin {
        Origin::Zip(_) => Severity::Error,
        Origin::Directory(_) => Severity::Warning,
        // `build` normalizes every mode of a layer built from sources.
        Origin::Sources { .. } => return,
    };
    let how_zipped = match context.inventory.origin {
        Origin::Zip(_) => "",
        _ => " once zipped with a tool that keeps modes (zip, sam build)",
    };
    let mut skip_below: Option<String> = None;
    for entry in context.inventory.entries() {
        if let Some(dir) = &skip_below {
            if entry.path.is_within(dir) {
                continue;
            }
            skip_below = None;
        }
        let (Some(mode), false) = (entry.mode, entry.implied) else {
            continue;
        };
        let path = entry.path.as_str();
        let problem = match entry.kind {
            EntryKind::Dir if mode & 0o005 != 0o005 => {
                skip_below = Some(path.to_string());
                Some(("folder", "others may not enter it", "chmod o+rx", "o+rx"))
            }
            EntryKind::File if mode & 0o004 == 0 => {
                Some(("file", "others may not read it", "chmod o+r", "o+r"))
            }
            EntryKind::File if mode & 0o111 != 0 && mode & 0o001 == 0 => {
                Some(("executable", "others may not run it", "chmod o+x", "o+x"))
            }
            _ => None,
        };
        let Some((what, why, fix, _)) = problem else {
            continue;
        };
        report.report_as(
            severity,
            path,
            format!(
                "the {what} `{path}` has mode {mode:04o}: {why}, and the function does not run \
                 as the files' owner, so at run time it fails with \"Permission denied\" \
                 (EACCES){how_zipped}"
            ),
            format!(
                "`{fix} {path}` before zipping (or `chmod -R o+rX` on the layer), or build the \
                 zip with `layerpack build`, which normalizes modes"
            ),
        );
    }
}

pub static HYG005: Rule = Rule {
    code: "HYG005",
    name: "case-conflict",
    severity: Severity::Warning,
    summary: "paths that differ only in letter case",
    explanation: r#"## What it does

Finds entries in one folder whose names differ only in letter case (`Foo.py` and `foo.py`). Only
the outermost conflict is reported.

## Why this breaks at run time

On Lambda's case-sensitive file system both exist, but the layer is usually built or unpacked on
macOS or Windows, where they are one file: one silently overwrites the other, so the layer you
tested is not the one you ship. Python also refuses a module whose case does not match on such
systems:

```
ModuleNotFoundError: No module named 'Foo'
```

## Example

```
python/yaml/Loader.py
python/yaml/loader.py
```

## Fix

Keep one of them: rename or remove the other, and make imports use the exact case.
"#,
    check: Check::Layer(check_case_conflict),
};

fn check_case_conflict(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let mut by_folder: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for entry in context.inventory.entries() {
        by_folder
            .entry((entry.path.parent(), entry.path.file_name().to_lowercase()))
            .or_default()
            .push(entry.path.as_str());
    }
    for paths in by_folder.values().filter(|paths| paths.len() > 1) {
        let first = paths[0];
        let others: Vec<String> = paths[1..].iter().map(|path| format!("`{path}`")).collect();
        report.report(
            first,
            format!(
                "`{first}` and {} differ only in case: on macOS and Windows they are one file, \
                 so one overwrites the other when the layer is built or unpacked there",
                others.join(" and ")
            ),
            "keep one of them (rename or remove the others) and import it with its exact case",
        );
    }
}

pub static HYG006: Rule = Rule {
    code: "HYG006",
    name: "duplicate-distribution",
    severity: Severity::Warning,
    summary: "two versions of one Python distribution or npm package side by side",
    explanation: r#"## What it does

Finds two installs of one package that were mixed into one layer:

- two `*.dist-info` (or `*.egg-info`) folders in one folder for the same distribution name
  (compared as PEP 503 normalizes names: `Typing_Extensions` is `typing-extensions`);
- one npm package installed with different versions in `nodejs/node_modules/` and in a
  `nodejs/nodeNN/node_modules/` folder.

## Why this breaks at run time

Two `pip install --target` runs into the same folder leave the files of both versions mixed in
one package folder: modules of the old version that the new one deleted stay importable,
`importlib.metadata.version()` answers with whichever `dist-info` it meets first, and a compiled
extension can belong to the other version than the Python code beside it:

```
ImportError: cannot import name 'Self' from 'typing_extensions'
```

For npm, Node.js 20 finds `nodejs/node20/node_modules/x` first and every other version finds
`nodejs/node_modules/x`, so the same layer runs different code on different runtimes.

## Example

```
python/requests-2.31.0.dist-info/
python/requests-2.32.3.dist-info/
```

## Fix

Install into an empty folder in one `pip install` (or `npm ci`) run; keep one version of each
package.
"#,
    check: Check::Layer(check_duplicate_distribution),
};

/// PEP 503 name normalization: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_distribution_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator = false;
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            in_separator = true;
        } else {
            if in_separator && !normalized.is_empty() {
                normalized.push('-');
            }
            in_separator = false;
            normalized.push(character.to_ascii_lowercase());
        }
    }
    normalized
}

/// `("requests", "2.31.0")` for `requests-2.31.0.dist-info`.
fn split_distribution(folder_name: &str) -> Option<(&str, &str)> {
    let stem = folder_name
        .strip_suffix(".dist-info")
        .or_else(|| folder_name.strip_suffix(".egg-info"))?;
    Some(stem.split_once('-').unwrap_or((stem, "")))
}

fn check_duplicate_distribution(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    // Python: metadata folders grouped by their folder and normalized name.
    let mut installs: BTreeMap<(&str, String), Vec<&Entry>> = BTreeMap::new();
    for entry in inventory.entries().iter().filter(|entry| entry.is_dir()) {
        if let Some((name, _)) = split_distribution(entry.path.file_name()) {
            installs
                .entry((entry.path.parent(), normalize_distribution_name(name)))
                .or_default()
                .push(entry);
        }
    }
    for ((folder, name), entries) in &installs {
        if entries.len() < 2 {
            continue;
        }
        let versions: Vec<String> = entries
            .iter()
            .map(|entry| format!("`{}`", entry.path.file_name()))
            .collect();
        let shown_folder = if folder.is_empty() {
            "the layer's root"
        } else {
            folder
        };
        report.report(
            entries[0].path.as_str(),
            format!(
                "`{name}` is installed more than once in {shown_folder}: {}; the files of both \
                 are mixed, and which version Python reports and runs depends on what each \
                 left behind",
                versions.join(" and ")
            ),
            "reinstall into an empty folder in one pip run, keeping one version",
        );
    }
    check_duplicate_npm_packages(inventory, report);
}

/// The packages in a `node_modules` folder (scoped ones as `@scope/name`).
fn npm_packages(inventory: &Inventory, node_modules: &str) -> Vec<String> {
    let mut names = Vec::new();
    for child in inventory
        .children(node_modules)
        .filter(|entry| entry.is_dir())
    {
        let name = child.path.file_name();
        if name.starts_with('.') {
            continue;
        }
        if name.starts_with('@') {
            for scoped in inventory
                .children(child.path.as_str())
                .filter(|e| e.is_dir())
            {
                names.push(format!("{name}/{}", scoped.path.file_name()));
            }
        } else {
            names.push(name.to_string());
        }
    }
    names
}

/// The `version` of `DIR/package.json`, if it can be read.
fn npm_version(inventory: &Inventory, package_dir: &str) -> Option<String> {
    let entry = inventory.get(&format!("{package_dir}/package.json"))?;
    let bytes = inventory.read_prefix(entry, 1 << 20).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("version")?.as_str().map(str::to_string)
}

fn check_duplicate_npm_packages(inventory: &Inventory, report: &mut Reporter<'_>) {
    // Every Node.js runtime reads its own folder first, then the shared one.
    let shared = "nodejs/node_modules";
    let shared_packages = npm_packages(inventory, shared);
    if shared_packages.is_empty() {
        return;
    }
    for runtime in RUNTIMES.iter().filter(|r| r.family == Family::Nodejs) {
        let dirs = runtime.package_dirs();
        let Some(own) = dirs.first().filter(|dir| dir.as_str() != shared) else {
            continue;
        };
        if !inventory.is_dir(own) {
            continue;
        }
        let own_packages = npm_packages(inventory, own);
        for package in own_packages.iter().filter(|p| shared_packages.contains(p)) {
            let own_dir = format!("{own}/{package}");
            let shared_dir = format!("{shared}/{package}");
            let (Some(own_version), Some(shared_version)) = (
                npm_version(inventory, &own_dir),
                npm_version(inventory, &shared_dir),
            ) else {
                continue;
            };
            if own_version == shared_version {
                continue;
            }
            report.report(
                own_dir.as_str(),
                format!(
                    "`{package}` is installed twice: {own_version} in `{own}` and \
                     {shared_version} in `{shared}`; {} loads {own_version}, every other \
                     Node.js version loads {shared_version}",
                    runtime.id
                ),
                "keep one version of the package (in `nodejs/node_modules` unless a runtime \
                 really needs its own)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_names() {
        assert_eq!(
            normalize_distribution_name("Typing_Extensions"),
            "typing-extensions"
        );
        assert_eq!(
            normalize_distribution_name("zope.interface"),
            "zope-interface"
        );
        assert_eq!(normalize_distribution_name("a__-.b"), "a-b");
        assert_eq!(
            split_distribution("requests-2.31.0.dist-info"),
            Some(("requests", "2.31.0"))
        );
        assert_eq!(split_distribution("foo.egg-info"), Some(("foo", "")));
        assert_eq!(split_distribution("foo"), None);
    }
}
