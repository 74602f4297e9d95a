//! `HYG003` secret-like-file: files that look like secrets: `.env`, private keys, credentials.
//!
//! The rule, its explanation (printed by `layerpack rule HYG003`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::Entry;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static HYG003: Rule = Rule {
    code: Code::HYG003,
    name: "secret-like-file",
    severity: Severity::Error,
    summary: "files that look like secrets: `.env`, private keys, credentials",
    explanation: r#"## What it does

Finds files that hold secrets: `.env` and `.env.*` (but not `.env.example`, `.env.sample`,
`.env.template`), private keys (`*.pem` or `*.key` containing `PRIVATE KEY`, `id_rsa`,
`id_ecdsa`, `id_ed25519`, `id_dsa`), `.aws/credentials`, an `.npmrc` with an `_authToken`, and a
`.pypirc` with a password. Only these few candidate files are opened, and their content is never
printed.

## Why this breaks at run time

Nothing fails: that is the danger. Anyone who may call `GetLayerVersion` on the layer (every
account it is shared with, or everyone for a public layer) gets a download link to the whole zip,
and `/opt` is readable by the function's code and every dependency in it. A CA bundle such as
certifi's `cacert.pem` holds only `CERTIFICATE` blocks and is not reported.

## Example

```
python/.env                  # DATABASE_URL=postgres://admin:…
python/certs/client.key      # -----BEGIN PRIVATE KEY-----
nodejs/.npmrc                # //registry.npmjs.org/:_authToken=…
```

## Fix

Remove the file from the layer, and rotate the secret: it has been shipped. Give the function
secrets at run time instead, through AWS Secrets Manager, Parameter Store, or environment
variables encrypted with KMS.
"#,
    check: Check::Layer(check_secret_like_file),
};

/// At most this many bytes of a candidate are read.
const SECRET_SNIFF_BYTES: usize = 256 * 1024;

/// Why a file name is a secret candidate, and what in its content (if anything) confirms it.
fn secret_candidate(entry: &Entry) -> Option<(&'static str, Option<&'static [&'static str]>)> {
    let name = entry.path.file_name();
    let lower = name.to_ascii_lowercase();
    if lower == ".env"
        || (lower.starts_with(".env.")
            && ![".env.example", ".env.sample", ".env.template", ".env.dist"]
                .contains(&lower.as_str()))
    {
        return Some((
            "an environment file, the usual home of passwords and API keys",
            None,
        ));
    }
    if ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"].contains(&name) {
        return Some(("an SSH private key", None));
    }
    if lower.ends_with(".pem") || lower.ends_with(".key") {
        return Some(("a private key", Some(&["PRIVATE KEY"])));
    }
    if name == "credentials" && entry.path.parent().rsplit('/').next() == Some(".aws") {
        return Some(("an AWS credentials file", None));
    }
    if name == ".npmrc" {
        return Some((
            "an npm config with a registry token",
            Some(&["_authToken", "_auth=", "_password"]),
        ));
    }
    if name == ".pypirc" {
        return Some(("a PyPI config with a password", Some(&["password"])));
    }
    None
}

fn check_secret_like_file(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    for entry in inventory.files() {
        let Some((what, markers)) = secret_candidate(entry) else {
            continue;
        };
        if entry.size == 0 {
            continue;
        }
        if let Some(markers) = markers {
            // A file that cannot be read is not evidence of a secret.
            let Ok(bytes) = inventory.read_prefix(entry, SECRET_SNIFF_BYTES) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            if !markers.iter().any(|marker| text.contains(marker)) {
                continue;
            }
        }
        report.report(
            entry.path.as_str(),
            format!(
                "`{}` looks like {what}: everyone who can download this layer version (every \
                 account it is shared with) can read it",
                entry.path
            ),
            "remove it from the layer and rotate the secret; give the function secrets at run \
             time (Secrets Manager, Parameter Store, KMS-encrypted environment variables)",
        );
    }
}
