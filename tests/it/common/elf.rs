//! Tiny, valid-enough ELF (and Mach-O / PE) files written from a spec, so fixtures need no
//! committed binaries.
//!
//! The ELF files are small but well formed: an ELF header, program headers (`PT_LOAD` over the
//! whole file, `PT_INTERP` when there is an interpreter, `PT_DYNAMIC`), and section headers for
//! `.interp`, `.dynstr`, `.dynamic` and `.gnu.version_r` (one `Verneed` for `libc.so.6` with one
//! `Vernaux` per `GLIBC_x.y`), so that both the `object` crate and `readelf -d -V` read them.
//! Addresses equal file offsets (plus a base for executables), so the dynamic entries that hold
//! addresses (`DT_STRTAB`, `DT_VERNEED`) resolve through the single `PT_LOAD`.

use serde::Deserialize;

/// One generated binary in a fixture's `case.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElfSpec {
    /// Path inside the layer.
    pub path: String,
    /// "elf" (default), "macho" or "pe".
    #[serde(default)]
    pub format: Option<String>,
    /// "x86_64" (default), "aarch64", "i386", "arm", "riscv64", "ppc64le", "s390x".
    #[serde(default)]
    pub machine: Option<String>,
    /// 32-bit ELF class.
    #[serde(default)]
    pub class32: bool,
    /// "dyn" (default, shared object) or "exec".
    #[serde(default)]
    pub kind: Option<String>,
    pub interpreter: Option<String>,
    #[serde(default)]
    pub needed: Vec<String>,
    #[serde(default)]
    pub runpath: Vec<String>,
    pub soname: Option<String>,
    /// GLIBC_x.y version needs, e.g. ["GLIBC_2.17", "GLIBC_2.28"].
    #[serde(default)]
    pub glibc: Vec<String>,
    /// Unix permission bits (default 0o755).
    pub mode: Option<u32>,
    /// Mach-O only: a universal ("fat") file holding x86_64 and arm64 slices.
    #[serde(default)]
    pub fat: bool,
    /// ELF only: leave out the section headers, as `sstrip` does; the dynamic segment remains.
    #[serde(default)]
    pub no_sections: bool,
}

/// The bytes of the binary described by `spec`.
pub fn build(spec: &ElfSpec) -> Vec<u8> {
    match spec.format.as_deref().unwrap_or("elf") {
        "elf" => build_elf(spec),
        "macho" => build_macho(spec),
        "pe" => build_pe(spec),
        other => panic!("unknown binary format `{other}` in an ElfSpec"),
    }
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const SHT_STRTAB: u32 = 3;
const SHT_DYNAMIC: u32 = 6;
const SHT_PROGBITS: u32 = 1;
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RUNPATH: u64 = 29;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;

fn machine_number(name: &str) -> u16 {
    match name {
        "x86_64" => 62,
        "aarch64" => 183,
        "i386" => 3,
        "arm" => 40,
        "riscv64" => 243,
        "ppc64le" => 21,
        "s390x" => 22,
        other => panic!("unknown machine `{other}` in an ElfSpec"),
    }
}

/// The SysV ELF hash, stored in each `Vernaux` (readelf prints it, the loader compares it).
fn elf_hash(name: &str) -> u32 {
    let mut hash: u32 = 0;
    for byte in name.bytes() {
        hash = (hash << 4).wrapping_add(u32::from(byte));
        let high = hash & 0xf000_0000;
        if high != 0 {
            hash ^= high >> 24;
        }
        hash &= !high;
    }
    hash
}

/// A string table under construction (`\0` first, as ELF requires).
struct Strings {
    bytes: Vec<u8>,
}

impl Strings {
    fn new() -> Strings {
        Strings { bytes: vec![0] }
    }

    fn add(&mut self, text: &str) -> u32 {
        let offset = self.bytes.len() as u32;
        self.bytes.extend_from_slice(text.as_bytes());
        self.bytes.push(0);
        offset
    }
}

/// Little-endian writer that knows the ELF class.
struct Writer {
    bytes: Vec<u8>,
    is_64: bool,
}

impl Writer {
    fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }
    fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    /// An address, offset or size: 8 bytes in ELF64, 4 in ELF32.
    fn word(&mut self, value: u64) {
        if self.is_64 {
            self.u64(value);
        } else {
            self.u32(u32::try_from(value).expect("fits ELF32"));
        }
    }
    fn pad_to(&mut self, align: usize) {
        while !self.bytes.len().is_multiple_of(align) {
            self.bytes.push(0);
        }
    }
}

