//! The inspections store (`inspections` in the cache folder): what the inspect stage found in
//! each content a build read, by the content's SHA-256, so that a rebuild lints its layer
//! without opening the files whose content it knows from their stat signature.
//!
//! Why it exists: names lie about machine code, so lint sniffs the first bytes of every file and
//! parses every ELF file's loader tables. On a rebuild where one file changed, that was one open,
//! read and close of each of thousands of files, competing with the zip being written. The
//! build cache knows each unchanged file's content hash without reading it (the stat index), and
//! the hash of each file this build read; what inspecting a content finds depends on those bytes
//! alone, so it is kept here by that hash and recalled instead of reading the file again. A
//! second layer of the same files is linted from it too.
//!
//! What is kept is what [`crate::inspect`] finds, without the path: not machine code, Mach-O, PE,
//! or an ELF file's loader facts. A file that could not be read, or an ELF file found malformed
//! (whose reason can be a read error), is not kept. A finding is kept only when the bytes read
//! are surely the content the hash names: the file, on the handle it was read through, was last
//! changed long enough before this build started that no write since can have kept its
//! signature (the stat index's rule for a racy signature); a file edited just before the build
//! is inspected again next time.
//!
//! The file: magic, the identity of the layerpack binary that wrote it (a rebuilt layerpack may
//! inspect differently: its store is ignored), the record count, records sorted by hash (hash,
//! day last used, offset and length of the finding), the findings (JSON of the binary format;
//! nothing for a content that is not machine code), and a CRC-32 of everything before it. A
//! damaged, truncated or foreign file is ignored and replaced, never trusted. It is written
//! whole to a temporary sibling and renamed, merged with the file as it is on disk then (another
//! build may have saved since). Records nobody used for a month leave it, and past
//! [`MAX_RECORDS`] the least recently used ones; the cache's size limit counts the file too
//! (the sweep may evict it whole, like any other cache file).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{Cache, ContentHash, LayerSession, Signature, binary_identity, now_ns};
use crate::inspect::{BinaryFormat, Found, InspectionMemory};
use crate::inventory::{Entry, Inventory};

/// The store's file, in the cache folder.
const FILE: &str = "inspections";
const MAGIC: &[u8; 8] = b"LPINSP01";
/// Changed whenever what is kept, or how it is written, changes.
const FORMAT: u32 = 1;
/// Bytes of one record: the hash, the day it was last used, the finding's offset and length.
const RECORD: usize = 32 + 4 + 4 + 4;
/// Records not used for this many days leave the store.
const KEEP_DAYS: u32 = 30;
/// At most this many records are kept (the most recently used ones): about 9 MiB.
pub(super) const MAX_RECORDS: usize = 200_000;

/// The inspections store of one cache folder, as one build uses it.
pub(super) struct Inspections {
    path: PathBuf,
    /// Who may read and write the store: this layerpack binary and format; `None` when the
    /// binary cannot be identified (the store is then not used).
    identity: Option<String>,
    /// The store as this build found it, read on the first recall.
    stored: OnceLock<Stored>,
    /// What this build found by reading files, kept by [`save`].
    learned: Mutex<HashMap<ContentHash, Found>>,
    /// Files whose finding was recalled instead of read, and files read and kept.
    recalled: AtomicUsize,
    kept: AtomicUsize,
}

/// A store file read whole, checked, with a flag per record for the records this build used.
#[derive(Default)]
struct Stored {
    records: Vec<u8>,
    findings: Vec<u8>,
    used: Vec<AtomicBool>,
}

/// One record, decoded: the day it was last used and its finding's bytes.
type Record = (u32, Vec<u8>);

impl Inspections {
    pub(super) fn new(root: &Path) -> Inspections {
        Inspections {
            path: root.join(FILE),
            identity: binary_identity().map(|binary| format!("{binary} inspections {FORMAT}")),
            stored: OnceLock::new(),
            learned: Mutex::new(HashMap::new()),
            recalled: AtomicUsize::new(0),
            kept: AtomicUsize::new(0),
        }
    }

