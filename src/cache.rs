//! The build cache: compressed entries kept by content, and what the last build of each layer saw.
//!
//! Why it exists: `build` runs in pre-commit hooks and on every CI push, where a layer has almost
//! never changed, and monorepos build several layers that share most of their files. Without a
//! cache every run reads and deflates every byte again. Build systems answer an unchanged input
//! in milliseconds; this module lets `build` do the same without giving up one byte of the
//! reproducible output.
//!
//! Two parts, in one folder (`--cache-dir`, else `LAYERPACK_CACHE_DIR`, else the user's cache
//! folder, `$XDG_CACHE_HOME/layerpack` on Linux):
//!
//! - `entries/`: one file per compressed content, named by the SHA-256 of the compression
//!   profile ([`archive::COMPRESSION_PROFILE`]: deflate implementation and version, level, the
//!   stored/deflated rule) and of the content's own SHA-256. Its value is exactly what
//!   [`archive::compress`] gives for those bytes (method, CRC-32, sizes, data), so a hit cannot
//!   change the zip. Each file carries its length and a CRC-32 of everything in it: a corrupt or
//!   truncated entry is removed and the content compressed again, never shipped.
//! - `layers/`: for each output zip, what its last build saw: every input's stat signature
//!   (size, mtime and ctime with nanoseconds, inode, device, mode) with the SHA-256 of its
//!   content, the zip's signature and hash, the manifest's hash, and the outcome. As git's
//!   index does, a file whose signature is unchanged is not read again, and a signature taken
//!   within a clock tick of the build that recorded it ("racy") is never trusted: that file is
//!   hashed. When the configuration, every input, the zip and its manifest are as recorded, the
//!   build is `unchanged` and writes nothing.
//!
//! Concurrent builds need no lock: every cache file is written to a temporary sibling and
//! renamed, so a reader sees a whole file or none, and two builds that store one entry store the
//! same bytes. The folder is bounded: past the size limit (default 2 GiB) the least recently
//! used files go first; a hit refreshes an entry's date at most once an hour. A cache that cannot
//! be read or written never fails a build: it is only slower.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive::{self, Compressed, FileCompressor, Method};
use crate::bytecode::BytecodeReport;
use crate::finding::{Finding, FindingData, Severity};
use crate::inventory::{Content, Entry, EntryKind, Inventory};

/// The cache's size limit when neither `--cache-max-size` nor `layer.toml` sets one.
pub(crate) const DEFAULT_MAX_SIZE: u64 = 2 * 1024 * 1024 * 1024;

/// Where the cache folder is: `--cache-dir`, else `LAYERPACK_CACHE_DIR`, else the platform's
/// cache folder (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS) +
/// `layerpack`. `None` when no home folder is known.
pub(crate) fn default_dir(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("LAYERPACK_CACHE_DIR").filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|dir| dir.join("layerpack"))
}

/// A SHA-256 digest.
pub(crate) type ContentHash = [u8; 32];

/// SHA-256 of no bytes: empty files are never stored, there is nothing to compress.
static EMPTY_CONTENT: std::sync::LazyLock<ContentHash> = std::sync::LazyLock::new(|| sha256(b""));

fn sha256(bytes: &[u8]) -> ContentHash {
    Sha256::digest(bytes).into()
}

fn hex(hash: &ContentHash) -> String {
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<ContentHash> {
    if text.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (index, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(hash)
}

/// Hashes a file by streaming it.
fn hash_file(path: &Path) -> io::Result<ContentHash> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 18];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buffer[..read]);
    }
}

/// The same path made absolute without touching the file system, so that a record does not
/// depend on the folder `build` was started in.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}

/// What git's index keeps of a file to tell that it did not change without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Signature {
    size: u64,
    mtime: i64,
    mtime_ns: i64,
    ctime: i64,
    ctime_ns: i64,
    inode: u64,
    device: u64,
    mode: u32,
}

impl Signature {
    fn of(metadata: &fs::Metadata) -> Signature {
        Signature {
            size: metadata.size(),
            mtime: metadata.mtime(),
            mtime_ns: metadata.mtime_nsec(),
            ctime: metadata.ctime(),
            ctime_ns: metadata.ctime_nsec(),
            inode: metadata.ino(),
            device: metadata.dev(),
            mode: metadata.mode(),
        }
    }

