//! `LAY003` python-version-mismatch: `python/lib/python3.N/site-packages` for a Python version none of the runtimes runs.
//!
//! The rule, its explanation (printed by `layerpack rule LAY003`) and its check.

use super::{VersionFolders, first_of, runtime_ids};
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::Family;

pub(crate) static LAY003: Rule = Rule {
    code: Code::LAY003,
    name: "python-version-mismatch",
    severity: Severity::Error,
    summary: "`python/lib/python3.N/site-packages` for a Python version none of the runtimes runs",
    explanation: r#"## What it does

Finds `python/lib/python3.N/` folders whose `3.N` is not the version of any Python runtime of the
layer.

## Why this breaks at run time

Python on Lambda adds exactly one versioned folder of a layer to `sys.path`:
`/opt/python/lib/python3.N/site-packages` with its own `3.N`. Packages installed for another
version are never found:

```
[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'pydantic'
```

## Example

A layer declared for `python3.12` that holds `python/lib/python3.11/site-packages/pydantic/`,
because it was built from a Python 3.11 virtualenv.

## Fix

Install the packages with the runtime's Python (`python3.12 -m pip install --target
python/lib/python3.12/site-packages …`, or `pip install --python-version 3.12
--only-binary=:all: --target python/ …`), or put them in `python/`, which every Python version
reads. If the layer really is for the other version, add that runtime to the layer's runtimes.
"#,
    check: Check::Layer(check_python_version_mismatch),
};

fn check_python_version_mismatch(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let runtimes = context.runtimes;
    let Some(runtime) = first_of(runtimes, Family::Python) else {
        return;
    };
    let read = PYTHON_VERSIONS.read_by(runtimes);
    for unread in PYTHON_VERSIONS.unread(context.inventory, &read) {
        let (entry, name) = (unread.entry, unread.name);
        let module = unread
            .first_package
            .map(|package| package.split('.').next().unwrap_or(package))
            .unwrap_or("…");
        report.report(
            entry.path.as_str(),
            format!(
                "`{}/` is for {name}, but {} reads only /opt/{}: its packages are invisible \
                 (\"No module named '{module}'\")",
                entry.path,
                runtime_ids(runtimes),
                read.join(" and /opt/")
            ),
            format!(
                "reinstall the packages with the runtime's Python into `{}` (or into `python/`), \
                 or add the runtime for {name} to the layer's runtimes",
                runtime.python_site_packages()
            ),
        );
    }
}

/// `python/lib/python3.N/site-packages`, read by python3.N only.
const PYTHON_VERSIONS: VersionFolders = VersionFolders {
    family: Family::Python,
    parent: "python/lib",
    is_version: is_python_version_dir,
    read: "site-packages",
    packages: "site-packages",
};

/// `python3.11`: a versioned folder as venvs and `pip --target` make them.
fn is_python_version_dir(name: &str) -> bool {
    let Some(version) = name.strip_prefix("python") else {
        return false;
    };
    let mut parts = version.split('.');
    let numeric = |part: Option<&str>| {
        part.is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    };
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::lay::node_major;

    #[test]
    fn versioned_folder_names() {
        assert!(is_python_version_dir("python3.11"));
        assert!(!is_python_version_dir("python3"));
        assert!(!is_python_version_dir("python3.x"));
        assert_eq!(node_major("node18"), Some(18));
        assert_eq!(node_major("node_modules"), None);
        assert_eq!(node_major("node"), None);
    }
}
