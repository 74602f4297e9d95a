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
//! - `entries/`: one file per compressed content (past the first 32 a build stores, the rest
//!   go into one pack file, `entries/packs/`, with an index), named by the SHA-256 of the compression
//!   profile ([`archive::COMPRESSION_PROFILE`]: deflate implementation and version, level, the
//!   stored/deflated rule) and of the content's own SHA-256. Its value is exactly what
//!   [`archive::compress`] gives for those bytes (method, CRC-32, sizes, data), so a hit cannot
//!   change the zip. Each file carries its length and a CRC-32 of everything in it: a corrupt or
//!   truncated entry is removed and the content compressed again, never shipped. A file over
//!   [`archive::STREAMED_FILE_BYTES`] is never whole in memory here either: it is hashed in
//!   chunks, its entry is written and copied back in chunks (into the build's spool), checked
//!   on the way; it has a file of its own, never a place in a pack.
//! - `layers/`: for each output zip, what its last build saw: every input's stat signature
//!   (size, mtime and ctime with nanoseconds, inode, device, mode) with the SHA-256 of its
//!   content, the zip's signature and hash, the manifest's hash, and the outcome, in a compact
//!   checksummed format ([`record`]) that a damaged or older file fails. As git's
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
use crate::inventory::{Entry, EntryKind, Inventory};
use crate::spool::{Borrowed, Spool, Spooled};

mod inspections;
mod record;

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

/// Hashes a file by streaming it, opened without blocking (a source swapped for a FIFO is an
/// error, not a hang).
fn hash_file(path: &Path) -> io::Result<ContentHash> {
    let mut file = crate::files::open_regular(path)?;
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

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}

/// When a build started looking at files (ns since the Unix epoch), taken before its walk: a
/// stat signature taken within a clock tick of it is racy and never trusted (see
/// [`Signature::trusted`]), so it must be earlier than any signature a build records.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BuildStart(i64);

impl BuildStart {
    pub(crate) fn now() -> BuildStart {
        BuildStart(now_ns())
    }
}

pub(crate) use crate::files::Signature;

impl Signature {
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

/// The stat index (`layers/stat-index`): the content hash of every file a build read or
/// confirmed, keyed by the file's identity (device and inode) and trusted only while its stat
/// signature is unchanged. Keyed by identity rather than by output, so that a second layer built
/// from the same files (another `[layer.NAME]` of the same tree, or a new output path) skips
/// reading them too.
#[derive(Clone, Debug, Default)]
struct StatIndex {
    files: HashMap<(u64, u64), IndexedFile>,
}

/// One file of the stat index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IndexedFile {
    signature: Signature,
    sha256: ContentHash,
    /// When the build that hashed or last confirmed it started (ns since the Unix epoch).
    recorded_at: i64,
}

const STAT_INDEX_FILE: &str = "layers/stat-index";
const STAT_INDEX_MAGIC: &[u8; 8] = b"LPSTAT01";
/// Bytes of one file of the stat index: 7 numbers of 8 bytes, the mode, the hash, the date.
const STAT_RECORD: usize = Signature::ENCODED_LEN + 32 + 8;
/// Files not confirmed by any build for this long leave the index.
const STAT_INDEX_KEEP_NS: i64 = 30 * 24 * 3600 * 1_000_000_000;
/// A file confirmed again is dated again in the index once its date is this old.
const STAT_INDEX_REFRESH_NS: i64 = 24 * 3600 * 1_000_000_000;
/// At most this many files are kept (the most recently confirmed ones).
const STAT_INDEX_MAX_FILES: usize = 1_000_000;

impl StatIndex {
    /// The index saved at `path`; empty when it is missing or damaged (wrong magic, length or
    /// checksum): it only costs hashing.
    fn load(path: &Path) -> StatIndex {
        let Ok(bytes) = fs::read(path) else {
            return StatIndex::default();
        };
        StatIndex::decode(&bytes).unwrap_or_default()
    }

    fn decode(bytes: &[u8]) -> Option<StatIndex> {
        let body_len = bytes.len().checked_sub(4)?;
        let (body, trailer) = bytes.split_at(body_len);
        if crc32fast::hash(body).to_le_bytes() != trailer
            || body.get(..8)? != STAT_INDEX_MAGIC
            || (body.len() - 8) % STAT_RECORD != 0
        {
            return None;
        }
        let number = |record: &[u8], at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(record.get(at..at + 8)?.try_into().ok()?))
        };
        let mut files = HashMap::with_capacity((body.len() - 8) / STAT_RECORD);
        for record in body[8..].chunks_exact(STAT_RECORD) {
            let signature = Signature::from_le_bytes(record.get(..Signature::ENCODED_LEN)?)?;
            let file = IndexedFile {
                signature,
                sha256: record.get(60..92)?.try_into().ok()?,
                recorded_at: number(record, 92)? as i64,
            };
            files.insert((signature.device, signature.inode), file);
        }
        Some(StatIndex { files })
    }

    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8 + self.files.len() * STAT_RECORD + 4);
        bytes.extend_from_slice(STAT_INDEX_MAGIC);
        let mut files: Vec<&IndexedFile> = self.files.values().collect();
        files.sort_by_key(|file| (file.signature.device, file.signature.inode));
        for file in files {
            bytes.extend_from_slice(&file.signature.to_le_bytes());
            bytes.extend_from_slice(&file.sha256);
            bytes.extend_from_slice(&(file.recorded_at as u64).to_le_bytes());
        }
        let checksum = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// The content hash of a file whose signature is as recorded and was not racy then.
    fn known(&self, signature: &Signature) -> Option<ContentHash> {
        let file = self.files.get(&(signature.device, signature.inode))?;
        (file.signature == *signature && signature.trusted(file.recorded_at)).then_some(file.sha256)
    }

    /// Adds `other`'s files, keeping the more recently recorded one of a file in both.
    fn merge(&mut self, other: &StatIndex) {
        for (key, file) in &other.files {
            match self.files.get(key) {
                Some(mine) if mine.recorded_at >= file.recorded_at => {}
                _ => {
                    self.files.insert(*key, *file);
                }
            }
        }
    }

    /// Drops files nobody confirmed for a month, then the oldest past the count limit.
    fn prune(&mut self, now: i64) {
        self.files
            .retain(|_, file| file.recorded_at.saturating_add(STAT_INDEX_KEEP_NS) > now);
        if self.files.len() > STAT_INDEX_MAX_FILES {
            let mut dates: Vec<i64> = self.files.values().map(|file| file.recorded_at).collect();
            dates.sort_unstable_by(|a, b| b.cmp(a));
            let cutoff = dates[STAT_INDEX_MAX_FILES - 1];
            self.files.retain(|_, file| file.recorded_at >= cutoff);
        }
    }
}

/// What a build says about its use of the cache (`build --format json`, human summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CacheReport {
    /// File entries whose compressed bytes came from the cache (the content cache's entries,
    /// or the previous zip of the same output).
    pub(crate) from_cache: usize,
    /// Of those, the entries copied from the previous zip of the same output (checked against
    /// the CRC-32 this cache recorded for their compressed bytes) instead of a cache file.
    pub(crate) from_previous_zip: usize,
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
    /// The folder the build runs in: records and keys name files by absolute path.
    working_dir: crate::files::WorkingDir,
    stored_bytes: AtomicU64,
    temp_counter: AtomicU64,
    /// The stat index as this build found it: content hashes by file identity.
    stat_index: StatIndex,
    /// What this build's layers learned or confirmed, saved into the index by [`Cache::finish`].
    stat_updates: Mutex<StatIndex>,
    /// Entries stored by this build so far: past [`PACK_AFTER`], they go into one pack.
    stores: AtomicUsize,
    /// The pack this build is writing, readable while it is written.
    pack: Mutex<Option<PackWriter>>,
    /// The packs of earlier builds, loaded on the first lookup that needs them.
    packs: std::sync::OnceLock<Packs>,
    /// What inspecting each content found, by content (see [`inspections`]).
    inspections: inspections::Inspections,
}

