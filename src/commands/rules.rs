//! `layerpack rules` and `layerpack rule CODE`: the rule catalogue, printed straight from the
//! one table in [`crate::rules`], so the documentation cannot drift from the checks.

use std::io::Write;

use crate::cli::{Format, RuleArgs, RulesArgs};
use crate::commands::{write_json, write_out};
use crate::error::Error;
use crate::finding::{Code, Severity};
use crate::rules::{self, RULES};

#[derive(serde::Serialize)]
struct RuleRow {
    code: Code,
    name: &'static str,
    severity: Severity,
    summary: &'static str,
}

/// `layerpack rules`: one line per rule (code, name, severity, summary), or a JSON array.
pub(crate) fn run_list(args: &RulesArgs, out: &mut dyn Write) -> Result<i32, Error> {
    let rows: Vec<RuleRow> = RULES
        .iter()
        .map(|rule| RuleRow {
            code: rule.code,
            name: rule.name,
            severity: rule.severity,
            summary: rule.summary,
        })
        .collect();
    if args.format == Format::Json {
        write_json(out, &rows)?;
        return Ok(0);
    }
    let name_width = rows.iter().map(|row| row.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for row in &rows {
        text.push_str(&format!(
            "{:<8} {:<name_width$}  {:<7}  {}\n",
            row.code,
            row.name,
            row.severity.as_str(),
            row.summary
        ));
    }
    text.push_str("\n`layerpack rule CODE` explains one rule.\n");
    write_out(out, &text)?;
    Ok(0)
}

/// `layerpack rule CODE`: a header line, then the rule's explanation.
pub(crate) fn run_explain(args: &RuleArgs, out: &mut dyn Write) -> Result<i32, Error> {
    let rule = rules::find(args.code.trim()).ok_or_else(|| {
        Error::usage(
            format!("no rule with the code or name `{}`", args.code),
            Some("`layerpack rules` lists every code and name".to_string()),
        )
    })?;
    let text = format!(
        "{} {} (default severity: {})\n{}\n\n{}\n",
        rule.code,
        rule.name,
        rule.severity,
        rule.summary,
        rule.explanation.trim_end()
    );
    write_out(out, &text)?;
    Ok(0)
}