    fn stored(&self) -> &Stored {
        self.stored.get_or_init(|| {
            let _span = crate::timing::span("read the inspections");
            self.identity
                .as_deref()
                .and_then(|identity| Stored::load(&self.path, identity))
                .unwrap_or_default()
        })
    }

    /// What inspecting `content` found, kept by this build or an earlier one.
    fn recall(&self, content: &ContentHash) -> Option<Found> {
        self.identity.as_ref()?;
        let found = match self.learned.lock() {
            Ok(learned) => learned.get(content).cloned(),
            Err(_) => None,
        };
        let found = found.or_else(|| self.stored().recall(content))?;
        self.recalled.fetch_add(1, Ordering::Relaxed);
        Some(found)
    }

    fn learn(&self, content: ContentHash, found: &Found) {
        if self.identity.is_none() {
            return;
        }
        if let Ok(mut learned) = self.learned.lock() {
            learned.insert(content, found.clone());
            self.kept.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many files were recalled and how many read and kept so far (for `LAYERPACK_TIMING`).
    pub(super) fn counts(&self) -> (usize, usize) {
        (
            self.recalled.load(Ordering::Relaxed),
            self.kept.load(Ordering::Relaxed),
        )
    }
}

impl Stored {
    /// The store at `path` when it is whole and was written by `identity`.
    fn load(path: &Path, identity: &str) -> Option<Stored> {
        let bytes = fs::read(path).ok()?;
        Stored::decode(bytes, identity)
    }

    fn decode(mut bytes: Vec<u8>, identity: &str) -> Option<Stored> {
        let body_len = bytes.len().checked_sub(4)?;
        if crc32fast::hash(&bytes[..body_len]).to_le_bytes() != bytes[body_len..] {
            return None;
        }
        bytes.truncate(body_len);
        let number = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        if bytes.get(..8)? != MAGIC {
            return None;
        }
        let identity_len = number(8)? as usize;
        let identity_end = 12usize.checked_add(identity_len)?;
        if bytes.get(12..identity_end)? != identity.as_bytes() {
            return None;
        }
        let count = number(identity_end)? as usize;
        let records_start = identity_end + 4;
        let records_end = records_start.checked_add(count.checked_mul(RECORD)?)?;
        if records_end > bytes.len() {
            return None;
        }
        let findings = bytes.split_off(records_end);
        let records = bytes.split_off(records_start);
        Some(Stored {
            records,
            findings,
            used: (0..count).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    fn count(&self) -> usize {
        self.records.len() / RECORD
    }

    fn record(&self, index: usize) -> &[u8] {
        &self.records[index * RECORD..(index + 1) * RECORD]
    }

    /// The day record `index` was last used and its finding's bytes; `None` when they lie
    /// outside the file.
    fn decoded(&self, index: usize) -> Option<Record> {
        let record = self.record(index);
        let number = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(record.get(at..at + 4)?.try_into().ok()?))
        };
        let start = number(36)? as usize;
        let end = start.checked_add(number(40)? as usize)?;
        Some((number(32)?, self.findings.get(start..end)?.to_vec()))
    }

    fn recall(&self, content: &ContentHash) -> Option<Found> {
        let (mut low, mut high) = (0, self.count());
        while low < high {
            let middle = (low + high) / 2;
            match self.record(middle)[..32].cmp(content.as_slice()) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => {
                    let (_, bytes) = self.decoded(middle)?;
                    let found = finding_of(&bytes)?;
                    self.used[middle].store(true, Ordering::Relaxed);
                    return Some(found);
                }
            }
        }
        None
    }

    /// Every record, by hash.
    fn all(&self) -> BTreeMap<ContentHash, Record> {
        (0..self.count())
            .filter_map(|index| {
                let hash: ContentHash = self.record(index)[..32].try_into().ok()?;
                Some((hash, self.decoded(index)?))
            })
            .collect()
    }
}

/// The bytes a finding is kept as: nothing for a content that is not machine code.
fn bytes_of(found: &Found) -> Option<Vec<u8>> {
    match found {
        None => Some(Vec::new()),
        Some(BinaryFormat::Malformed(_)) => None,
        Some(format) => serde_json::to_vec(format).ok(),
    }
}

fn finding_of(bytes: &[u8]) -> Option<Found> {
    if bytes.is_empty() {
        return Some(None);
    }
    match serde_json::from_slice::<BinaryFormat>(bytes).ok()? {
        BinaryFormat::Malformed(_) => None,
        format => Some(Some(format)),
    }
}

fn encode(records: &BTreeMap<ContentHash, Record>, identity: &str) -> Option<Vec<u8>> {
    let findings_len: usize = records.values().map(|(_, bytes)| bytes.len()).sum();
    let mut out = Vec::with_capacity(16 + identity.len() + records.len() * RECORD + findings_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(identity.len()).ok()?.to_le_bytes());
    out.extend_from_slice(identity.as_bytes());
    out.extend_from_slice(&u32::try_from(records.len()).ok()?.to_le_bytes());
    let mut offset: usize = 0;
    for (hash, (day, bytes)) in records {
        out.extend_from_slice(hash);
        out.extend_from_slice(&day.to_le_bytes());
        out.extend_from_slice(&u32::try_from(offset).ok()?.to_le_bytes());
        out.extend_from_slice(&u32::try_from(bytes.len()).ok()?.to_le_bytes());
        offset += bytes.len();
    }
    for (_, bytes) in records.values() {
        out.extend_from_slice(bytes);
    }
    let checksum = crc32fast::hash(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    Some(out)
}

/// Days since the Unix epoch.
fn today() -> u32 {
    u32::try_from(now_ns() / (86_400 * 1_000_000_000)).unwrap_or(u32::MAX)
}

/// Saves what this build learned, and the use of what it recalled (at most once a day per
/// record), merged with the store as it is on disk now; writes nothing when neither happened.
pub(super) fn save(cache: &Cache) {
    let store = &cache.inspections;
    let Some(identity) = &store.identity else {
        return;
    };
    let learned = match store.learned.lock() {
        Ok(mut learned) => std::mem::take(&mut *learned),
        Err(_) => return,
    };
    let today = today();
    let stored = store.stored.get();
    let used_before_today: Vec<usize> = stored
        .map(|stored| {
            (0..stored.count())
                .filter(|&index| stored.used[index].load(Ordering::Relaxed))
                .filter(|&index| stored.decoded(index).is_some_and(|(day, _)| day < today))
                .collect()
        })
        .unwrap_or_default();
    if learned.is_empty() && used_before_today.is_empty() {
        return;
    }
    let mut records = Stored::load(&store.path, identity)
        .map(|on_disk| on_disk.all())
        .unwrap_or_default();
    if let Some(stored) = stored {
        for index in used_before_today {
            let record = stored.record(index);
            if let (Ok(hash), Some((_, bytes))) = (
                <ContentHash>::try_from(&record[..32]),
                stored.decoded(index),
            ) {
                records.insert(hash, (today, bytes));
            }
        }
    }
    for (hash, found) in &learned {
        if let Some(bytes) = bytes_of(found) {
            records.insert(*hash, (today, bytes));
        }
    }
    prune(&mut records, today);
    if let Some(bytes) = encode(&records, identity) {
        let _ = cache.write_atomically(&store.path, &[&bytes]);
    }
}

/// The store as the sweep sees it (date, size, path): one more file the size limit counts and
/// may evict, least recently written first, like the others.
pub(super) fn as_swept(root: &Path) -> Option<(std::time::SystemTime, u64, PathBuf)> {
    let path = root.join(FILE);
    let metadata = fs::metadata(&path).ok()?;
    Some((metadata.modified().ok()?, metadata.len(), path))
}

/// Drops records unused for [`KEEP_DAYS`], then the least recently used past [`MAX_RECORDS`].
fn prune(records: &mut BTreeMap<ContentHash, Record>, today: u32) {
    records.retain(|_, (day, _)| day.saturating_add(KEEP_DAYS) >= today);
    if records.len() > MAX_RECORDS {
        let mut days: Vec<u32> = records.values().map(|(day, _)| *day).collect();
        days.sort_unstable_by(|a, b| b.cmp(a));
        let cutoff = days[MAX_RECORDS - 1];
        let above = records.values().filter(|(day, _)| *day > cutoff).count();
        let mut room = MAX_RECORDS - above;
        records.retain(|_, (day, _)| {
            *day > cutoff
                || (*day == cutoff && room > 0 && {
                    room -= 1;
                    true
                })
        });
    }
}

impl LayerSession<'_> {
    /// The content hash of a disk file of the layer, known from its stat signature or read by
    /// this build.
    fn content_hash(&self, inventory: &Inventory, entry: &Entry) -> Option<ContentHash> {
        let disk = super::disk_key(inventory, entry, &self.cache.working_dir)?;
        let learned = self
            .learned
            .lock()
            .ok()
            .and_then(|learned| learned.get(&disk).copied());
        learned.or_else(|| self.known.get(&disk).copied())
    }

    /// How many files lint recalled and how many it read and kept (for `LAYERPACK_TIMING`).
    pub(crate) fn inspection_counts(&self) -> (usize, usize) {
        self.cache.inspections.counts()
    }
}

impl InspectionMemory for LayerSession<'_> {
    fn recall(&self, inventory: &Inventory, entry: &Entry) -> Option<Found> {
        let content = self.content_hash(inventory, entry)?;
        self.cache.inspections.recall(&content)
    }

    fn remember(&self, inventory: &Inventory, entry: &Entry, found: &Found, after: &Metadata) {
        // Unchanged since before the build started: the bytes read are those hashed.
        if !Signature::of(after).trusted(self.cache.started_ns) {
            return;
        }
        if let Some(content) = self.content_hash(inventory, entry) {
            self.cache.inspections.learn(content, found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(byte: u8) -> ContentHash {
        [byte; 32]
    }

    #[test]
    fn a_store_reads_back_and_damage_or_another_identity_is_ignored() {
        let mut records = BTreeMap::new();
        records.insert(hash(1), (100, Vec::new()));
        let macho = bytes_of(&Some(BinaryFormat::MachO)).expect("kept");
        records.insert(hash(2), (100, macho));
        let bytes = encode(&records, "layerpack test").expect("encode");
        let stored = Stored::decode(bytes.clone(), "layerpack test").expect("decodes");
        assert_eq!(stored.recall(&hash(1)), Some(None));
        assert_eq!(stored.recall(&hash(2)), Some(Some(BinaryFormat::MachO)));
        assert_eq!(stored.recall(&hash(3)), None);
        assert_eq!(stored.all(), records);
        assert!(Stored::decode(bytes.clone(), "layerpack other").is_none());
        for at in [0, 9, 30, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x04;
            assert!(Stored::decode(damaged, "layerpack test").is_none(), "{at}");
        }
        assert!(Stored::decode(bytes[..bytes.len() - 1].to_vec(), "layerpack test").is_none());
        assert!(Stored::decode(Vec::new(), "layerpack test").is_none());
    }

    #[test]
    fn malformed_elf_files_are_never_kept() {
        let malformed = Some(BinaryFormat::Malformed("cannot be read".into()));
        assert_eq!(bytes_of(&malformed), None);
        let bytes = serde_json::to_vec(&BinaryFormat::Malformed("x".into())).expect("json");
        assert_eq!(finding_of(&bytes), None);
    }

    #[test]
    fn old_records_leave_first() {
        let mut records: BTreeMap<ContentHash, Record> = BTreeMap::new();
        records.insert(hash(1), (10, Vec::new()));
        records.insert(hash(2), (60, Vec::new()));
        prune(&mut records, 50);
        assert_eq!(records.keys().copied().collect::<Vec<_>>(), [hash(2)]);
        let mut many: BTreeMap<ContentHash, Record> = (0..MAX_RECORDS + 2)
            .map(|n| {
                let mut key = [0u8; 32];
                key[..8].copy_from_slice(&(n as u64).to_le_bytes());
                let day = if n < 3 { 99 } else { 100 };
                (key, (day, Vec::new()))
            })
            .collect();
        prune(&mut many, 100);
        assert_eq!(many.len(), MAX_RECORDS);
        assert_eq!(many.values().filter(|(day, _)| *day == 99).count(), 1);
    }
}