    /// The signature of the file `path` names (following a symlink, as reading it does).
    fn of_path(path: &Path) -> Option<Signature> {
        fs::metadata(path)
            .ok()
            .map(|metadata| Signature::of(&metadata))
    }

    /// True when the signature was taken long enough before `recorded_at` (ns since the Unix
    /// epoch, taken before the files were looked at) that any later write must change it. File
    /// systems that keep whole seconds only get two seconds of margin, the others 100 ms (many
    /// clock ticks of the kernel's coarse file clock).
    fn trusted(&self, recorded_at: i64) -> bool {
        let coarse = self.mtime_ns == 0 && self.ctime_ns == 0;
        let margin: i64 = if coarse { 2_000_000_000 } else { 100_000_000 };
        let at =
            |seconds: i64, nanos: i64| seconds.saturating_mul(1_000_000_000).saturating_add(nanos);
        let latest = at(self.mtime, self.mtime_ns).max(at(self.ctime, self.ctime_ns));
        latest.saturating_add(margin) < recorded_at
    }
}

/// What a build says about its use of the cache (`build --format json`, human summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CacheReport {
    /// File entries whose compressed bytes came from the cache.
    pub(crate) from_cache: usize,
    /// File entries compressed by this build (and stored in the cache).
    pub(crate) compressed: usize,
    /// Files read and hashed because their stat signature was new or changed.
    pub(crate) hashed: usize,
}

/// An opened cache folder, shared by the layers of one `build`.
pub(crate) struct Cache {
    root: PathBuf,
    max_size: u64,
    /// When this build started looking at files: signatures taken after are racy.
    started_ns: i64,
    stored_bytes: AtomicU64,
    temp_counter: AtomicU64,
}

/// The entry file format: magic, the content's SHA-256, method, CRC-32, uncompressed size,
/// data length, the data, then a CRC-32 of everything before it.
const ENTRY_MAGIC: &[u8; 8] = b"LPENTRY1";
const ENTRY_HEADER: usize = 8 + 32 + 2 + 4 + 8 + 8;
const ENTRY_TRAILER: usize = 4;
const STATE_FORMAT: u32 = 1;
/// Bytes written since the last sweep: past an eighth of the limit, the folder is swept.
const WRITTEN_FILE: &str = "written-since-sweep";
/// A hit refreshes an entry's date (its place in the LRU order) at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(3600);

impl Cache {
    /// Opens (creating) the cache folder; `None`, with a note on stderr, when it cannot be made:
    /// the build then goes on without a cache.
    pub(crate) fn open(root: PathBuf, max_size: u64) -> Option<Cache> {
        let started_ns = now_ns();
        for sub in ["entries", "layers"] {
            if let Err(err) = fs::create_dir_all(root.join(sub)) {
                eprintln!(
                    "note: cache folder {} is not usable ({err}); building without the cache",
                    root.display()
                );
                return None;
            }
        }
        Some(Cache {
            root,
            max_size,
            started_ns,
            stored_bytes: AtomicU64::new(0),
            temp_counter: AtomicU64::new(0),
        })
    }

