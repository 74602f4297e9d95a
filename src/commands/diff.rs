//! `layerpack diff`.

use std::io::Write;

use crate::cli::DiffArgs;
use crate::error::Error;

pub fn run(_args: &DiffArgs, _out: &mut dyn Write) -> Result<i32, Error> {
    Err(Error::usage("not built yet", None))
}
