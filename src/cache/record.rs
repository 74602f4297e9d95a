//! The layer record's file format: what the last build of one output saw, read at the start of
//! every build and written at the end of every build that writes a zip.
//!
//! Why it exists: a record holds every entry of the layer (thousands of paths, stat signatures
//! and SHA-256s), so its format decides what a rebuild pays before and after the work that
//! matters. As JSON it was megabytes of hex and repeated folder names, parsed and formatted on
//! every build; here it is a fixed little-endian layout: numbers and hashes as raw bytes, and the
//! folder part of each input's path on disk stored once (an input's path on disk ends, almost
//! always, with its path in the layer).
//!
//! A record is only a hint: a file that is missing, truncated, damaged, of another format or of
//! another layerpack's layout decodes to `None`, and the build then reads and hashes what it
//! needs as if there were no record. The layout:
//!
//! ```text
//! "LPLAYER\0"  format (u32)  body  CRC-32 of everything before it (u32)
//! body: recorded_at (i64)  key (text)  profile (text)
//!       zip signature  zip SHA-256 (32)  manifest SHA-256 (32)  outcome (JSON text)
//!       folder count (u32)  folders (bytes each)
//!       entry count (u32)  entries
//! entry: path (text)  kind (u8: file, dir, symlink + target text)  presence bits (u8)
//!        size (u64)  [mode (u32)]  [folder index (u32) + shared tail length (u32)]
//!        [signature]  [SHA-256 (32)]  [packed: method u16, CRC-32, size u64, data length u64,
//!        data CRC-32]
//! text and bytes: length (u32) then the bytes.
//! ```

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use super::{LayerState, Packed, RecordedEntry, RecordedFile, RecordedOutcome, Signature};

const MAGIC: &[u8; 8] = b"LPLAYER\0";
/// Changes whenever the layout or the meaning of a field changes: an older record is ignored.
pub(super) const FORMAT: u32 = 3;

const KIND_FILE: u8 = 0;
const KIND_DIR: u8 = 1;
const KIND_SYMLINK: u8 = 2;

const HAS_MODE: u8 = 1;
const IMPLIED: u8 = 1 << 1;
const HAS_DISK: u8 = 1 << 2;
const HAS_SIGNATURE: u8 = 1 << 3;
const HAS_SHA256: u8 = 1 << 4;
const HAS_PACKED: u8 = 1 << 5;
const KNOWN_BITS: u8 = (1 << 6) - 1;

/// The kind of a recorded entry, as [`RecordedEntry::kind`] spells it.
const SYMLINK_PREFIX: &str = "symlink to ";

/// A record to write, borrowing what it says: the caller's entries are not copied.
pub(super) struct Draft<'s> {
    pub(super) key: &'s str,
    pub(super) recorded_at: i64,
    pub(super) profile: &'s str,
    pub(super) zip: &'s RecordedFile,
    pub(super) manifest_sha256: &'s [u8; 32],
    pub(super) outcome: &'s RecordedOutcome,
    pub(super) entries: Vec<DraftEntry<'s>>,
}

/// An entry of a [`Draft`]: its shape, with the signature and content this record gives it.
#[derive(Clone, Copy)]
pub(super) struct DraftEntry<'s> {
    pub(super) shape: &'s RecordedEntry,
    pub(super) signature: Option<Signature>,
    pub(super) sha256: Option<[u8; 32]>,
    pub(super) packed: Option<Packed>,
}

impl LayerState {
    /// This record as a draft, to write it again.
    pub(super) fn draft(&self) -> Draft<'_> {
        Draft {
            key: &self.key,
            recorded_at: self.recorded_at,
            profile: &self.profile,
            zip: &self.zip,
            manifest_sha256: &self.manifest_sha256,
            outcome: &self.outcome,
            entries: self
                .entries
                .iter()
                .map(|entry| DraftEntry {
                    shape: entry,
                    signature: entry.signature,
                    sha256: entry.sha256,
                    packed: entry.packed,
                })
                .collect(),
        }
    }
}

