//! The rule catalogue: every rule layerpack knows, registered in one table.
//!
//! A rule is plain data (code, name, default severity, summary, explanation) plus a check
//! function; each rule lives in its own file under the folder of its code prefix
//! (`rules/bin/bin004_glibc_too_new.rs`), with what its family shares in that folder's `mod.rs`.
//! Codes are stable and never reused: a retired rule keeps its row with a check that reports
//! nothing. `layerpack rules` and `layerpack rule CODE` print straight from this table, so
//! documentation cannot drift from code. The runner that applies the table to a layer or a
//! stack ([`lint_layer`], [`lint_stack`], [`check_inventory`]) is here too; what a rule reads
//! and reports through is defined in [`crate::lint`].

use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter, StackContext};

pub(crate) mod bin;
pub(crate) mod dep;
pub(crate) mod ext;
pub(crate) mod hyg;
pub(crate) mod lay;
mod run;
pub(crate) mod size;
pub(crate) mod stk;
pub(crate) mod zip;

pub(crate) use run::check_inventory_recalling;
pub use run::{check_inventory, lint_layer, lint_stack};

/// One lint rule.
pub struct Rule {
    /// Stable code, e.g. `BIN004`.
    pub code: Code,
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
    /// Both: one layer on its own in `check`, and the whole stack in `check --function`.
    LayerAndStack(
        fn(&LayerContext<'_>, &mut Reporter<'_>),
        fn(&StackContext<'_>, &mut Reporter<'_>),
    ),
}

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[
    &lay::LAY001,
    &lay::LAY002,
    &lay::LAY003,
    &lay::LAY004,
    &lay::LAY005,
    &lay::LAY006,
    &lay::LAY007,
    &bin::BIN001,
    &bin::BIN002,
    &bin::BIN003,
    &bin::BIN004,
    &bin::BIN005,
    &bin::BIN006,
    &bin::BIN007,
    &bin::BIN008,
    &bin::BIN009,
    &size::SIZE001,
    &size::SIZE002,
    &size::SIZE003,
    &hyg::HYG001,
    &hyg::HYG002,
    &hyg::HYG003,
    &hyg::HYG004,
    &hyg::HYG005,
    &hyg::HYG006,
    &hyg::HYG007,
    &zip::ZIP001,
    &zip::ZIP002,
    &zip::ZIP003,
    &zip::ZIP004,
    &zip::ZIP005,
    &zip::ZIP006,
    &zip::ZIP007,
    &zip::ZIP008,
    &stk::STK001,
    &stk::STK002,
    &stk::STK003,
    &stk::STK004,
    &stk::STK005,
    &stk::STK006,
    &dep::DEP001,
    &dep::DEP002,
    &dep::DEP003,
    &ext::EXT001,
    &ext::EXT002,
    &ext::EXT003,
    &ext::EXT004,
    &ext::EXT005,
];

/// Looks a rule up by its code (case-insensitive) or its name.
pub(crate) fn find(code_or_name: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|rule| {
        rule.code.as_str().eq_ignore_ascii_case(code_or_name) || rule.name == code_or_name
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let codes: Vec<Code> = RULES.iter().map(|rule| rule.code).collect();
        assert_eq!(
            codes,
            Code::ALL,
            "the table lists every code once, in the order of `Code`"
        );
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
        assert_eq!(
            find("glibc-too-new").map(|rule| rule.code),
            Some(Code::BIN004)
        );
        assert!(find("NOPE001").is_none());
    }
}
