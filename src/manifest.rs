//! The manifest stage: what a built zip is, in the terms publishers need.
//!
//! AWS reports a layer version's `CodeSha256` as base64 of the raw SHA-256 of the zip's bytes;
//! printing exactly that lets CI compare a local build with a published version and skip an
//! unchanged layer. The manifest is written beside each zip as `<output>.json`.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::runtime::Arch;

/// The SHA-256 of a zip, as hex and as AWS's `CodeSha256`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Digests {
    pub(crate) sha256: String,
    pub(crate) code_sha256: String,
}

impl Digests {
    /// Hashes a file by streaming it.
    pub(crate) fn of_file(path: &Path) -> Result<Digests, Error> {
        let mut file = crate::files::open_regular(path).map_err(|err| Error::read(path, err))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = file
                .read(&mut buffer)
                .map_err(|err| Error::read(path, err))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        Ok(Digests::from_sha256(hasher.finalize().as_slice()))
    }

    /// From a raw 32-byte SHA-256 digest.
    pub(crate) fn from_sha256(hash: &[u8]) -> Digests {
        Digests {
            sha256: hash.iter().map(|byte| format!("{byte:02x}")).collect(),
            code_sha256: base64::engine::general_purpose::STANDARD.encode(hash),
        }
    }
}

/// What `build` reports for each layer and writes to `<output>.json`; read back by the loader
/// ([`crate::layer`]) so a built zip keeps the runtimes and architectures it declares.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Manifest {
    pub(crate) name: String,
    pub(crate) output: PathBuf,
    pub(crate) runtimes: Vec<String>,
    pub(crate) architectures: Vec<Arch>,
    pub(crate) sha256: String,
    pub(crate) code_sha256: String,
    pub(crate) zipped_bytes: u64,
    pub(crate) unzipped_bytes: u64,
    pub(crate) files: usize,
}

impl Manifest {
    /// `dist/layer.zip` → `dist/layer.zip.json`.
    pub(crate) fn path_for(output: &Path) -> PathBuf {
        let mut name = output.as_os_str().to_os_string();
        name.push(".json");
        PathBuf::from(name)
    }

    /// The manifest written beside `zip`, when there is one that reads as a manifest. A missing
    /// or foreign `<zip>.json` is not an error: the zip then declares nothing.
    pub(crate) fn read_beside(zip: &Path) -> Option<Manifest> {
        // Opened without blocking and read up to a cap: a FIFO or a huge file is no manifest.
        let text =
            crate::files::read_text_capped(&Manifest::path_for(zip), crate::files::MAX_TEXT_FILE)
                .ok()?;
        serde_json::from_str(&text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_sha256_is_base64_of_the_raw_digest() {
        // sha256("") is e3b0c442...; its base64 is the well-known 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
        let digests = Digests::from_sha256(Sha256::digest(b"").as_slice());
        assert_eq!(
            digests.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            digests.code_sha256,
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn manifest_sits_beside_the_zip() {
        assert_eq!(
            Manifest::path_for(Path::new("dist/a.zip")),
            Path::new("dist/a.zip.json")
        );
    }
}
