//! `layerpack init`.

use std::io::Write;

use crate::cli::InitArgs;
use crate::error::Error;

pub fn run(_args: &InitArgs, _out: &mut dyn Write) -> Result<i32, Error> {
    Err(Error::usage("not built yet", None))
}
