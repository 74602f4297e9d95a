//! The report stage: renders findings for people (miette) and machines (JSON, SARIF, GitHub).
//!
//! Findings arrive sorted; every renderer keeps that order, so two runs over the same layer print
//! the same bytes. The machine formats are a contract with CI scripts and code-scanning tools:
//!
//! - **json**: one object,
//!   `{"findings":[{"code","name","severity","layer","path","message","help"}…],
//!   "summary":{"errors","warnings","infos","files","unzipped_bytes"}}`. `severity` is
//!   `error`, `warning` or `info`; `path` is the archive path (`""` for the layer as a whole);
//!   `layer` is the layer's name in `layer.toml` or the path given on the command line. A
//!   finding about a library, a version or a module also carries it as data
//!   ([`crate::finding::FindingData`]: `library`, `needed_version`, `available`, `module`,
//!   `runtimes`), each field only when set. Fields are only ever added, never renamed.
//! - **sarif**: SARIF 2.1.0 with one run; `tool.driver.rules` lists every rule (with its
//!   explanation as help text) and each result points at `LAYER/PATH` as its artifact; a
//!   finding's data is the result's `properties`.
//! - **github**: one workflow command per finding (`::error file=…,title=…::…`), so findings
//!   show up as annotations in a GitHub Actions run, then the summary line.
//! - **human**: one miette block per finding and a one-line summary; colour only when stdout is
//!   a terminal and `NO_COLOR` is unset.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::Path;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use serde_json::json;

use crate::error::Error;
use crate::finding::{Finding, Severity};
use crate::rules::RULES;
pub(crate) use crate::text::escape_controls;
use crate::text::escape_controls_but;
use crate::units::{group_digits, short_bytes};

/// Output formats of findings (`check --format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CheckFormat {
    #[default]
    Human,
    Json,
    Sarif,
    Github,
}

/// Writes text, mapping a broken pipe or other I/O failure to a tool error.
pub(crate) fn write_out(out: &mut dyn Write, text: &str) -> Result<(), Error> {
    out.write_all(text.as_bytes())
        .map_err(|err| Error::write(Path::new("<stdout>"), err))
}

/// Serializes a value as pretty JSON followed by a newline.
pub(crate) fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|err| Error::write(Path::new("<stdout>"), std::io::Error::other(err)))?;
    text.push('\n');
    write_out(out, &text)
}

/// Where SARIF consumers learn more: the package's `repository` in `Cargo.toml`; the field is
/// left out while none is set.
const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// Width of the human report when stdout is not a terminal (pipes, CI logs, tests).
const REPORT_WIDTH: usize = 100;

/// Totals printed after the findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Summary {
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
    pub(crate) infos: usize,
    pub(crate) files: usize,
    pub(crate) unzipped_bytes: u64,
}

/// Writes findings (already sorted) and the summary in the given format.
pub(crate) fn write_findings(
    out: &mut dyn Write,
    format: CheckFormat,
    findings: &[Finding],
    summary: &Summary,
) -> Result<(), Error> {
    match format {
        CheckFormat::Human => write_human(out, findings, summary, use_colour()),
        CheckFormat::Json => write_json(out, &json_report(findings, summary)),
        CheckFormat::Sarif => write_json(out, &sarif_report(findings)),
        CheckFormat::Github => write_github(out, findings, summary),
    }
}

/// Colour only for a person at a terminal who has not asked for none.
fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A finding as miette sees it.
struct FindingDiagnostic<'a> {
    finding: &'a Finding,
    code: String,
}

impl fmt::Debug for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.finding, f)
    }
}

impl fmt::Display for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_controls(&self.finding.message))
    }
}

impl std::error::Error for FindingDiagnostic<'_> {}

impl Diagnostic for FindingDiagnostic<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.finding.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        (!self.finding.help.is_empty())
            .then(|| Box::new(escape_controls(&self.finding.help)) as Box<dyn fmt::Display>)
    }
}

