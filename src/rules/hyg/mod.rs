//! Hygiene and safety rules (`HYG`): files that should not ship, or cannot be read at run time.
//!
//! `HYG001` and `HYG007` read Python bytecode headers; what they share is in [`bytecode`]. The
//! other rules read names, sizes and modes from the inventory. Only a handful of candidate
//! files are opened: possible secrets (`*.pem`, `.npmrc`, …, to tell a private key from a CA
//! bundle) and the `package.json` of npm packages installed twice. A secret's content is never
//! printed.

mod bytecode;
mod hyg001_foreign_bytecode;
mod hyg002_vcs_os_junk;
mod hyg003_secret_like_file;
mod hyg004_unreadable_mode;
mod hyg005_case_conflict;
mod hyg006_duplicate_distribution;
mod hyg007_stale_bytecode;

pub(crate) use hyg001_foreign_bytecode::HYG001;
pub(crate) use hyg002_vcs_os_junk::HYG002;
pub(crate) use hyg003_secret_like_file::HYG003;
pub(crate) use hyg004_unreadable_mode::HYG004;
pub(crate) use hyg005_case_conflict::HYG005;
pub(crate) use hyg006_duplicate_distribution::HYG006;
pub(crate) use hyg007_stale_bytecode::HYG007;

use crate::inventory::Entry;

/// Folders of version-control systems.
const VCS_DIRS: &[&str] = &[".git", ".svn", ".hg", ".bzr", "CVS"];

/// Files operating systems drop into folders.
const OS_JUNK_FILES: &[&str] = &[".DS_Store", "Thumbs.db", "desktop.ini", "ehthumbs.db"];

/// macOS Archive Utility's resource-fork folder: the `ZIP004` rule reports it.
const MACOSX_DIR: &str = "__MACOSX";

/// A version-control folder name (`.git`).
pub(crate) fn is_vcs_dir(name: &str) -> bool {
    VCS_DIRS.contains(&name)
}

/// A file name operating systems leave behind (`.DS_Store`, `._name`).
pub(crate) fn is_os_junk_file(name: &str) -> bool {
    OS_JUNK_FILES.contains(&name) || (name.starts_with("._") && name.len() > 2)
}

/// True for an entry another rule reports as junk (`HYG002`, `ZIP004`), so that layout rules
/// do not report it a second time.
pub(crate) fn is_reported_junk(entry: &Entry) -> bool {
    let name = entry.path.file_name();
    entry.path.top() == MACOSX_DIR
        || (entry.is_dir() && is_vcs_dir(name))
        || (!entry.is_dir() && is_os_junk_file(name))
}
