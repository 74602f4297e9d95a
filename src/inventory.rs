//! The inventory: the one model of a layer's contents that every later stage reads.
//!
//! `build` gathers an inventory from source folders, `check` and `why` read one from a directory or
//! from any zip, so that every rule and every lookup works the same on all of them. Entries are
//! sorted by archive path (byte order) and unique; paths are validated once, here, so no later
//! stage has to ask whether a path is absolute or climbs out with `..`. Raw oddities of a zip
//! made elsewhere (unsafe names, duplicates) are kept aside as `Anomaly`s for the `ZIP` rules
//! instead of being followed.
//!
//! Reading a zip never extracts it: entries are decompressed into memory on demand, from a
//! shared read-only file handle, so parallel readers do not reopen or re-parse the archive.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::extract;

/// A path inside a layer: relative, `/`-separated, no empty, `.` or `..` component, no NUL and no
/// backslash. It is what Lambda appends to `/opt/`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArchivePath(String);

/// Why a name cannot be a path inside a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum UnsafeReason {
    Empty,
    Absolute,
    ParentComponent,
    Backslash,
    Nul,
}

impl UnsafeReason {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            UnsafeReason::Empty => "the name is empty",
            UnsafeReason::Absolute => "the path is absolute",
            UnsafeReason::ParentComponent => "the path climbs out with `..`",
            UnsafeReason::Backslash => "the path contains a backslash",
            UnsafeReason::Nul => "the path contains a NUL byte",
        }
    }
}

impl ArchivePath {
    /// Validates a relative path. A trailing `/` (a zip directory name) and `.` components are
    /// removed; anything that could land outside `/opt` is refused.
    pub fn new(raw: &str) -> Result<ArchivePath, UnsafeReason> {
        if raw.contains('\0') {
            return Err(UnsafeReason::Nul);
        }
        if raw.contains('\\') {
            return Err(UnsafeReason::Backslash);
        }
        if raw.starts_with('/') || (raw.len() >= 2 && raw.as_bytes()[1] == b':') {
            return Err(UnsafeReason::Absolute);
        }
        // Already in its normal form (as every walked path is): kept as it is.
        if raw.split('/').all(|part| !matches!(part, "" | "." | "..")) {
            return Ok(ArchivePath(raw.to_string()));
        }
        let mut parts = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(UnsafeReason::ParentComponent),
                other => parts.push(other),
            }
        }
        if parts.is_empty() {
            return Err(UnsafeReason::Empty);
        }
        Ok(ArchivePath(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's components.
    pub(crate) fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component.
    pub(crate) fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The containing folder, `""` for a top-level entry.
    pub(crate) fn parent(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(parent, _)| parent)
    }

    /// The first component.
    pub(crate) fn top(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }

    /// `dir/self` (or `self` when `dir` is empty); `dir` must itself be a valid archive path.
    pub(crate) fn under(&self, dir: &str) -> ArchivePath {
        if dir.is_empty() {
            self.clone()
        } else {
            ArchivePath(format!("{dir}/{}", self.0))
        }
    }

    /// True when the path is `dir` itself or lies below it (`dir` without trailing slash).
    pub(crate) fn is_within(&self, dir: &str) -> bool {
        dir.is_empty()
            || self.0 == dir
            || (self.0.starts_with(dir) && self.0.as_bytes().get(dir.len()) == Some(&b'/'))
    }

    /// Every proper ancestor folder, outermost first: `a/b/c` gives `a`, `a/b`.
    pub(crate) fn ancestors(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0
            .match_indices('/')
            .map(move |(index, _)| &self.0[..index])
    }
}

/// Resolves `.` and `..` in a `/`-separated relative path (no file system involved); `None`
/// when it climbs above its start. Symlink targets and `$ORIGIN` paths are resolved with it.
pub(crate) fn normalize_relative(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

impl fmt::Display for ArchivePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ArchivePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link with its target as written (relative or absolute).
    Symlink {
        target: String,
    },
}

