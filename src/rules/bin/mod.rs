//! Binary rules (`BIN`): native code that the runtime's loader would refuse.
//!
//! Every rule reads the binaries the inspect stage found by content. Whether a file matters
//! depends on who would load it ([`placement`](crate::domain::placement)): a library name, `bin/`, `lib/` or a program is
//! loaded and gets an error; the same code in a folder nothing loads from (an npm package's
//! prebuilt binary for another platform, a 32-bit test fixture) is dead weight and gets a warning.

mod bin001_wrong_architecture;
mod bin002_not_linux_binary;
mod bin003_elf_32_bit;
mod bin004_glibc_too_new;
mod bin005_musl_linked;
mod bin006_cpython_tag_mismatch;
mod bin007_missing_shared_library;
mod bin008_missing_exec_bit;
mod bin009_missing_platform_package;

pub(crate) use bin001_wrong_architecture::BIN001;
pub(crate) use bin002_not_linux_binary::BIN002;
pub(crate) use bin003_elf_32_bit::BIN003;
pub(crate) use bin004_glibc_too_new::BIN004;
pub(crate) use bin005_musl_linked::BIN005;
pub(crate) use bin006_cpython_tag_mismatch::BIN006;
pub(crate) use bin007_missing_shared_library::BIN007;
pub(crate) use bin008_missing_exec_bit::BIN008;
pub(crate) use bin009_missing_platform_package::BIN009;

use crate::domain::placement::{is_loaded, platform_marker};
use crate::finding::Severity;
use crate::inspect::{Binary, BinaryFormat, ElfInfo};
use crate::inventory::ArchivePath;
use crate::lint::LayerContext;
use crate::runtime::Runtime;

/// The ELF files of the layer with their facts.
fn elfs<'a>(context: &'a LayerContext<'_>) -> impl Iterator<Item = (&'a Binary, &'a ElfInfo)> {
    context
        .binaries
        .iter()
        .filter_map(|binary| match &binary.format {
            BinaryFormat::Elf(info) => Some((binary, info)),
            _ => None,
        })
}

/// How a binary at this place counts: `None` when a package picks its binaries by platform and
/// this one is for another platform (never loaded on Lambda, reported by no rule but kept out
/// of the errors); else the severity for a defect: the rule's own where the file is loaded, a
/// warning where nothing would load it.
fn severity_at(
    context: &LayerContext<'_>,
    path: &ArchivePath,
    elf: Option<&ElfInfo>,
    rule: Severity,
) -> Option<Severity> {
    if let Some(marker) = platform_marker(path)
        && !marker.matches(context.architectures)
    {
        return None;
    }
    Some(if is_loaded(path, elf) {
        rule
    } else {
        Severity::Warning
    })
}

/// "python3.11 and python3.12".
fn list_runtimes(runtimes: &[&Runtime]) -> String {
    let ids: Vec<&str> = runtimes.iter().map(|runtime| runtime.id).collect();
    crate::text::and_list(&ids)
}

/// What the user would see when the loader refuses a file, by what the file is: a program is
/// run (and the kernel refuses it), a library is loaded (and the loader says `library_error`).
fn failure(path: &ArchivePath, elf: Option<&ElfInfo>, library_error: &str) -> String {
    if elf.is_some_and(|info| info.is_program(path)) || path.is_within("bin") {
        "running it fails with \"cannot execute binary file: Exec format error\"".to_string()
    } else {
        format!("loading it fails with \"{library_error}\"")
    }
}