/// The record's bytes; `None` if its outcome cannot be written as JSON.
pub(super) fn encode(draft: &Draft<'_>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + draft.entries.len() * 192);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, FORMAT);
    put_u64(&mut out, draft.recorded_at as u64);
    put_bytes(&mut out, draft.key.as_bytes());
    put_bytes(&mut out, draft.profile.as_bytes());
    put_signature(&mut out, &draft.zip.signature);
    out.extend_from_slice(&draft.zip.sha256);
    out.extend_from_slice(draft.manifest_sha256);
    put_bytes(&mut out, &serde_json::to_vec(draft.outcome).ok()?);

    // Each input's path on disk, split into a folder (stored once) and the tail it shares with
    // its path in the layer (not stored again). Inputs of one source share one folder, so the
    // last one found is tried first.
    let mut folders: Vec<&[u8]> = Vec::new();
    let mut folder_index: HashMap<&[u8], u32> = HashMap::new();
    let mut last: Option<(&[u8], u32)> = None;
    let disks: Vec<Option<(u32, u32)>> = draft
        .entries
        .iter()
        .map(|entry| {
            let shape = entry.shape;
            let disk = shape.disk.as_ref()?.as_os_str().as_bytes();
            let shared = shared_tail(disk, shape.path.as_bytes());
            let folder = &disk[..disk.len() - shared];
            let index = match last {
                Some((last_folder, index)) if last_folder == folder => index,
                _ => {
                    let index = *folder_index.entry(folder).or_insert_with(|| {
                        folders.push(folder);
                        (folders.len() - 1) as u32
                    });
                    last = Some((folder, index));
                    index
                }
            };
            Some((index, shared as u32))
        })
        .collect();
    put_u32(&mut out, folders.len() as u32);
    for folder in &folders {
        put_bytes(&mut out, folder);
    }

    put_u32(&mut out, draft.entries.len() as u32);
    for (entry, disk) in draft.entries.iter().zip(&disks) {
        let shape = entry.shape;
        put_bytes(&mut out, shape.path.as_bytes());
        match shape.kind.as_str() {
            "file" => out.push(KIND_FILE),
            "dir" => out.push(KIND_DIR),
            other => {
                out.push(KIND_SYMLINK);
                let target = other.strip_prefix(SYMLINK_PREFIX).unwrap_or(other);
                put_bytes(&mut out, target.as_bytes());
            }
        }
        let bits = [
            (shape.mode.is_some(), HAS_MODE),
            (shape.implied, IMPLIED),
            (disk.is_some(), HAS_DISK),
            (entry.signature.is_some(), HAS_SIGNATURE),
            (entry.sha256.is_some(), HAS_SHA256),
            (entry.packed.is_some(), HAS_PACKED),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .fold(0u8, |bits, (_, bit)| bits | bit);
        out.push(bits);
        put_u64(&mut out, shape.size);
        if let Some(mode) = shape.mode {
            put_u32(&mut out, mode);
        }
        if let Some((folder, shared)) = disk {
            put_u32(&mut out, *folder);
            put_u32(&mut out, *shared);
        }
        if let Some(signature) = &entry.signature {
            put_signature(&mut out, signature);
        }
        if let Some(sha256) = &entry.sha256 {
            out.extend_from_slice(sha256);
        }
        if let Some(packed) = &entry.packed {
            out.extend_from_slice(&packed.method.to_le_bytes());
            put_u32(&mut out, packed.crc);
            put_u64(&mut out, packed.size);
            put_u64(&mut out, packed.data_len);
            put_u32(&mut out, packed.data_crc);
        }
    }
    let checksum = crc32fast::hash(&out);
    put_u32(&mut out, checksum);
    Some(out)
}

/// The record in `bytes`; `None` unless it is whole, undamaged and of this format.
pub(super) fn decode(bytes: &[u8]) -> Option<LayerState> {
    let body_len = bytes.len().checked_sub(4)?;
    let (body, trailer) = bytes.split_at(body_len);
    if body.get(..8)? != MAGIC || crc32fast::hash(body).to_le_bytes() != trailer {
        return None;
    }
    let mut input = Reader { rest: &body[8..] };
    if input.u32()? != FORMAT {
        return None;
    }
    let recorded_at = input.u64()? as i64;
    let key = input.text()?;
    let profile = input.text()?;
    let zip = RecordedFile {
        signature: input.signature()?,
        sha256: input.hash()?,
    };
    let manifest_sha256 = input.hash()?;
    let outcome = serde_json::from_slice(input.bytes()?).ok()?;

    let folder_count = input.u32()? as usize;
    let mut folders = Vec::with_capacity(folder_count.min(input.rest.len() / 4));
    for _ in 0..folder_count {
        folders.push(input.bytes()?);
    }

    let entry_count = input.u32()? as usize;
    // Every entry takes at least 14 bytes: a count larger than the rest allows is damage.
    if entry_count > input.rest.len() / 14 {
        return None;
    }
    let mut entries = Vec::with_capacity(entry_count);
    for _ in 0..entry_count {
        let path = input.text()?;
        let kind = match input.u8()? {
            KIND_FILE => "file".to_string(),
            KIND_DIR => "dir".to_string(),
            KIND_SYMLINK => format!("{SYMLINK_PREFIX}{}", input.text()?),
            _ => return None,
        };
        let bits = input.u8()?;
        if bits & !KNOWN_BITS != 0 {
            return None;
        }
        let size = input.u64()?;
        let mode = if bits & HAS_MODE != 0 {
            Some(input.u32()?)
        } else {
            None
        };
        let disk = if bits & HAS_DISK != 0 {
            let folder = folders.get(input.u32()? as usize)?;
            let shared = input.u32()? as usize;
            let tail = path.as_bytes().get(path.len().checked_sub(shared)?..)?;
            let mut disk = Vec::with_capacity(folder.len() + tail.len());
            disk.extend_from_slice(folder);
            disk.extend_from_slice(tail);
            Some(PathBuf::from(OsString::from_vec(disk)))
        } else {
            None
        };
        let signature = if bits & HAS_SIGNATURE != 0 {
            Some(input.signature()?)
        } else {
            None
        };
        let sha256 = if bits & HAS_SHA256 != 0 {
            Some(input.hash()?)
        } else {
            None
        };
        let packed = if bits & HAS_PACKED != 0 {
            Some(Packed {
                method: u16::from_le_bytes(input.take(2)?.try_into().ok()?),
                crc: input.u32()?,
                size: input.u64()?,
                data_len: input.u64()?,
                data_crc: input.u32()?,
            })
        } else {
            None
        };
        entries.push(RecordedEntry {
            path,
            kind,
            mode,
            size,
            implied: bits & IMPLIED != 0,
            disk,
            signature,
            sha256,
            packed,
        });
    }
    if !input.rest.is_empty() {
        return None;
    }
    Some(LayerState {
        key,
        recorded_at,
        profile,
        entries,
        zip,
        manifest_sha256,
        outcome,
    })
}

/// How many bytes at the end of `disk` equal those at the end of `path`.
fn shared_tail(disk: &[u8], path: &[u8]) -> usize {
    disk.iter()
        .rev()
        .zip(path.iter().rev())
        .take_while(|(a, b)| a == b)
        .count()
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

fn put_signature(out: &mut Vec<u8>, signature: &Signature) {
    out.extend_from_slice(&signature.to_le_bytes());
}

/// Reads a record's fields in order; every read fails, rather than panics, past the end.
struct Reader<'b> {
    rest: &'b [u8],
}

impl<'b> Reader<'b> {
    fn take(&mut self, count: usize) -> Option<&'b [u8]> {
        if count > self.rest.len() {
            return None;
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Some(taken)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn hash(&mut self) -> Option<[u8; 32]> {
        self.take(32)?.try_into().ok()
    }

    fn bytes(&mut self) -> Option<&'b [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn text(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn signature(&mut self) -> Option<Signature> {
        Signature::from_le_bytes(self.take(Signature::ENCODED_LEN)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::RecordedFinding;

    fn signature(seed: u64) -> Signature {
        Signature {
            size: seed,
            mtime: 1_700_000_000 + seed as i64,
            mtime_ns: 123_456_789,
            ctime: -5,
            ctime_ns: 999_999_999,
            inode: u64::MAX - seed,
            device: 42,
            mode: 0o100644,
        }
    }

    /// A record with every kind of entry and every optional field both set and unset.
    fn sample() -> LayerState {
        let file = |path: &str, disk: Option<&str>, seed: u8| RecordedEntry {
            path: path.to_string(),
            kind: "file".to_string(),
            mode: Some(0o100644),
            size: u64::from(seed) * 1000,
            implied: false,
            disk: disk.map(PathBuf::from),
            signature: Some(signature(u64::from(seed))),
            sha256: Some([seed; 32]),
            packed: Some(Packed {
                method: 8,
                crc: 0xdead_beef,
                size: u64::from(seed) * 1000,
                data_len: 77,
                data_crc: 0x0102_0304,
            }),
        };
        let mut unread = file("python/app/new.py", Some("/src/tree/python/app/new.py"), 4);
        unread.sha256 = None;
        unread.packed = None;
        LayerState {
            key: "a key".to_string(),
            recorded_at: 1_700_000_000_123_456_789,
            profile: "deflate 1 level 6".to_string(),
            entries: vec![
                RecordedEntry {
                    path: "python/".to_string(),
                    kind: "dir".to_string(),
                    mode: None,
                    size: 0,
                    implied: true,
                    disk: None,
                    signature: None,
                    sha256: None,
                    packed: None,
                },
                file(
                    "python/app/core.py",
                    Some("/src/tree/python/app/core.py"),
                    1,
                ),
                file(
                    "python/app/util.py",
                    Some("/src/tree/python/app/util.py"),
                    2,
                ),
                // Mapped from elsewhere: the path on disk shares only part of its tail.
                file("python/lib/x.so", Some("/opt/vendor/build/x.so"), 3),
                // A path on disk that is not UTF-8 still reads back as it was.
                RecordedEntry {
                    disk: Some(PathBuf::from(OsString::from_vec(b"/src/\xff/x".to_vec()))),
                    ..file("python/x", None, 5)
                },
                unread,
                RecordedEntry {
                    path: "python/link".to_string(),
                    kind: "symlink to app/core.py".to_string(),
                    mode: Some(0o120777),
                    size: 11,
                    implied: false,
                    disk: None,
                    signature: None,
                    sha256: None,
                    packed: None,
                },
            ],
            zip: RecordedFile {
                signature: signature(9),
                sha256: [9; 32],
            },
            manifest_sha256: [8; 32],
            outcome: RecordedOutcome {
                sha256: "9".repeat(64),
                code_sha256: "CodeSha256 in base64".to_string(),
                zipped_bytes: 1234,
                unzipped_bytes: 5678,
                files: 5,
                bytecode: crate::bytecode::BytecodeReport::default(),
                findings: vec![RecordedFinding {
                    code: "HYG001".to_string(),
                    severity: crate::finding::Severity::Warning,
                    layer: "layer".to_string(),
                    path: "python/app/core.py".to_string(),
                    message: "a message".to_string(),
                    help: "some help".to_string(),
                    data: crate::finding::FindingData::default(),
                }],
            },
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let state = sample();
        let bytes = encode(&state.draft()).expect("encodes");
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back.key, state.key);
        assert_eq!(back.recorded_at, state.recorded_at);
        assert_eq!(back.profile, state.profile);
        assert_eq!(back.entries, state.entries);
        assert_eq!(back.zip.signature, state.zip.signature);
        assert_eq!(back.zip.sha256, state.zip.sha256);
        assert_eq!(back.manifest_sha256, state.manifest_sha256);
        let json = |outcome: &RecordedOutcome| serde_json::to_value(outcome).expect("json");
        assert_eq!(json(&back.outcome), json(&state.outcome));
        // Folders are stored once: the two inputs of /src/tree/ share one.
        assert_eq!(
            bytes
                .windows(b"/src/tree/".len())
                .filter(|window| window == b"/src/tree/")
                .count(),
            1
        );
    }

    #[test]
    fn a_damaged_truncated_or_other_format_record_is_refused() {
        let bytes = encode(&sample().draft()).expect("encodes");
        // Cut anywhere: refused.
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_none(), "cut at {len}");
        }
        // Any one bit flipped: refused (the checksum, or the magic).
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(decode(&damaged).is_none(), "bit flipped at {at}");
        }
        // Another format number, with a checksum that matches: refused.
        let mut other = bytes[..bytes.len() - 4].to_vec();
        other[8..12].copy_from_slice(&(FORMAT - 1).to_le_bytes());
        let checksum = crc32fast::hash(&other);
        other.extend_from_slice(&checksum.to_le_bytes());
        assert!(decode(&other).is_none());
        // The JSON records of earlier layerpacks: refused.
        assert!(decode(br#"{"format":2,"key":"k","entries":[]}"#).is_none());
        // Trailing bytes under a matching checksum: refused.
        let mut longer = bytes[..bytes.len() - 4].to_vec();
        longer.push(0);
        let checksum = crc32fast::hash(&longer);
        longer.extend_from_slice(&checksum.to_le_bytes());
        assert!(decode(&longer).is_none());
    }
}
