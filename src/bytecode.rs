//! The bytecode stage: keeps Python `.pyc` files valid in a zip whose dates are normalized.
//!
//! `pip install --target` writes *timestamp-based* pycs: a 16-byte header that records the
//! source's modification time and size. A reproducible zip gives every entry one fixed date, so
//! once Lambda extracts the layer every such pyc disagrees with its source; `/opt` is read-only,
//! so Python recompiles those modules on every cold start and can never cache the result.
//!
//! This stage rewrites each pyc that was valid at build time as a *hash-based* pyc (PEP 552):
//! the header then carries a SipHash of the source instead of its date, which survives any
//! extractor. The body (the marshalled code object) is left untouched, so no interpreter is
//! needed and the result depends only on the bytes of the pyc and its source. Pycs that could
//! never be used at run time (stale, orphaned, for a Python no runtime of the layer runs) are
//! dropped and listed, never shipped as dead weight without a word.
//!
//! With `compile = true`, modules that still have no pyc for a runtime's Python are compiled by a
//! local interpreter of exactly that version, into a staging folder (never the user's tree).
//!
//! Header layout (`Lib/importlib/_bootstrap_external.py`, `_classify_pyc`,
//! `_validate_timestamp_pyc`, `_validate_hash_pyc`): bytes 0–3 magic number (two bytes
//! little-endian + `\r\n`), 4–7 flags (bit 0 hash-based, bit 1 check_source; other bits are
//! refused), then either the source mtime and size (each `& 0xFFFFFFFF`, little-endian) or the
//! 8-byte source hash.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::BytecodeMode;
use crate::domain::pycache::CachedPyc;
use crate::error::Error;
use crate::inventory::{ArchivePath, Content, Entry, EntryKind, Inventory};
use crate::runtime::{Family, Runtime};

/// What the bytecode stage did to a layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BytecodeReport {
    /// Timestamp pycs rewritten as hash-based pycs.
    pub converted: usize,
    /// pycs compiled by a local interpreter (`compile = true`).
    pub compiled: usize,
    /// pycs left out, with the reason for each, sorted by path.
    pub dropped: Vec<DroppedPyc>,
    /// With `compile = true`: sources the interpreter could not compile (a syntax error for that
    /// Python, usually), with its message; sorted by path. Python fails on them at import too.
    /// Left out of JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_compiled: Vec<DroppedPyc>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DroppedPyc {
    pub path: String,
    pub reason: String,
}

/// The length of a pyc header since Python 3.7 (PEP 552).
pub(crate) const HEADER_LEN: usize = 16;

/// Whether converted and compiled pycs ask Python to hash the source on every import
/// (`checked-hash`) or trust the pyc blindly (`unchecked-hash`).
///
/// Checked, on evidence. `benches/cold_start.sh` (CPython 3.11, requests + pydantic from
/// `pip install --target`, extracted read-only, fresh interpreter per run, shared 2-core
/// machine) measured the median of `import requests, pydantic` over 40 runs: stale timestamp
/// pycs 413 ms, checked-hash 225 ms, unchecked-hash 231 ms (interpreter start alone 56 ms); with
/// `from pydantic import BaseModel` too, over 30 runs: 650, 324 and 326 ms. Hashing the sources
/// costs nothing measurable next to the noise: the imported sources (under 2 MiB here) hash in
/// about a millisecond, while the compile it saves takes hundreds. Unchecked would also make Python
/// trust a pyc whose source changed, and layers *are* merged: a later layer that ships a newer
/// `pkg/mod.py` without its pyc replaces the source and leaves this layer's
/// `__pycache__/mod.cpython-3XY.pyc` in place. Unchecked, Python would silently run the old
/// code; checked, it sees the hash differ and compiles the new source. So no setting: checked.
pub const CHECK_SOURCE: bool = true;

