//! Archive rules (`ZIP`): zips made elsewhere whose entries are unsafe or odd.
//!
//! The inventory never follows an unsafe name: it keeps such names, and repeated ones, aside as
//! [`Anomaly`]s when it reads a zip, and these rules report them. Symlink targets are resolved
//! as text (never on disk) with the same function `gather` uses.

mod zip001_unsafe_entry_path;
mod zip002_symlink_escapes_layer;
mod zip003_duplicate_entry;
mod zip004_macosx_metadata;

pub use zip001_unsafe_entry_path::ZIP001;
pub use zip002_symlink_escapes_layer::ZIP002;
pub use zip003_duplicate_entry::ZIP003;
pub use zip004_macosx_metadata::ZIP004;
