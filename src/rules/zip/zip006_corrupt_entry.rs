//! `ZIP006` corrupt-entry: an entry whose data does not match its record.
//!
//! The rule, its explanation (printed by `layerpack rule ZIP006`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::Unextractable;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static ZIP006: Rule = Rule {
    code: Code::ZIP006,
    name: "corrupt-entry",
    severity: Severity::Error,
    summary: "an entry whose data does not match its CRC-32 or sizes, or does not inflate",
    explanation: r#"## What it does

Reads every entry of a zip to its end, as Lambda's extraction does, and reports those whose
data does not match their record: a CRC-32 that differs, more or fewer bytes than the recorded
size, a deflate stream that is corrupt or cut short, a symlink target longer than Linux
accepts. `unzip -t` reports the same entries. Entries are verified until their sizes add up to
Lambda's 250 MiB quota; a larger layer is refused by `SIZE001` anyway.

## Why this breaks at run time

The zip was damaged in transfer, truncated, edited in place, or made by a tool that lied about
sizes. Extraction stops at the bad entry or writes a damaged file:

```
InvalidParameterValueException: Could not unzip uploaded file. Please check your file, then try to upload again.
```

## Example

```
python/app.py: CRC-32 of the data is 3610a686, the zip records 00000000
```

## Fix

Rebuild the zip from the source folder (`layerpack build`); re-download it if it came from
elsewhere, and compare its checksum.
"#,
    check: Check::Layer(check_corrupt_entry),
};

fn check_corrupt_entry(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    for (path, problem) in &context.inventory.verify_extraction().problems {
        let Unextractable::Corrupt(reason) = problem else {
            continue;
        };
        report.report(
            path.as_str(),
            format!("`{path}` does not extract as recorded: {reason}"),
            "rebuild the zip from the source folder (e.g. with `layerpack build`)",
        );
    }
}
