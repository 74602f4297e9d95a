//! `SIZE002` zipped-over-direct-upload: over 50 MiB zipped: direct upload is refused, use S3.
//!
//! The rule, its explanation (printed by `layerpack rule SIZE002`) and its check.

use super::largest_contributors;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::limits;
use crate::units::{group_digits, short_bytes};

pub(crate) static SIZE002: Rule = Rule {
    code: Code::SIZE002,
    name: "zipped-over-direct-upload",
    severity: Severity::Warning,
    summary: "over 50 MiB zipped: direct upload is refused, use S3",
    explanation: r#"## What it does

Reports a layer zip over 52,428,800 bytes (50 MiB), listing its five largest packages or folders.
It only runs when the zipped size is known: for a zip, and during `layerpack build`.

## Why this breaks at run time

A zip sent directly in the `PublishLayerVersion` request (`aws lambda publish-layer-version
--zip-file fileb://layer.zip`, the console's upload button) may be at most 50 MiB. A larger one is
refused before it is ever published:

```
RequestEntityTooLargeException: Request must be smaller than 69905067 bytes for the PublishLayerVersion operation
```

Uploads through S3 are not limited this way, which is why this is a warning.

## Example

A layer with `numpy`, `pandas` and `pyarrow`: 68 MiB zipped.

## Fix

Upload the zip to S3 and publish from there (`--content S3Bucket=…,S3Key=…`; SAM, CDK and
Terraform do this when you give them a bucket), or make the layer smaller.
"#,
    check: Check::Layer(check_zipped_over_direct_upload),
};

fn check_zipped_over_direct_upload(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let Some(zipped) = context.inventory.zipped_bytes else {
        return;
    };
    if zipped <= limits::DIRECT_UPLOAD_ZIPPED_BYTES {
        return;
    }
    report.report(
        "",
        format!(
            "{} zipped ({} bytes) is over the {} bytes Lambda accepts in a direct upload: \
             publishing the zip itself fails with \"RequestEntityTooLargeException: Request must \
             be smaller than 69905067 bytes\"; largest (unzipped): {}",
            short_bytes(zipped),
            group_digits(zipped),
            group_digits(limits::DIRECT_UPLOAD_ZIPPED_BYTES),
            largest_contributors(context.inventory)
        ),
        "upload the zip to S3 and publish it from there (SAM, CDK and Terraform do this when \
         given a bucket), or make the layer smaller",
    );
}
