//! What a layer holds, in the terms a publisher needs before attaching it: the summary that
//! `inspect` prints and `diff` compares.
//!
//! Which runtimes would read it (from its folders, through the runtime table), which
//! architectures its native code is for, how big it is and what makes it big, its CodeSha256,
//! and the oldest glibc its native code accepts; and what it ships that the runtime already
//! has ([`runtime_duplicates`](mod@runtime_duplicates)).

mod runtime_duplicates;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use self::runtime_duplicates::{RuntimeDuplicate, duplicated_bytes, runtime_duplicates};
use crate::domain::placement::package_root;
use crate::domain::served::{native_architectures, runtimes_reading};
use crate::error::Error;
use crate::inspect::{Binary, BinaryFormat};
use crate::inventory::{ArchivePath, Inventory, Origin};
use crate::manifest::Digests;
use crate::runtime::{COMMON_DIRS, GlibcVersion, Os};

/// Everything `inspect` prints, also the JSON document (`--format json`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct LayerSummary {
    pub(crate) path: String,
    /// `zip` or `directory`.
    pub(crate) source: &'static str,
    pub(crate) files: usize,
    pub(crate) unzipped_bytes: u64,
    pub(crate) zipped_bytes: Option<u64>,
    /// AWS's CodeSha256 of the zip (base64 of the raw SHA-256), for zips.
    pub(crate) code_sha256: Option<String>,
    pub(crate) sha256: Option<String>,
    /// Runtimes that read some of the layer's package folders.
    pub(crate) runtimes: Vec<&'static str>,
    /// Top-level `bin/` or `lib/` present: read by every runtime.
    pub(crate) common_dirs: Vec<&'static str>,
    /// Lambda architectures of the native code, or `["any"]` when there is none.
    pub(crate) architectures: Vec<String>,
    pub(crate) native: NativeCode,
    pub(crate) largest_packages: Vec<Contributor>,
    pub(crate) largest_files: Vec<Contributor>,
    /// Packages the layer ships that a runtime it serves bundles too, largest first.
    pub(crate) runtime_duplicates: Vec<RuntimeDuplicate>,
    /// Their unzipped size: what the layer could save by leaving them to the runtime.
    pub(crate) runtime_duplicate_bytes: u64,
}

/// Counts of machine code by kind, and what the ELF files need.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct NativeCode {
    pub(crate) elf: usize,
    pub(crate) macho: usize,
    pub(crate) pe: usize,
    pub(crate) malformed: usize,
    pub(crate) musl: usize,
    /// ELF machines that are not a Lambda architecture (32-bit, RISC-V…), by name.
    pub(crate) other_machines: Vec<String>,
    /// The highest `GLIBC_x.y` any ELF file needs: the oldest glibc that loads all of them.
    pub(crate) glibc_floor: Option<GlibcFloor>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct GlibcFloor {
    pub(crate) version: String,
    /// One file that needs it (the first by path).
    pub(crate) path: String,
    /// The Amazon Linux releases whose glibc is new enough.
    pub(crate) runs_on: Vec<&'static str>,
}

/// A package folder or a file, with its unzipped size.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Contributor {
    pub(crate) path: String,
    pub(crate) bytes: u64,
    pub(crate) files: usize,
}

/// Summarizes a layer; `top` limits the largest packages and files listed.
pub(crate) fn summarize(
    path: &Path,
    inventory: &Inventory,
    binaries: &[Binary],
    top: usize,
) -> Result<LayerSummary, Error> {
    let (source, digests) = match &inventory.origin {
        Origin::Zip(zip) => ("zip", Some(Digests::of_file(zip)?)),
        _ => ("directory", None),
    };
    let duplicates = runtime_duplicates(inventory);
    Ok(LayerSummary {
        path: path.display().to_string(),
        source,
        files: inventory.file_count(),
        unzipped_bytes: inventory.unzipped_bytes(),
        zipped_bytes: inventory.zipped_bytes,
        code_sha256: digests.as_ref().map(|d| d.code_sha256.clone()),
        sha256: digests.map(|d| d.sha256),
        runtimes: runtimes_reading(inventory)
            .iter()
            .map(|runtime| runtime.id)
            .collect(),
        common_dirs: COMMON_DIRS
            .iter()
            .copied()
            .filter(|dir| inventory.below(dir).iter().any(|entry| !entry.is_dir()))
            .collect(),
        architectures: architectures(binaries),
        native: native_code(binaries),
        largest_packages: largest_packages(inventory, top),
        largest_files: largest_files(inventory, top),
        runtime_duplicate_bytes: duplicated_bytes(&duplicates),
        runtime_duplicates: duplicates,
    })
}

/// Lambda architectures of the 64-bit ELF code; `["any"]` when the layer has no native code.
fn architectures(binaries: &[Binary]) -> Vec<String> {
    let archs = native_architectures(binaries);
    if archs.is_empty() {
        vec!["any".to_string()]
    } else {
        archs
            .iter()
            .map(|arch| arch.aws_name().to_string())
            .collect()
    }
}

fn native_code(binaries: &[Binary]) -> NativeCode {
    let mut native = NativeCode::default();
    let mut other = BTreeSet::new();
    let mut floor: Option<(GlibcVersion, &ArchivePath)> = None;
    for binary in binaries {
        match &binary.format {
            BinaryFormat::Elf(info) => {
                native.elf += 1;
                native.musl += usize::from(info.musl);
                if !info.is_64 || info.machine.arch().is_none() {
                    let bits = if info.is_64 { 64 } else { 32 };
                    other.insert(format!("{} ({bits}-bit)", info.machine.name()));
                }
                if let Some(version) = info.glibc
                    && floor.is_none_or(|(highest, _)| version > highest)
                {
                    floor = Some((version, &binary.path));
                }
            }
            BinaryFormat::MachO => native.macho += 1,
            BinaryFormat::Pe => native.pe += 1,
            BinaryFormat::Malformed(_) => native.malformed += 1,
        }
    }
    native.other_machines = other.into_iter().collect();
    native.glibc_floor = floor.map(|(version, path)| GlibcFloor {
        version: version.to_string(),
        path: path.to_string(),
        runs_on: [Os::Al2, Os::Al2023]
            .into_iter()
            .filter(|os| os.glibc() >= version)
            .map(Os::name)
            .collect(),
    });
    native
}

/// Sizes summed by package (the folder of one package in a runtime's package folder), else by
/// top-level folder; the `top` largest, ties broken by path.
pub(crate) fn largest_packages(inventory: &Inventory, top: usize) -> Vec<Contributor> {
    let mut sizes: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for entry in inventory.files() {
        let group = package_root(&entry.path).unwrap_or_else(|| entry.path.top().to_string());
        let slot = sizes.entry(group).or_default();
        slot.0 += entry.size;
        slot.1 += 1;
    }
    let mut list: Vec<Contributor> = sizes
        .into_iter()
        .map(|(path, (bytes, files))| Contributor { path, bytes, files })
        .collect();
    list.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    list.truncate(top);
    list
}

fn largest_files(inventory: &Inventory, top: usize) -> Vec<Contributor> {
    let mut list: Vec<Contributor> = inventory
        .files()
        .map(|entry| Contributor {
            path: entry.path.to_string(),
            bytes: entry.size,
            files: 1,
        })
        .collect();
    list.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    list.truncate(top);
    list
}