fn write_human(
    out: &mut dyn Write,
    findings: &[Finding],
    summary: &Summary,
    colour: bool,
) -> Result<(), Error> {
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    // Paths are long and full of hyphens (`site-packages`): wrap only at spaces, never inside a
    // path, so a path can be copied from the terminal.
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(REPORT_WIDTH)
        .with_links(false)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation)
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_break_words(false);
    let mut text = String::new();
    for finding in findings {
        let diagnostic = FindingDiagnostic {
            finding,
            code: heading(finding),
        };
        let mut block = String::new();
        handler
            .render_report(&mut block, &diagnostic)
            .map_err(|err| Error::write(Path::new("<stdout>"), std::io::Error::other(err)))?;
        text.push_str(block.trim_end());
        text.push_str("\n\n");
    }
    text.push_str(&summary_line(summary));
    text.push('\n');
    write_out(out, &text)
}

/// The first line of a human block: `LAY001 unread-content dist/layer.zip:requests`, like a
/// compiler's `file:line`, so the layer and the path can be found (and grepped) at a glance.
fn heading(finding: &Finding) -> String {
    let layer = escape_controls(&finding.layer);
    if finding.path.is_empty() {
        format!("{} {} {layer}", finding.code, finding.name)
    } else {
        format!(
            "{} {} {layer}:{}",
            finding.code,
            finding.name,
            escape_controls(&finding.path)
        )
    }
}

/// `3 errors, 1 warning, 0 infos in 4,695 files (252.5 MiB unzipped)`.
pub(crate) fn summary_line(summary: &Summary) -> String {
    format!(
        "{}, {}, {} in {} ({} unzipped)",
        plural(summary.errors, "error", "errors"),
        plural(summary.warnings, "warning", "warnings"),
        plural(summary.infos, "info", "infos"),
        plural(summary.files, "file", "files"),
        short_bytes(summary.unzipped_bytes)
    )
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        group_digits(count as u64),
        if count == 1 { one } else { many }
    )
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    findings: &'a [Finding],
    summary: &'a Summary,
}

fn json_report<'a>(findings: &'a [Finding], summary: &'a Summary) -> JsonReport<'a> {
    JsonReport { findings, summary }
}

