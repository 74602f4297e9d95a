//! `layerpack inspect`.

use std::io::Write;

use crate::cli::InspectArgs;
use crate::error::Error;

pub fn run(_args: &InspectArgs, _out: &mut dyn Write) -> Result<i32, Error> {
    Err(Error::usage("not built yet", None))
}
