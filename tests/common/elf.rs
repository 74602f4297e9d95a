//! Tiny, valid-enough ELF (and Mach-O / PE) files written from a spec, so fixtures need no
//! committed binaries.

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
    /// "x86_64" (default), "aarch64", "i386", "arm".
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
}

/// The bytes of the binary described by `spec`.
pub fn build(spec: &ElfSpec) -> Vec<u8> {
    let _ = spec;
    unimplemented!("ELF generator")
}
