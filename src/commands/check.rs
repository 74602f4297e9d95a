//! `layerpack check`.

use std::io::Write;

use crate::cli::CheckArgs;
use crate::error::Error;

pub fn run(_args: &CheckArgs, _out: &mut dyn Write) -> Result<i32, Error> {
    Err(Error::usage("not built yet", None))
}
