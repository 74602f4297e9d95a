//! The bytecode stage: keeps Python `.pyc` files valid in a zip whose dates are normalized.

use crate::config::BytecodeMode;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::runtime::Runtime;

/// What the bytecode stage did to a layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BytecodeReport {
    /// Timestamp pycs rewritten as hash-based pycs.
    pub converted: usize,
    /// pycs compiled by a local interpreter (`compile = true`).
    pub compiled: usize,
    /// pycs left out, with the reason for each, sorted by path.
    pub dropped: Vec<DroppedPyc>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DroppedPyc {
    pub path: String,
    pub reason: String,
}

/// Applies the layer's bytecode policy to a gathered inventory before it is linted and zipped.
pub fn apply(
    inventory: &mut Inventory,
    mode: BytecodeMode,
    compile: bool,
    runtimes: &[&'static Runtime],
) -> Result<BytecodeReport, Error> {
    let _ = (inventory, mode, compile, runtimes);
    Ok(BytecodeReport::default())
}