/// Where an entry's bytes come from.
#[derive(Clone, Debug)]
pub enum Content {
    /// A file on disk (for a symlink: its target text is in the kind, nothing is read).
    Disk(PathBuf),
    /// The entry with this index in the inventory's zip.
    Zip { index: usize },
    /// Bytes made by layerpack itself (rewritten bytecode).
    Memory(Arc<[u8]>),
    /// A directory, or a folder implied by the paths below it.
    None,
}

/// One file, folder or symlink of a layer.
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: ArchivePath,
    pub kind: EntryKind,
    /// Unix permission bits as found (disk or zip external attributes); `None` when a zip made on
    /// another system recorded none. The archive stage normalizes them; `HYG004` reads them raw.
    pub mode: Option<u32>,
    /// Uncompressed size in bytes (0 for folders; the target's length for symlinks).
    pub size: u64,
    /// Modification time as seconds since the Unix epoch (from disk, or the zip entry's DOS date
    /// read as UTC). Never written to a built zip; bytecode checks compare it with pyc headers.
    pub mtime: Option<i64>,
    pub content: Content,
    /// True for folders no source listed but that a file below them implies.
    pub implied: bool,
}

impl Entry {
    pub(crate) fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    /// Any execute bit set.
    pub(crate) fn is_executable(&self) -> bool {
        self.mode.is_some_and(|mode| mode & 0o111 != 0)
    }

    /// The mode written to a reproducible zip: 0755 for folders, symlinks get 0777, files 0755
    /// when any execute bit is set, else 0644.
    pub(crate) fn normalized_mode(&self) -> u32 {
        match self.kind {
            EntryKind::Dir => 0o755,
            EntryKind::Symlink { .. } => 0o777,
            EntryKind::File if self.is_executable() => 0o755,
            EntryKind::File => 0o644,
        }
    }
}

/// Something odd about a zip's raw entry list, kept for the `ZIP` rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Anomaly {
    /// An entry whose name is not a safe relative path; it is left out of the entries.
    UnsafeName { name: String, reason: UnsafeReason },
    /// A second entry with the name of an earlier one; the first is kept.
    Duplicate { path: ArchivePath, count: usize },
}

/// Where an inventory was read from.
#[derive(Clone, Debug)]
pub enum Origin {
    /// A folder on disk laid out as a layer.
    Directory(PathBuf),
    /// A layer zip.
    Zip(PathBuf),
    /// The sources of a layer declared in `layer.toml`.
    Sources { config: PathBuf, layer: String },
}

impl Origin {
    /// The path to show the user.
    pub(crate) fn display_path(&self) -> &Path {
        match self {
            Origin::Directory(path) | Origin::Zip(path) => path,
            Origin::Sources { config, .. } => config,
        }
    }
}

/// A sorted, de-duplicated list of entries plus how to read their bytes.
#[derive(Clone, Debug)]
pub struct Inventory {
    pub(crate) origin: Origin,
    entries: Vec<Entry>,
    pub(crate) anomalies: Vec<Anomaly>,
    /// The size of the zip this inventory was read from, when it was read from one.
    pub(crate) zipped_bytes: Option<u64>,
    zip: Option<ZipSource>,
    /// What reading every zip entry to its end found, once asked for.
    verification: std::sync::OnceLock<Verification>,
}