fn build_elf(spec: &ElfSpec) -> Vec<u8> {
    let is_64 = !spec.class32;
    let machine = machine_number(spec.machine.as_deref().unwrap_or("x86_64"));
    let executable = match spec.kind.as_deref().unwrap_or("dyn") {
        "dyn" => false,
        "exec" => true,
        other => panic!("unknown ELF kind `{other}`"),
    };
    let base: u64 = if executable { 0x40_0000 } else { 0 };
    let (ehsize, phentsize, shentsize, dynsize) = if is_64 {
        (64u64, 56u64, 64u64, 16u64)
    } else {
        (52, 32, 40, 8)
    };

    // Strings first: every later piece refers to their offsets.
    let mut dynstr = Strings::new();
    let needed: Vec<u32> = spec.needed.iter().map(|name| dynstr.add(name)).collect();
    let soname = spec.soname.as_deref().map(|name| dynstr.add(name));
    let runpath = (!spec.runpath.is_empty()).then(|| dynstr.add(&spec.runpath.join(":")));
    let libc = (!spec.glibc.is_empty()).then(|| dynstr.add("libc.so.6"));
    let versions: Vec<(u32, &str)> = spec
        .glibc
        .iter()
        .map(|version| (dynstr.add(version), version.as_str()))
        .collect();

    let mut shstr = Strings::new();
    let name_interp = shstr.add(".interp");
    let name_dynstr = shstr.add(".dynstr");
    let name_dynamic = shstr.add(".dynamic");
    let name_verneed = shstr.add(".gnu.version_r");
    let name_shstrtab = shstr.add(".shstrtab");

    let phnum: u64 = 2 + u64::from(spec.interpreter.is_some());
    let align = if is_64 { 8 } else { 4 };
    let round = |value: u64| value.div_ceil(align) * align;

    // Layout: header, program headers, .interp, .dynstr, .gnu.version_r, .dynamic, .shstrtab,
    // section headers.
    let interp_offset = ehsize + phnum * phentsize;
    let interp_bytes: Vec<u8> = spec
        .interpreter
        .as_deref()
        .map(|text| {
            let mut bytes = text.as_bytes().to_vec();
            bytes.push(0);
            bytes
        })
        .unwrap_or_default();
    let dynstr_offset = interp_offset + interp_bytes.len() as u64;
    let verneed_offset = round(dynstr_offset + dynstr.bytes.len() as u64);
    let verneed_size = if libc.is_some() {
        16 + 16 * versions.len() as u64
    } else {
        0
    };
    let dynamic_offset = round(verneed_offset + verneed_size);
    let mut dynamic: Vec<(u64, u64)> = Vec::new();
    for offset in &needed {
        dynamic.push((DT_NEEDED, u64::from(*offset)));
    }
    if let Some(offset) = soname {
        dynamic.push((DT_SONAME, u64::from(offset)));
    }
    if let Some(offset) = runpath {
        dynamic.push((DT_RUNPATH, u64::from(offset)));
    }
    dynamic.push((DT_STRTAB, base + dynstr_offset));
    dynamic.push((DT_STRSZ, dynstr.bytes.len() as u64));
    if libc.is_some() {
        dynamic.push((DT_VERNEED, base + verneed_offset));
        dynamic.push((DT_VERNEEDNUM, 1));
    }
    dynamic.push((DT_NULL, 0));
    let dynamic_size = dynamic.len() as u64 * dynsize;
    let shstrtab_offset = dynamic_offset + dynamic_size;
    let shoff = round(shstrtab_offset + shstr.bytes.len() as u64);
    let shnum: u64 = if spec.no_sections { 0 } else { 6 };
    let file_size = shoff + shnum * shentsize;

    let mut out = Writer {
        bytes: Vec::new(),
        is_64,
    };
    // ELF header.
    out.bytes.extend_from_slice(b"\x7fELF");
    out.u8(if is_64 { 2 } else { 1 }); // EI_CLASS
    out.u8(1); // EI_DATA: little endian
    out.u8(1); // EI_VERSION
    out.u8(0); // EI_OSABI: System V
    out.bytes.extend_from_slice(&[0; 8]);
    out.u16(if executable { 2 } else { 3 }); // e_type
    out.u16(machine);
    out.u32(1); // e_version
    out.word(0); // e_entry
    out.word(ehsize); // e_phoff
    out.word(if spec.no_sections { 0 } else { shoff });
    out.u32(0); // e_flags
    out.u16(ehsize as u16);
    out.u16(phentsize as u16);
    out.u16(phnum as u16);
    out.u16(shentsize as u16);
    out.u16(shnum as u16);
    out.u16(if spec.no_sections { 0 } else { 5 }); // e_shstrndx
    assert_eq!(out.bytes.len() as u64, ehsize);

    // Program headers: the field order differs between the classes.
    let program_header = |out: &mut Writer, kind: u32, flags: u32, offset: u64, size: u64| {
        out.u32(kind);
        if is_64 {
            out.u32(flags);
        }
        out.word(offset);
        out.word(base + offset); // p_vaddr
        out.word(base + offset); // p_paddr
        out.word(size); // p_filesz
        out.word(size); // p_memsz
        if !is_64 {
            out.u32(flags);
        }
        out.word(if kind == PT_LOAD { 0x1000 } else { align });
    };
    if !interp_bytes.is_empty() {
        program_header(
            &mut out,
            PT_INTERP,
            4,
            interp_offset,
            interp_bytes.len() as u64,
        );
    }
    program_header(&mut out, PT_LOAD, 5, 0, file_size);
    program_header(&mut out, PT_DYNAMIC, 6, dynamic_offset, dynamic_size);
    assert_eq!(out.bytes.len() as u64, interp_offset);

    out.bytes.extend_from_slice(&interp_bytes);
    out.bytes.extend_from_slice(&dynstr.bytes);
    out.pad_to(align as usize);
    assert_eq!(out.bytes.len() as u64, verneed_offset);
    if let Some(file) = libc {
        out.u16(1); // vn_version
        out.u16(versions.len() as u16); // vn_cnt
        out.u32(file); // vn_file
        out.u32(16); // vn_aux
        out.u32(0); // vn_next
        for (index, (name, version)) in versions.iter().enumerate() {
            out.u32(elf_hash(version));
            out.u16(0); // vna_flags
            out.u16(index as u16 + 2); // vna_other: version index
            out.u32(*name);
            out.u32(if index + 1 < versions.len() { 16 } else { 0 });
        }
    }
    out.pad_to(align as usize);
    assert_eq!(out.bytes.len() as u64, dynamic_offset);
    for (tag, value) in &dynamic {
        out.word(*tag);
        out.word(*value);
    }
    out.bytes.extend_from_slice(&shstr.bytes);
    out.pad_to(align as usize);
    if spec.no_sections {
        return out.bytes;
    }
    assert_eq!(out.bytes.len() as u64, shoff);

    // Section headers: null, .interp, .dynstr, .gnu.version_r, .dynamic, .shstrtab.
    let section = |out: &mut Writer, fields: [u64; 10]| {
        let [
            name,
            kind,
            flags,
            addr,
            offset,
            size,
            link,
            info,
            addralign,
            entsize,
        ] = fields;
        out.u32(name as u32);
        out.u32(kind as u32);
        out.word(flags);
        out.word(addr);
        out.word(offset);
        out.word(size);
        out.u32(link as u32);
        out.u32(info as u32);
        out.word(addralign);
        out.word(entsize);
    };
    const ALLOC: u64 = 2;
    const WRITE: u64 = 1;
    section(&mut out, [0; 10]);
    section(
        &mut out,
        [
            u64::from(name_interp),
            u64::from(SHT_PROGBITS),
            ALLOC,
            base + interp_offset,
            interp_offset,
            interp_bytes.len() as u64,
            0,
            0,
            1,
            0,
        ],
    );
    section(
        &mut out,
        [
            u64::from(name_dynstr),
            u64::from(SHT_STRTAB),
            ALLOC,
            base + dynstr_offset,
            dynstr_offset,
            dynstr.bytes.len() as u64,
            0,
            0,
            1,
            0,
        ],
    );
    section(
        &mut out,
        [
            u64::from(name_verneed),
            u64::from(SHT_GNU_VERNEED),
            ALLOC,
            base + verneed_offset,
            verneed_offset,
            verneed_size,
            2, // sh_link: .dynstr
            u64::from(libc.is_some()),
            align,
            0,
        ],
    );
    section(
        &mut out,
        [
            u64::from(name_dynamic),
            u64::from(SHT_DYNAMIC),
            ALLOC | WRITE,
            base + dynamic_offset,
            dynamic_offset,
            dynamic_size,
            2, // sh_link: .dynstr
            0,
            align,
            dynsize,
        ],
    );
    section(
        &mut out,
        [
            u64::from(name_shstrtab),
            u64::from(SHT_STRTAB),
            0,
            0,
            shstrtab_offset,
            shstr.bytes.len() as u64,
            0,
            0,
            1,
            0,
        ],
    );
    assert_eq!(out.bytes.len() as u64, file_size);
    out.bytes
}

