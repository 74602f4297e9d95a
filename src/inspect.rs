//! The inspect stage: finds every file that is machine code, by content, and reads what the
//! loader will need from it.
//!
//! Names lie (`.so` files that are text, executables without a suffix), so every file's first
//! bytes are sniffed; only binaries are read further, and only the parts the checks need
//! (headers, dynamic section, version needs). This stage runs once per layer, in parallel, and the
//! `BIN` rules and `why` read its results.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::read::{ReadCache, ReadRef, StringTable};
use object::{Endianness, U32};
use rayon::prelude::*;

use crate::inventory::{ArchivePath, Content, Entry, Inventory};
use crate::runtime::{Arch, GlibcVersion};

/// A file whose content is machine code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binary {
    pub path: ArchivePath,
    pub format: BinaryFormat,
}

/// What kind of machine code a file holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// `DT_RPATH` entries alone: searched before `LD_LIBRARY_PATH`, and only when the file has
    /// no `DT_RUNPATH`.
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` entries alone: searched after `LD_LIBRARY_PATH`, for this file's own needs.
    pub runpath: Vec<String>,
    pub soname: Option<String>,
    /// The highest `GLIBC_x.y` in the version needs: the oldest glibc that can load it.
    pub glibc: Option<GlibcVersion>,
    /// The symbol versions needed (`.gnu.version_r`), by the library that must define them:
    /// `libc.so.6` → `GLIBC_2.28`, `libstdc++.so.6` → `GLIBCXX_3.4.30`, `libgcc_s.so.1` → `GCC_7.0.0`.
    pub version_needs: Vec<VersionNeed>,
    /// The symbol versions this file defines (`.gnu.version_d`), its own base name left out: what
    /// a library shipped in a layer offers the files that need it.
    pub version_defs: Vec<String>,
    /// Linked against musl libc (interpreter or `libc.musl-*` needed).
    pub musl: bool,
}

/// The versions a file needs from one library (one `Verneed` and its `Vernaux` entries).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionNeed {
    /// The library's `DT_NEEDED` name, e.g. `libstdc++.so.6`.
    pub file: String,
    /// Version names, e.g. `GLIBCXX_3.4.30`, in file order.
    pub versions: Vec<String>,
}

/// An ELF `e_machine`, as far as Lambda cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ElfMachine {
    X86_64,
    Aarch64,
    X86,
    Arm,
    Other(u16),
}

impl ElfMachine {
    /// The Lambda architecture that runs this machine code, if any.
    pub(crate) fn arch(self) -> Option<Arch> {
        match self {
            ElfMachine::X86_64 => Some(Arch::X86_64),
            ElfMachine::Aarch64 => Some(Arch::Arm64),
            _ => None,
        }
    }
}

/// `e_type`: what an ELF file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ElfKind {
    Executable,
    /// Shared library or position-independent executable.
    SharedObject,
    Relocatable,
    Other,
}

impl ElfMachine {
    fn from_number(number: elf::Machine) -> ElfMachine {
        match number {
            elf::EM_X86_64 => ElfMachine::X86_64,
            elf::EM_AARCH64 => ElfMachine::Aarch64,
            elf::EM_386 => ElfMachine::X86,
            elf::EM_ARM => ElfMachine::Arm,
            other => ElfMachine::Other(other.0),
        }
    }

    /// The name `uname -m` and platform tags use (`x86_64`, `aarch64`, `i386`, `arm`).
    pub(crate) fn name(self) -> String {
        match self {
            ElfMachine::X86_64 => "x86_64".to_string(),
            ElfMachine::Aarch64 => "aarch64".to_string(),
            ElfMachine::X86 => "i386".to_string(),
            ElfMachine::Arm => "arm".to_string(),
            ElfMachine::Other(number) => match elf::Machine(number) {
                elf::EM_RISCV => "riscv".to_string(),
                elf::EM_PPC64 => "ppc64".to_string(),
                elf::EM_S390 => "s390x".to_string(),
                _ => format!("machine {number}"),
            },
        }
    }
}

impl ElfInfo {
    /// True for a program rather than a library: `ET_EXEC`, or a position-independent executable
    /// (`ET_DYN` with an interpreter) whose name does not say it is a shared library. (glibc's
    /// own `libc.so.6` has an interpreter too, so the name decides for `ET_DYN`.)
    pub fn is_program(&self, path: &ArchivePath) -> bool {
        match self.kind {
            ElfKind::Executable => true,
            ElfKind::SharedObject => {
                self.interpreter.is_some() && !is_library_name(path.file_name())
            }
            ElfKind::Relocatable | ElfKind::Other => false,
        }
    }
}

// What a file's name alone says the loader or a runtime opens it as: a shared object
// (`libx.so`, `libx.so.1.2`), which the dynamic loader finds on its search path, or a Node.js
// addon (`x.node`), which `require` opens by its path with `dlopen`. Which ELF files are programs
// rather than libraries (above), which binaries count as loaded (`domain::placement`) and which
// stray files belong in `lib/` (`LAY001`) all ask here.

/// `libx.so`, `libx.so.1.2`: a name the dynamic loader opens.
pub(crate) fn is_shared_object_name(name: &str) -> bool {
    name.ends_with(".so") || name.contains(".so.")
}

/// `x.node`: a Node.js addon, a shared object `require` opens by its path.
pub(crate) fn is_node_addon_name(name: &str) -> bool {
    name.ends_with(".node")
}

/// A shared object or a Node.js addon: a name something on Lambda opens as a library.
pub(crate) fn is_library_name(name: &str) -> bool {
    is_shared_object_name(name) || is_node_addon_name(name)
}

/// What the first bytes of a file say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Magic {
    Elf,
    MachO,
    Pe,
}

/// How many bytes are read from every file to recognize machine code. A PE signature sits at the
/// offset the DOS header names (0x80..0x118 in practice); a later one costs one more read.
const SNIFF_BYTES: usize = 512;

/// Recognizes machine code from a file's first bytes. `None` for everything else, including
/// Java class files, which share the fat Mach-O magic `CAFEBABE`. For a PE file whose signature
/// lies beyond `prefix`, returns `Err(needed)`: the prefix length that would decide.
pub(crate) fn sniff(prefix: &[u8]) -> Result<Option<Magic>, usize> {
    let word = |at: usize| -> Option<[u8; 4]> { prefix.get(at..at + 4)?.try_into().ok() };
    let Some(first) = word(0) else {
        return Ok(None);
    };
    match first {
        [0x7f, b'E', b'L', b'F'] => Ok(Some(Magic::Elf)),
        // Thin Mach-O, 32 and 64 bit, both byte orders.
        [0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe] => Ok(Some(Magic::MachO)),
        // Fat Mach-O (big-endian as written by lipo, or swapped), 32- and 64-bit offsets. A Java
        // class file has the same magic followed by minor and major version (major >= 45), so the
        // word that would be the slice count is 45 or more; real fat files hold a handful.
        [0xca, 0xfe, 0xba, 0xbe | 0xbf] | [0xbe | 0xbf, 0xba, 0xfe, 0xca] => {
            let Some(count) = word(4) else {
                return Ok(None);
            };
            let count = if first[0] == 0xca {
                u32::from_be_bytes(count)
            } else {
                u32::from_le_bytes(count)
            };
            Ok(((1..=20).contains(&count)).then_some(Magic::MachO))
        }
        [b'M', b'Z', _, _] => {
            let Some(offset) = word(0x3c) else {
                return Ok(None);
            };
            let offset = u32::from_le_bytes(offset) as usize;
            if !(0x40..=1 << 16).contains(&offset) {
                return Ok(None);
            }
            match word(offset) {
                Some(signature) => Ok((signature == *b"PE\0\0").then_some(Magic::Pe)),
                None if prefix.len() >= offset + 4 => Ok(None),
                None => Err(offset + 4),
            }
        }
        _ => Ok(None),
    }
}

/// Sniffs every file of the inventory and returns its binaries, sorted by path.
///
/// Every file costs one short read; only ELF files are read further, and from disk only the
/// parts the loader would read for linking (headers, dynamic section, its strings, version
/// needs), through a read cache, so a 60 MB library costs a few small reads.
pub fn inspect(inventory: &Inventory) -> Vec<Binary> {
    inspect_recalling(inventory, None)
}

/// What inspecting a content found, whatever path it has: `None` when it is not machine code.
pub(crate) type Found = Option<BinaryFormat>;

/// What earlier inspections found, kept by content (the build cache keeps it): a file whose
/// content is known need not be read to be inspected again.
pub(crate) trait InspectionMemory: Sync {
    /// What inspecting `entry`'s content found before, when its content is known and was
    /// inspected; `None` otherwise (the file is then inspected).
    fn recall(&self, inventory: &Inventory, entry: &Entry) -> Option<Found>;
    /// Keeps what inspecting the disk file of `entry` found; `after` is the file's metadata
    /// taken once it was read (on the open handle), which tells whether the bytes read can
    /// differ from the content the memory knows the file by.
    fn remember(&self, inventory: &Inventory, entry: &Entry, found: &Found, after: &Metadata);
}

/// [`inspect`], taking what `memory` recalls instead of reading those files, and handing it
/// what was read. The binaries found are the same with or without a memory.
pub(crate) fn inspect_recalling(
    inventory: &Inventory,
    memory: Option<&dyn InspectionMemory>,
) -> Vec<Binary> {
    let mut binaries: Vec<Binary> = inventory
        .entries()
        .par_iter()
        .filter(|entry| entry.is_file() && entry.size >= 4)
        .filter_map(|entry| {
            let format = match memory.and_then(|memory| memory.recall(inventory, entry)) {
                Some(found) => found,
                None => inspect_found(inventory, entry, memory),
            }?;
            Some(Binary {
                path: entry.path.clone(),
                format,
            })
        })
        .collect();
    binaries.sort_by(|a, b| a.path.cmp(&b.path));
    binaries
}

/// Inspects one file: `None` when it is not machine code (or cannot be read at all; the file's
/// readability is the `HYG` rules' concern, not a reason to stop inspecting).
pub fn inspect_entry(inventory: &Inventory, entry: &Entry) -> Option<Binary> {
    let format = inspect_found(inventory, entry, None)?;
    Some(Binary {
        path: entry.path.clone(),
        format,
    })
}

/// Inspects one file by reading it; a disk file is opened once, and what it holds is handed to
/// `memory` unless the reason may lie outside the content: a file that could not be read, or a
/// malformed ELF file (whose reason can be a read error).
fn inspect_found(
    inventory: &Inventory,
    entry: &Entry,
    memory: Option<&dyn InspectionMemory>,
) -> Found {
    let Content::Disk(path) = &entry.content else {
        return inspect_streamed(inventory, entry);
    };
    let (found, file) = inspect_file(path)?;
    if let Some(memory) = memory
        && !matches!(found, Some(BinaryFormat::Malformed(_)))
        && let Ok(after) = file.metadata()
    {
        memory.remember(inventory, entry, &found, &after);
    }
    found
}

/// Inspects a file on disk through one handle: its first bytes, and an ELF file's loader tables
/// through a read cache. `None` when it cannot be opened or its first bytes cannot be read.
fn inspect_file(path: &Path) -> Option<(Found, File)> {
    let file = crate::files::open_regular(path).ok()?;
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    (&file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .ok()?;
    let magic = match sniff(&prefix) {
        Ok(magic) => magic,
        Err(needed) => {
            let more = needed.saturating_sub(prefix.len()) as u64;
            (&file).take(more).read_to_end(&mut prefix).ok()?;
            sniff(&prefix).ok()?
        }
    };
    let found = match magic {
        None => None,
        Some(Magic::MachO) => Some(BinaryFormat::MachO),
        Some(Magic::Pe) => Some(BinaryFormat::Pe),
        Some(Magic::Elf) => Some(match parse_elf(&ReadCache::new(&file)) {
            Ok(info) => BinaryFormat::Elf(info),
            Err(reason) => BinaryFormat::Malformed(reason),
        }),
    };
    Some((found, file))
}

/// Inspects an entry that is not a disk file (a zip's entry, bytes in memory) by streaming it.
fn inspect_streamed(inventory: &Inventory, entry: &Entry) -> Found {
    let mut prefix = inventory.read_prefix(entry, SNIFF_BYTES).ok()?;
    let magic = match sniff(&prefix) {
        Ok(magic) => magic?,
        Err(needed) => {
            prefix = inventory.read_prefix(entry, needed).ok()?;
            sniff(&prefix).ok()??
        }
    };
    Some(match magic {
        Magic::MachO => BinaryFormat::MachO,
        Magic::Pe => BinaryFormat::Pe,
        Magic::Elf => match read_elf_streamed(inventory, entry) {
            Ok(info) => BinaryFormat::Elf(info),
            Err(reason) => BinaryFormat::Malformed(reason),
        },
    })
}

/// The most bytes of one ELF file kept in memory while it is parsed from a stream.
const MAX_ELF_KEPT: u64 = 64 << 20;

/// How many times an ELF file may be streamed from its start before layerpack gives up: the
/// parse needs the header, then the tables it points to, then the strings those point to.
const MAX_ELF_PASSES: usize = 8;

/// Parses an ELF file that can only be streamed (an entry of a zip), without holding it whole:
/// the parse runs over a sparse copy of the file; each byte range it misses is noted, the entry
/// is streamed again from its start keeping just those ranges, and the parse is retried. Each
/// pass reads only as far as the furthest range needed, and the ranges kept are bounded.
fn read_elf_streamed(inventory: &Inventory, entry: &Entry) -> Result<ElfInfo, String> {
    // The first pass keeps the start: headers and, usually, the program headers.
    let first = 0..entry.size.min(64 << 10);
    let mut wanted: Vec<std::ops::Range<u64>> = std::iter::once(first).collect();
    for _ in 0..MAX_ELF_PASSES {
        let sparse = Sparse::fetch(inventory, entry, &wanted)
            .map_err(|err| format!("cannot be read: {err}"))?;
        let outcome = parse_elf(&sparse);
        let missed = sparse.missed.into_inner();
        if missed.is_empty() {
            return outcome;
        }
        wanted.extend(missed);
        wanted = merge_ranges(wanted, entry.size);
        let kept: u64 = wanted.iter().map(|range| range.end - range.start).sum();
        if kept > MAX_ELF_KEPT {
            return Err(format!(
                "its loader tables span more than {} MiB; layerpack does not read further",
                MAX_ELF_KEPT >> 20
            ));
        }
    }
    Err(format!(
        "its loader tables could not be located in {MAX_ELF_PASSES} reads (the file may be \
         truncated or its offsets circular)"
    ))
}

/// Sorts ranges, clips them to `len`, aligns their starts down to 16 bytes (so structures read
/// from them stay aligned) and joins those that touch.
fn merge_ranges(mut ranges: Vec<std::ops::Range<u64>>, len: u64) -> Vec<std::ops::Range<u64>> {
    for range in &mut ranges {
        range.start &= !15;
        range.end = range.end.min(len);
    }
    ranges.retain(|range| range.start < range.end);
    ranges.sort_by_key(|range| range.start);
    let mut merged: Vec<std::ops::Range<u64>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// Zeros handed to a parse in place of bytes not fetched yet, so that it goes on and reveals
/// more of the ranges it needs in the same pass. Aligned like any structure it may be read as.
#[repr(align(16))]
struct Zeros([u8; 1 << 16]);
static ZEROS: Zeros = Zeros([0; 1 << 16]);

/// Some byte ranges of a file, with the ranges a parse asked for and did not find.
struct Sparse {
    len: u64,
    /// Sorted, disjoint, starts aligned to 16 bytes.
    ranges: Vec<(u64, Vec<u8>)>,
    missed: std::cell::RefCell<Vec<std::ops::Range<u64>>>,
}

impl Sparse {
    /// Streams the entry from its start, keeping the bytes of `wanted` (sorted, disjoint) and
    /// stopping after the last of them.
    fn fetch(
        inventory: &Inventory,
        entry: &Entry,
        wanted: &[std::ops::Range<u64>],
    ) -> std::io::Result<Sparse> {
        let mut reader = inventory.open(entry)?;
        let mut position = 0u64;
        let mut ranges = Vec::with_capacity(wanted.len());
        let mut skip = vec![0u8; 1 << 16];
        for range in wanted {
            while position < range.start {
                let want = usize::try_from(range.start - position)
                    .unwrap_or(usize::MAX)
                    .min(skip.len());
                let read = reader.read(&mut skip[..want])?;
                if read == 0 {
                    break;
                }
                position += read as u64;
            }
            let mut bytes = Vec::new();
            (&mut reader)
                .take(range.end - range.start)
                .read_to_end(&mut bytes)?;
            position += bytes.len() as u64;
            ranges.push((range.start, bytes));
        }
        Ok(Sparse {
            len: entry.size,
            ranges,
            missed: std::cell::RefCell::new(Vec::new()),
        })
    }

    fn find(&self, offset: u64) -> Option<(u64, &[u8])> {
        let index = self.ranges.partition_point(|(start, _)| *start <= offset);
        let (start, bytes) = self.ranges.get(index.checked_sub(1)?)?;
        Some((*start, bytes.as_slice()))
    }

    fn miss(&self, range: std::ops::Range<u64>) {
        self.missed.borrow_mut().push(range);
    }
}

impl<'a> ReadRef<'a> for &'a Sparse {
    fn len(self) -> Result<u64, ()> {
        Ok(self.len)
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        let end = offset.checked_add(size).ok_or(())?;
        if end > self.len {
            return Err(());
        }
        if size == 0 {
            return Ok(&[]);
        }
        if let Some((start, bytes)) = self.find(offset) {
            let from = usize::try_from(offset - start).map_err(|_| ())?;
            let to = usize::try_from(end - start).map_err(|_| ())?;
            if let Some(slice) = bytes.get(from..to) {
                return Ok(slice);
            }
        }
        self.miss(offset..end);
        ZEROS
            .0
            .get(..usize::try_from(size).map_err(|_| ())?)
            .ok_or(())
    }

    fn read_bytes_at_until(
        self,
        range: std::ops::Range<u64>,
        delimiter: u8,
    ) -> Result<&'a [u8], ()> {
        // As over a slice or a read cache: a range past the end of the file is an error.
        let end = range.end;
        if range.start >= end || end > self.len {
            return Err(());
        }
        if let Some((start, bytes)) = self.find(range.start) {
            let from = usize::try_from(range.start - start).map_err(|_| ())?;
            let to = usize::try_from(end - start)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            if let Some(slice) = bytes.get(from..to) {
                if let Some(stop) = slice.iter().position(|&byte| byte == delimiter) {
                    return Ok(&slice[..stop]);
                }
                if to == usize::try_from(end - start).unwrap_or(usize::MAX) {
                    return Err(());
                }
            }
        }
        self.miss(range.start..end);
        Ok(&[])
    }
}

/// Parses the loader-relevant facts of an ELF file held in `data` (a byte slice, or a read
/// cache over a file). Every inconsistency is an `Err` with a reason, never a panic.
pub fn parse_elf<'data, R: ReadRef<'data>>(data: R) -> Result<ElfInfo, String> {
    let ident = data
        .read_bytes_at(0, 16)
        .map_err(|()| "the file is shorter than an ELF identification (16 bytes)".to_string())?;
    match elf::FileClass(ident[4]) {
        elf::ELFCLASS32 => parse_class::<elf::FileHeader32<Endianness>, R>(data),
        elf::ELFCLASS64 => parse_class::<elf::FileHeader64<Endianness>, R>(data),
        other => Err(format!("unknown ELF class {}", other.0)),
    }
}

fn parse_class<'data, Elf, R>(data: R) -> Result<ElfInfo, String>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    fn fail(what: &'static str) -> impl Fn(object::read::Error) -> String {
        move |err| format!("{what}: {err}")
    }
    let header = Elf::parse(data).map_err(fail("bad ELF header"))?;
    let endian = header.endian().map_err(fail("bad ELF header"))?;
    let kind = match header.e_type(endian) {
        elf::ET_EXEC => ElfKind::Executable,
        elf::ET_DYN => ElfKind::SharedObject,
        elf::ET_REL => ElfKind::Relocatable,
        _ => ElfKind::Other,
    };
    let segments = header
        .program_headers(endian, data)
        .map_err(fail("bad program headers"))?;
    let mut interpreter = None;
    for segment in segments {
        if let Some(bytes) = segment
            .interpreter(endian, data)
            .map_err(fail("bad PT_INTERP"))?
        {
            interpreter = Some(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    let mut dynamic = DynamicFacts::default();
    let sections = header
        .sections(endian, data)
        .map_err(fail("bad section headers"))?;
    if let Some((entries, link)) = sections
        .dynamic(endian, data)
        .map_err(fail("bad .dynamic section"))?
    {
        let strings = sections
            .strings(endian, data, link)
            .map_err(fail("bad .dynstr section"))?;
        dynamic.read_entries::<Elf, R>(endian, entries, strings)?;
        if let Some((mut needs, link)) = sections
            .gnu_verneed(endian, data)
            .map_err(fail("bad .gnu.version_r section"))?
        {
            let strings = sections
                .strings(endian, data, link)
                .map_err(fail("bad .gnu.version_r strings"))?;
            while let Some((need, mut aux)) = needs.next().map_err(fail("bad version need"))? {
                let file = need
                    .file(endian, strings)
                    .map_err(fail("bad version need file"))?;
                let index = dynamic.need_file(file);
                while let Some(version) = aux.next().map_err(fail("bad version need"))? {
                    let name = version
                        .name(endian, strings)
                        .map_err(fail("bad version name"))?;
                    dynamic.note_version(index, name);
                }
            }
        }
        if let Some((mut defs, link)) = sections
            .gnu_verdef(endian, data)
            .map_err(fail("bad .gnu.version_d section"))?
        {
            let strings = sections
                .strings(endian, data, link)
                .map_err(fail("bad .gnu.version_d strings"))?;
            while let Some((def, mut aux)) = defs.next().map_err(fail("bad version definition"))? {
                if def.vd_flags.get(endian).0 & elf::VER_FLG_BASE.0 != 0 {
                    continue;
                }
                if let Some(first) = aux.next().map_err(fail("bad version definition"))? {
                    let name = first
                        .name(endian, strings)
                        .map_err(fail("bad version name"))?;
                    dynamic.define_version(name);
                }
            }
        }
    } else {
        // No section headers (stripped with `sstrip`, or hostile): read what the loader reads,
        // the PT_DYNAMIC segment, and map its addresses through the PT_LOAD segments.
        for segment in segments {
            if let Some(entries) = segment
                .dynamic(endian, data)
                .map_err(fail("bad PT_DYNAMIC"))?
            {
                dynamic.read_segment::<Elf, R>(endian, data, segments, entries)?;
            }
        }
    }
    let musl = interpreter
        .as_deref()
        .is_some_and(|path| path.contains("ld-musl"))
        || dynamic
            .needed
            .iter()
            .any(|name| name.starts_with("libc.musl-"));
    Ok(ElfInfo {
        is_64: header.is_type_64(),
        machine: ElfMachine::from_number(header.e_machine(endian)),
        kind,
        interpreter,
        needed: dynamic.needed,
        search_paths: dynamic.search_paths,
        rpath: dynamic.rpath,
        runpath: dynamic.runpath,
        soname: dynamic.soname,
        glibc: dynamic.glibc,
        version_needs: dynamic.version_needs,
        version_defs: dynamic.version_defs,
        musl,
    })
}

/// What the dynamic section and version needs say, gathered while reading them.
#[derive(Default)]
struct DynamicFacts {
    needed: Vec<String>,
    search_paths: Vec<String>,
    rpath: Vec<String>,
    runpath: Vec<String>,
    soname: Option<String>,
    glibc: Option<GlibcVersion>,
    version_needs: Vec<VersionNeed>,
    version_defs: Vec<String>,
}

/// A hostile file could claim millions of entries; real ones have dozens.
const MAX_DYNAMIC_ENTRIES: usize = 1 << 16;

/// Version names kept per library need and per file (libstdc++ defines about 150).
const MAX_VERSIONS: usize = 1 << 12;

impl DynamicFacts {
    fn read_entries<'data, Elf, R>(
        &mut self,
        endian: Endianness,
        entries: &[Elf::Dyn],
        strings: StringTable<'data, R>,
    ) -> Result<(), String>
    where
        Elf: FileHeader<Endian = Endianness>,
        R: ReadRef<'data>,
    {
        for entry in entries.iter().take(MAX_DYNAMIC_ENTRIES) {
            let tag = entry.d_tag(endian);
            if tag == elf::DT_NULL {
                break;
            }
            if ![
                elf::DT_NEEDED,
                elf::DT_SONAME,
                elf::DT_RPATH,
                elf::DT_RUNPATH,
            ]
            .contains(&tag)
            {
                continue;
            }
            let offset = u32::try_from(entry.d_val(endian).into())
                .map_err(|_| "a dynamic string offset is out of range".to_string())?;
            let text = strings
                .get(offset)
                .map_err(|()| "a dynamic entry names a string outside .dynstr".to_string())?;
            let text = String::from_utf8_lossy(text).into_owned();
            if tag == elf::DT_NEEDED {
                self.needed.push(text);
            } else if tag == elf::DT_SONAME {
                self.soname = Some(text);
            } else {
                let parts = text
                    .split(':')
                    .filter(|part| !part.is_empty())
                    .map(str::to_string);
                if tag == elf::DT_RPATH {
                    self.rpath.extend(parts.clone());
                } else {
                    self.runpath.extend(parts.clone());
                }
                self.search_paths.extend(parts);
            }
        }
        Ok(())
    }

    /// Starts the needs of one library; returns its index for [`DynamicFacts::note_version`].
    fn need_file(&mut self, file: &[u8]) -> usize {
        self.version_needs.push(VersionNeed {
            file: String::from_utf8_lossy(file).into_owned(),
            versions: Vec::new(),
        });
        self.version_needs.len() - 1
    }

    fn define_version(&mut self, name: &[u8]) {
        if self.version_defs.len() < MAX_VERSIONS {
            self.version_defs
                .push(String::from_utf8_lossy(name).into_owned());
        }
    }

    fn note_version(&mut self, need: usize, name: &[u8]) {
        if let Some(need) = self.version_needs.get_mut(need)
            && need.versions.len() < MAX_VERSIONS
        {
            need.versions
                .push(String::from_utf8_lossy(name).into_owned());
        }
        if !name.starts_with(b"GLIBC_") {
            return;
        }
        let version = std::str::from_utf8(name).ok().and_then(GlibcVersion::parse);
        if version > self.glibc {
            self.glibc = version;
        }
    }

    /// Reads the dynamic segment without section headers: `DT_STRTAB`/`DT_STRSZ` locate the
    /// strings, `DT_VERNEED`/`DT_VERNEEDNUM` the version needs, all by virtual address.
    fn read_segment<'data, Elf, R>(
        &mut self,
        endian: Endianness,
        data: R,
        segments: &[Elf::ProgramHeader],
        entries: &[Elf::Dyn],
    ) -> Result<(), String>
    where
        Elf: FileHeader<Endian = Endianness>,
        R: ReadRef<'data>,
    {
        let value_of = |wanted: elf::DynamicTag| -> Option<u64> {
            entries
                .iter()
                .take(MAX_DYNAMIC_ENTRIES)
                .take_while(|entry| entry.d_tag(endian) != elf::DT_NULL)
                .find(|entry| entry.d_tag(endian) == wanted)
                .map(|entry| entry.d_val(endian).into())
        };
        let file_offset = |address: u64| -> Option<u64> {
            segments
                .iter()
                .filter(|segment| segment.p_type(endian) == elf::PT_LOAD)
                .find_map(|segment| {
                    let start: u64 = segment.p_vaddr(endian).into();
                    let size: u64 = segment.p_filesz(endian).into();
                    let offset: u64 = segment.p_offset(endian).into();
                    (address >= start && address - start < size)
                        .then(|| offset.checked_add(address - start))
                        .flatten()
                })
        };
        let (Some(table), Some(size)) = (value_of(elf::DT_STRTAB), value_of(elf::DT_STRSZ)) else {
            return Ok(());
        };
        let start = file_offset(table)
            .ok_or_else(|| "DT_STRTAB points outside every PT_LOAD segment".to_string())?;
        let end = start
            .checked_add(size)
            .ok_or_else(|| "DT_STRSZ is out of range".to_string())?;
        let strings = StringTable::new(data, start, end);
        self.read_entries::<Elf, R>(endian, entries, strings)?;
        if let (Some(address), Some(count)) =
            (value_of(elf::DT_VERDEF), value_of(elf::DT_VERDEFNUM))
        {
            let mut def_offset = file_offset(address)
                .ok_or_else(|| "DT_VERDEF points outside every PT_LOAD segment".to_string())?;
            for _ in 0..count.min(1024) {
                let def: &elf::Verdef<Endianness> = data
                    .read_at(def_offset)
                    .map_err(|()| "a version definition lies outside the file".to_string())?;
                if def.vd_flags.get(endian).0 & elf::VER_FLG_BASE.0 == 0
                    && def.vd_cnt.get(endian) > 0
                {
                    let aux: &elf::Verdaux<Endianness> = data
                        .read_at(def_offset + u64::from(def.vd_aux.get(endian)))
                        .map_err(|()| "a version definition lies outside the file".to_string())?;
                    let name = strings
                        .get(aux.vda_name.get(endian))
                        .map_err(|()| "a version name lies outside DT_STRTAB".to_string())?;
                    self.define_version(name);
                }
                let next = def.vd_next.get(endian);
                if next == 0 {
                    break;
                }
                def_offset += u64::from(next);
            }
        }
        let (Some(address), Some(count)) =
            (value_of(elf::DT_VERNEED), value_of(elf::DT_VERNEEDNUM))
        else {
            return Ok(());
        };
        let mut need_offset = file_offset(address)
            .ok_or_else(|| "DT_VERNEED points outside every PT_LOAD segment".to_string())?;
        for _ in 0..count.min(1024) {
            let need: &elf::Verneed<Endianness> = data
                .read_at(need_offset)
                .map_err(|()| "a version need lies outside the file".to_string())?;
            let file = strings
                .get(need.vn_file.get(endian))
                .map_err(|()| "a version need names a file outside DT_STRTAB".to_string())?;
            let index = self.need_file(file);
            let mut aux_offset = need_offset + u64::from(need.vn_aux.get(endian));
            for _ in 0..need.vn_cnt.get(endian).min(1024) {
                let aux: &elf::Vernaux<Endianness> = data
                    .read_at(aux_offset)
                    .map_err(|()| "a version need lies outside the file".to_string())?;
                let name = strings
                    .get(aux.vna_name.get(endian))
                    .map_err(|()| "a version name lies outside DT_STRTAB".to_string())?;
                self.note_version(index, name);
                let next = aux.vna_next.get(endian);
                if next == 0 {
                    break;
                }
                aux_offset += u64::from(next);
            }
            let next: U32<Endianness> = need.vn_next;
            if next.get(endian) == 0 {
                break;
            }
            need_offset += u64::from(next.get(endian));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_class_files_are_not_fat_mach_o() {
        // Java 21 class file: CAFEBABE, minor 0, major 65.
        assert_eq!(sniff(b"\xca\xfe\xba\xbe\x00\x00\x00\x41\x00\x10"), Ok(None));
        // Java 1.1 class file: minor 3, major 45.
        assert_eq!(sniff(b"\xca\xfe\xba\xbe\x00\x03\x00\x2d"), Ok(None));
        // A universal binary with two slices.
        assert_eq!(
            sniff(b"\xca\xfe\xba\xbe\x00\x00\x00\x02"),
            Ok(Some(Magic::MachO))
        );
        assert_eq!(
            sniff(b"\xcf\xfa\xed\xfe\x07\x00\x00\x01"),
            Ok(Some(Magic::MachO))
        );
    }

    #[test]
    fn pe_needs_its_signature() {
        let mut dos = vec![0u8; 0x100];
        dos[0..2].copy_from_slice(b"MZ");
        dos[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        assert_eq!(sniff(&dos), Ok(None), "MZ without PE signature");
        dos[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert_eq!(sniff(&dos), Ok(Some(Magic::Pe)));
        // Signature beyond the prefix: ask for more bytes.
        dos[0x3c..0x40].copy_from_slice(&0x400u32.to_le_bytes());
        assert_eq!(sniff(&dos), Err(0x404));
        assert_eq!(sniff(b"MZ"), Ok(None));
        assert_eq!(sniff(b""), Ok(None));
        assert_eq!(sniff(b"#!/bin/sh\n"), Ok(None));
    }

    #[test]
    fn library_names() {
        for name in [
            "libx.so",
            "libx.so.1",
            "libx.so.1.2.3",
            "_x.cpython-312-x86_64-linux-gnu.so",
        ] {
            assert!(is_shared_object_name(name), "{name}");
            assert!(is_library_name(name), "{name}");
        }
        assert!(is_node_addon_name("sharp.node"));
        assert!(!is_shared_object_name("sharp.node"));
        assert!(is_library_name("sharp.node"));
        for name in ["x.py", "solver", "x.sources", "node"] {
            assert!(!is_library_name(name), "{name}");
        }
    }
}
