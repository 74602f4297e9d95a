//! `layerpack why`.

use std::io::Write;

use crate::cli::WhyArgs;
use crate::error::Error;

pub fn run(_args: &WhyArgs, _out: &mut dyn Write) -> Result<i32, Error> {
    Err(Error::usage("not built yet", None))
}