/// A thin 64-bit Mach-O header (no load commands), or a fat file of two such slices.
fn build_macho(spec: &ElfSpec) -> Vec<u8> {
    const CPU_X86_64: u32 = 0x0100_0007;
    const CPU_ARM64: u32 = 0x0100_000c;
    let file_type: u32 = match spec.kind.as_deref().unwrap_or("dyn") {
        "dyn" => 6,    // MH_DYLIB
        "exec" => 2,   // MH_EXECUTE
        "bundle" => 8, // MH_BUNDLE: what a CPython extension is on macOS
        other => panic!("unknown Mach-O kind `{other}`"),
    };
    let thin = |cpu: u32| {
        let mut bytes = Vec::new();
        for value in [0xfeed_facf, cpu, 3, file_type, 0, 0, 0, 0] {
            bytes.extend_from_slice(&u32::to_le_bytes(value));
        }
        bytes
    };
    let cpu = match spec.machine.as_deref().unwrap_or("x86_64") {
        "x86_64" => CPU_X86_64,
        "aarch64" => CPU_ARM64,
        other => panic!("unknown Mach-O machine `{other}`"),
    };
    if !spec.fat {
        return thin(cpu);
    }
    // fat_header and fat_arch are big-endian; slices are aligned to 4 KiB (2^12).
    let slices = [thin(CPU_X86_64), thin(CPU_ARM64)];
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0xcafe_babe_u32.to_be_bytes());
    bytes.extend_from_slice(&(slices.len() as u32).to_be_bytes());
    for (index, (cpu, slice)) in [CPU_X86_64, CPU_ARM64].iter().zip(&slices).enumerate() {
        let offset = 0x1000 * (index as u32 + 1);
        for value in [*cpu, 3, offset, slice.len() as u32, 12] {
            bytes.extend_from_slice(&value.to_be_bytes());
        }
    }
    for (index, slice) in slices.iter().enumerate() {
        bytes.resize(0x1000 * (index + 1), 0);
        bytes.extend_from_slice(slice);
    }
    bytes
}

