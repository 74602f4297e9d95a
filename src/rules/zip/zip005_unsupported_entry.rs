//! `ZIP005` unsupported-entry: an entry Lambda's extraction cannot decode at all.
//!
//! The rule, its explanation (printed by `layerpack rule ZIP005`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::Unextractable;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static ZIP005: Rule = Rule {
    code: Code::ZIP005,
    name: "unsupported-entry",
    severity: Severity::Error,
    summary: "an entry that is encrypted or compressed with a method other than stored or deflate",
    explanation: r#"## What it does

Reports zip entries that are encrypted (ZipCrypto or AES), or compressed with a method other
than the two every zip extractor supports: stored (0) and deflate (8). Bzip2, LZMA, zstd, xz,
Deflate64 and PPMd entries are reported by their method number.

## Why this breaks at run time

Lambda unpacks a layer into `/opt` when it publishes the layer version; it has no password and
decodes only stored and deflated entries. Publishing fails, or the file is missing at run time:

```
InvalidParameterValueException: Uploaded file must be a non-empty zip
Unable to import module 'app': No module named 'requests'
```

## Example

A zip made with `7z a -tzip -mm=LZMA layer.zip python` or `zip -e layer.zip …` (encrypted).

## Fix

Rebuild the zip without encryption and with deflate (`layerpack build`, or `zip -r -X`).
"#,
    check: Check::Layer(check_unsupported_entry),
};

fn check_unsupported_entry(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (path, problem) in &context.inventory.verify_extraction().problems {
        let Unextractable::Unsupported(reason) = problem else {
            continue;
        };
        report.report(
            path.as_str(),
            format!("`{path}` cannot be extracted by Lambda: {reason}"),
            "rebuild the zip without encryption, with deflate or stored entries (e.g. with \
             `layerpack build`)",
        );
    }
}
