//! Archive rules (`ZIP`): zips made elsewhere whose entries are unsafe, odd, or cannot be
//! extracted as Lambda extracts them (`ZIP005`–`ZIP007` read every entry through
//! [`Inventory::verify_extraction`](crate::inventory::Inventory::verify_extraction)).
//!
//! The inventory never follows an unsafe name: it keeps such names, and repeated ones, aside as
//! [`Anomaly`](crate::inventory::Anomaly)s when it reads a zip, and these rules report them. Symlink targets are resolved
//! as text (never on disk) with the same function `gather` uses.

mod zip001_unsafe_entry_path;
mod zip002_symlink_escapes_layer;
mod zip003_duplicate_entry;
mod zip004_macosx_metadata;
mod zip005_unsupported_entry;
mod zip006_corrupt_entry;
mod zip007_overlapping_entries;
mod zip008_path_too_long;

pub(crate) use zip001_unsafe_entry_path::ZIP001;
pub(crate) use zip002_symlink_escapes_layer::ZIP002;
pub(crate) use zip003_duplicate_entry::ZIP003;
pub(crate) use zip004_macosx_metadata::ZIP004;
pub(crate) use zip005_unsupported_entry::ZIP005;
pub(crate) use zip006_corrupt_entry::ZIP006;
pub(crate) use zip007_overlapping_entries::ZIP007;
pub(crate) use zip008_path_too_long::ZIP008;
