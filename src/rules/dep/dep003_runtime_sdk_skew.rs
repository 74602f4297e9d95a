//! `DEP003` runtime-sdk-skew: a layer replaces part of the runtime's AWS SDK for Python with a
//! version its other parts do not accept.
//!
//! The rule, its explanation (printed by `layerpack rule DEP003`) and its check.

use super::{report_layer, report_stack};
use crate::deps::ProblemKind;
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter, StackContext};
use crate::rules::{Check, Rule};

pub(crate) static DEP003: Rule = Rule {
    code: Code::DEP003,
    name: "runtime-sdk-skew",
    severity: Severity::Warning,
    summary: "a layer ships part of the AWS SDK for Python (boto3, botocore, s3transfer) at versions the runtime's other parts reject",
    explanation: r#"## What it does

Every Python runtime bundles boto3, botocore and s3transfer (versions from the in-Lambda dumps;
their requirements from the PyPI wheels of those versions). A layer's packages come first on
`sys.path`, so a layer that ships only some of the three mixes its copies with the runtime's.
The rule reports when a requirement between the layer's part and the runtime's part is not met:
the runtime's boto3 1.42.97 requires `botocore>=1.42.97,<1.43.0` and gets the layer's botocore
1.40.0, or the layer's boto3 requires a botocore newer than the runtime's.

## Why this breaks at run time

boto3 pins botocore to one minor release; with another, imports or the first API call fail:

```
ImportError: cannot import name 'DEFAULT_TIMEOUT' from 'botocore.httpsession'
botocore.exceptions.UnknownServiceError: Unknown service: 'bedrock-agentcore'
```

## Example

```
python/botocore-1.40.0.dist-info/METADATA   # no boto3 in the layer; python3.12 bundles boto3 1.42.97
```

## Fix

Ship boto3, botocore and s3transfer together (`pip install --target python boto3` installs all
three at versions that agree), or ship none of them and use the runtime's.
"#,
    check: Check::LayerAndStack(check_layer, check_stack),
};

fn check_layer(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    report_layer(ProblemKind::SdkSkew, context, report);
}

fn check_stack(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    report_stack(ProblemKind::SdkSkew, context, report);
}