/// Magic numbers of the final releases of each CPython 3.x that Lambda runs: the first two bytes
/// of a pyc (little-endian); bytes 2–3 are always `\r\n`. A minor release keeps its magic number
/// for all its patch releases; pre-releases used others.
///
/// Source: the `MAGIC_NUMBER` history in CPython's `Lib/importlib/_bootstrap_external.py`
/// (3.9: 3425 "3.9a2 bpo-39320", 3.10: 3439 "3.10b1", 3.11: 3495 "3.11b4", 3.12: 3531
/// "3.12b1", 3.13: 3571 "3.13b1"), moved to `Include/internal/pycore_magic_number.h` in 3.14
/// (3627 "3.14rc3"). The 3.9–3.13 values are checked against the installed interpreters in
/// `tests/it/bytecode.rs`.
const MAGIC_NUMBERS: &[((u32, u32), u16)] = &[
    ((3, 9), 3425),
    ((3, 10), 3439),
    ((3, 11), 3495),
    ((3, 12), 3531),
    ((3, 13), 3571),
    ((3, 14), 3627),
];

/// The magic number of CPython `major.minor`, when layerpack knows it.
pub fn magic_number(version: (u32, u32)) -> Option<u16> {
    MAGIC_NUMBERS
        .iter()
        .find(|(known, _)| *known == version)
        .map(|(_, magic)| *magic)
}

/// The CPython release a magic number belongs to.
pub(crate) fn version_of_magic(magic: u16) -> Option<(u32, u32)> {
    MAGIC_NUMBERS
        .iter()
        .find(|(_, known)| *known == magic)
        .map(|(version, _)| *version)
}

/// How a pyc says it is to be checked against its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Valid while the source's `int(st_mtime) & 0xFFFFFFFF` and `st_size & 0xFFFFFFFF` match.
    Timestamp { mtime: u32, source_size: u32 },
    /// Valid while the source hashes to `source_hash`; checked at import only with
    /// `check_source` (bit 1 of the flags).
    Hash {
        check_source: bool,
        source_hash: [u8; 8],
    },
}

/// The 16-byte header of a pyc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PycHeader {
    pub(crate) magic: u16,
    pub validation: Validation,
}

/// Why 16 bytes are not a pyc header Python would accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than 16 bytes.
    Truncated,
    /// Bytes 2–3 are not `\r\n`: not a Python 3 pyc at all.
    NotAPyc,
    /// Flags other than bits 0 and 1 (`ImportError: invalid flags` in CPython).
    InvalidFlags(u32),
}

impl HeaderError {
    pub(crate) fn describe(self) -> String {
        match self {
            HeaderError::Truncated => "not a pyc: shorter than its 16-byte header".to_string(),
            HeaderError::NotAPyc => "not a pyc: no `\\r\\n` after the magic number".to_string(),
            HeaderError::InvalidFlags(flags) => {
                format!("invalid flags {flags:#x}: Python refuses it (ImportError: invalid flags)")
            }
        }
    }
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word)
}

impl PycHeader {
    /// Reads a header from the start of a pyc (more bytes than 16 are fine).
    pub fn parse(bytes: &[u8]) -> Result<PycHeader, HeaderError> {
        if bytes.len() < HEADER_LEN {
            return Err(HeaderError::Truncated);
        }
        if bytes[2..4] != *b"\r\n" {
            return Err(HeaderError::NotAPyc);
        }
        let magic = u16::from_le_bytes([bytes[0], bytes[1]]);
        let flags = u32_at(bytes, 4);
        if flags & !0b11 != 0 {
            return Err(HeaderError::InvalidFlags(flags));
        }
        let validation = if flags & 0b01 != 0 {
            let mut source_hash = [0u8; 8];
            source_hash.copy_from_slice(&bytes[8..16]);
            Validation::Hash {
                check_source: flags & 0b10 != 0,
                source_hash,
            }
        } else {
            Validation::Timestamp {
                mtime: u32_at(bytes, 8),
                source_size: u32_at(bytes, 12),
            }
        };
        Ok(PycHeader { magic, validation })
    }

    /// The header's 16 bytes.
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..2].copy_from_slice(&self.magic.to_le_bytes());
        bytes[2..4].copy_from_slice(b"\r\n");
        match self.validation {
            Validation::Timestamp { mtime, source_size } => {
                bytes[8..12].copy_from_slice(&mtime.to_le_bytes());
                bytes[12..16].copy_from_slice(&source_size.to_le_bytes());
            }
            Validation::Hash {
                check_source,
                source_hash,
            } => {
                let flags: u32 = if check_source { 0b11 } else { 0b01 };
                bytes[4..8].copy_from_slice(&flags.to_le_bytes());
                bytes[8..16].copy_from_slice(&source_hash);
            }
        }
        bytes
    }
}