    fn entry_path(&self, content: &ContentHash) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(archive::COMPRESSION_PROFILE.as_bytes());
        hasher.update([0]);
        hasher.update(content);
        let name = hex(&hasher.finalize().into());
        self.root.join("entries").join(&name[..2]).join(&name[2..])
    }

    /// The compressed form of `content`, if a whole, intact entry is cached. A damaged entry is
    /// removed, so that the next store replaces it.
    pub(crate) fn get(&self, content: &ContentHash) -> Option<Compressed> {
        let path = self.entry_path(content);
        let mut file = File::open(&path).ok()?;
        match read_entry(&mut file, content) {
            Ok(Some(compressed)) => {
                touch_if_old(&file);
                Some(compressed)
            }
            Ok(None) => {
                let _ = fs::remove_file(&path);
                None
            }
            Err(_) => None,
        }
    }

    /// Stores the compressed form of `content`; failures only cost a later recompression.
    pub(crate) fn put(&self, content: &ContentHash, compressed: &Compressed) {
        let path = self.entry_path(content);
        let mut header = Vec::with_capacity(ENTRY_HEADER);
        header.extend_from_slice(ENTRY_MAGIC);
        header.extend_from_slice(content);
        header.extend_from_slice(&(compressed.method as u16).to_le_bytes());
        header.extend_from_slice(&compressed.crc.to_le_bytes());
        header.extend_from_slice(&compressed.uncompressed.to_le_bytes());
        header.extend_from_slice(&(compressed.data.len() as u64).to_le_bytes());
        let mut checksum = crc32fast::Hasher::new();
        checksum.update(&header);
        checksum.update(&compressed.data);
        let trailer = checksum.finalize().to_le_bytes();
        let written = self.write_atomically(&path, &[&header, &compressed.data, &trailer]);
        if written.is_ok() {
            let size = (header.len() + compressed.data.len() + trailer.len()) as u64;
            self.stored_bytes.fetch_add(size, Ordering::Relaxed);
        }
    }

    /// Writes `parts` to a temporary sibling of `path`, then renames it into place.
    fn write_atomically(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
        let parent = path.parent().unwrap_or(&self.root);
        let temp = parent.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let create = || File::create_new(&temp);
        let mut file = match create() {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(parent)?;
                create()?
            }
            other => other?,
        };
        let result = parts
            .iter()
            .try_for_each(|part| file.write_all(part))
            .and_then(|()| fs::rename(&temp, path));
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn state_path(&self, output: &Path) -> PathBuf {
        let name = hex(&sha256(absolute(output).as_os_str().as_encoded_bytes()));
        self.root
            .join("layers")
            .join(format!("{}.json", &name[..32]))
    }

    /// Starts the cache's part of one layer's build: takes the stat signature of every file of
    /// `inventory` (as gathered, before any stage rewrites it) and loads what the last build of
    /// `output` saw. `key` describes everything besides the files that decides the outcome
    /// (configuration, timestamp, the layerpack binary); `None` never reports `unchanged`.
    pub(crate) fn layer(
        &self,
        key: Option<String>,
        output: &Path,
        inventory: &Inventory,
    ) -> LayerSession<'_> {
        let entries = inventory.entries();
        let recorded: Vec<RecordedEntry> = entries
            .par_iter()
            .map(|entry| RecordedEntry::of(inventory, entry))
            .collect();
        let state_path = self.state_path(output);
        let previous = fs::read(&state_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<LayerState>(&bytes).ok())
            .filter(|state| state.format == STATE_FORMAT);
        let mut known = HashMap::new();
        if let Some(previous) = &previous {
            let before: HashMap<&Path, &RecordedEntry> = previous
                .entries
                .iter()
                .filter_map(|entry| Some((entry.disk.as_deref()?, entry)))
                .collect();
            for entry in &recorded {
                let (Some(disk), Some(signature)) = (&entry.disk, entry.signature) else {
                    continue;
                };
                let Some(old) = before.get(disk.as_path()) else {
                    continue;
                };
                if old.signature == Some(signature)
                    && signature.trusted(previous.recorded_at)
                    && let Some(hash) = old.sha256.as_deref().and_then(unhex)
                {
                    known.insert(disk.clone(), hash);
                }
            }
        }
        LayerSession {
            cache: self,
            key,
            state_path,
            previous,
            recorded,
            known,
            learned: Mutex::new(HashMap::new()),
            from_cache: AtomicUsize::new(0),
            compressed: AtomicUsize::new(0),
            hashed: AtomicUsize::new(0),
        }
    }

    /// Ends a build: counts what it stored and, once enough was written since the last sweep,
    /// evicts the least recently used files until the folder fits its limit.
    pub(crate) fn finish(&self) {
        let stored = self.stored_bytes.load(Ordering::Relaxed);
        if stored == 0 {
            return;
        }
        let counter = self.root.join(WRITTEN_FILE);
        let before: u64 = fs::read_to_string(&counter)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        let written = before.saturating_add(stored);
        let remaining = if written >= self.max_size / 8 {
            self.sweep();
            0
        } else {
            written
        };
        let _ = self.write_atomically(&counter, &[remaining.to_string().as_bytes()]);
    }

    /// Removes the least recently used entries and layer records until the folder fits its
    /// limit, and temporary files left behind by interrupted builds.
    pub(crate) fn sweep(&self) {
        let hour_ago = SystemTime::now() - TOUCH_EVERY;
        let mut files: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for sub in ["entries", "layers"] {
            for item in walkdir::WalkDir::new(self.root.join(sub))
                .into_iter()
                .flatten()
            {
                if !item.file_type().is_file() {
                    continue;
                }
                let Ok(metadata) = item.metadata() else {
                    continue;
                };
                let modified = metadata.modified().unwrap_or(UNIX_EPOCH);
                let is_temp = item.file_name().to_string_lossy().starts_with(".tmp-");
                if is_temp {
                    if modified < hour_ago {
                        let _ = fs::remove_file(item.path());
                    }
                    continue;
                }
                files.push((modified, metadata.len(), item.into_path()));
            }
        }
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        if total <= self.max_size {
            return;
        }
        files.sort();
        for (_, len, path) in files {
            if total <= self.max_size {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Reads and checks one entry file: `Ok(None)` when it is damaged (wrong length, magic,
/// content hash, method or checksum).
fn read_entry(file: &mut File, content: &ContentHash) -> io::Result<Option<Compressed>> {
    let len = file.metadata()?.len();
    let mut header = [0u8; ENTRY_HEADER];
    if len < (ENTRY_HEADER + ENTRY_TRAILER) as u64 || file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    let field = |range: std::ops::Range<usize>| &header[range];
    let number = |range: std::ops::Range<usize>| {
        let mut bytes = [0u8; 8];
        bytes[..range.len()].copy_from_slice(&header[range]);
        u64::from_le_bytes(bytes)
    };
    let data_len = number(54..62);
    if field(0..8) != ENTRY_MAGIC
        || field(8..40) != content
        || len != ENTRY_HEADER as u64 + data_len + ENTRY_TRAILER as u64
    {
        return Ok(None);
    }
    let Some(method) = Method::from_u16(number(40..42) as u16) else {
        return Ok(None);
    };
    let crc = number(42..46) as u32;
    let uncompressed = number(46..54);
    let mut data = vec![0u8; data_len as usize];
    let mut trailer = [0u8; ENTRY_TRAILER];
    if file.read_exact(&mut data).is_err() || file.read_exact(&mut trailer).is_err() {
        return Ok(None);
    }
    let mut checksum = crc32fast::Hasher::new();
    checksum.update(&header);
    checksum.update(&data);
    let stored_whole = method == Method::Stored && data_len == uncompressed;
    if checksum.finalize() != u32::from_le_bytes(trailer)
        || (method == Method::Stored && !stored_whole)
    {
        return Ok(None);
    }
    Ok(Some(Compressed {
        method,
        crc,
        uncompressed,
        data,
    }))
}

/// Moves a file up the LRU order, at most once an hour.
fn touch_if_old(file: &File) {
    let now = SystemTime::now();
    let old = file
        .metadata()
        .and_then(|metadata| metadata.modified())
        .is_ok_and(|modified| modified + TOUCH_EVERY < now);
    if old {
        let _ = file.set_modified(now);
    }
}

/// One entry of a layer as a build saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RecordedEntry {
    path: String,
    /// `file`, `dir` or the symlink's target.
    kind: String,
    mode: Option<u32>,
    size: u64,
    implied: bool,
    disk: Option<PathBuf>,
    signature: Option<Signature>,
    /// SHA-256 of the content, when this build read it.
    sha256: Option<String>,
}

impl RecordedEntry {
    fn of(inventory: &Inventory, entry: &Entry) -> RecordedEntry {
        let disk = match &entry.content {
            Content::Disk(_) => inventory.disk_path(entry).map(absolute),
            _ => None,
        };
        let signature = match (&entry.kind, &disk) {
            (EntryKind::File, Some(disk)) => Signature::of_path(disk),
            _ => None,
        };
        RecordedEntry {
            path: entry.path.to_string(),
            kind: match &entry.kind {
                EntryKind::File => "file".to_string(),
                EntryKind::Dir => "dir".to_string(),
                EntryKind::Symlink { target } => format!("symlink to {target}"),
            },
            mode: entry.mode,
            size: entry.size,
            implied: entry.implied,
            disk,
            signature,
            sha256: None,
        }
    }

    /// The same entry, whatever its content: path, kind, mode, size and origin.
    fn same_shape(&self, other: &RecordedEntry) -> bool {
        self.path == other.path
            && self.kind == other.kind
            && self.mode == other.mode
            && self.size == other.size
            && self.implied == other.implied
            && self.disk == other.disk
    }
}

/// A file written by a build, as it was right after.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RecordedFile {
    signature: Signature,
    sha256: String,
}

/// A finding of the last build, replayed when the layer is unchanged.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RecordedFinding {
    code: String,
    severity: Severity,
    layer: String,
    path: String,
    message: String,
    help: String,
    #[serde(default, skip_serializing_if = "FindingData::is_empty")]
    data: FindingData,
}

/// What the last build of a layer reported, replayed when it is unchanged.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RecordedOutcome {
    pub(crate) sha256: String,
    pub(crate) code_sha256: String,
    pub(crate) zipped_bytes: u64,
    pub(crate) unzipped_bytes: u64,
    pub(crate) files: usize,
    pub(crate) bytecode: BytecodeReport,
    findings: Vec<RecordedFinding>,
}

