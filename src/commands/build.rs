//! `layerpack build`.

use std::io::Write;

use crate::cli::BuildArgs;
use crate::error::Error;

pub fn run(_args: &BuildArgs, _out: &mut dyn Write) -> Result<i32, Error> {
    Err(Error::usage("not built yet", None))
}