/// What CPython records as a source's hash: `_imp.source_hash(_RAW_MAGIC_NUMBER, source)`, i.e.
/// `_Py_KeyedHash` (`Python/pyhash.c`) keyed with (the 4 magic bytes read as a little-endian
/// integer, 0), its 64-bit result stored in native byte order (little-endian on every Lambda
/// machine). 3.11 moved `_Py_KeyedHash` from SipHash-2-4 to SipHash-1-3 along with `hash()`
/// (bpo-29410); 3.9 and 3.10 still use SipHash-2-4. Checked against each local interpreter's own
/// result in the tests below and in `tests/it/bytecode.rs`.
pub fn source_hash(magic: u16, source: &[u8]) -> [u8; 8] {
    let raw_magic = u64::from(magic) | (u64::from(u16::from_le_bytes(*b"\r\n")) << 16);
    let hash = if magic >= FIRST_SIPHASH13_MAGIC {
        let mut hasher = siphasher::sip::SipHasher13::new_with_keys(raw_magic, 0);
        hasher.write(source);
        hasher.finish()
    } else {
        let mut hasher = siphasher::sip::SipHasher24::new_with_keys(raw_magic, 0);
        hasher.write(source);
        hasher.finish()
    };
    hash.to_le_bytes()
}

/// The 3.11 series starts at magic 3450 (3.10's last is 3439); the keyed hash is SipHash-1-3 from
/// there on.
const FIRST_SIPHASH13_MAGIC: u16 = 3450;

/// `int(mtime) & 0xFFFFFFFF`, as Python compares a timestamp pyc with its source.
pub(crate) fn mtime_as_recorded(mtime: i64) -> u32 {
    (mtime as u64 & 0xFFFF_FFFF) as u32
}

/// `size & 0xFFFFFFFF`, as Python compares a timestamp pyc with its source.
pub(crate) fn size_as_recorded(size: u64) -> u32 {
    (size & 0xFFFF_FFFF) as u32
}

/// The cache tag CPython `3.N` writes into pyc names (`cpython-312`).
pub fn cache_tag(version: (u32, u32)) -> String {
    format!("cpython-{}{}", version.0, version.1)
}

/// `3.12`.
pub(crate) fn version_text(version: (u32, u32)) -> String {
    format!("{}.{}", version.0, version.1)
}

