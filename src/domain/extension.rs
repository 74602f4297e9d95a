//! CPython extension file names: which interpreter and platform a `.so` or `.pyd` is built for.
//!
//! Python imports an extension module `m` only from a file named `m` plus one of the suffixes in
//! `importlib.machinery.EXTENSION_SUFFIXES`; on Linux CPython 3.12 on x86_64 those are
//! `.cpython-312-x86_64-linux-gnu.so`, `.abi3.so` and `.so`. Any other suffix is not an error at
//! import: the file is simply not seen, and the user gets `No module named ...`.

use crate::runtime::{Arch, Family, Runtime};

/// What an extension's file name says it was built for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExtensionTarget {
    /// `.abi3.so` (stable ABI) or a plain `.so`: every CPython 3 on Linux tries it.
    AnyCPython,
    /// `.cpython-3XY[flags]-PLATFORM.so` or `.cpython-3XY[flags].so`.
    CPython {
        version: (u32, u32),
        /// ABI flags such as `d` (debug) or `t` (free-threaded): Lambda's builds have none.
        flags: String,
        /// e.g. `x86_64-linux-gnu`, `aarch64-linux-musl`, `darwin`; `None` when absent.
        platform: Option<String>,
    },
    /// `.pyd`: a Windows extension, never tried on Linux.
    Windows,
    /// Another implementation's tag (`.pypy310-pp73-x86_64-linux-gnu.so`).
    OtherInterpreter(String),
}

/// An extension module file: its module name and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Extension {
    /// The module's own name (`_pydantic_core`), without package.
    pub(crate) module: String,
    pub(crate) target: ExtensionTarget,
}

/// Parses an extension file name; `None` when the name is not an extension module (not `.so` or
/// `.pyd`, or a library name such as `libfoo.so.1`).
pub(crate) fn parse(file_name: &str) -> Option<Extension> {
    if let Some(stem) = file_name.strip_suffix(".pyd") {
        let module = stem.split('.').next().unwrap_or(stem);
        return Some(Extension {
            module: module.to_string(),
            target: ExtensionTarget::Windows,
        });
    }
    let stem = file_name.strip_suffix(".so")?;
    let (module, tag) = match stem.split_once('.') {
        None => (stem, None),
        Some((module, tag)) => (module, Some(tag)),
    };
    if module.is_empty() {
        return None;
    }
    let target = match tag {
        None => ExtensionTarget::AnyCPython,
        Some("abi3") => ExtensionTarget::AnyCPython,
        Some(tag) => match tag.strip_prefix("cpython-") {
            Some(rest) => parse_cpython_tag(rest)?,
            None if tag.starts_with("pypy") || tag.starts_with("graalpy") => {
                ExtensionTarget::OtherInterpreter(tag.to_string())
            }
            // `libfoo.so` names with dots (`foo.bar.so`) that are no known tag: Python would
            // look for module `foo` with suffix `.bar.so`, which is no suffix; not an extension.
            None => return None,
        },
    };
    Some(Extension {
        module: module.to_string(),
        target,
    })
}

/// Whether a file name says by its tag that it is a Python extension module
/// (`_x.cpython-312-x86_64-linux-gnu.so`, `_x.abi3.so`, another interpreter's tag, a Windows
/// `.pyd`), unlike a plain `x.so`, which may as well be a library.
pub(crate) fn is_tagged(file_name: &str) -> bool {
    parse(file_name).is_some_and(|extension| match extension.target {
        ExtensionTarget::AnyCPython => file_name.ends_with(".abi3.so"),
        _ => true,
    })
}

/// `312-x86_64-linux-gnu`, `313t-aarch64-linux-gnu`, `312-darwin`, `39`.
fn parse_cpython_tag(rest: &str) -> Option<ExtensionTarget> {
    let (abi, platform) = match rest.split_once('-') {
        Some((abi, platform)) => (abi, Some(platform.to_string())),
        None => (rest, None),
    };
    let digits: String = abi.chars().take_while(char::is_ascii_digit).collect();
    let flags = abi[digits.len()..].to_string();
    if digits.len() < 2 || !digits.starts_with('3') {
        return None;
    }
    let minor: u32 = digits[1..].parse().ok()?;
    Some(ExtensionTarget::CPython {
        version: (3, minor),
        flags,
        platform,
    })
}