impl RecordedOutcome {
    pub(crate) fn new(
        digests: &crate::manifest::Digests,
        zipped_bytes: u64,
        unzipped_bytes: u64,
        files: usize,
        bytecode: &BytecodeReport,
        findings: &[Finding],
    ) -> RecordedOutcome {
        RecordedOutcome {
            sha256: digests.sha256.clone(),
            code_sha256: digests.code_sha256.clone(),
            zipped_bytes,
            unzipped_bytes,
            files,
            bytecode: bytecode.clone(),
            findings: findings
                .iter()
                .map(|finding| RecordedFinding {
                    code: finding.code.to_string(),
                    severity: finding.severity,
                    layer: finding.layer.clone(),
                    path: finding.path.clone(),
                    message: finding.message.clone(),
                    help: finding.help.clone(),
                    data: finding.data.clone(),
                })
                .collect(),
        }
    }

    /// The findings as the last build reported them; `None` if a rule is no longer known.
    pub(crate) fn findings(&self) -> Option<Vec<Finding>> {
        self.findings
            .iter()
            .map(|recorded| {
                let rule = crate::rules::find(&recorded.code)?;
                Some(Finding {
                    code: rule.code,
                    name: rule.name,
                    severity: recorded.severity,
                    layer: recorded.layer.clone(),
                    path: recorded.path.clone(),
                    message: recorded.message.clone(),
                    help: recorded.help.clone(),
                    data: recorded.data.clone(),
                })
            })
            .collect()
    }
}

