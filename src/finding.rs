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

/// One problem found in a layer (or in a function's stack of layers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// The layer's name (from `layer.toml`) or the path given on the command line.
    pub layer: String,
    /// The archive path the finding is about (`""` for the layer as a whole).
    pub path: String,
    pub message: String,
    pub help: String,
}

impl Finding {
    /// The order findings are printed in: by layer, path, code, then message.
    pub fn sort_key(&self) -> (&str, &str, &str, &str) {
        (&self.layer, &self.path, self.code, &self.message)
    }
}

/// Counts by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Counts {
    pub fn of(findings: &[Finding]) -> Counts {
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
}