impl Inventory {
    /// Builds an inventory from entries in any order: sorts them, adds the folders that paths
    /// imply, and keeps the first entry of each path. Callers that must refuse duplicates check
    /// before calling.
    pub fn new(origin: Origin, mut entries: Vec<Entry>) -> Inventory {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|later, earlier| later.path == earlier.path);
        // Each entry's folders from the innermost out, up to the first one listed: that one's
        // own folders are looked at as an entry of its own.
        let missing: std::collections::BTreeSet<&str> = entries
            .iter()
            .flat_map(|entry| {
                entry.path.ancestors().rev().take_while(|ancestor| {
                    entries
                        .binary_search_by(|probe| probe.path.as_str().cmp(ancestor))
                        .is_err()
                })
            })
            .collect();
        let implied: Vec<Entry> = missing
            .into_iter()
            .map(|dir| Entry {
                path: ArchivePath(dir.to_string()),
                kind: EntryKind::Dir,
                mode: Some(0o755),
                size: 0,
                mtime: None,
                content: Content::None,
                implied: true,
            })
            .collect();
        if !implied.is_empty() {
            entries.extend(implied);
            entries.sort_by(|a, b| a.path.cmp(&b.path));
            entries.dedup_by(|later, earlier| later.path == earlier.path);
        }
        Inventory {
            origin,
            entries,
            anomalies: Vec::new(),
            zipped_bytes: None,
            zip: None,
            verification: std::sync::OnceLock::new(),
        }
    }

    /// Reads a zip's central directory into an inventory, without extracting anything.
    pub fn from_zip(path: &Path) -> Result<Inventory, Error> {
        let mut source = ZipSource::open(path)?;
        let raw = extract::central_directory(&source.file).map_err(|err| Error::zip(path, err))?;
        let overlaps = extract::overlapping(&source.file, &raw);
        // Which raw record each of the zip crate's entries is, by local header and name.
        let raw_index: HashMap<(u64, &[u8]), usize> = raw
            .iter()
            .enumerate()
            .rev()
            .map(|(index, record)| ((record.local_offset, record.name.as_slice()), index))
            .collect();
        let mut archive = source.archive.clone();
        let mut entries = Vec::with_capacity(archive.len());
        let mut anomalies = Vec::new();
        let mut seen: HashMap<ArchivePath, usize> = HashMap::new();
        for index in 0..archive.len() {
            let file = archive
                .by_index_raw(index)
                .map_err(|err| Error::zip(path, err))?;
            let raw_record = raw_index
                .get(&(file.header_start(), file.name_raw()))
                .map(|&at| (at, &raw[at]));
            let expected = extract::Expected {
                method: raw_record.map_or_else(
                    || compression_number(file.compression()),
                    |(_, record)| record.method,
                ),
                encrypted: file.encrypted(),
                crc32: file.crc32(),
                compressed: file.compressed_size(),
                uncompressed: file.size(),
            };
            let overlaps = raw_record
                .and_then(|(at, _)| overlaps[at])
                .map(|owner| String::from_utf8_lossy(&raw[owner].name).into_owned());
            source.records.push(ZipRecord {
                expected,
                local_offset: file.header_start(),
                overlaps,
            });
            let name = String::from_utf8_lossy(file.name_raw()).into_owned();
            let archive_path = match ArchivePath::new(&name) {
                Ok(archive_path) => archive_path,
                Err(reason) => {
                    anomalies.push(Anomaly::UnsafeName { name, reason });
                    continue;
                }
            };
            let count = seen.entry(archive_path.clone()).or_insert(0);
            *count += 1;
            if *count > 1 {
                continue;
            }
            let unix_mode = file.unix_mode();
            let file_type = unix_mode.map(|mode| mode & 0o170000);
            let kind = if file_type == Some(0o120000) {
                EntryKind::Symlink {
                    target: String::new(),
                }
            } else if file.is_dir() || file_type == Some(0o040000) {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            let mtime = file.last_modified().and_then(dos_to_unix);
            let size = file.size();
            entries.push(Entry {
                path: archive_path,
                kind,
                mode: unix_mode.map(|mode| mode & 0o7777),
                size,
                mtime,
                content: Content::Zip { index },
                implied: false,
            });
        }
        // The zip crate keeps one entry per name, so repeated names are counted from the raw
        // central directory.
        let mut counts: HashMap<ArchivePath, usize> = HashMap::new();
        for record in &raw {
            if let Ok(archive_path) = ArchivePath::new(&String::from_utf8_lossy(&record.name)) {
                *counts.entry(archive_path).or_default() += 1;
            }
        }
        for (path, count) in counts {
            let count = count.max(seen.get(&path).copied().unwrap_or(0));
            if count > 1 {
                anomalies.push(Anomaly::Duplicate { path, count });
            }
        }
        anomalies.sort_by_key(|anomaly| match anomaly {
            Anomaly::UnsafeName { name, .. } => name.clone(),
            Anomaly::Duplicate { path, .. } => path.as_str().to_string(),
        });
        let mut inventory = Inventory::new(Origin::Zip(path.to_path_buf()), entries);
        inventory.anomalies = anomalies;
        inventory.zipped_bytes = Some(source.len);
        inventory.zip = Some(source);
        // Symlink targets are the entries' contents: read them now, at most a path's length
        // (Linux refuses longer targets; a longer entry keeps its first bytes).
        for index in 0..inventory.entries.len() {
            if let EntryKind::Symlink { .. } = inventory.entries[index].kind {
                let bytes = inventory
                    .read_prefix(&inventory.entries[index], extract::LINUX_PATH_MAX)
                    .unwrap_or_default();
                inventory.entries[index].kind = EntryKind::Symlink {
                    target: String::from_utf8_lossy(&bytes).into_owned(),
                };
            }
        }
        Ok(inventory)
    }

    /// All entries, sorted by path.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Mutable access for stages that rewrite content (bytecode); paths must not change.
    pub(crate) fn entries_mut(&mut self) -> &mut [Entry] {
        &mut self.entries
    }

    /// Removes entries for which `keep` is false (folders left empty stay).
    pub fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        self.entries.retain(keep);
    }

    /// Adds entries (e.g. compiled bytecode), keeping the order and uniqueness invariants; an
    /// added entry replaces an existing one at the same path.
    pub(crate) fn extend(&mut self, added: Vec<Entry>) {
        let mut entries = added;
        entries.append(&mut self.entries);
        let rebuilt = Inventory::new(self.origin.clone(), entries);
        self.entries = rebuilt.entries;
    }

    /// Regular files only.
    pub(crate) fn files(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|entry| entry.is_file())
    }

    /// The entry at exactly this path.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|probe| probe.path.as_str().cmp(path))
            .ok()
            .map(|index| &self.entries[index])
    }

    /// True when `path` is a folder of the layer (listed or implied).
    pub(crate) fn is_dir(&self, path: &str) -> bool {
        path.is_empty() || self.get(path).is_some_and(Entry::is_dir)
    }

    /// Every entry strictly below folder `dir` (all depths), as one contiguous slice.
    pub(crate) fn below(&self, dir: &str) -> &[Entry] {
        if dir.is_empty() {
            return &self.entries;
        }
        let prefix = format!("{dir}/");
        let start = self
            .entries
            .partition_point(|entry| entry.path.as_str() < prefix.as_str());
        let end = start
            + self.entries[start..]
                .partition_point(|entry| entry.path.as_str().starts_with(prefix.as_str()));
        &self.entries[start..end]
    }

    /// The direct children of folder `dir`.
    pub(crate) fn children<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a Entry> + use<'a> {
        // Every entry below `dir` starts with `dir/`: a child has no `/` after that.
        let prefix = if dir.is_empty() { 0 } else { dir.len() + 1 };
        self.below(dir).iter().filter(move |entry| {
            entry
                .path
                .as_str()
                .as_bytes()
                .get(prefix..)
                .is_some_and(|rest| !rest.contains(&b'/'))
        })
    }

    /// The sum of file sizes: what Lambda counts against the 250 MiB unzipped quota. Saturates:
    /// sizes a zip claims can add up past 2^64.
    pub fn unzipped_bytes(&self) -> u64 {
        self.files()
            .fold(0u64, |sum, entry| sum.saturating_add(entry.size))
    }

    /// Number of regular files.
    pub fn file_count(&self) -> usize {
        self.files().count()
    }

    /// Reads an entry's bytes whole, up to `MAX_WHOLE_READ`; a larger entry is an error
    /// (stream it with [`Inventory::open`] instead).
    pub fn read(&self, entry: &Entry) -> io::Result<Vec<u8>> {
        self.read_capped(entry, MAX_WHOLE_READ)
    }

    /// Reads an entry's bytes whole when it holds at most `limit` bytes; an error otherwise,
    /// after reading no more than `limit + 1` bytes.
    pub(crate) fn read_capped(&self, entry: &Entry, limit: usize) -> io::Result<Vec<u8>> {
        let bytes = self.read_prefix(entry, limit.saturating_add(1))?;
        if bytes.len() > limit {
            return Err(io::Error::other(format!(
                "it holds more than {} bytes, more than layerpack reads of such a file",
                crate::units::group_digits(limit as u64)
            )));
        }
        Ok(bytes)
    }

    /// Reads at most `limit` bytes from the start of an entry (content sniffing); a zip entry
    /// is inflated only that far.
    pub(crate) fn read_prefix(&self, entry: &Entry, limit: usize) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(
            limit
                .min(usize::try_from(entry.size).unwrap_or(usize::MAX))
                .min(1 << 20),
        );
        self.open(entry)?
            .take(limit as u64)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Opens an entry's bytes for streaming. A zip entry is inflated as it is read, checked
    /// against its recorded size and CRC-32 at the end, and counted against the zip's inflate
    /// budget; an entry whose data overlaps another's is not read at all.
    pub fn open<'a>(&'a self, entry: &Entry) -> io::Result<Box<dyn Read + Send + 'a>> {
        match &entry.content {
            Content::Disk(path) => Ok(Box::new(crate::files::open_regular(path)?)),
            Content::Memory(bytes) => Ok(Box::new(io::Cursor::new(bytes.clone()))),
            Content::None => Ok(Box::new(io::empty())),
            Content::Zip { index } => {
                let source = self.zip.as_ref().ok_or_else(|| {
                    io::Error::other("zip entry without an open archive (internal error)")
                })?;
                Ok(Box::new(source.open_entry(*index)?))
            }
        }
    }

    /// Reads every entry of a zip inventory to its end, as Lambda's extraction would, and says
    /// which cannot be extracted and why. Entries are verified in path order until their sizes
    /// add up past the unzipped quota (a larger layer is refused by `SIZE001` anyway); the rest
    /// are counted as not verified. Empty for inventories not read from a zip.
    pub fn verify_extraction(&self) -> &Verification {
        self.verification.get_or_init(|| self.verify_entries())
    }

    fn verify_entries(&self) -> Verification {
        use rayon::prelude::*;
        let Some(source) = &self.zip else {
            return Verification::default();
        };
        let mut planned = Vec::new();
        let mut total: u64 = 0;
        let mut verification = Verification::default();
        for entry in &self.entries {
            let Content::Zip { index } = entry.content else {
                continue;
            };
            let Some(record) = source.records.get(index) else {
                continue;
            };
            if let Some(owner) = &record.overlaps {
                verification.problems.push((
                    entry.path.clone(),
                    Unextractable::Overlapping {
                        other: owner.clone(),
                    },
                ));
                continue;
            }
            if matches!(entry.kind, EntryKind::Symlink { .. })
                && record.expected.uncompressed >= extract::LINUX_PATH_MAX as u64
            {
                verification.problems.push((
                    entry.path.clone(),
                    Unextractable::Corrupt(format!(
                        "it is a symlink whose target is {} bytes long, and Linux accepts at \
                         most {}",
                        crate::units::group_digits(record.expected.uncompressed),
                        crate::units::group_digits(extract::LINUX_PATH_MAX as u64 - 1)
                    )),
                ));
                continue;
            }
            total = total.saturating_add(record.expected.uncompressed);
            if total > extract::UNZIPPED_QUOTA {
                verification.not_verified += 1;
                continue;
            }
            planned.push((entry.path.clone(), index));
        }
        let mut found: Vec<(ArchivePath, Unextractable)> = planned
            .par_iter()
            .filter_map(|(path, index)| {
                let outcome = source
                    .open_entry(*index)
                    .and_then(extract::EntryReader::verify);
                let err = outcome.err()?;
                let problem = match err.kind() {
                    io::ErrorKind::Unsupported => Unextractable::Unsupported(err.to_string()),
                    _ => Unextractable::Corrupt(err.to_string()),
                };
                Some((path.clone(), problem))
            })
            .collect();
        verification.problems.append(&mut found);
        verification.problems.sort_by(|a, b| a.0.cmp(&b.0));
        verification
    }

    /// The CRC-32 the zip's central directory records for an entry read from a zip (`None` for
    /// entries from disk or memory): lets `diff` compare two zips without decompressing them.
    pub(crate) fn zip_crc32(&self, entry: &Entry) -> Option<u32> {
        let (Content::Zip { index }, Some(source)) = (&entry.content, &self.zip) else {
            return None;
        };
        let mut archive = source.archive.clone();
        let file = archive.by_index_raw(*index).ok()?;
        Some(file.crc32())
    }

    /// The on-disk path of an entry, when its bytes are a file on disk.
    pub(crate) fn disk_path<'a>(&self, entry: &'a Entry) -> Option<&'a Path> {
        match &entry.content {
            Content::Disk(path) => Some(path),
            _ => None,
        }
    }
}

