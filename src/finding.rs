//! Findings: what the linter says about a layer.
//!
//! A finding is about the user's layer, not about layerpack: it has a stable code, the archive
//! path it is about, a message in the words of the run-time error it predicts, and a help line.
//! Tool failures are [`crate::error::Error`]s instead.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is. `Error` fails `check` (exit 1) and refuses `build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Severity, String> {
        match text {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "unknown severity `{other}`; use error, warning or info"
            )),
        }
    }
}

/// Declares [`Code`], one variant per rule code, in the order of the rule table.
macro_rules! rule_codes {
    ($($code:ident),* $(,)?) => {
        /// A rule's stable code: what a finding, a `why` near miss and `[lint]` settings name a
        /// rule by. Each rule's definition in `rules/` carries its own; the rule table test checks
        /// that every code here has exactly one rule, in this order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(clippy::upper_case_acronyms)]
        pub enum Code {
            $($code),*
        }

        impl Code {
            /// Every code, in the order of the rule table.
            pub(crate) const ALL: &[Code] = &[$(Code::$code),*];

            /// The code as printed: `BIN007`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code)),*
                }
            }
        }
    };
}

rule_codes! {
    LAY001,
    LAY002,
    LAY003,
    LAY004,
    LAY005,
    LAY006,
    LAY007,
    BIN001,
    BIN002,
    BIN003,
    BIN004,
    BIN005,
    BIN006,
    BIN007,
    BIN008,
    BIN009,
    SIZE001,
    SIZE002,
    SIZE003,
    HYG001,
    HYG002,
    HYG003,
    HYG004,
    HYG005,
    HYG006,
    HYG007,
    ZIP001,
    ZIP002,
    ZIP003,
    ZIP004,
    ZIP005,
    ZIP006,
    ZIP007,
    ZIP008,
    STK001,
    STK002,
    STK003,
    STK004,
    STK005,
    STK006,
    DEP001,
    DEP002,
    DEP003,
    EXT001,
    EXT002,
    EXT003,
    EXT004,
    EXT005,
}

impl Code {
    /// The code spelled `text` (case-insensitive).
    pub(crate) fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|code| code.as_str().eq_ignore_ascii_case(text))
    }

    /// Whether a `[lint]` prefix (`BIN`, `BIN00`, `BIN007`) selects this code.
    pub(crate) fn starts_with(self, prefix: &str) -> bool {
        self.as_str().starts_with(prefix)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Code, D::Error> {
        let text = String::deserialize(deserializer)?;
        Code::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown rule code `{text}`")))
    }
}

/// What a finding is about, as data: the fields `why`, JSON and SARIF read without parsing the
/// message. Each is set by the rules it applies to and left out of JSON when unset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FindingData {
    /// The shared library the finding is about (`libGL.so.1`, `libstdc++.so.6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) library: Option<String>,
    /// The version a file needs (`GLIBC_2.34`), or the versions a requirement accepts, as it
    /// spells them (`>=2.5, <4`, `^4.17.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) needed_version: Option<String>,
    /// What the runtimes have instead, in words (`Amazon Linux 2 has glibc 2.26`), one entry
    /// per distinct answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) available: Vec<String>,
    /// The module, package or requirement the finding is about (`pandas`, `lodash`): for a
    /// broken requirement the package required, for a missing platform package the one Node
    /// reports (`@img/sharp-linux-x64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) module: Option<String>,
    /// The version of [`FindingData::module`] that is installed and would be loaded, when it is
    /// not one the requirement accepts (`1.40.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) found_version: Option<String>,
    /// The package that requires [`FindingData::module`] (`requests`, `sharp`); for an import
    /// that fails (`STK006`), the module, package or function file whose statement names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) required_by: Option<String>,
    /// The version of [`FindingData::required_by`] (`2.32.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) required_by_version: Option<String>,
    /// Whose package names these are: `python` (distributions) or `node` (npm packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ecosystem: Option<PackageEcosystem>,
    /// Platform packages for Lambda's platform that a package lists and none of which is
    /// installed (`@img/sharp-linux-x64`, `@img/sharp-libvips-linux-x64`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) missing: Vec<String>,
    /// The platform Lambda needs, as npm's `os`, `cpu` and `libc` fields name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) platform: Option<Platform>,
    /// The platform packages of the same set that are installed, each with its platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) installed_instead: Vec<PlatformPackage>,
    /// The runtimes the finding fails on (`python3.12`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) runtimes: Vec<String>,
}

/// The package manager whose names a finding's packages are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PackageEcosystem {
    /// Python distributions (`*.dist-info`, `Requires-Dist`).
    Python,
    /// npm packages (`package.json`, `dependencies`).
    Node,
}

/// A platform as npm's `package.json` fields `os`, `cpu` and `libc` name it (each a list; an
/// empty list, left out of JSON, restricts nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Platform {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) os: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) cpu: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) libc: Vec<String>,
}

/// An installed npm package and the platform it is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PlatformPackage {
    pub(crate) package: String,
    #[serde(flatten)]
    pub(crate) platform: Platform,
}

impl FindingData {
    /// Whether no field is set.
    pub(crate) fn is_empty(&self) -> bool {
        *self == FindingData::default()
    }
}

/// One problem found in a layer (or in a function's stack of layers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub(crate) name: &'static str,
    pub severity: Severity,
    /// The layer's name (from `layer.toml`) or the path given on the command line.
    pub(crate) layer: String,
    /// The archive path the finding is about (`""` for the layer as a whole).
    pub path: String,
    pub message: String,
    pub(crate) help: String,
    /// The finding's subject as data (see [`FindingData`]); its fields join the others in JSON.
    #[serde(flatten)]
    pub(crate) data: FindingData,
}

impl Finding {
    /// The order findings are printed in: by layer, path, code, then message.
    pub(crate) fn sort_key(&self) -> (&str, &str, &str, &str) {
        (&self.layer, &self.path, self.code.as_str(), &self.message)
    }
}

/// Counts by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
    pub(crate) infos: usize,
}

impl Counts {
    pub(crate) fn of(findings: &[Finding]) -> Counts {
        let mut counts = Counts::default();
        for finding in findings {
            match finding.severity {
                Severity::Error => counts.errors += 1,
                Severity::Warning => counts.warnings += 1,
                Severity::Info => counts.infos += 1,
            }
        }
        counts
    }

    /// How many findings fail `check` and refuse `build`: the errors, and the warnings too
    /// under `--strict`.
    pub(crate) fn blocking(&self, strict: bool) -> usize {
        self.errors + if strict { self.warnings } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_print_parse_and_serialize_as_their_text() {
        assert_eq!(Code::BIN007.to_string(), "BIN007");
        assert_eq!(format!("{:<8}|", Code::BIN007), "BIN007  |");
        assert_eq!(Code::parse("size001"), Some(Code::SIZE001));
        assert_eq!(Code::parse("BIN999"), None);
        assert_eq!(
            serde_json::to_string(&Code::STK006).expect("json"),
            "\"STK006\""
        );
        let parsed: Code = serde_json::from_str("\"EXT005\"").expect("json");
        assert_eq!(parsed, Code::EXT005);
        assert!(serde_json::from_str::<Code>("\"NOPE001\"").is_err());
    }
}