/// A DOS stub pointing at a PE32+ header with an empty optional header (a DLL, or an EXE).
fn build_pe(spec: &ElfSpec) -> Vec<u8> {
    let machine: u16 = match spec.machine.as_deref().unwrap_or("x86_64") {
        "x86_64" => 0x8664,
        "aarch64" => 0xaa64,
        "i386" => 0x14c,
        other => panic!("unknown PE machine `{other}`"),
    };
    let dll = spec.kind.as_deref().unwrap_or("dyn") == "dyn";
    let mut bytes = vec![0u8; 0x80];
    bytes[0..2].copy_from_slice(b"MZ");
    bytes[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    bytes.extend_from_slice(b"PE\0\0");
    bytes.extend_from_slice(&machine.to_le_bytes());
    bytes.extend_from_slice(&0u16.to_le_bytes()); // NumberOfSections
    bytes.extend_from_slice(&[0; 12]); // TimeDateStamp, symbol table pointer and count
    bytes.extend_from_slice(&240u16.to_le_bytes()); // SizeOfOptionalHeader
    let characteristics: u16 = if dll { 0x2022 } else { 0x0022 };
    bytes.extend_from_slice(&characteristics.to_le_bytes());
    let mut optional = vec![0u8; 240];
    optional[0..2].copy_from_slice(&0x20bu16.to_le_bytes()); // PE32+
    optional[32..36].copy_from_slice(&0x1000u32.to_le_bytes()); // SectionAlignment
    optional[36..40].copy_from_slice(&0x200u32.to_le_bytes()); // FileAlignment
    optional[56..60].copy_from_slice(&0x1000u32.to_le_bytes()); // SizeOfImage
    optional[60..64].copy_from_slice(&0x200u32.to_le_bytes()); // SizeOfHeaders
    optional[68..70].copy_from_slice(&3u16.to_le_bytes()); // Subsystem: console
    optional[108..112].copy_from_slice(&16u32.to_le_bytes()); // NumberOfRvaAndSizes
    bytes.extend_from_slice(&optional);
    bytes.resize(0x200, 0);
    bytes
}
