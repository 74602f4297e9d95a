//! The rule catalogue: every rule layerpack knows, registered in one table.
//!
//! A rule is plain data (code, name, default severity, summary, explanation) plus a check
//! function; the families live in their own files. Codes are stable and never reused: a retired
//! rule keeps its row with a check that reports nothing. `layerpack rules` and `layerpack rule
//! CODE` print straight from this table, so documentation cannot drift from code.

use crate::finding::Severity;
use crate::lint::{LayerContext, Reporter, StackContext};

pub mod archive;
pub mod binary;
pub mod bytecode;
pub mod ext;
pub mod hygiene;
pub mod layout;
pub mod size;
pub mod stack;

/// One lint rule.
pub struct Rule {
    /// Stable code, e.g. `BIN004`.
    pub code: &'static str,
    /// Kebab-case name of the problem, e.g. `glibc-too-new`.
    pub name: &'static str,
    /// Default severity; `[lint.severity]` in `layer.toml` can change it.
    pub severity: Severity,
    /// One line for `layerpack rules`.
    pub summary: &'static str,
    /// Markdown printed by `layerpack rule CODE`: what it checks, why it breaks at run time (the
    /// real error text), an example, and the fix.
    pub explanation: &'static str,
    pub check: Check,
}

/// What a rule looks at.
#[derive(Clone, Copy)]
pub enum Check {
    /// One layer on its own.
    Layer(fn(&LayerContext<'_>, &mut Reporter<'_>)),
    /// A function with its ordered layers.
    Stack(fn(&StackContext<'_>, &mut Reporter<'_>)),
}

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[
    &layout::LAY001,
    &layout::LAY002,
    &layout::LAY003,
    &layout::LAY004,
    &layout::LAY005,
    &layout::LAY006,
    &layout::LAY007,
    &binary::BIN001,
    &binary::BIN002,
    &binary::BIN003,
    &binary::BIN004,
    &binary::BIN005,
    &binary::BIN006,
    &binary::BIN007,
    &binary::BIN008,
    &size::SIZE001,
    &size::SIZE002,
    &size::SIZE003,
    &bytecode::HYG001,
    &hygiene::HYG002,
    &hygiene::HYG003,
    &hygiene::HYG004,
    &hygiene::HYG005,
    &hygiene::HYG006,
    &bytecode::HYG007,
    &archive::ZIP001,
    &archive::ZIP002,
    &archive::ZIP003,
    &archive::ZIP004,
    &stack::STK001,
    &stack::STK002,
    &stack::STK003,
    &stack::STK004,
    &stack::STK005,
    &ext::EXT001,
    &ext::EXT003,
    &ext::EXT004,
    &ext::EXT005,
];

/// Looks a rule up by its code (case-insensitive) or its name.
pub fn find(code_or_name: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .copied()
        .find(|rule| rule.code.eq_ignore_ascii_case(code_or_name) || rule.name == code_or_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes: Vec<&str> = RULES.iter().map(|rule| rule.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), RULES.len(), "a rule code is registered twice");
        let mut names: Vec<&str> = RULES.iter().map(|rule| rule.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len(), "a rule name is registered twice");
        for rule in RULES {
            assert!(
                rule.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} is not kebab-case",
                rule.name
            );
        }
    }

    #[test]
    fn lookup_by_code_or_name() {
        assert_eq!(find("bin004").map(|rule| rule.name), Some("glibc-too-new"));
        assert_eq!(find("glibc-too-new").map(|rule| rule.code), Some("BIN004"));
        assert!(find("NOPE001").is_none());
    }
}