/// Converts a zip entry's DOS date (no time zone) to Unix seconds, reading it as UTC.
fn dos_to_unix(date: zip::DateTime) -> Option<i64> {
    let (year, month, day) = (
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    );
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    Some(
        days_from_civil(year, month, day) * 86_400
            + i64::from(date.hour()) * 3600
            + i64::from(date.minute()) * 60
            + i64::from(date.second()),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The raw names of a zip's central directory, in order, duplicates included. Reads only the
/// end records and the directory itself; every offset is checked, so a hostile or truncated
/// file gives an error, never a panic.
pub fn central_directory_names(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let file = crate::files::open_regular(path)?;
    Ok(extract::central_directory(&file)?
        .into_iter()
        .map(|record| record.name)
        .collect())
}

/// The most bytes [`Inventory::read`] reads whole: far beyond any text a rule parses.
pub(crate) const MAX_WHOLE_READ: usize = 64 << 20;

/// Why an entry of a zip cannot be extracted as Lambda would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unextractable {
    /// A compression method other than stored or deflated, or encryption.
    Unsupported(String),
    /// The data does not match its record: CRC-32, sizes, or a corrupt deflate stream.
    Corrupt(String),
    /// Its bytes overlap another entry's (the same stream listed twice, or nested entries).
    Overlapping { other: String },
}

/// What [`Inventory::verify_extraction`] found.
#[derive(Clone, Debug, Default)]
pub struct Verification {
    pub problems: Vec<(ArchivePath, Unextractable)>,
    /// Entries left unread because the layer is over the unzipped quota.
    pub not_verified: usize,
}

/// The zip method number of a `zip` crate method, for a record missing from the raw directory.
fn compression_number(method: zip::CompressionMethod) -> u16 {
    match method {
        zip::CompressionMethod::Stored => extract::METHOD_STORED,
        zip::CompressionMethod::Deflated => extract::METHOD_DEFLATED,
        _ => u16::MAX,
    }
}

/// What one entry's record says, with where its local header is.
#[derive(Clone, Debug)]
struct ZipRecord {
    expected: extract::Expected,
    local_offset: u64,
    /// The name of an earlier entry whose bytes this one's overlap.
    overlaps: Option<String>,
}

/// A zip opened once and shared read-only by every reader.
#[derive(Clone, Debug)]
struct ZipSource {
    archive: zip::ZipArchive<extract::FileRange>,
    file: Arc<File>,
    len: u64,
    /// Per entry of `archive`, by index.
    records: Vec<ZipRecord>,
    budget: extract::Budget,
}

impl ZipSource {
    fn open(path: &Path) -> Result<ZipSource, Error> {
        let file = crate::files::open_regular(path).map_err(|err| Error::read(path, err))?;
        let len = file.metadata().map_err(|err| Error::read(path, err))?.len();
        let file = Arc::new(file);
        let whole = extract::FileRange::new(file.clone(), 0, len);
        let archive = zip::ZipArchive::new(whole).map_err(|err| Error::zip(path, err))?;
        Ok(ZipSource {
            archive,
            file,
            len,
            records: Vec::new(),
            budget: extract::Budget::default(),
        })
    }

    /// A streaming, verifying reader of entry `index`.
    fn open_entry(&self, index: usize) -> io::Result<extract::EntryReader<extract::FileRange>> {
        let record = self
            .records
            .get(index)
            .ok_or_else(|| io::Error::other("no such zip entry (internal error)"))?;
        if let Some(owner) = &record.overlaps {
            return Err(io::Error::other(format!(
                "its data overlaps that of `{owner}`; layerpack reads shared data once"
            )));
        }
        let start = extract::data_start(&self.file, record.local_offset)?;
        let range = extract::FileRange::new(self.file.clone(), start, record.expected.compressed);
        extract::EntryReader::new(range, record.expected, self.budget.clone())
    }
}

/// Resolves a symlink's target to an archive path, or `None` when it leaves the layer (`/opt`).
pub(crate) fn symlink_target_in_layer(link: &ArchivePath, target: &str) -> Option<String> {
    match target.strip_prefix('/') {
        Some(absolute) => {
            let inside = absolute.strip_prefix("opt")?;
            if !(inside.is_empty() || inside.starts_with('/')) {
                return None;
            }
            normalize_relative(inside)
        }
        None => normalize_relative(&format!("{}/{target}", link.parent())),
    }
}

/// Hand-made entries for the unit tests, which build inventories from names and sizes alone.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    use super::{ArchivePath, Content, Entry, EntryKind, Inventory, Origin};

    /// A file of `size` bytes at `path` (mode 0644), with no bytes behind it.
    pub(crate) fn file(path: &str, size: u64) -> Entry {
        Entry {
            path: ArchivePath::new(path).expect("valid test path"),
            kind: EntryKind::File,
            mode: Some(0o644),
            size,
            mtime: None,
            content: Content::None,
            implied: false,
        }
    }

    /// An inventory of one-byte files at `paths`, as if gathered from a folder.
    pub(crate) fn inventory_of(paths: &[&str]) -> Inventory {
        Inventory::new(
            Origin::Directory(PathBuf::from("x")),
            paths.iter().map(|path| file(path, 1)).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::testing::inventory_of;
    use super::*;

    #[test]
    fn archive_paths_are_validated() {
        assert_eq!(ArchivePath::new("a/./b/").map(|p| p.0), Ok("a/b".into()));
        assert_eq!(ArchivePath::new("/etc/passwd"), Err(UnsafeReason::Absolute));
        assert_eq!(
            ArchivePath::new("a/../../x"),
            Err(UnsafeReason::ParentComponent)
        );
        assert_eq!(ArchivePath::new("a\\b"), Err(UnsafeReason::Backslash));
        assert_eq!(ArchivePath::new("C:/x"), Err(UnsafeReason::Absolute));
        assert_eq!(ArchivePath::new("./"), Err(UnsafeReason::Empty));
    }

    #[test]
    fn inventory_sorts_and_implies_folders() {
        let inventory = inventory_of(&["python/b/x.py", "python/a.py", "bin/tool"]);
        let paths: Vec<&str> = inventory
            .entries()
            .iter()
            .map(|entry| entry.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "bin",
                "bin/tool",
                "python",
                "python/a.py",
                "python/b",
                "python/b/x.py"
            ]
        );
        assert!(inventory.is_dir("python/b"));
        assert_eq!(inventory.below("python").len(), 3);
        assert_eq!(inventory.children("python").count(), 2);
        assert_eq!(inventory.children("").count(), 2);
    }

    #[test]
    fn below_does_not_leak_into_siblings_with_a_common_prefix() {
        let inventory = inventory_of(&["a/b-c", "a/b/c", "a/b.txt", "a/bz"]);
        let below: Vec<&str> = inventory
            .below("a/b")
            .iter()
            .map(|entry| entry.path.as_str())
            .collect();
        assert_eq!(below, ["a/b/c"]);
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1980, 1, 1), 3652);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    // Raw central directory reading.

    /// A stored zip with the given names (duplicates allowed), written by hand.
    fn zip_with_names(names: &[&str]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        for name in names {
            offsets.push(bytes.len() as u32);
            bytes.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            bytes.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
            bytes.extend_from_slice(&[0; 12]);
            bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&[0, 0]);
            bytes.extend_from_slice(name.as_bytes());
        }
        let start = bytes.len() as u32;
        for (name, offset) in names.iter().zip(&offsets) {
            bytes.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            bytes.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
            bytes.extend_from_slice(&[0; 12]);
            bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&[0; 8]);
            bytes.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
            bytes.extend_from_slice(&offset.to_le_bytes());
            bytes.extend_from_slice(name.as_bytes());
        }
        let size = bytes.len() as u32 - start;
        bytes.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&(names.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&(names.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(&start.to_le_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes
    }

    fn names_of(bytes: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        let mut file = tempfile::NamedTempFile::new()?;
        file.write_all(bytes)?;
        central_directory_names(file.path())
    }

    #[test]
    fn central_directory_keeps_duplicate_names() {
        let names = names_of(&zip_with_names(&["a.py", "b/", "a.py"])).expect("names");
        assert_eq!(names, [b"a.py".to_vec(), b"b/".to_vec(), b"a.py".to_vec()]);
    }

    #[test]
    fn truncated_or_hostile_zips_give_errors_not_panics() {
        let good = zip_with_names(&["python/a.py", "python/b.py"]);
        for cut in 0..good.len() {
            let _ = names_of(&good[..cut]);
            let _ = names_of(&good[cut..]);
        }
        // An end record that points past the end of the file.
        let mut hostile = good.clone();
        let end = hostile.len() - 22;
        hostile[end + 16..end + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(names_of(&hostile).is_err());
        // Name lengths that run past the directory.
        let mut long_name = good;
        let directory = long_name
            .windows(4)
            .position(|window| window == 0x0201_4b50u32.to_le_bytes())
            .expect("central record");
        long_name[directory + 28..directory + 30].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(names_of(&long_name).is_err());
        assert!(names_of(b"").is_err());
    }

    #[test]
    fn symlink_targets_resolve_inside_or_not() {
        let link = ArchivePath::new("nodejs/node_modules/.bin/tool").expect("valid");
        assert_eq!(
            symlink_target_in_layer(&link, "../tool/cli.js").as_deref(),
            Some("nodejs/node_modules/tool/cli.js")
        );
        assert_eq!(
            symlink_target_in_layer(&link, "/opt/bin/x").as_deref(),
            Some("bin/x")
        );
        assert_eq!(
            symlink_target_in_layer(&link, "../../../../../etc/passwd"),
            None
        );
        assert_eq!(symlink_target_in_layer(&link, "/etc/passwd"), None);
        assert_eq!(symlink_target_in_layer(&link, "/optical"), None);
    }
}