/// Everything the last build of one output zip saw (`layers/<hash of the output path>.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LayerState {
    format: u32,
    key: String,
    /// When that build started looking at files (ns since the Unix epoch).
    recorded_at: i64,
    entries: Vec<RecordedEntry>,
    zip: RecordedFile,
    manifest_sha256: String,
    outcome: RecordedOutcome,
}

/// The cache's part of one layer's build: supplies compressed files to the archive stage and
/// records what the build saw.
pub(crate) struct LayerSession<'c> {
    cache: &'c Cache,
    key: Option<String>,
    state_path: PathBuf,
    previous: Option<LayerState>,
    /// The gathered entries with their signatures, in inventory order.
    recorded: Vec<RecordedEntry>,
    /// Content hashes of files whose signature is as the last build recorded it.
    known: HashMap<PathBuf, ContentHash>,
    /// Content hashes of files read by this build.
    learned: Mutex<HashMap<PathBuf, ContentHash>>,
    from_cache: AtomicUsize,
    compressed: AtomicUsize,
    hashed: AtomicUsize,
}

impl LayerSession<'_> {
    /// What this build took from the cache so far.
    pub(crate) fn report(&self) -> CacheReport {
        CacheReport {
            from_cache: self.from_cache.load(Ordering::Relaxed),
            compressed: self.compressed.load(Ordering::Relaxed),
            hashed: self.hashed.load(Ordering::Relaxed),
        }
    }

    /// The last build's outcome when nothing that decides the zip changed since: the same
    /// configuration and layerpack, the same entries with the same content (a file whose
    /// signature changed is hashed), and the zip and manifest still as written.
    pub(crate) fn unchanged(&mut self, output: &Path, manifest: &Path) -> Option<RecordedOutcome> {
        let previous = self.previous.as_ref()?;
        if self.key.as_deref() != Some(previous.key.as_str())
            || previous.entries.len() != self.recorded.len()
            || !previous
                .entries
                .iter()
                .zip(&self.recorded)
                .all(|(old, new)| old.same_shape(new))
        {
            return None;
        }
        let manifest_bytes = fs::read(manifest).ok()?;
        if hex(&sha256(&manifest_bytes)) != previous.manifest_sha256 {
            return None;
        }
        let zip_signature = Signature::of_path(output)?;
        let zip_trusted =
            zip_signature == previous.zip.signature && zip_signature.trusted(previous.recorded_at);
        // A file whose signature is as recorded (and was not racy) is unchanged, read or not;
        // any other file is compared by content, which needs the hash recorded for it.
        let to_hash: Vec<(&Path, ContentHash)> = previous
            .entries
            .iter()
            .zip(&self.recorded)
            .filter(|(old, new)| {
                new.signature.is_some()
                    && !(old.signature == new.signature
                        && old
                            .signature
                            .is_some_and(|signature| signature.trusted(previous.recorded_at)))
            })
            .map(|(old, new)| Some((new.disk.as_deref()?, unhex(old.sha256.as_deref()?)?)))
            .collect::<Option<_>>()?;
        let same = to_hash
            .par_iter()
            .all(|(disk, recorded)| hash_file(disk).is_ok_and(|hash| hash == *recorded));
        self.hashed.fetch_add(to_hash.len(), Ordering::Relaxed);
        if !same {
            return None;
        }
        if !zip_trusted
            && hash_file(output).ok().map(|hash| hex(&hash)) != Some(previous.zip.sha256.clone())
        {
            return None;
        }
        let outcome = previous.outcome.clone();
        if !to_hash.is_empty() || !zip_trusted {
            // Re-verified by content: remember the new signatures, so the next build trusts them.
            let mut refreshed = previous.clone();
            refreshed.recorded_at = self.cache.started_ns;
            for (old, new) in refreshed.entries.iter_mut().zip(&self.recorded) {
                old.signature = new.signature;
            }
            refreshed.zip.signature = zip_signature;
            self.save(&refreshed);
        } else if let Ok(file) = File::open(&self.state_path) {
            touch_if_old(&file);
        }
        Some(outcome)
    }

    /// Records a written zip, so the next build can trust its files and tell it is unchanged.
    pub(crate) fn record(&self, output: &Path, manifest_bytes: &[u8], outcome: RecordedOutcome) {
        let Some(key) = &self.key else {
            let _ = fs::remove_file(&self.state_path);
            return;
        };
        let Some(zip_signature) = Signature::of_path(output) else {
            return;
        };
        let learned = self
            .learned
            .lock()
            .map(|map| map.clone())
            .unwrap_or_default();
        let entries = self
            .recorded
            .iter()
            .map(|entry| {
                let mut entry = entry.clone();
                entry.sha256 = entry
                    .disk
                    .as_ref()
                    .filter(|_| entry.signature.is_some())
                    .and_then(|disk| learned.get(disk).or_else(|| self.known.get(disk)))
                    .map(hex);
                entry
            })
            .collect();
        let state = LayerState {
            format: STATE_FORMAT,
            key: key.clone(),
            recorded_at: self.cache.started_ns,
            entries,
            zip: RecordedFile {
                signature: zip_signature,
                sha256: outcome.sha256.clone(),
            },
            manifest_sha256: hex(&sha256(manifest_bytes)),
            outcome,
        };
        self.save(&state);
    }

    fn save(&self, state: &LayerState) {
        if let Ok(bytes) = serde_json::to_vec(state) {
            let _ = self.cache.write_atomically(&self.state_path, &[&bytes]);
        }
    }
}

