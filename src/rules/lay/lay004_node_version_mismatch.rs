//! `LAY004` node-version-mismatch: `nodejs/nodeNN/node_modules` for a Node.js version none of the runtimes runs.
//!
//! The rule, its explanation (printed by `layerpack rule LAY004`) and its check.

use super::{VersionFolders, first_of, has_family, node_major, runtime_ids};
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::Family;

pub(crate) static LAY004: Rule = Rule {
    code: Code::LAY004,
    name: "node-version-mismatch",
    severity: Severity::Error,
    summary: "`nodejs/nodeNN/node_modules` for a Node.js version none of the runtimes runs",
    explanation: r#"## What it does

Finds `nodejs/nodeNN/` folders whose `NN` is not the major version of any Node.js runtime of the
layer.

## Why this breaks at run time

Lambda's `NODE_PATH` for `nodejs20.x` is
`/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:…`; a `node18` folder is on no runtime's
path but Node.js 18's, so its packages are not found:

```
Error: Cannot find module 'lodash'
Require stack:
- /var/task/index.js
```

## Example

A layer for `nodejs20.x` holding `nodejs/node18/node_modules/lodash/`.

## Fix

Move the packages to `nodejs/node_modules/`, which every Node.js version reads, or to the
runtime's own `nodejs/node20/node_modules/`. If the layer is meant for Node.js 18 too, add
`nodejs18.x` to its runtimes.
"#,
    check: Check::Layer(check_node_version_mismatch),
};

fn check_node_version_mismatch(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let runtimes = context.runtimes;
    if !has_family(runtimes, Family::Nodejs) {
        return;
    }
    let own = first_of(runtimes, Family::Nodejs)
        .and_then(|runtime| runtime.package_dirs().into_iter().next())
        .unwrap_or_default();
    let read = NODE_VERSIONS.read_by(runtimes);
    for unread in NODE_VERSIONS.unread(context.inventory, &read) {
        let (entry, name) = (unread.entry, unread.name);
        let package = unread.first_package.unwrap_or("…");
        report.report(
            entry.path.as_str(),
            format!(
                "`{}/` is read only by the Node.js {} runtime, not by {}: require() of its \
                 packages fails with \"Error: Cannot find module '{package}'\"",
                entry.path,
                name.trim_start_matches("node"),
                runtime_ids(runtimes)
            ),
            format!(
                "move its packages to `nodejs/node_modules` (read by every Node.js version) or \
                 `{own}`, or add the matching runtime to the layer's runtimes"
            ),
        );
    }
}

/// `nodejs/nodeNN/node_modules`, read by the Node.js NN runtime only.
const NODE_VERSIONS: VersionFolders = VersionFolders {
    family: Family::Nodejs,
    parent: "nodejs",
    is_version: |name| node_major(name).is_some(),
    read: "node_modules",
    packages: "node_modules",
};