/// SARIF 2.1.0: every rule in the driver, one result per finding.
fn sarif_report(findings: &[Finding]) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.summary},
                "help": {"text": rule.explanation, "markdown": rule.explanation},
                "defaultConfiguration": {"level": sarif_level(rule.severity)},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|finding| {
            let rule_index = RULES.iter().position(|rule| rule.code == finding.code);
            let mut text = finding.message.clone();
            if !finding.help.is_empty() {
                text.push_str("\nhelp: ");
                text.push_str(&finding.help);
            }
            let mut result = json!({
                "ruleId": finding.code,
                "level": sarif_level(finding.severity),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": artifact_uri(finding)}
                    }
                }],
            });
            if let Some(index) = rule_index {
                result["ruleIndex"] = json!(index);
            }
            if !finding.data.is_empty() {
                result["properties"] = json!(finding.data);
            }
            result
        })
        .collect();
    let mut driver = json!({
        "name": "layerpack",
        "version": env!("CARGO_PKG_VERSION"),
        "rules": rules,
    });
    if !INFORMATION_URI.is_empty() {
        driver["informationUri"] = json!(INFORMATION_URI);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "results": results,
        }]
    })
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `LAYER/PATH`, or the layer alone for a finding about the whole layer; a relative URI
/// reference with `%`, spaces and other reserved bytes percent-encoded.
fn artifact_uri(finding: &Finding) -> String {
    let joined = if finding.path.is_empty() {
        finding.layer.clone()
    } else {
        format!("{}/{}", finding.layer.trim_end_matches('/'), finding.path)
    };
    let mut uri = String::with_capacity(joined.len());
    for byte in joined.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/@+=".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

fn write_github(out: &mut dyn Write, findings: &[Finding], summary: &Summary) -> Result<(), Error> {
    let mut text = String::new();
    for finding in findings {
        let command = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        // Line breaks are encoded by `escape_data`; every other control character is shown
        // escaped, so an entry name cannot recolour or rewrite the CI log.
        let keep = ['\n', '\r'];
        let mut data = if finding.path.is_empty() {
            escape_controls_but(&finding.message, &keep).into_owned()
        } else {
            format!(
                "{}: {}",
                escape_controls(&finding.path),
                escape_controls_but(&finding.message, &keep)
            )
        };
        if !finding.help.is_empty() {
            data.push_str("\nhelp: ");
            data.push_str(&escape_controls_but(&finding.help, &keep));
        }
        text.push_str(&format!(
            "::{command} file={},title={}::{}\n",
            escape_property(&escape_controls(&finding.layer)),
            escape_property(&format!("{} {}", finding.code, finding.name)),
            escape_data(&data)
        ));
    }
    text.push_str(&summary_line(summary));
    text.push('\n');
    write_out(out, &text)
}

/// Escaping of a workflow command's message, as `@actions/core` does it.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a workflow command's property value: the data escapes plus `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Code, FindingData};

    fn finding(severity: Severity, path: &str) -> Finding {
        Finding {
            code: Code::LAY001,
            name: "unread-content",
            severity,
            layer: "dist/a,b:c.zip".to_string(),
            path: path.to_string(),
            message: "100% unread\nsecond line".to_string(),
            help: "move it".to_string(),
            data: FindingData::default(),
        }
    }

    fn render(format: CheckFormat, findings: &[Finding]) -> String {
        let mut out = Vec::new();
        let summary = Summary {
            errors: 1,
            files: 4695,
            unzipped_bytes: 264_765_440,
            ..Summary::default()
        };
        write_findings(&mut out, format, findings, &summary).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn github_commands_escape_properties_and_data() {
        let text = render(
            CheckFormat::Github,
            &[finding(Severity::Warning, "requests")],
        );
        assert_eq!(
            text.lines().next(),
            Some(
                "::warning file=dist/a%2Cb%3Ac.zip,title=LAY001 unread-content::requests: 100%25 unread%0Asecond line%0Ahelp: move it"
            )
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let hostile = "python/\x1b[2J\r0 errors\n.py";
        let mut forged = finding(Severity::Error, hostile);
        forged.message = format!("`{hostile}` is not read by any runtime");
        for format in [CheckFormat::Human, CheckFormat::Github] {
            let text = render(format, std::slice::from_ref(&forged));
            assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
            assert!(text.contains("\\x1b[2J\\x0d0 errors\\x0a.py"), "{text}");
            assert!(
                !text.lines().any(|line| line.starts_with("0 errors")),
                "{text}"
            );
        }
        assert_eq!(escape_controls("plain/path.py"), "plain/path.py");
    }

    #[test]
    fn summary_line_groups_and_pluralizes() {
        let summary = Summary {
            errors: 3,
            warnings: 1,
            infos: 0,
            files: 4695,
            unzipped_bytes: 264_765_440,
        };
        assert_eq!(
            summary_line(&summary),
            "3 errors, 1 warning, 0 infos in 4,695 files (252.5 MiB unzipped)"
        );
    }

    #[test]
    fn human_report_has_code_severity_path_and_help_without_colour() {
        let text = render(CheckFormat::Human, &[finding(Severity::Error, "requests")]);
        assert!(
            text.contains("LAY001 unread-content dist/a,b:c.zip:requests\n"),
            "{text}"
        );
        assert!(text.contains("× 100% unread"), "{text}");
        assert!(text.contains("help: move it"), "{text}");
        assert!(!text.contains('\u{1b}'), "colour escape in {text:?}");
        assert!(
            text.ends_with("in 4,695 files (252.5 MiB unzipped)\n"),
            "{text}"
        );
    }

    /// The parts of SARIF 2.1.0 that code-scanning uploads require.
    #[test]
    fn sarif_has_the_required_structure() {
        let findings = [finding(Severity::Info, ""), finding(Severity::Error, "x y")];
        let value: serde_json::Value =
            serde_json::from_str(&render(CheckFormat::Sarif, &findings)).expect("json");
        assert_eq!(value["version"], "2.1.0");
        assert!(
            value["$schema"]
                .as_str()
                .is_some_and(|s| s.contains("sarif-2.1.0"))
        );
        let runs = value["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 1);
        let driver = &runs[0]["tool"]["driver"];
        assert_eq!(driver["name"], "layerpack");
        assert!(driver["version"].is_string());
        // The package's repository when Cargo.toml names one, else no address at all.
        if INFORMATION_URI.is_empty() {
            assert!(driver.get("informationUri").is_none());
        } else {
            assert_eq!(driver["informationUri"], INFORMATION_URI);
        }
        let rules = driver["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), RULES.len());
        for rule in rules {
            assert!(rule["id"].is_string());
            assert!(rule["shortDescription"]["text"].is_string());
            assert!(rule["help"]["text"].is_string());
            let level = rule["defaultConfiguration"]["level"]
                .as_str()
                .expect("level");
            assert!(["error", "warning", "note"].contains(&level));
        }
        let results = runs[0]["results"].as_array().expect("results");
        assert_eq!(results.len(), 2);
        for result in results {
            let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            assert!(result["message"]["text"].is_string());
            let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .expect("uri");
            assert!(!uri.contains(' ') && !uri.contains(','), "{uri}");
        }
        assert_eq!(results[0]["level"], "note");
        assert_eq!(
            results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "dist/a%2Cb%3Ac.zip/x%20y"
        );
    }

    /// A finding's data joins its fields in JSON and is the SARIF result's `properties`; a
    /// finding without data has neither.
    #[test]
    fn finding_data_is_in_json_and_sarif() {
        let mut missing = finding(Severity::Error, "python/cv2/cv2.abi3.so");
        missing.code = Code::BIN007;
        missing.name = "missing-shared-library";
        missing.data = FindingData {
            library: Some("libGL.so.1".to_string()),
            runtimes: vec!["python3.12".to_string()],
            ..FindingData::default()
        };
        let findings = [missing, finding(Severity::Error, "x")];
        let json: serde_json::Value =
            serde_json::from_str(&render(CheckFormat::Json, &findings)).expect("json");
        assert_eq!(json["findings"][0]["code"], "BIN007");
        assert_eq!(json["findings"][0]["library"], "libGL.so.1");
        assert_eq!(json["findings"][0]["runtimes"], json!(["python3.12"]));
        assert!(json["findings"][0].get("module").is_none());
        assert!(json["findings"][1].get("library").is_none());
        let sarif: serde_json::Value =
            serde_json::from_str(&render(CheckFormat::Sarif, &findings)).expect("json");
        let results = &sarif["runs"][0]["results"];
        assert_eq!(results[0]["properties"]["library"], "libGL.so.1");
        assert!(results[1].get("properties").is_none());
    }

    #[test]
    fn json_has_findings_and_summary() {
        let value: serde_json::Value =
            serde_json::from_str(&render(CheckFormat::Json, &[finding(Severity::Error, "x")]))
                .expect("json");
        let first = &value["findings"][0];
        for key in [
            "code", "name", "severity", "layer", "path", "message", "help",
        ] {
            assert!(first.get(key).is_some(), "missing {key}");
        }
        assert_eq!(first["severity"], "error");
        assert_eq!(value["summary"]["files"], 4695);
        assert_eq!(value["summary"]["unzipped_bytes"], 264_765_440);
    }
}