/// The Python versions the layer's runtimes run, in order.
pub(crate) fn python_versions(runtimes: &[&'static Runtime]) -> BTreeSet<(u32, u32)> {
    runtimes
        .iter()
        .filter(|runtime| runtime.family == Family::Python)
        .map(|runtime| runtime.version())
        .collect()
}

/// The Python runtimes' ids, for messages: `python3.11, python3.12`.
pub(crate) fn python_runtime_ids(runtimes: &[&'static Runtime]) -> String {
    runtimes
        .iter()
        .filter(|runtime| runtime.family == Family::Python)
        .map(|runtime| runtime.id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What to do with one pyc of a `__pycache__` folder.
enum Decision {
    Keep,
    Replace(Arc<[u8]>),
    Drop(String),
}

/// Applies the layer's bytecode policy to a gathered inventory before it is linted and zipped.
pub fn apply(
    inventory: &mut Inventory,
    mode: BytecodeMode,
    compile: bool,
    runtimes: &[&'static Runtime],
) -> Result<BytecodeReport, Error> {
    let versions = python_versions(runtimes);
    let mut report = BytecodeReport::default();
    if versions.is_empty() {
        return Ok(report);
    }
    match mode {
        BytecodeMode::AsIs => {}
        BytecodeMode::Strip => {
            if compile {
                return Err(Error::input(
                    "`compile = true` and `bytecode = \"strip\"` contradict each other",
                    Some(
                        "keep `bytecode = \"keep-valid\"` to compile missing pycs, or drop `compile`"
                            .to_string(),
                    ),
                ));
            }
            strip(inventory, &mut report);
        }
        BytecodeMode::KeepValid => keep_valid(inventory, &versions, runtimes, &mut report)?,
    }
    if compile {
        for version in &versions {
            compile_missing(inventory, *version, &mut report)?;
        }
    }
    if mode != BytecodeMode::AsIs {
        remove_empty_cache_dirs(inventory);
    }
    report.dropped.sort_by(|a, b| a.path.cmp(&b.path));
    report.not_compiled.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

/// `bytecode = "strip"`: every pyc Python would only use as a cache goes. A sourceless
/// `NAME.pyc` with no `NAME.py` beside it *is* the module, so it stays.
fn strip(inventory: &mut Inventory, report: &mut BytecodeReport) {
    let dropped: BTreeSet<ArchivePath> = inventory
        .files()
        .filter(|entry| {
            let path = entry.path.as_str();
            let Some(stem) = path.strip_suffix(".pyc") else {
                return false;
            };
            CachedPyc::parse(path).is_some()
                || entry.path.parent().ends_with("__pycache__")
                || inventory.get(&format!("{stem}.py")).is_some()
        })
        .map(|entry| entry.path.clone())
        .collect();
    report.dropped.extend(dropped.iter().map(|path| DroppedPyc {
        path: path.to_string(),
        reason: "bytecode = \"strip\"".to_string(),
    }));
    inventory.retain(|entry| !dropped.contains(&entry.path));
}

/// `bytecode = "keep-valid"`: converts what Python would have accepted at build time, drops the
/// rest of the `__pycache__` pycs.
fn keep_valid(
    inventory: &mut Inventory,
    versions: &BTreeSet<(u32, u32)>,
    runtimes: &[&'static Runtime],
    report: &mut BytecodeReport,
) -> Result<(), Error> {
    let candidates: Vec<(usize, CachedPyc)> = inventory
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.is_file())
        .filter_map(|(index, entry)| Some((index, CachedPyc::parse(entry.path.as_str())?)))
        .collect();
    let inventory_ref = &*inventory;
    let runtime_ids = python_runtime_ids(runtimes);
    let decisions: Vec<(usize, Decision)> = candidates
        .par_iter()
        .map(|(index, cached)| {
            let entry = &inventory_ref.entries()[*index];
            decide(inventory_ref, entry, cached, versions, &runtime_ids)
                .map(|decision| (*index, decision))
        })
        .collect::<Result<_, Error>>()?;
    let mut dropped = BTreeSet::new();
    let entries = inventory.entries_mut();
    for (index, decision) in decisions {
        let entry = &mut entries[index];
        match decision {
            Decision::Keep => {}
            Decision::Replace(bytes) => {
                entry.size = bytes.len() as u64;
                entry.content = Content::Memory(bytes);
                report.converted += 1;
            }
            Decision::Drop(reason) => {
                report.dropped.push(DroppedPyc {
                    path: entry.path.to_string(),
                    reason,
                });
                dropped.insert(entry.path.clone());
            }
        }
    }
    inventory.retain(|entry| !dropped.contains(&entry.path));
    Ok(())
}

fn read_error(inventory: &Inventory, entry: &Entry, err: std::io::Error) -> Error {
    let path = inventory
        .disk_path(entry)
        .map_or_else(|| PathBuf::from(entry.path.as_str()), Path::to_path_buf);
    Error::read(&path, err)
}

/// Decides the fate of one `__pycache__` pyc under `keep-valid`.
fn decide(
    inventory: &Inventory,
    entry: &Entry,
    cached: &CachedPyc,
    versions: &BTreeSet<(u32, u32)>,
    runtime_ids: &str,
) -> Result<Decision, Error> {
    let Some(version) = cached.version else {
        return Ok(Decision::Drop(format!(
            "cache tag `{}` is not CPython's: no Lambda runtime reads it",
            cached.tag
        )));
    };
    if !versions.contains(&version) {
        return Ok(Decision::Drop(format!(
            "for Python {}, which none of the layer's runtimes ({runtime_ids}) runs",
            version_text(version)
        )));
    }
    let Some(expected_magic) = magic_number(version) else {
        return Ok(Decision::Keep);
    };
    let source = match inventory.get(&cached.source) {
        Some(source) if source.kind == EntryKind::File => source,
        _ => {
            return Ok(Decision::Drop(format!(
                "orphan: no `{}` beside `__pycache__`, so Python never reads it",
                file_name(&cached.source)
            )));
        }
    };
    let pyc = inventory
        .read(entry)
        .map_err(|err| read_error(inventory, entry, err))?;
    let header = match PycHeader::parse(&pyc) {
        Ok(header) => header,
        Err(err) => return Ok(Decision::Drop(err.describe())),
    };
    if header.magic != expected_magic {
        return Ok(Decision::Drop(format!(
            "magic number {} is not CPython {}'s ({expected_magic}): made by a pre-release or \
             another interpreter, Python rejects it",
            header.magic,
            version_text(version)
        )));
    }
    match header.validation {
        Validation::Timestamp { mtime, source_size } => {
            let source_mtime = source.mtime.map(mtime_as_recorded);
            let source_len = size_as_recorded(source.size);
            if source_mtime != Some(mtime) || source_len != source_size {
                return Ok(Decision::Drop(format!(
                    "stale: records source mtime {mtime} and size {source_size}, `{}` has mtime {} \
                     and size {source_len}",
                    file_name(&cached.source),
                    source_mtime.map_or_else(|| "unknown".to_string(), |m| m.to_string()),
                )));
            }
            let source_bytes = inventory
                .read(source)
                .map_err(|err| read_error(inventory, source, err))?;
            let converted = PycHeader {
                magic: header.magic,
                validation: Validation::Hash {
                    check_source: CHECK_SOURCE,
                    source_hash: source_hash(header.magic, &source_bytes),
                },
            };
            let mut bytes = Vec::with_capacity(pyc.len());
            bytes.extend_from_slice(&converted.to_bytes());
            bytes.extend_from_slice(&pyc[HEADER_LEN..]);
            Ok(Decision::Replace(bytes.into()))
        }
        Validation::Hash {
            source_hash: recorded,
            ..
        } => {
            let source_bytes = inventory
                .read(source)
                .map_err(|err| read_error(inventory, source, err))?;
            if source_hash(header.magic, &source_bytes) == recorded {
                Ok(Decision::Keep)
            } else {
                Ok(Decision::Drop(format!(
                    "stale: its source hash does not match `{}`",
                    file_name(&cached.source)
                )))
            }
        }
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Drops `__pycache__` folders that hold nothing (any more).
fn remove_empty_cache_dirs(inventory: &mut Inventory) {
    let empty: BTreeSet<ArchivePath> = inventory
        .entries()
        .iter()
        .filter(|entry| entry.is_dir() && entry.path.file_name() == "__pycache__")
        .filter(|entry| inventory.below(entry.path.as_str()).is_empty())
        .map(|entry| entry.path.clone())
        .collect();
    if !empty.is_empty() {
        inventory.retain(|entry| !empty.contains(&entry.path));
    }
}

/// A local CPython of one version, found on `PATH`.
struct Interpreter {
    command: String,
}

/// Looks for `python3.N`, then `python3`, on `PATH`, and keeps the first that really is
/// CPython 3.N (a pyenv shim can exist for a version that is not installed).
fn find_interpreter(version: (u32, u32)) -> Result<Interpreter, Error> {
    let wanted = version_text(version);
    let mut seen = Vec::new();
    for command in [format!("python{wanted}"), "python3".to_string()] {
        let output = Command::new(&command)
            .args([
                "-c",
                "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        let found = match output {
            Ok(output) if output.status.success() => {
                let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
                if text == format!("cpython {wanted}") {
                    return Ok(Interpreter { command });
                }
                format!("`{command}` is {text}")
            }
            Ok(_) => format!("`{command}` does not run"),
            Err(_) => format!("`{command}` is not on PATH"),
        };
        seen.push(found);
    }
    Err(Error::input(
        format!(
            "compile = true needs CPython {wanted} to compile bytecode for python{wanted}, but \
             none was found: {}",
            seen.join(", ")
        ),
        Some(format!(
            "install Python {wanted} (e.g. `uv python install {wanted}`) and put `python{wanted}` \
             on PATH, or set compile = false"
        )),
    ))
}

/// The Python program that compiles a batch: reads `[[source, cfile, dfile], ...]` as JSON on
/// stdin, prints one JSON line `[index, message]` per source it could not compile. Hash seed and
/// optimization level are pinned so the output depends on the sources only; `dfile` is the
/// path the module has on Lambda (`/opt/...`), never a path of this machine.
const COMPILE_PROGRAM: &str = r#"
import json, py_compile, sys
mode = py_compile.PycInvalidationMode[sys.argv[1]]
for index, (source, cfile, dfile) in enumerate(json.load(sys.stdin)):
    try:
        py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True, optimize=0, invalidation_mode=mode)
    except Exception as err:
        print(json.dumps([index, str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__]))
"#;

/// Compiles the Python sources of the layer that have no pyc for `version` yet.
fn compile_missing(
    inventory: &mut Inventory,
    version: (u32, u32),
    report: &mut BytecodeReport,
) -> Result<(), Error> {
    let tag = cache_tag(version);
    let sources: Vec<&Entry> = inventory
        .files()
        .filter(|entry| is_imported_source(&entry.path, version))
        .filter(|entry| {
            inventory
                .get(pyc_path_for(&entry.path, &tag).as_str())
                .is_none()
        })
        .collect();
    if sources.is_empty() {
        return Ok(());
    }
    let interpreter = find_interpreter(version)?;
    let staging = tempfile::tempdir().map_err(|err| Error::write(&std::env::temp_dir(), err))?;
    let mut jobs = Vec::with_capacity(sources.len());
    for (index, entry) in sources.iter().enumerate() {
        // Absolute, so that the interpreter finds it whatever its current folder.
        let on_disk = inventory
            .disk_path(entry)
            .and_then(|path| std::path::absolute(path).ok())
            .filter(|path| path.to_str().is_some());
        let source_path = match on_disk {
            Some(path) => path,
            None => {
                let bytes = inventory
                    .read(entry)
                    .map_err(|err| read_error(inventory, entry, err))?;
                let path = staging.path().join(format!("{index}.py"));
                std::fs::write(&path, bytes).map_err(|err| Error::write(&path, err))?;
                path
            }
        };
        let cfile = staging.path().join(format!("{index}.pyc"));
        jobs.push(serde_json::json!([
            source_path.to_str(),
            cfile.to_str(),
            format!("/opt/{}", entry.path)
        ]));
    }
    let mode = if CHECK_SOURCE {
        "CHECKED_HASH"
    } else {
        "UNCHECKED_HASH"
    };
    let mut child = Command::new(&interpreter.command)
        .args(["-c", COMPILE_PROGRAM, mode])
        .env("PYTHONHASHSEED", "0")
        .env_remove("PYTHONOPTIMIZE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| Error::read(Path::new(&interpreter.command), err))?;
    let input = serde_json::to_vec(&jobs).map_err(std::io::Error::other);
    if let (Some(mut stdin), Ok(input)) = (child.stdin.take(), input) {
        stdin
            .write_all(&input)
            .map_err(|err| Error::write(Path::new(&interpreter.command), err))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|err| Error::read(Path::new(&interpreter.command), err))?;
    if !output.status.success() {
        return Err(Error::input(
            format!(
                "`{}` failed while compiling bytecode: {}",
                interpreter.command,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Some("set compile = false to build without compiling".to_string()),
        ));
    }
    let mut failed = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Ok((index, message)) = serde_json::from_str::<(usize, String)>(line) {
            failed.insert(index, message);
        }
    }
    let mut added = Vec::new();
    for (index, entry) in sources.iter().enumerate() {
        if let Some(message) = failed.get(&index) {
            report.not_compiled.push(DroppedPyc {
                path: entry.path.to_string(),
                reason: format!("Python {}: {message}", version_text(version)),
            });
            continue;
        }
        let cfile = staging.path().join(format!("{index}.pyc"));
        let bytes = std::fs::read(&cfile).map_err(|err| Error::read(&cfile, err))?;
        added.push(Entry {
            path: pyc_path_for(&entry.path, &tag),
            kind: EntryKind::File,
            mode: Some(0o644),
            size: bytes.len() as u64,
            mtime: None,
            content: Content::Memory(bytes.into()),
            implied: false,
        });
    }
    report.compiled += added.len();
    inventory.extend(added);
    Ok(())
}

/// True for a `.py` file that Python `version` may import from the layer: below `python/`, and
/// not inside another version's `python/lib/python3.M/` folder.
fn is_imported_source(path: &ArchivePath, version: (u32, u32)) -> bool {
    if !path.as_str().ends_with(".py") || !path.is_within("python") {
        return false;
    }
    if path.components().any(|part| part == "__pycache__") {
        return false;
    }
    let own_dir = format!("python/lib/python{}", version_text(version));
    match path.ancestors().nth(2) {
        Some(dir) if dir.starts_with("python/lib/python") => dir == own_dir,
        _ => true,
    }
}

/// `dir/__pycache__/NAME.TAG.pyc` for `dir/NAME.py`.
fn pyc_path_for(source: &ArchivePath, tag: &str) -> ArchivePath {
    let name = source
        .file_name()
        .strip_suffix(".py")
        .unwrap_or(source.file_name());
    let relative = format!("__pycache__/{name}.{tag}.pyc");
    let pyc = ArchivePath::new(&relative).unwrap_or_else(|_| source.clone());
    pyc.under(source.parent())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_table_round_trips() {
        assert_eq!(magic_number((3, 12)), Some(3531));
        assert_eq!(magic_number((3, 14)), Some(3627));
        assert_eq!(magic_number((3, 8)), None);
        assert_eq!(version_of_magic(3495), Some((3, 11)));
        assert_eq!(version_of_magic(3500), None);
        for (version, magic) in MAGIC_NUMBERS {
            assert_eq!(version_of_magic(*magic), Some(*version));
        }
    }

    #[test]
    fn timestamp_header_parses_and_round_trips() {
        let mut bytes = vec![0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0];
        bytes.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        bytes.extend_from_slice(&1234u32.to_le_bytes());
        bytes.extend_from_slice(b"body");
        let header = PycHeader::parse(&bytes).expect("valid header");
        assert_eq!(
            header,
            PycHeader {
                magic: 3495,
                validation: Validation::Timestamp {
                    mtime: 1_700_000_000,
                    source_size: 1234
                }
            }
        );
        assert_eq!(header.to_bytes()[..], bytes[..16]);
    }

    #[test]
    fn hash_header_flags() {
        let mut bytes = vec![0xcb, 0x0d, b'\r', b'\n', 3, 0, 0, 0];
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let header = PycHeader::parse(&bytes).expect("valid header");
        assert_eq!(
            header.validation,
            Validation::Hash {
                check_source: true,
                source_hash: [1, 2, 3, 4, 5, 6, 7, 8]
            }
        );
        assert_eq!(header.to_bytes()[..], bytes[..]);
        bytes[4] = 1;
        assert_eq!(
            PycHeader::parse(&bytes).map(|h| h.validation),
            Ok(Validation::Hash {
                check_source: false,
                source_hash: [1, 2, 3, 4, 5, 6, 7, 8]
            })
        );
        // Only bit 1 set: CPython treats it as timestamp-based.
        bytes[4] = 2;
        assert!(matches!(
            PycHeader::parse(&bytes).map(|h| h.validation),
            Ok(Validation::Timestamp { .. })
        ));
    }

    #[test]
    fn bad_headers_are_refused() {
        assert_eq!(
            PycHeader::parse(b"\xcb\x0d\r\n"),
            Err(HeaderError::Truncated)
        );
        assert_eq!(
            PycHeader::parse(&[0u8; 16]),
            Err(HeaderError::NotAPyc),
            "zeros are not a pyc"
        );
        let mut bytes = vec![0xcb, 0x0d, b'\r', b'\n', 4, 0, 0, 0];
        bytes.extend_from_slice(&[0; 8]);
        assert_eq!(PycHeader::parse(&bytes), Err(HeaderError::InvalidFlags(4)));
    }

    #[test]
    fn recorded_mtime_wraps_like_python() {
        assert_eq!(mtime_as_recorded(0x1_0000_0005), 5);
        assert_eq!(mtime_as_recorded(-1), 0xFFFF_FFFF);
        assert_eq!(size_as_recorded(0x1_0000_0007), 7);
    }

    #[test]
    fn source_hash_matches_cpython() {
        // `_imp.source_hash(int.from_bytes(importlib.util.MAGIC_NUMBER, 'little'), b'hello')`
        // printed by CPython 3.9.18, 3.10.13, 3.11.7, 3.12.1 and 3.13.0.
        let expected = [
            (3425, "b70feb3c359861fa"),
            (3439, "3c80f1191ea979cb"),
            (3495, "7c360be58bb7a2aa"),
            (3531, "9bca4702dbaedbed"),
            (3571, "aa4d9968b297cf0d"),
        ];
        for (magic, hex) in expected {
            let hash = source_hash(magic, b"hello");
            let text: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
            assert_eq!(text, hex, "magic {magic}");
        }
    }

    #[test]
    fn pyc_path_of_a_source() {
        let source = ArchivePath::new("python/pkg/mod.py").expect("path");
        assert_eq!(
            pyc_path_for(&source, "cpython-312").as_str(),
            "python/pkg/__pycache__/mod.cpython-312.pyc"
        );
    }
}
