//! What the bytecode rules (`HYG001`, `HYG007`) share: Python `.pyc` files that are dead weight
//! or slow every cold start.
//!
//! Both rules read only the 16-byte pyc headers (in parallel), never whole files, so they stay
//! cheap on a layer with thousands of modules. Findings are grouped per Python search folder
//! (`python`, `python/lib/python3.N/site-packages`) so a big layer gets one line, not thousands.

use crate::bytecode::{self, HEADER_LEN, PycHeader};
use crate::inventory::{Entry, Inventory};
use crate::runtime::{Family, Runtime};
use std::collections::BTreeSet;

/// The Python versions of the layer's runtimes, `None` when it has no Python runtime.
pub(super) fn layer_versions(runtimes: &[&'static Runtime]) -> Option<BTreeSet<(u32, u32)>> {
    let versions = bytecode::python_versions(runtimes);
    (!versions.is_empty()).then_some(versions)
}

/// The Python search folder a path lies in (the longest of the runtimes' package folders), or
/// its top-level folder; and the package or module below that folder.
pub(super) fn group_of(path: &str, runtimes: &[&'static Runtime]) -> (String, String) {
    let root = runtimes
        .iter()
        .filter(|runtime| runtime.family == Family::Python)
        .flat_map(|runtime| runtime.package_dirs())
        .filter(|dir| {
            path.starts_with(dir.as_str()) && path.as_bytes().get(dir.len()) == Some(&b'/')
        })
        .max_by_key(String::len)
        .unwrap_or_else(|| path.split('/').next().unwrap_or(path).to_string());
    let rest = path.get(root.len() + 1..).unwrap_or_default();
    let package = rest.split('/').next().unwrap_or(rest);
    let package = if package == "__pycache__" {
        // A top-level module: `__pycache__/six.cpython-312.pyc` caches `six`.
        rest.rsplit('/')
            .next()
            .and_then(|file| file.split('.').next())
            .unwrap_or(package)
    } else {
        package.strip_suffix(".pyc").unwrap_or(package)
    };
    (root, package.to_string())
}

pub(super) fn read_header(
    inventory: &Inventory,
    entry: &Entry,
) -> Option<Result<PycHeader, String>> {
    match inventory.read_prefix(entry, HEADER_LEN) {
        Ok(bytes) => Some(PycHeader::parse(&bytes).map_err(|err| err.describe())),
        // An unreadable entry is reported by the rules about the archive, not as bytecode.
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_search_folder_and_package() {
        let runtimes = [Runtime::find("python3.12").expect("runtime")];
        assert_eq!(
            group_of(
                "python/lib/python3.12/site-packages/requests/__pycache__/api.cpython-312.pyc",
                &runtimes
            ),
            (
                "python/lib/python3.12/site-packages".to_string(),
                "requests".to_string()
            )
        );
        assert_eq!(
            group_of("python/__pycache__/six.cpython-312.pyc", &runtimes),
            ("python".to_string(), "six".to_string())
        );
        assert_eq!(
            group_of("lib/x/__pycache__/a.cpython-312.pyc", &runtimes),
            ("lib".to_string(), "x".to_string())
        );
    }
}
