//! `layerpack rules` and `layerpack rule CODE`.

use std::io::Write;

use crate::cli::{RuleArgs, RulesArgs};
use crate::error::Error;

pub fn run_list(_args: &RulesArgs, _out: &mut dyn Write) -> Result<i32, Error> {
    Err(Error::usage("not built yet", None))
}

pub fn run_explain(_args: &RuleArgs, _out: &mut dyn Write) -> Result<i32, Error> {
    Err(Error::usage("not built yet", None))
}