impl FileCompressor for LayerSession<'_> {
    fn compressed_file(&self, inventory: &Inventory, entry: &Entry) -> io::Result<Compressed> {
        let disk = match &entry.content {
            Content::Disk(_) => inventory.disk_path(entry).map(absolute),
            _ => None,
        };
        let known = disk.as_ref().and_then(|disk| self.known.get(disk));
        if known == Some(&*EMPTY_CONTENT) {
            return Ok(archive::compress(Vec::new()));
        }
        if let Some(hash) = known
            && let Some(hit) = self.cache.get(hash)
        {
            self.from_cache.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let raw = archive::read_unchanged(inventory, entry)?;
        let hash = sha256(&raw);
        if let Some(disk) = disk {
            self.hashed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut learned) = self.learned.lock() {
                learned.insert(disk, hash);
            }
        }
        if raw.is_empty() {
            return Ok(archive::compress(raw));
        }
        if let Some(hit) = self.cache.get(&hash) {
            self.from_cache.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let compressed = archive::compress(raw);
        self.cache.put(&hash, &compressed);
        self.compressed.fetch_add(1, Ordering::Relaxed);
        Ok(compressed)
    }
}

/// The part of the `unchanged` key that says which layerpack built: its version and the size
/// and date of its executable, so that a rebuilt binary never replays an older one's outcome.
pub(crate) fn binary_identity() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let signature = Signature::of_path(&exe)?;
    Some(format!(
        "layerpack {} {} {}.{:09}",
        env!("CARGO_PKG_VERSION"),
        signature.size,
        signature.mtime,
        signature.mtime_ns
    ))
}