impl ExtensionTarget {
    /// True when `runtime` on `arch` would try this file when importing its module.
    pub(crate) fn loads_on(&self, runtime: &Runtime, arch: Arch) -> bool {
        if runtime.family != Family::Python {
            return false;
        }
        match self {
            ExtensionTarget::AnyCPython => true,
            ExtensionTarget::CPython {
                version,
                flags,
                platform,
            } => {
                *version == runtime.version()
                    && flags.is_empty()
                    && platform
                        .as_deref()
                        .is_none_or(|platform| platform == linux_platform(arch))
            }
            ExtensionTarget::Windows | ExtensionTarget::OtherInterpreter(_) => false,
        }
    }

    /// What the name says it is for, in words (`CPython 3.11 on x86_64-linux-gnu`).
    pub(crate) fn describe(&self) -> String {
        match self {
            ExtensionTarget::AnyCPython => "any CPython 3".to_string(),
            ExtensionTarget::CPython {
                version,
                flags,
                platform,
            } => {
                let build = match flags.as_str() {
                    "" => String::new(),
                    "t" => " (free-threaded build)".to_string(),
                    "d" => " (debug build)".to_string(),
                    other => format!(" (ABI flags `{other}`)"),
                };
                let platform = platform
                    .as_deref()
                    .map_or(String::new(), |platform| format!(" on {platform}"));
                format!("CPython {}.{}{build}{platform}", version.0, version.1)
            }
            ExtensionTarget::Windows => "Windows (a .pyd file)".to_string(),
            ExtensionTarget::OtherInterpreter(tag) => format!("another interpreter (`{tag}`)"),
        }
    }
}

/// The platform part of CPython's extension suffix on Lambda (glibc Linux).
pub(crate) fn linux_platform(arch: Arch) -> String {
    format!("{}-linux-gnu", arch.gnu_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Option<ExtensionTarget> {
        parse(name).map(|extension| extension.target)
    }

    #[test]
    fn suffixes_parse() {
        assert_eq!(
            parse("_pydantic_core.cpython-312-x86_64-linux-gnu.so"),
            Some(Extension {
                module: "_pydantic_core".into(),
                target: ExtensionTarget::CPython {
                    version: (3, 12),
                    flags: String::new(),
                    platform: Some("x86_64-linux-gnu".into())
                }
            })
        );
        assert_eq!(target("_x.abi3.so"), Some(ExtensionTarget::AnyCPython));
        assert_eq!(target("_x.so"), Some(ExtensionTarget::AnyCPython));
        assert_eq!(
            target("_x.cp312-win_amd64.pyd"),
            Some(ExtensionTarget::Windows)
        );
        assert_eq!(target("libfoo.so.1"), None);
        assert!(is_tagged("_x.cpython-312-x86_64-linux-gnu.so"));
        assert!(is_tagged("_x.abi3.so"));
        assert!(is_tagged("_x.cp312-win_amd64.pyd"));
        assert!(!is_tagged("_x.so"));
        assert!(!is_tagged("libfoo.so.1"));
        assert_eq!(target("README.md"), None);
        assert!(matches!(
            target("_x.pypy310-pp73-x86_64-linux-gnu.so"),
            Some(ExtensionTarget::OtherInterpreter(_))
        ));
    }

    #[test]
    fn which_runtime_loads_what() {
        let py312 = Runtime::find("python3.12").expect("runtime");
        let py311 = Runtime::find("python3.11").expect("runtime");
        let load = |name: &str, runtime: &Runtime, arch: Arch| {
            target(name).is_some_and(|target| target.loads_on(runtime, arch))
        };
        assert!(load(
            "m.cpython-312-x86_64-linux-gnu.so",
            py312,
            Arch::X86_64
        ));
        assert!(!load(
            "m.cpython-312-x86_64-linux-gnu.so",
            py311,
            Arch::X86_64
        ));
        assert!(!load(
            "m.cpython-312-x86_64-linux-gnu.so",
            py312,
            Arch::Arm64
        ));
        assert!(load(
            "m.cpython-312-aarch64-linux-gnu.so",
            py312,
            Arch::Arm64
        ));
        assert!(!load("m.cpython-312-darwin.so", py312, Arch::X86_64));
        assert!(!load(
            "m.cpython-312-x86_64-linux-musl.so",
            py312,
            Arch::X86_64
        ));
        assert!(!load(
            "m.cpython-313t-x86_64-linux-gnu.so",
            py312,
            Arch::X86_64
        ));
        assert!(load("m.abi3.so", py311, Arch::Arm64));
        assert!(load("m.so", py312, Arch::X86_64));
        assert!(!load("m.pyd", py312, Arch::X86_64));
    }
}