/// The entry file format: magic, the content's SHA-256, method, CRC-32, uncompressed size,
/// data length, the data, then a CRC-32 of everything before it.
const ENTRY_MAGIC: &[u8; 8] = b"LPENTRY1";
const ENTRY_HEADER: usize = 8 + 32 + 2 + 4 + 8 + 8;
const ENTRY_TRAILER: usize = 4;
/// Bytes written since the last sweep: past an eighth of the limit, the folder is swept.
const WRITTEN_FILE: &str = "written-since-sweep";
/// A hit refreshes an entry's date (its place in the LRU order) at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(3600);

impl Cache {
    /// Opens (creating) the cache folder for a build that started looking at files at
    /// `started`; `None`, with a note on stderr, when it cannot be made: the build then goes on
    /// without a cache.
    pub(crate) fn open(root: PathBuf, max_size: u64, started: BuildStart) -> Option<Cache> {
        let started_ns = started.0;
        for sub in ["entries", "layers"] {
            if let Err(err) = fs::create_dir_all(root.join(sub)) {
                eprintln!(
                    "note: cache folder {} is not usable ({err}); building without the cache",
                    root.display()
                );
                return None;
            }
        }
        let stat_index = StatIndex::load(&root.join(STAT_INDEX_FILE));
        Some(Cache {
            inspections: inspections::Inspections::new(&root),
            root,
            max_size,
            started_ns,
            working_dir: crate::files::WorkingDir::current(),
            stored_bytes: AtomicU64::new(0),
            temp_counter: AtomicU64::new(0),
            stat_index,
            stat_updates: Mutex::new(StatIndex::default()),
            stores: AtomicUsize::new(0),
            pack: Mutex::new(None),
            packs: std::sync::OnceLock::new(),
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
        if let Ok(file) = File::open(&path) {
            match read_entry(&file, content) {
                Ok(Some(compressed)) => {
                    touch_if_old(&file);
                    return Some(compressed);
                }
                Ok(None) => {
                    let _ = fs::remove_file(&path);
                }
                Err(_) => {}
            }
        }
        if let Ok(pack) = self.pack.lock()
            && let Some(pack) = pack.as_ref()
            && let Some(&(offset, len)) = pack.index.get(content)
        {
            return read_entry_at(&pack.file, offset, len, content)
                .ok()
                .flatten();
        }
        let packs = self
            .packs
            .get_or_init(|| Packs::load(&self.root.join(PACKS_DIR)));
        packs.get(content)
    }

    /// Stores the compressed form of `content`; failures only cost a later recompression.
    pub(crate) fn put(&self, content: &ContentHash, compressed: &Compressed) {
        let path = self.entry_path(content);
        let header = entry_header(content, compressed, compressed.data.len() as u64);
        let mut checksum = crc32fast::Hasher::new();
        checksum.update(&header);
        checksum.update(&compressed.data);
        let trailer = checksum.finalize().to_le_bytes();
        let parts: [&[u8]; 3] = [&header, &compressed.data, &trailer];
        let written = if self.stores.fetch_add(1, Ordering::Relaxed) < PACK_AFTER {
            self.write_atomically(&path, &parts)
        } else {
            self.add_to_pack(content, &parts)
        };
        if written.is_ok() {
            let size = (header.len() + compressed.data.len() + trailer.len()) as u64;
            self.stored_bytes.fetch_add(size, Ordering::Relaxed);
        }
    }

    /// The compressed form of `content`, from an intact entry of the cache. Borrowed (read and
    /// checked as the zip is written) from a pack, or from an entry file of a streamed content;
    /// read whole from other entry files (there can be many: holding each open until the zip is
    /// written could run out of file handles); with `up_front`, every one is copied and checked
    /// now. Errors are the spool's.
    fn reuse(
        &self,
        content: &ContentHash,
        streamed: bool,
        up_front: bool,
        spool: &Spool,
    ) -> io::Result<Option<ReusedSoFar>> {
        if up_front {
            return Ok(match streamed {
                true => self
                    .get_streamed(content, spool)?
                    .map(|(compressed, data, crc)| (compressed, data, Some(crc))),
                false => self
                    .get(content)
                    .map(|hit| keep_whole(spool, hit))
                    .transpose()?,
            });
        }
        // Most contents are in the packs of earlier builds (known from their indexes, without
        // looking for an entry file on disk): borrowed.
        let packs = self
            .packs
            .get_or_init(|| Packs::load(&self.root.join(PACKS_DIR)));
        if let Some(hit) = packs
            .locate(content)
            .and_then(|(file, offset, len)| borrow_entry_at(&file, offset, len, content))
        {
            return Ok(Some(hit));
        }
        if !streamed {
            // Entry files and the pack being written are read whole.
            return self
                .get(content)
                .map(|hit| keep_whole(spool, hit))
                .transpose();
        }
        let path = self.entry_path(content);
        if let Ok(file) = File::open(&path) {
            let len = file.metadata().map_or(0, |metadata| metadata.len());
            let file = std::sync::Arc::new(file);
            match borrow_entry_at(&file, 0, len, content) {
                Some(hit) => {
                    touch_if_old(&file);
                    return Ok(Some(hit));
                }
                None => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        Ok(None)
    }

    /// The compressed form of a streamed `content` (a file over
    /// [`archive::STREAMED_FILE_BYTES`]), copied in chunks from an intact cache entry into a
    /// file of `spool`, never whole in memory; with the CRC-32 of its compressed bytes. A damaged
    /// entry file is removed, as by [`Cache::get`]. Errors are the spool's.
    fn get_streamed(&self, content: &ContentHash, spool: &Spool) -> io::Result<Option<Reused>> {
        let path = self.entry_path(content);
        if let Ok(file) = File::open(&path) {
            let len = file.metadata().map_or(0, |metadata| metadata.len());
            match copy_entry_at(&file, 0, len, content, spool)? {
                Some(reused) => {
                    touch_if_old(&file);
                    return Ok(Some(reused));
                }
                None => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        let packs = self
            .packs
            .get_or_init(|| Packs::load(&self.root.join(PACKS_DIR)));
        match packs.locate(content) {
            Some((file, offset, len)) => copy_entry_at(&file, offset, len, content, spool),
            None => Ok(None),
        }
    }

    /// Stores the compressed form of a streamed `content`, whose bytes are `data` of `spool`,
    /// as an entry file of its own, copied in chunks. Returns the CRC-32 of the compressed
    /// bytes (computed even when the cache cannot be written, which only costs a later
    /// recompression); errors are the spool's.
    fn put_streamed(
        &self,
        content: &ContentHash,
        compressed: &Compressed,
        spool: &Spool,
        data: &Spooled,
    ) -> io::Result<u32> {
        let path = self.entry_path(content);
        let header = entry_header(content, compressed, data.len());
        let parent = path.parent().unwrap_or(&self.root);
        let temp = parent.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let create = || File::create_new(&temp);
        let file = match create() {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(parent).and_then(|()| create())
            }
            other => other,
        };
        let mut copy = StoringCopy {
            file: file
                .ok()
                .map(|file| io::BufWriter::with_capacity(1 << 20, file)),
            checksum: crc32fast::Hasher::new(),
            data_crc: crc32fast::Hasher::new(),
        };
        if let Some(file) = &mut copy.file
            && file.write_all(&header).is_err()
        {
            copy.file = None;
        }
        copy.checksum.update(&header);
        let copied = spool
            .copy_to(data, &mut copy)
            .map_err(archive::spool_failed);
        let StoringCopy {
            file,
            checksum,
            data_crc,
        } = copy;
        let stored = copied.is_ok()
            && file.is_some_and(|mut file| {
                file.write_all(&checksum.finalize().to_le_bytes()).is_ok()
                    && file.flush().is_ok()
                    && fs::rename(&temp, &path).is_ok()
            });
        if stored {
            let size = header.len() as u64 + data.len() + ENTRY_TRAILER as u64;
            self.stored_bytes.fetch_add(size, Ordering::Relaxed);
        } else {
            let _ = fs::remove_file(&temp);
        }
        copied.map(|()| data_crc.finalize())
    }

    /// Appends one entry to the pack this build writes (starting it if needed).
    fn add_to_pack(&self, content: &ContentHash, parts: &[&[u8]]) -> io::Result<()> {
        let mut pack = self
            .pack
            .lock()
            .map_err(|_| io::Error::other("pack lock poisoned"))?;
        if pack.is_none() {
            let dir = self.root.join(PACKS_DIR);
            fs::create_dir_all(&dir)?;
            let temp = dir.join(format!(
                ".tmp-{}-{}",
                std::process::id(),
                self.temp_counter.fetch_add(1, Ordering::Relaxed)
            ));
            let file = File::create_new(&temp)?;
            *pack = Some(PackWriter {
                temp,
                file,
                len: 0,
                index: HashMap::new(),
            });
        }
        let Some(pack) = pack.as_mut() else {
            return Ok(());
        };
        let record: Vec<u8> = parts.concat();
        (&pack.file).write_all(&record)?;
        pack.index.insert(*content, (pack.len, record.len() as u64));
        pack.len += record.len() as u64;
        Ok(())
    }

    /// Puts the pack this build wrote in place: the pack first, then its index, which makes it
    /// visible to other builds.
    fn finish_pack(&self) {
        let Some(pack) = self.pack.lock().ok().and_then(|mut pack| pack.take()) else {
            return;
        };
        let dir = self.root.join(PACKS_DIR);
        let name = format!("{}-{}", now_ns(), std::process::id());
        let pack_path = dir.join(format!("{name}.pack"));
        if fs::rename(&pack.temp, &pack_path).is_err() {
            let _ = fs::remove_file(&pack.temp);
            return;
        }
        let mut index = Vec::with_capacity(8 + pack.index.len() * PACK_INDEX_RECORD + 4);
        index.extend_from_slice(PACK_INDEX_MAGIC);
        let mut records: Vec<_> = pack.index.iter().collect();
        records.sort();
        for (content, (offset, len)) in records {
            index.extend_from_slice(content);
            index.extend_from_slice(&offset.to_le_bytes());
            index.extend_from_slice(&len.to_le_bytes());
        }
        let checksum = crc32fast::hash(&index);
        index.extend_from_slice(&checksum.to_le_bytes());
        if self
            .write_atomically(&dir.join(format!("{name}.idx")), &[&index])
            .is_err()
        {
            let _ = fs::remove_file(&pack_path);
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
        let name = hex(&sha256(
            self.working_dir
                .absolute(output)
                .as_os_str()
                .as_encoded_bytes(),
        ));
        self.root
            .join("layers")
            .join(format!("{}.record", &name[..32]))
    }

    /// Starts the cache's part of one layer's build: takes the stat signature of every file of
    /// `inventory` (as gathered, before any stage rewrites it) and loads what the last build of
    /// `output` saw. `walked` has the signature the walk took of each entry of `inventory`, by
    /// index (see [`crate::gather::Gathered`]); an entry without one is stat'ed now. `key`
    /// describes everything besides the files that decides the outcome (configuration,
    /// timestamp, the layerpack binary); `None` never reports `unchanged`.
    pub(crate) fn layer(
        &self,
        key: Option<String>,
        output: &Path,
        inventory: &Inventory,
        walked: &[Option<Signature>],
    ) -> LayerSession<'_> {
        let entries = inventory.entries();
        // A table of another list of entries is not used at all.
        let walked = if walked.len() == entries.len() {
            walked
        } else {
            &[]
        };
        let span = crate::timing::span("stat every input");
        let recorded: Vec<RecordedEntry> = entries
            .par_iter()
            .enumerate()
            .map(|(index, entry)| {
                let walked = walked.get(index).copied().flatten();
                RecordedEntry::of(inventory, entry, walked, &self.working_dir)
            })
            .collect();
        drop(span);
        let span = crate::timing::span("read the layer record");
        let state_path = self.state_path(output);
        let previous = fs::read(&state_path)
            .ok()
            .and_then(|bytes| record::decode(&bytes));
        drop(span);
        let known: HashMap<PathBuf, ContentHash> = recorded
            .iter()
            .filter_map(|entry| {
                let hash = self.stat_index.known(entry.signature.as_ref()?)?;
                Some((entry.disk.clone()?, hash))
            })
            .collect();
        let previous_zip = {
            let _span = crate::timing::span("open the previous zip");
            previous
                .as_ref()
                .and_then(|previous| PreviousZip::open(output, previous))
        };
        LayerSession {
            cache: self,
            key,
            state_path,
            previous,
            recorded,
            known,
            learned: Mutex::new(HashMap::new()),
            packed: Mutex::new(HashMap::new()),
            up_front: std::sync::atomic::AtomicBool::new(false),
            previous_zip,
            from_cache: AtomicUsize::new(0),
            from_previous_zip: AtomicUsize::new(0),
            compressed: AtomicUsize::new(0),
            hashed: AtomicUsize::new(0),
        }
    }

    /// Ends a build: counts what it stored and, once enough was written since the last sweep,
    /// evicts the least recently used files until the folder fits its limit.
    pub(crate) fn finish(&self) {
        self.finish_pack();
        self.save_stat_index();
        inspections::save(self);
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

    /// Saves what this build's layers learned into the stat index, merged with the index as it
    /// is on disk now (another build may have saved since this one started).
    fn save_stat_index(&self) {
        let mut updates = lock(&self.stat_updates).clone();
        // A file the index already knows, with the same signature and content, trusted and
        // confirmed less than a day ago, teaches it nothing: an unchanged layer's build leaves
        // the index as it is instead of writing it again.
        updates.files.retain(|key, update| {
            !self.stat_index.files.get(key).is_some_and(|known| {
                known.signature == update.signature
                    && known.sha256 == update.sha256
                    && known.signature.trusted(known.recorded_at)
                    && known.recorded_at.saturating_add(STAT_INDEX_REFRESH_NS) > update.recorded_at
            })
        });
        if updates.files.is_empty() {
            return;
        }
        let path = self.root.join(STAT_INDEX_FILE);
        let mut index = StatIndex::load(&path);
        index.merge(&updates);
        index.prune(now_ns());
        let _ = self.write_atomically(&path, &[&index.encode()]);
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
                if item.path().extension().is_some_and(|ext| ext == "idx") {
                    // A pack's index goes with its pack (below).
                    continue;
                }
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
        files.extend(inspections::as_swept(&self.root));
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        if total > self.max_size {
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
        // Indexes whose pack is gone (evicted above, or by hand).
        if let Ok(children) = fs::read_dir(self.root.join(PACKS_DIR)) {
            for child in children.flatten() {
                let path = child.path();
                if path.extension().is_some_and(|ext| ext == "idx")
                    && !path.with_extension("pack").exists()
                {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
}

/// The header of an entry (file or pack record) of `content` with `data_len` bytes of data.
fn entry_header(content: &ContentHash, compressed: &Compressed, data_len: u64) -> Vec<u8> {
    let mut header = Vec::with_capacity(ENTRY_HEADER);
    header.extend_from_slice(ENTRY_MAGIC);
    header.extend_from_slice(content);
    header.extend_from_slice(&(compressed.method as u16).to_le_bytes());
    header.extend_from_slice(&compressed.crc.to_le_bytes());
    header.extend_from_slice(&compressed.uncompressed.to_le_bytes());
    header.extend_from_slice(&data_len.to_le_bytes());
    header
}

/// What an entry's header says: method, CRC-32, uncompressed size, data length.
type EntryHeader = (Method, u32, u64, u64);

/// What an entry's header says, if it is the header of an entry of `content` that is `len`
/// bytes long in all.
fn parse_entry_header(
    header: &[u8; ENTRY_HEADER],
    len: u64,
    content: &ContentHash,
) -> Option<EntryHeader> {
    let number = |range: std::ops::Range<usize>| {
        let mut bytes = [0u8; 8];
        bytes[..range.len()].copy_from_slice(&header[range]);
        u64::from_le_bytes(bytes)
    };
    let data_len = number(54..62);
    if &header[0..8] != ENTRY_MAGIC
        || &header[8..40] != content
        || Some(len) != data_len.checked_add((ENTRY_HEADER + ENTRY_TRAILER) as u64)
    {
        return None;
    }
    let method = Method::from_u16(number(40..42) as u16)?;
    let uncompressed = number(46..54);
    // A stored entry holds the content itself.
    if method == Method::Stored && data_len != uncompressed {
        return None;
    }
    Some((method, number(42..46) as u32, uncompressed, data_len))
}

/// Reads the header of the entry of `len` bytes at `offset` of `file` (an entry file, or a pack)
/// and what it says ([`parse_entry_header`]); `None` when it cannot be read or is not the header
/// of such an entry of `content`.
fn read_entry_header_at(
    file: &File,
    offset: u64,
    len: u64,
    content: &ContentHash,
) -> Option<([u8; ENTRY_HEADER], EntryHeader)> {
    use std::os::unix::fs::FileExt;
    if len < (ENTRY_HEADER + ENTRY_TRAILER) as u64 {
        return None;
    }
    let mut header = [0u8; ENTRY_HEADER];
    file.read_exact_at(&mut header, offset).ok()?;
    let parsed = parse_entry_header(&header, len, content)?;
    Some((header, parsed))
}

/// A streamed content's compressed form, copied into the spool: its [`Compressed`] (without
/// data), its bytes, and the CRC-32 of those bytes.
type Reused = (Compressed, Spooled, u32);

/// Copies the entry of `len` bytes at `offset` of `file` (an entry file, or a pack) into a file
/// of `spool`, in chunks, checking it as [`read_entry_at`] does: `Ok(None)` when it is damaged
/// or cut short. Errors are the spool's.
fn copy_entry_at(
    file: &File,
    offset: u64,
    len: u64,
    content: &ContentHash,
    spool: &Spool,
) -> io::Result<Option<Reused>> {
    use std::os::unix::fs::FileExt;
    let Some((header, (method, crc, uncompressed, data_len))) =
        read_entry_header_at(file, offset, len, content)
    else {
        return Ok(None);
    };
    let mut checksum = crc32fast::Hasher::new();
    checksum.update(&header);
    let mut data_crc = crc32fast::Hasher::new();
    let data_at = offset + ENTRY_HEADER as u64;
    let Some(data) = archive::spool_copy(file, data_at, data_len, spool, |chunk| {
        checksum.update(chunk);
        data_crc.update(chunk);
    })?
    else {
        return Ok(None);
    };
    let mut trailer = [0u8; ENTRY_TRAILER];
    if file
        .read_exact_at(&mut trailer, data_at + data_len)
        .is_err()
        || checksum.finalize() != u32::from_le_bytes(trailer)
    {
        return Ok(None);
    }
    let compressed = Compressed {
        method,
        crc,
        uncompressed,
        data: Vec::new(),
    };
    Ok(Some((compressed, data, data_crc.finalize())))
}

/// Borrows the entry of `len` bytes at `offset` of `file` (an entry file, or a pack): its
/// header and trailer are checked now, its data as the zip is written (with the header, it must
/// give the trailer's checksum). `None` when the header or trailer is wrong.
fn borrow_entry_at(
    file: &std::sync::Arc<File>,
    offset: u64,
    len: u64,
    content: &ContentHash,
) -> Option<ReusedSoFar> {
    use std::os::unix::fs::FileExt;
    let (header, (method, crc, uncompressed, data_len)) =
        read_entry_header_at(file, offset, len, content)?;
    let data_at = offset + ENTRY_HEADER as u64;
    let mut trailer = [0u8; ENTRY_TRAILER];
    file.read_exact_at(&mut trailer, data_at.checked_add(data_len)?)
        .ok()?;
    let mut before = crc32fast::Hasher::new();
    before.update(&header);
    let compressed = Compressed {
        method,
        crc,
        uncompressed,
        data: Vec::new(),
    };
    let borrowed = Borrowed {
        source: file.clone(),
        offset: data_at,
        len: data_len,
        data_crc: None,
        check: Some((before, u32::from_le_bytes(trailer))),
        content: *content,
    };
    Some((compressed, Spooled::Borrowed(borrowed), None))
}

/// Copies a streamed entry's compressed bytes into a new cache entry file while computing the
/// entry's checksum and the bytes' CRC-32; a failed write of the cache file stops only the
/// storing, never the checksums.
struct StoringCopy {
    file: Option<io::BufWriter<File>>,
    checksum: crc32fast::Hasher,
    data_crc: crc32fast::Hasher,
}

impl Write for StoringCopy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.checksum.update(buf);
        self.data_crc.update(buf);
        if let Some(file) = &mut self.file
            && file.write_all(buf).is_err()
        {
            self.file = None;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads and checks one entry file: `Ok(None)` when it is damaged (wrong length, magic,
/// content hash, method or checksum).
fn read_entry(file: &File, content: &ContentHash) -> io::Result<Option<Compressed>> {
    let len = file.metadata()?.len();
    read_entry_at(file, 0, len, content)
}

/// Reads and checks the entry of `len` bytes at `offset` of `file` (an entry file, or a pack):
/// `Ok(None)` when it is damaged or cut short.
fn read_entry_at(
    file: &File,
    offset: u64,
    len: u64,
    content: &ContentHash,
) -> io::Result<Option<Compressed>> {
    use std::os::unix::fs::FileExt;
    let Some((header, (method, crc, uncompressed, data_len))) =
        read_entry_header_at(file, offset, len, content)
    else {
        return Ok(None);
    };
    let mut data = vec![0u8; data_len as usize];
    let mut trailer = [0u8; ENTRY_TRAILER];
    let data_at = offset + ENTRY_HEADER as u64;
    if file.read_exact_at(&mut data, data_at).is_err()
        || file
            .read_exact_at(&mut trailer, data_at + data_len)
            .is_err()
    {
        return Ok(None);
    }
    let mut checksum = crc32fast::Hasher::new();
    checksum.update(&header);
    checksum.update(&data);
    if checksum.finalize() != u32::from_le_bytes(trailer) {
        return Ok(None);
    }
    Ok(Some(Compressed {
        method,
        crc,
        uncompressed,
        data,
    }))
}

/// A build that stores more than this many entries puts the rest into one pack file rather
/// than a file each: creating thousands of small files costs a cold build more than its
/// compression on some file systems (ext4 scans for recently freed inodes).
const PACK_AFTER: usize = 32;
/// Packs and their indexes live in `entries/packs/`: `NAME.pack` holds entries in the entry
/// file format one after another, `NAME.idx` says where each is (content hash, offset,
/// length), with a magic and a CRC-32. A pack is evicted as a whole; a damaged entry of a pack
/// is ignored (and stored again as a file of its own when it is next compressed).
const PACKS_DIR: &str = "entries/packs";
const PACK_INDEX_MAGIC: &[u8; 8] = b"LPPACK01";
const PACK_INDEX_RECORD: usize = 32 + 8 + 8;

/// The pack a build is writing.
struct PackWriter {
    temp: PathBuf,
    file: File,
    len: u64,
    index: HashMap<ContentHash, (u64, u64)>,
}

/// The packs of earlier builds: where each content is, and the packs opened so far.
#[derive(Default)]
struct Packs {
    paths: Vec<PathBuf>,
    index: HashMap<ContentHash, (usize, u64, u64)>,
    opened: Mutex<HashMap<usize, std::sync::Arc<File>>>,
}

impl Packs {
    /// Reads every intact index of `dir`; a damaged index (or a pack without one) is skipped.
    fn load(dir: &Path) -> Packs {
        let mut packs = Packs::default();
        let Ok(children) = fs::read_dir(dir) else {
            return packs;
        };
        let mut indexes: Vec<PathBuf> = children
            .flatten()
            .map(|child| child.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
            .collect();
        indexes.sort();
        for index_path in indexes {
            let Ok(bytes) = fs::read(&index_path) else {
                continue;
            };
            let Some(body_len) = bytes.len().checked_sub(4) else {
                continue;
            };
            let (body, trailer) = bytes.split_at(body_len);
            if crc32fast::hash(body).to_le_bytes() != trailer
                || !body.starts_with(PACK_INDEX_MAGIC)
                || (body.len() - 8) % PACK_INDEX_RECORD != 0
            {
                continue;
            }
            let pack = packs.paths.len();
            packs.paths.push(index_path.with_extension("pack"));
            for record in body[8..].chunks_exact(PACK_INDEX_RECORD) {
                let mut content = [0u8; 32];
                content.copy_from_slice(&record[..32]);
                let mut number = [0u8; 8];
                number.copy_from_slice(&record[32..40]);
                let offset = u64::from_le_bytes(number);
                number.copy_from_slice(&record[40..48]);
                let len = u64::from_le_bytes(number);
                packs.index.insert(content, (pack, offset, len));
            }
        }
        packs
    }

    fn get(&self, content: &ContentHash) -> Option<Compressed> {
        let (file, offset, len) = self.locate(content)?;
        read_entry_at(&file, offset, len, content).ok().flatten()
    }

    /// The opened pack that holds `content`, and where in it.
    fn locate(&self, content: &ContentHash) -> Option<(std::sync::Arc<File>, u64, u64)> {
        let &(pack, offset, len) = self.index.get(content)?;
        let file = {
            let mut opened = self.opened.lock().ok()?;
            match opened.get(&pack) {
                Some(file) => file.clone(),
                None => {
                    let file = std::sync::Arc::new(File::open(self.paths.get(pack)?).ok()?);
                    touch_if_old(&file);
                    opened.insert(pack, file.clone());
                    file
                }
            }
        };
        Some((file, offset, len))
    }
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    sha256: Option<ContentHash>,
    /// How the content was packed in the zip, so that the next build can copy it from there.
    packed: Option<Packed>,
}

impl RecordedEntry {
    /// The entry as this build sees it. Its signature is `walked`, the one the walk took, when
    /// that describes the entry's size and modification time; else (an entry the walk did not
    /// stat, or a table that does not belong to it) the file is stat'ed now.
    fn of(
        inventory: &Inventory,
        entry: &Entry,
        walked: Option<Signature>,
        working_dir: &crate::files::WorkingDir,
    ) -> RecordedEntry {
        let disk = disk_key(inventory, entry, working_dir);
        let signature = match (&entry.kind, &disk) {
            (EntryKind::File, Some(disk)) => walked
                .filter(|signature| {
                    signature.size == entry.size && Some(signature.mtime) == entry.mtime
                })
                .or_else(|| Signature::of_path(disk)),
            _ => None,
        };
        RecordedEntry {
            path: entry.path.as_str().to_owned(),
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
            packed: None,
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
#[derive(Clone, Debug)]
struct RecordedFile {
    signature: Signature,
    sha256: ContentHash,
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

/// Everything the last build of one output zip saw (`layers/<hash of the output path>.record`,
/// in the format of [`record`]).
#[derive(Clone, Debug)]
struct LayerState {
    key: String,
    /// When that build started looking at files (ns since the Unix epoch).
    recorded_at: i64,
    /// [`archive::COMPRESSION_PROFILE`] of the build: the zip's data is reused only under it.
    profile: String,
    entries: Vec<RecordedEntry>,
    zip: RecordedFile,
    manifest_sha256: ContentHash,
    outcome: RecordedOutcome,
}

/// How a content was packed in a zip: what its central record says, and a CRC-32 of its
/// compressed bytes, which a copy from that zip must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Packed {
    method: u16,
    crc: u32,
    size: u64,
    data_len: u64,
    data_crc: u32,
}

/// The zip the last build of an output wrote, opened before the new one replaces it, with the
/// place of every content it recorded. Its bytes are not trusted: each copied entry must have
/// the local header, central record and CRC-32 of its compressed bytes that were recorded, or
/// it is compressed (or taken from the content cache) as if the zip were not there. So a zip
/// edited since, truncated, or replaced by another file is never a source of wrong bytes.
struct PreviousZip {
    file: std::sync::Arc<File>,
    /// Where each recorded content is: its central record and how it was packed.
    by_content: HashMap<ContentHash, (crate::extract::RawRecord, Packed)>,
}

impl PreviousZip {
    fn open(output: &Path, previous: &LayerState) -> Option<PreviousZip> {
        if previous.profile != archive::COMPRESSION_PROFILE {
            return None;
        }
        let file = crate::files::open_regular(output).ok()?;
        let mut records: HashMap<Vec<u8>, crate::extract::RawRecord> =
            crate::extract::central_directory(&file)
                .ok()?
                .into_iter()
                .map(|record| (record.name.clone(), record))
                .collect();
        let by_content = previous
            .entries
            .iter()
            .filter_map(|entry| {
                let hash = entry.sha256?;
                let packed = entry.packed?;
                let record = records.remove(entry.path.as_bytes())?;
                Some((hash, (record, packed)))
            })
            .collect();
        Some(PreviousZip {
            file: std::sync::Arc::new(file),
            by_content,
        })
    }

    /// The central record of `content` in the previous zip and how it was packed, if the
    /// record says what was recorded.
    fn recorded(
        &self,
        content: &ContentHash,
    ) -> Option<(&crate::extract::RawRecord, Method, &Packed)> {
        let (record, packed) = self.by_content.get(content)?;
        let method = Method::from_u16(packed.method)?;
        if record.method != packed.method
            || record.crc32 != packed.crc
            || record.compressed != packed.data_len
            || record.uncompressed != packed.size
            || record.flags & 1 != 0
            || (method == Method::Stored && packed.data_len != packed.size)
        {
            return None;
        }
        Some((record, method, packed))
    }

    /// Where the compressed bytes of `content` start in the previous zip and how they were
    /// packed, if its central record and local header are as recorded.
    fn locate(&self, content: &ContentHash) -> Option<(u64, Method, &Packed)> {
        use std::os::unix::fs::FileExt;
        let (record, method, packed) = self.recorded(content)?;
        let mut header = vec![0u8; 30 + record.name.len()];
        self.file
            .read_exact_at(&mut header, record.local_offset)
            .ok()?;
        let field16 = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
        let field32 = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        if field32(0) != LOCAL_HEADER_SIGNATURE
            || field16(8) != packed.method
            || field32(14) != packed.crc
            || usize::from(field16(26)) != record.name.len()
            || header[30..] != record.name[..]
        {
            return None;
        }
        let data_start = record
            .local_offset
            .checked_add(30 + record.name.len() as u64 + u64::from(field16(28)))?;
        Some((data_start, method, packed))
    }

    /// The compressed form of `content` as the previous zip holds it, if every check passes.
    fn get(&self, content: &ContentHash) -> Option<Compressed> {
        use std::os::unix::fs::FileExt;
        let (data_start, method, packed) = self.locate(content)?;
        let mut data = vec![0u8; usize::try_from(packed.data_len).ok()?];
        self.file.read_exact_at(&mut data, data_start).ok()?;
        if crc32fast::hash(&data) != packed.data_crc {
            return None;
        }
        Some(Compressed {
            method,
            crc: packed.crc,
            uncompressed: packed.size,
            data,
        })
    }

    /// The compressed form of `content` as the previous zip holds it, borrowed: its bytes are
    /// read and must have the recorded CRC-32 when the zip is written.
    ///
    /// The local header is not read here (one small read per entry, thousands per build): its
    /// data starts where layerpack's writer puts it, after 30 bytes, the name, and a Zip64
    /// field only when a size needs one. Should the header say otherwise (a zip edited since),
    /// the bytes read from there fail their recorded CRC-32 as the zip is written, and the
    /// build prepares again with every reused entry checked up front, through
    /// [`PreviousZip::locate`], which reads the header.
    fn borrow(&self, content: &ContentHash) -> Option<ReusedSoFar> {
        let (record, method, packed) = self.recorded(content)?;
        let zip64 = packed.size >= 0xFFFF_FFFF || packed.data_len >= 0xFFFF_FFFF;
        let header_len = 30 + record.name.len() as u64 + if zip64 { 20 } else { 0 };
        let data_start = record.local_offset.checked_add(header_len)?;
        let compressed = Compressed {
            method,
            crc: packed.crc,
            uncompressed: packed.size,
            data: Vec::new(),
        };
        let borrowed = Borrowed {
            source: self.file.clone(),
            offset: data_start,
            len: packed.data_len,
            data_crc: Some(packed.data_crc),
            check: None,
            content: *content,
        };
        Some((
            compressed,
            Spooled::Borrowed(borrowed),
            Some(packed.data_crc),
        ))
    }

    /// [`PreviousZip::get`] for a streamed content: its bytes are copied in chunks into a file
    /// of `spool`, never whole in memory, and must have the recorded CRC-32. Errors are the
    /// spool's.
    fn get_streamed(&self, content: &ContentHash, spool: &Spool) -> io::Result<Option<Reused>> {
        let Some((data_start, method, packed)) = self.locate(content) else {
            return Ok(None);
        };
        let mut data_crc = crc32fast::Hasher::new();
        let copied =
            archive::spool_copy(&self.file, data_start, packed.data_len, spool, |chunk| {
                data_crc.update(chunk);
            })?;
        Ok(copied
            .filter(|_| data_crc.finalize() == packed.data_crc)
            .map(|data| {
                let compressed = Compressed {
                    method,
                    crc: packed.crc,
                    uncompressed: packed.size,
                    data: Vec::new(),
                };
                (compressed, data, packed.data_crc)
            }))
    }
}

/// The signature of a zip's local file header.
const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;

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
    /// How this build packed each content it supplied, recorded for the next build's reuse,
    /// and whether the CRC-32 of its compressed bytes is known yet (see
    /// [`LayerSession::packed_as`]).
    packed: Mutex<HashMap<ContentHash, (Packed, bool)>>,
    /// Reused entries are copied and checked as they are prepared, not borrowed.
    up_front: std::sync::atomic::AtomicBool,
    /// The zip the last build of this output wrote, while it is still in place.
    previous_zip: Option<PreviousZip>,
    from_cache: AtomicUsize,
    from_previous_zip: AtomicUsize,
    compressed: AtomicUsize,
    hashed: AtomicUsize,
}

impl LayerSession<'_> {
    /// What this build took from the cache so far.
    pub(crate) fn report(&self) -> CacheReport {
        CacheReport {
            from_cache: self.from_cache.load(Ordering::Relaxed),
            from_previous_zip: self.from_previous_zip.load(Ordering::Relaxed),
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
        if sha256(&manifest_bytes) != previous.manifest_sha256 {
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
            .map(|(old, new)| Some((new.disk.as_deref()?, old.sha256?)))
            .collect::<Option<_>>()?;
        let same = to_hash
            .par_iter()
            .all(|(disk, recorded)| hash_file(disk).is_ok_and(|hash| hash == *recorded));
        self.hashed.fetch_add(to_hash.len(), Ordering::Relaxed);
        if !same {
            return None;
        }
        for (disk, hash) in &to_hash {
            self.learn(disk.to_path_buf(), *hash);
        }
        if !zip_trusted && hash_file(output).ok() != Some(previous.zip.sha256) {
            return None;
        }
        let outcome = previous.outcome.clone();
        if !to_hash.is_empty() || !zip_trusted {
            // Re-verified by content: remember the new signatures, so the next build trusts them.
            let zip = RecordedFile {
                signature: zip_signature,
                sha256: previous.zip.sha256,
            };
            let mut refreshed = previous.draft();
            refreshed.recorded_at = self.cache.started_ns;
            refreshed.zip = &zip;
            for (entry, new) in refreshed.entries.iter_mut().zip(&self.recorded) {
                entry.signature = new.signature;
            }
            self.save(&refreshed);
        } else if let Ok(file) = File::open(&self.state_path) {
            touch_if_old(&file);
        }
        Some(outcome)
    }

    /// Records a written zip, so the next build can trust its files and tell it is unchanged.
    /// `checked` has the CRC-32 of the compressed bytes of each content whose bytes were
    /// borrowed, as the zip was written.
    pub(crate) fn record(
        &self,
        output: &Path,
        manifest_bytes: &[u8],
        outcome: RecordedOutcome,
        checked: &HashMap<ContentHash, u32>,
    ) {
        let Some(key) = &self.key else {
            let _ = fs::remove_file(&self.state_path);
            return;
        };
        let Some(zip_signature) = Signature::of_path(output) else {
            return;
        };
        let Some(zip_sha256) = unhex(&outcome.sha256) else {
            let _ = fs::remove_file(&self.state_path);
            return;
        };
        let learned = lock(&self.learned);
        let packed = lock(&self.packed);
        // In parallel: each entry's content is looked up by its path on disk.
        let entries = self
            .recorded
            .par_iter()
            .map(|entry| {
                let hash = entry
                    .disk
                    .as_ref()
                    .filter(|_| entry.signature.is_some())
                    .and_then(|disk| learned.get(disk).or_else(|| self.known.get(disk)));
                let packed = hash.and_then(|hash| {
                    let &(packed, crc_known) = packed.get(hash)?;
                    match crc_known {
                        true => Some(packed),
                        false => checked
                            .get(hash)
                            .map(|&data_crc| Packed { data_crc, ..packed }),
                    }
                });
                record::DraftEntry {
                    shape: entry,
                    signature: entry.signature,
                    sha256: hash.copied(),
                    packed,
                }
            })
            .collect();
        let zip = RecordedFile {
            signature: zip_signature,
            sha256: zip_sha256,
        };
        let manifest_sha256 = sha256(manifest_bytes);
        let draft = record::Draft {
            key,
            recorded_at: self.cache.started_ns,
            profile: archive::COMPRESSION_PROFILE,
            zip: &zip,
            manifest_sha256: &manifest_sha256,
            outcome: &outcome,
            entries,
        };
        self.save(&draft);
    }

    /// Writes the record of this output; removes it if it cannot be written, so that no older
    /// record stays in its place.
    fn save(&self, draft: &record::Draft<'_>) {
        let saved = record::encode(draft).is_some_and(|bytes| {
            self.cache
                .write_atomically(&self.state_path, &[&bytes])
                .is_ok()
        });
        if !saved {
            let _ = fs::remove_file(&self.state_path);
        }
    }
}

/// Locks a mutex, going on with its data if a thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl LayerSession<'_> {
    /// The compressed form of a known content without compressing it: from the previous zip of
    /// this output, else from the content cache. Borrowed (read and checked only as the zip is
    /// written, see [`Spooled::Borrowed`]) unless reused entries are checked up front (after a
    /// damaged one was found); then copied and checked now, a streamed one in chunks. When the
    /// content's CRC-32 is known (it was just read), the reused form must say the same. Errors
    /// are the spool's.
    fn reuse(
        &self,
        hash: &ContentHash,
        crc: Option<u32>,
        streamed: bool,
        spool: &Spool,
    ) -> io::Result<Option<(Compressed, Spooled)>> {
        let up_front = self.up_front.load(Ordering::Relaxed);
        let agrees = |hit: &ReusedSoFar| crc.is_none_or(|crc| crc == hit.0.crc);
        if let Some(zip) = &self.previous_zip {
            let hit = if !up_front {
                zip.borrow(hash)
            } else if streamed {
                zip.get_streamed(hash, spool)?
                    .map(|(compressed, data, crc)| (compressed, data, Some(crc)))
            } else {
                zip.get(hash)
                    .map(|hit| keep_whole(spool, hit))
                    .transpose()?
            };
            if let Some(hit) = hit.filter(agrees) {
                self.from_previous_zip.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(self.reused(hash, hit)));
            }
        }
        let hit = self
            .cache
            .reuse(hash, streamed, up_front, spool)?
            .filter(agrees);
        Ok(hit.map(|hit| self.reused(hash, hit)))
    }

    fn reused(&self, hash: &ContentHash, hit: ReusedSoFar) -> (Compressed, Spooled) {
        let (compressed, data, data_crc) = hit;
        self.from_cache.fetch_add(1, Ordering::Relaxed);
        self.packed_as(hash, &compressed, data.len(), data_crc);
        (compressed, data)
    }

    /// From now on, reused entries are copied and checked when they are prepared, not when the
    /// zip is written: for preparing again after a write found damaged bytes. The counts start
    /// again.
    pub(crate) fn check_reused_up_front(&self) {
        self.up_front.store(true, Ordering::Relaxed);
        for count in [
            &self.from_cache,
            &self.from_previous_zip,
            &self.compressed,
            &self.hashed,
        ] {
            count.store(0, Ordering::Relaxed);
        }
    }

    /// Remembers how a content was packed (its compressed bytes' length and CRC-32, unless it
    /// is known only once the zip is written), for the record of this build.
    fn packed_as(
        &self,
        hash: &ContentHash,
        compressed: &Compressed,
        data_len: u64,
        data_crc: Option<u32>,
    ) {
        let packed = Packed {
            method: compressed.method as u16,
            crc: compressed.crc,
            size: compressed.uncompressed,
            data_len,
            data_crc: data_crc.unwrap_or(0),
        };
        if let Ok(mut all) = self.packed.lock() {
            all.insert(*hash, (packed, data_crc.is_some()));
        }
    }

    fn learn(&self, disk: PathBuf, hash: ContentHash) {
        if let Ok(mut learned) = self.learned.lock() {
            learned.insert(disk, hash);
        }
    }
}

/// A reused compressed form (without data), its bytes, and their CRC-32 when already known.
type ReusedSoFar = (Compressed, Spooled, Option<u32>);

/// The path the cache keys a disk file of the layer by (in `known`, `learned` and the layer
/// record): absolute, made from the build's working folder. `None` for content not on disk.
fn disk_key(
    inventory: &Inventory,
    entry: &Entry,
    working_dir: &crate::files::WorkingDir,
) -> Option<PathBuf> {
    inventory
        .disk_path(entry)
        .map(|path| working_dir.absolute(path))
}

/// Keeps a compressed form read whole in the spool, with its bytes' CRC-32.
fn keep_whole(spool: &Spool, compressed: Compressed) -> io::Result<ReusedSoFar> {
    let data_crc = crc32fast::hash(&compressed.data);
    let (compressed, data) = archive::keep(spool, compressed)?;
    Ok((compressed, data, Some(data_crc)))
}

impl FileCompressor for LayerSession<'_> {
    fn compressed_file(
        &self,
        inventory: &Inventory,
        entry: &Entry,
        spool: &Spool,
    ) -> io::Result<(Compressed, Spooled)> {
        let disk = disk_key(inventory, entry, &self.cache.working_dir);
        let known = disk.as_ref().and_then(|disk| self.known.get(disk));
        if known == Some(&*EMPTY_CONTENT) {
            return archive::keep(spool, archive::compress(Vec::new()));
        }
        if let Some(hash) = known
            && let Some(hit) = self.reuse(hash, None, false, spool)?
        {
            return Ok(hit);
        }
        // Hashed from the very bytes compressed, so that the cache's key always describes them.
        let raw = archive::read_unchanged(inventory, entry)?;
        let hash = sha256(&raw);
        if let Some(disk) = disk {
            self.hashed.fetch_add(1, Ordering::Relaxed);
            self.learn(disk, hash);
        }
        if raw.is_empty() {
            return archive::keep(spool, archive::compress(raw));
        }
        if let Some(hit) = self.reuse(&hash, None, false, spool)? {
            return Ok(hit);
        }
        let compressed = archive::compress(raw);
        self.cache.put(&hash, &compressed);
        let data_crc = crc32fast::hash(&compressed.data);
        self.packed_as(
            &hash,
            &compressed,
            compressed.data.len() as u64,
            Some(data_crc),
        );
        self.compressed.fetch_add(1, Ordering::Relaxed);
        archive::keep(spool, compressed)
    }

    fn streamed_file(
        &self,
        inventory: &Inventory,
        entry: &Entry,
        spool: &Spool,
    ) -> io::Result<(Compressed, Spooled)> {
        let disk = disk_key(inventory, entry, &self.cache.working_dir);
        let known = disk.as_ref().and_then(|disk| self.known.get(disk));
        if let Some(hash) = known
            && let Some(hit) = self.reuse(hash, None, true, spool)?
        {
            return Ok(hit);
        }
        // One pass to hash (cheap next to deflating): a content the cache holds is then
        // copied, not compressed again.
        let (hash, crc) = archive::hash_streamed(inventory, entry)?;
        if let Some(disk) = disk {
            self.hashed.fetch_add(1, Ordering::Relaxed);
            self.learn(disk, hash);
        }
        if let Some(hit) = self.reuse(&hash, Some(crc), true, spool)? {
            return Ok(hit);
        }
        // Hashed again from the very bytes compressed: the key must describe them.
        let mut hasher = Sha256::new();
        let (compressed, data) =
            archive::compress_streaming(inventory, entry, spool, Some(&mut hasher))?;
        if <[u8; 32]>::from(hasher.finalize()) != hash {
            return Err(io::Error::other("it changed while building; run again"));
        }
        // A stored entry is its content: copying it from the cache would cost what reading
        // the source costs, and keeping it would double the disk a large file of media or
        // random bytes takes. Only deflated ones are kept (the previous zip still serves both).
        let data_crc = match compressed.method {
            Method::Deflated => self.cache.put_streamed(&hash, &compressed, spool, &data)?,
            Method::Stored => crc,
        };
        self.packed_as(&hash, &compressed, data.len(), Some(data_crc));
        self.compressed.fetch_add(1, Ordering::Relaxed);
        Ok((compressed, data))
    }
}

impl Drop for LayerSession<'_> {
    /// Hands what this layer learned or confirmed to the stat index, dated by this build.
    fn drop(&mut self) {
        let learned = match self.learned.lock() {
            Ok(mut learned) => std::mem::take(&mut *learned),
            Err(_) => return,
        };
        let mut updates = StatIndex::default();
        for entry in &self.recorded {
            let (Some(disk), Some(signature)) = (&entry.disk, entry.signature) else {
                continue;
            };
            let Some(hash) = learned.get(disk).or_else(|| self.known.get(disk)) else {
                continue;
            };
            updates.files.insert(
                (signature.device, signature.inode),
                IndexedFile {
                    signature,
                    sha256: *hash,
                    recorded_at: self.cache.started_ns,
                },
            );
        }
        if let Ok(mut all) = self.cache.stat_updates.lock() {
            all.merge(&updates);
        }
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
        let cache = Cache::open(
            dir.path().to_path_buf(),
            DEFAULT_MAX_SIZE,
            BuildStart::now(),
        )
        .expect("open");
        let text = b"import os\n".repeat(100);
        let hash = sha256(&text);
        assert_eq!(cache.get(&hash), None);
        cache.put(&hash, &compressed(&text));
        assert_eq!(cache.get(&hash), Some(compressed(&text)));
    }

    #[test]
    fn damaged_entries_are_ignored_and_removed() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::open(
            dir.path().to_path_buf(),
            DEFAULT_MAX_SIZE,
            BuildStart::now(),
        )
        .expect("open");
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
        let cache = Cache::open(dir.path().to_path_buf(), 3000, BuildStart::now()).expect("open");
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
    fn the_stat_index_reads_back_and_refuses_damage() {
        let signature = |inode: u64, mtime: i64| Signature {
            size: 10,
            mtime,
            mtime_ns: 7,
            ctime: mtime,
            ctime_ns: 7,
            inode,
            device: 3,
            mode: 0o100644,
        };
        let now = 1_000 * 1_000_000_000;
        let mut index = StatIndex::default();
        for (inode, recorded_at) in [(1, now), (2, now - STAT_INDEX_KEEP_NS - 1)] {
            index.files.insert(
                (3, inode),
                IndexedFile {
                    signature: signature(inode, 900),
                    sha256: sha256(&inode.to_le_bytes()),
                    recorded_at,
                },
            );
        }
        let bytes = index.encode();
        let decoded = StatIndex::decode(&bytes).expect("decodes");
        assert_eq!(decoded.files, index.files);
        assert_eq!(
            decoded.known(&signature(1, 900)),
            Some(sha256(&1u64.to_le_bytes()))
        );
        // Another signature of the same file (it was written since) is not known.
        assert_eq!(decoded.known(&signature(1, 901)), None);
        for index in [0, 8, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[index] ^= 0x04;
            assert!(
                StatIndex::decode(&damaged).is_none(),
                "flipped byte {index}"
            );
        }
        assert!(StatIndex::decode(&bytes[..bytes.len() - 1]).is_none());
        // Files no build confirmed for a month leave; the newer record of a file wins a merge.
        let mut pruned = decoded.clone();
        pruned.prune(now);
        assert_eq!(pruned.files.len(), 1);
        let mut newer = StatIndex::default();
        let mut file = index.files[&(3, 1)];
        file.recorded_at = now + 1;
        file.sha256 = sha256(b"new");
        newer.files.insert((3, 1), file);
        pruned.merge(&newer);
        assert_eq!(pruned.files[&(3, 1)].sha256, sha256(b"new"));
        pruned.merge(&decoded);
        assert_eq!(
            pruned.files[&(3, 1)].sha256,
            sha256(b"new"),
            "an older record loses"
        );
    }

    #[test]
    fn a_build_that_stores_many_entries_packs_them_and_sweep_evicts_a_pack_whole() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::open(
            dir.path().to_path_buf(),
            DEFAULT_MAX_SIZE,
            BuildStart::now(),
        )
        .expect("open");
        let texts: Vec<Vec<u8>> = (0..40u32)
            .map(|n| format!("N = {n}\n").repeat(50).into_bytes())
            .collect();
        for text in &texts {
            cache.put(&sha256(text), &compressed(text));
        }
        // Readable while the pack is written, and after it is put in place.
        for text in &texts {
            assert_eq!(cache.get(&sha256(text)), Some(compressed(text)));
        }
        cache.finish_pack();
        let reopened = Cache::open(dir.path().to_path_buf(), 1, BuildStart::now()).expect("reopen");
        for text in &texts {
            assert_eq!(reopened.get(&sha256(text)), Some(compressed(text)));
        }
        let packs = dir.path().join(PACKS_DIR);
        let count = |ext: &str| {
            fs::read_dir(&packs)
                .expect("packs")
                .flatten()
                .filter(|child| child.path().extension().is_some_and(|e| e == ext))
                .count()
        };
        assert_eq!((count("pack"), count("idx")), (1, 1));
        // Past the limit, the pack goes, and its index with it.
        reopened.sweep();
        assert_eq!((count("pack"), count("idx")), (0, 0));
    }

    #[test]
    fn hashing_a_fifo_is_an_error_not_a_wait_for_a_writer() {
        let temp = tempfile::tempdir().expect("temp dir");
        let fifo = temp.path().join("swapped.py");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|status| status.success()) {
            assert!(
                std::env::var_os("CI").is_none(),
                "mkfifo is needed under CI"
            );
            eprintln!("note: mkfifo is not available here; test skipped");
            return;
        }
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(hash_file(&fifo).is_err());
        });
        let failed = receiver
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("hash_file returned instead of waiting for a writer");
        assert!(failed);
    }

    /// Rewrites `path` in place with `text` (of the same length) and gives it back its
    /// modification time: only its ctime tells the edit.
    fn rewrite_keeping_mtime(path: &Path, text: &[u8]) {
        let modified = fs::metadata(path)
            .and_then(|metadata| metadata.modified())
            .expect("stat");
        let mut file = File::options().write(true).open(path).expect("open");
        file.write_all(text).expect("write");
        file.set_modified(modified).expect("set mtime");
    }

    /// Gathers `tree` as a build does (the build's start taken before the walk), lets `between`
    /// run between the walk and the cache's look at the files, and compresses `path` through
    /// the cache; returns the CRC-32 of the content it packed, and whether the stat index knew
    /// it (so that it was not read).
    fn build_one_file(
        cache_dir: &Path,
        tree: &Path,
        path: &str,
        between: impl FnOnce(),
    ) -> (u32, bool) {
        let started = BuildStart::now();
        let gathered = crate::gather::gather_dir(tree, &[]).expect("gather");
        between();
        let cache = Cache::open(cache_dir.to_path_buf(), DEFAULT_MAX_SIZE, started).expect("open");
        let output = cache_dir.join("layer.zip");
        let inventory = &gathered.inventory;
        let session = cache.layer(None, &output, inventory, &gathered.signatures);
        let entry = inventory.get(path).expect("gathered");
        let disk = cache
            .working_dir
            .absolute(inventory.disk_path(entry).expect("on disk"));
        let known = session.known.contains_key(&disk);
        let spool = Spool::beside(cache_dir);
        let (compressed, _) = session
            .compressed_file(inventory, entry, &spool)
            .expect("compress");
        drop(session);
        cache.finish();
        (compressed.crc, known)
    }

    #[test]
    fn an_edit_between_the_walk_and_the_build_is_seen_by_the_next_build() {
        let dir = tempfile::tempdir().expect("temp");
        let tree = dir.path().join("tree");
        let cache_dir = dir.path().join("cache");
        let file = tree.join("python/app.py");
        fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        let (first, second) = (b"A = 1\n".repeat(40), b"B = 2\n".repeat(40));
        fs::write(&file, &first).expect("write");
        // Older than a clock tick, as a layer's files are between two CI runs.
        File::options()
            .write(true)
            .open(&file)
            .and_then(|handle| handle.set_modified(SystemTime::now() - Duration::from_secs(3600)))
            .expect("age");
        std::thread::sleep(Duration::from_millis(300));
        let app = "python/app.py";
        // The first build reads the file; the second trusts the signature the walk took.
        assert_eq!(
            build_one_file(&cache_dir, &tree, app, || {}),
            (crc32fast::hash(&first), false)
        );
        assert_eq!(
            build_one_file(&cache_dir, &tree, app, || {}),
            (crc32fast::hash(&first), true)
        );
        // Edited after the walk: this build packs the file as the walk saw it...
        assert_eq!(
            build_one_file(&cache_dir, &tree, app, || {
                rewrite_keeping_mtime(&file, &second);
                // The rest of a long walk.
                std::thread::sleep(Duration::from_millis(200));
            }),
            (crc32fast::hash(&first), true)
        );
        // ...and the next one sees the new signature (its ctime moved), reads the file, and packs
        // the edit; a stale hash recorded under the new signature would pack the old bytes.
        assert_eq!(
            build_one_file(&cache_dir, &tree, app, || {}),
            (crc32fast::hash(&second), false)
        );
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