/// Hashes a description of everything besides the files that decides a build's outcome.
pub(crate) fn key_of(description: &str) -> String {
    hex(&sha256(description.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compressed(bytes: &[u8]) -> Compressed {
        archive::compress(bytes.to_vec())
    }

    #[test]
    fn an_entry_reads_back_as_stored() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::open(dir.path().to_path_buf(), DEFAULT_MAX_SIZE).expect("open");
        let text = b"import os\n".repeat(100);
        let hash = sha256(&text);
        assert_eq!(cache.get(&hash), None);
        cache.put(&hash, &compressed(&text));
        assert_eq!(cache.get(&hash), Some(compressed(&text)));
    }

    #[test]
    fn damaged_entries_are_ignored_and_removed() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::open(dir.path().to_path_buf(), DEFAULT_MAX_SIZE).expect("open");
        let text = b"def f():\n    return 1\n".repeat(50);
        let hash = sha256(&text);
        let path = cache.entry_path(&hash);
        let good = || cache.put(&hash, &compressed(&text));
        // A flipped byte anywhere, a truncation, or an extension is refused.
        good();
        let bytes = fs::read(&path).expect("read");
        for index in [0, 9, 41, ENTRY_HEADER + 3, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[index] ^= 0x20;
            fs::write(&path, &flipped).expect("write");
            assert_eq!(cache.get(&hash), None, "flipped byte {index}");
            assert!(!path.exists(), "a damaged entry is removed");
        }
        for cut in [0, 10, ENTRY_HEADER, bytes.len() - 1] {
            fs::write(&path, &bytes[..cut]).expect("write");
            assert_eq!(cache.get(&hash), None, "truncated to {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        fs::write(&path, &longer).expect("write");
        assert_eq!(cache.get(&hash), None);
        // Another content's entry under this name is refused too.
        let other = sha256(b"other");
        let other_path = cache.entry_path(&other);
        fs::create_dir_all(other_path.parent().expect("shard")).expect("mkdir");
        fs::write(&other_path, &bytes).expect("write");
        assert_eq!(cache.get(&other), None);
        good();
        assert_eq!(cache.get(&hash), Some(compressed(&text)));
    }

    #[test]
    fn sweep_evicts_least_recently_used_first() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::open(dir.path().to_path_buf(), 3000).expect("open");
        let contents: Vec<Vec<u8>> = (0..4u8).map(|n| vec![n; 1000]).collect();
        for (age, content) in contents.iter().enumerate() {
            let hash = sha256(content);
            // Stored uncompressed-sized by making it incompressible-looking: a gzip magic.
            let mut raw = b"\x1f\x8b".to_vec();
            raw.extend_from_slice(content);
            cache.put(&hash, &compressed(&raw));
            let file = File::options()
                .write(true)
                .open(cache.entry_path(&hash))
                .expect("open");
            let when = SystemTime::now() - Duration::from_secs(1000 * (4 - age as u64));
            file.set_modified(when).expect("date");
        }
        cache.sweep();
        let kept: Vec<bool> = contents
            .iter()
            .map(|content| cache.entry_path(&sha256(content)).exists())
            .collect();
        assert_eq!(kept, [false, false, true, true], "the two oldest go");
    }

    #[test]
    fn fresh_signatures_are_racy() {
        let signature = Signature {
            size: 1,
            mtime: 100,
            mtime_ns: 5,
            ctime: 100,
            ctime_ns: 5,
            inode: 1,
            device: 1,
            mode: 0o100644,
        };
        assert!(signature.trusted(101 * 1_000_000_000));
        assert!(!signature.trusted(100 * 1_000_000_000 + 50_000_000));
        let whole_seconds = Signature {
            mtime_ns: 0,
            ctime_ns: 0,
            ..signature
        };
        assert!(!whole_seconds.trusted(101 * 1_000_000_000));
        assert!(whole_seconds.trusted(103 * 1_000_000_000));
    }
}
