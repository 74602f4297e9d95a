//! The archive stage: writes an inventory as a reproducible zip.
//!
//! Why a writer of our own rather than the `zip` crate's: every byte of the output is part of
//! layerpack's promise (the same inputs give the same CodeSha256 on any machine), and entries are
//! compressed in parallel, then written in path order, which needs raw control of each record.
//! The format is fixed and small:
//!
//! - entries in byte order of their archive path, folders included (`dir/`); a folder sorts by its
//!   path without the trailing `/` (`a/`, `a-b`, `a.txt`, `a/x`), the order of the inventory;
//! - one timestamp everywhere (1980-01-01 00:00:00, or `SOURCE_DATE_EPOCH` clamped to DOS range);
//! - no extra fields (except Zip64 when a size or offset needs it), no comments, no data
//!   descriptors: sizes and CRC sit in the local headers;
//! - made-by Unix, external attributes carry the normalized mode (0644, 0755, symlinks 0777);
//! - raw deflate from libdeflate 1.26 (the `libdeflater` crate, pinned to an exact version) at
//!   level 6; an entry is stored when it is already compressed (by content: zip, gzip, xz, zstd,
//!   bzip2, PNG, JPEG …) or would not shrink;
//! - the file is written next to the destination and renamed into place, so an interrupted build
//!   leaves the previous zip as it was.
//!
//! Why libdeflate and not flate2's zlib-rs: measured on the ~250 MB python bench layer, both at
//! level 6 on two cores, libdeflate gives 74.07 MB in 2.6 s, zlib-rs 76.22 MB in 3.4 s, and
//! Info-ZIP's zlib 1.2.13 74.61 MB. libdeflate compresses whole buffers, which is exactly how
//! entries are handled here. Its version and level are part of the format: a change of either
//! shows up in the golden CodeSha256 tests.
//!
//! Compression runs on rayon's pool, largest files first so that the last big file does not
//! leave a core idle; results are then written in path order, so thread count never shows.
//!
//! Memory stays bounded whatever the layer (peak RSS under 256 MiB for a 250 MiB layer of files
//! that do not compress, one of them 200 MiB). Files up to [`STREAMED_FILE_BYTES`] are read whole
//! and deflated by libdeflate as above; larger files stream through flate2's zlib-rs backend
//! (raw deflate, the same level 6) in fixed chunks of `STREAM_CHUNK_BYTES`, never whole in
//! memory. libdeflate cannot stream; the cache hashes a streamed file as it reads it and
//! hands back a cached or previously zipped entry of it in chunks too (see
//! `FileCompressor::streamed_file`). The boundary and the
//! chunk size are part of the format like the level: zlib-rs's output for a given input and
//! chunking is fixed (its hash and matching do not depend on the CPU; its SIMD paths compute the
//! same results), a golden test pins the streamed bytes of a generated input, and `Cargo.lock`
//! pins zlib-rs 0.6.8. Of the ~250 MB python bench layer only `libarrow.so` (66 MB) is over the
//! boundary. A streamed file is stored when its first chunk is already compressed (by magic) or
//! does not shrink under libdeflate, without deflating the rest (random or encrypted data, media:
//! deflating 200 MiB of them only to throw the result away costs seconds); and when the whole
//! turns out not to shrink, in which case it is read a second time and must give the same
//! CRC-32. Finished entries wait for their turn in the
//! `crate::spool`: in memory up to a budget, then in an unlinked temporary file; work in
//! flight is admitted against a budget of its own.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::inventory::{Content, Entry, EntryKind, Inventory};
use crate::manifest::Digests;
use crate::spool::{Spool, Spooled};

/// The deflate level: part of the format, changing it changes every CodeSha256.
pub(crate) const DEFLATE_LEVEL: i32 = 6;

/// Files larger than this stream through zlib-rs in chunks instead of being read whole and
/// deflated by libdeflate (part of the format: see the module documentation).
pub const STREAMED_FILE_BYTES: u64 = 32 << 20;

/// The fixed size of the chunks a streamed file is read and deflated in.
pub(crate) const STREAM_CHUNK_BYTES: usize = 1 << 20;

/// What streaming one file holds in memory: its chunk, the encoder's buffers and zlib-rs's state.
const STREAM_COST_BYTES: u64 = 4 << 20;

/// The timestamp written to every entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DosDateTime {
    pub(crate) date: u16,
    pub(crate) time: u16,
}

impl DosDateTime {
    /// 1980-01-01 00:00:00, the earliest DOS date.
    pub const EPOCH: DosDateTime = DosDateTime {
        date: (1 << 5) | 1,
        time: 0,
    };

    /// A Unix time (UTC) clamped to the DOS range 1980-01-01 .. 2107-12-31 23:59:58.
    pub(crate) fn from_unix(seconds: i64) -> DosDateTime {
        let min = crate::inventory::days_from_civil(1980, 1, 1) * 86_400;
        let max = crate::inventory::days_from_civil(2107, 12, 31) * 86_400 + 86_398;
        let seconds = seconds.clamp(min, max);
        let days = seconds.div_euclid(86_400);
        let in_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        // The clamp above keeps every field within its DOS bit width.
        DosDateTime {
            date: (((year - 1980) as u16) << 9) | ((month as u16) << 5) | day as u16,
            time: (((in_day / 3600) as u16) << 11)
                | ((((in_day % 3600) / 60) as u16) << 5)
                | ((in_day % 60) / 2) as u16,
        }
    }

    /// `SOURCE_DATE_EPOCH` when set (a decimal number of seconds), else 1980-01-01.
    pub(crate) fn from_env() -> Result<DosDateTime, Error> {
        match std::env::var("SOURCE_DATE_EPOCH") {
            Err(_) => Ok(DosDateTime::EPOCH),
            Ok(text) if text.trim().is_empty() => Ok(DosDateTime::EPOCH),
            Ok(text) => text
                .trim()
                .parse::<i64>()
                .map(DosDateTime::from_unix)
                .map_err(|_| {
                    Error::usage(
                        format!("SOURCE_DATE_EPOCH=`{text}` is not a whole number of seconds"),
                        Some("set it to a Unix time such as 1700000000, or unset it".to_string()),
                    )
                }),
        }
    }

    /// The same instant as Unix seconds (UTC).
    pub(crate) fn to_unix(self) -> i64 {
        let year = i64::from(self.date >> 9) + 1980;
        let month = i64::from((self.date >> 5) & 0xF);
        let day = i64::from(self.date & 0x1F);
        crate::inventory::days_from_civil(year, month, day) * 86_400
            + i64::from(self.time >> 11) * 3600
            + i64::from((self.time >> 5) & 0x3F) * 60
            + i64::from(self.time & 0x1F) * 2
    }
}

/// Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Compression method of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Stored = 0,
    Deflated = 8,
}

impl Method {
    /// The method of a zip header's method field, if it is one layerpack writes.
    pub(crate) fn from_u16(value: u16) -> Option<Method> {
        match value {
            0 => Some(Method::Stored),
            8 => Some(Method::Deflated),
            _ => None,
        }
    }
}

/// Everything that decides the compressed bytes of a content: the deflate implementation and its
/// exact version, the level, and the rule that stores an entry instead. A cached entry made under
/// another profile is never reused; change this text whenever any of them changes.
pub(crate) const COMPRESSION_PROFILE: &str = "libdeflate 1.26.1 raw deflate, level 6; stored when empty, compressed by magic, or no smaller (rule 1); files over 32 MiB: zlib-rs 0.6.8 raw deflate, level 6, 1 MiB chunks, stored when the first chunk is compressed by magic or no smaller, or the whole no smaller (rule 2)";

/// An entry's content as the zip stores it: method, CRC-32 and size of the original bytes, and
/// the data (deflated, or the original bytes when stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Compressed {
    pub(crate) method: Method,
    pub(crate) crc: u32,
    pub(crate) uncompressed: u64,
    pub(crate) data: Vec<u8>,
}

/// Compresses one content: deflated, unless it is empty, already compressed, or would not shrink.
/// This is the stored/deflated rule of [`COMPRESSION_PROFILE`]; it depends on the bytes alone.
pub(crate) fn compress(raw: Vec<u8>) -> Compressed {
    let crc = crc32fast::hash(&raw);
    let uncompressed = raw.len() as u64;
    let deflated = if raw.is_empty() || is_already_compressed(&raw) {
        None
    } else {
        deflate(&raw)
    };
    let (method, data) = match deflated {
        Some(deflated) => (Method::Deflated, deflated),
        None => (Method::Stored, raw),
    };
    Compressed {
        method,
        crc,
        uncompressed,
        data,
    }
}

/// Where the compressed form of a file entry comes from: compressed here, or reused from a cache
/// (see [`crate::cache`]). Whatever the source, the bytes must equal what [`compress`] gives.
pub(crate) trait FileCompressor: Sync {
    /// A file up to [`STREAMED_FILE_BYTES`], its compressed bytes kept in (or borrowed through)
    /// the spool; as for [`FileCompressor::streamed_file`], the returned [`Compressed`] has no
    /// data and errors of the spool are [`SpoolFailed`].
    fn compressed_file(
        &self,
        inventory: &Inventory,
        entry: &Entry,
        spool: &Spool,
    ) -> io::Result<(Compressed, Spooled)>;

    /// A file over [`STREAMED_FILE_BYTES`]: its compressed bytes go to a file of the spool,
    /// never whole in memory, and must equal what [`compress_streaming`] gives. The returned
    /// [`Compressed`] has no data: the bytes are in the returned [`Spooled`]. Errors of the
    /// spool are [`SpoolFailed`] (see [`spool_failed`]).
    fn streamed_file(
        &self,
        inventory: &Inventory,
        entry: &Entry,
        spool: &Spool,
    ) -> io::Result<(Compressed, Spooled)> {
        compress_streaming(inventory, entry, spool, None)
    }
}

/// Reads and compresses every file: no cache.
pub(crate) struct CompressEveryFile;

impl FileCompressor for CompressEveryFile {
    fn compressed_file(
        &self,
        inventory: &Inventory,
        entry: &Entry,
        spool: &Spool,
    ) -> io::Result<(Compressed, Spooled)> {
        keep(spool, compress(read_unchanged(inventory, entry)?))
    }
}

/// Keeps a compressed form's bytes in the spool; errors are [`SpoolFailed`].
pub(crate) fn keep(spool: &Spool, compressed: Compressed) -> io::Result<(Compressed, Spooled)> {
    let data = spool.keep(compressed.data).map_err(spool_failed)?;
    Ok((
        Compressed {
            data: Vec::new(),
            ..compressed
        },
        data,
    ))
}

/// One entry, compressed and ready to write.
struct PreparedEntry {
    name: Vec<u8>,
    mode: u32,
    is_dir: bool,
    method: Method,
    crc: u32,
    uncompressed: u64,
    data: Spooled,
}

/// A zip fully compressed, not yet written; its entries wait in a `Spool` (bounded memory).
/// Knowing its exact size before writing lets the size rules see the zipped size, and lets a
/// refused build write nothing at all.
pub struct PreparedZip {
    entries: Vec<PreparedEntry>,
    timestamp: DosDateTime,
    spool: Spool,
}

/// Compresses every entry of the inventory (in parallel) into a [`PreparedZip`], spooling in
/// the system's temporary folder.
pub fn prepare(inventory: &Inventory, timestamp: DosDateTime) -> Result<PreparedZip, Error> {
    prepare_with_progress(
        inventory,
        timestamp,
        &CompressEveryFile,
        &std::env::temp_dir(),
        &|_| {},
    )
}

/// [`prepare`], taking file entries from `files`, spooling in `spool_dir` (the output's folder),
/// and calling `progress` with the size of each entry once it is compressed.
pub(crate) fn prepare_with_progress(
    inventory: &Inventory,
    timestamp: DosDateTime,
    files: &dyn FileCompressor,
    spool_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PreparedZip, Error> {
    pause_before_reading();
    let spool = Spool::beside(spool_dir);
    let entries = inventory.entries();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| entries[b].size.cmp(&entries[a].size).then(a.cmp(&b)));
    let mut prepared: Vec<(usize, PreparedEntry)> = order
        .par_iter()
        .with_max_len(1)
        .map(|&index| {
            let prepared = prepare_entry(inventory, &entries[index], files, &spool)?;
            progress(entries[index].size);
            Ok((index, prepared))
        })
        .collect::<Result<_, Error>>()?;
    prepared.sort_by_key(|(index, _)| *index);
    Ok(PreparedZip {
        entries: prepared.into_iter().map(|(_, entry)| entry).collect(),
        timestamp,
        spool,
    })
}

/// A hook for tests, in debug builds only: with `LAYERPACK_TEST_PAUSE_BEFORE_READING=PATH`, the
/// build creates PATH once every file is walked, then waits until PATH is gone before reading
/// any file, so a test can change the sources in between without racing the build.
fn pause_before_reading() {
    #[cfg(debug_assertions)]
    if let Some(marker) = std::env::var_os("LAYERPACK_TEST_PAUSE_BEFORE_READING") {
        let marker = std::path::PathBuf::from(marker);
        if std::fs::write(&marker, b"").is_ok() {
            while marker.exists() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn prepare_entry(
    inventory: &Inventory,
    entry: &Entry,
    files: &dyn FileCompressor,
    spool: &Spool,
) -> Result<PreparedEntry, Error> {
    let describe = || match inventory.disk_path(entry) {
        Some(path) => path.to_path_buf(),
        None => inventory.origin.display_path().join(entry.path.as_str()),
    };
    crate::extract::check_path_limits(entry.path.as_str())
        .map_err(|reason| path_too_long(&describe(), &reason))?;
    let mut name = entry.path.as_str().as_bytes().to_vec();
    // An error of the spool is a write error of its folder; any other, a read error of the file.
    let failed = |err: io::Error| match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<SpoolFailed>())
    {
        Some(SpoolFailed(cause)) => {
            Error::write(spool.dir(), io::Error::new(cause.kind(), cause.to_string()))
        }
        None => Error::read(&describe(), err),
    };
    let (compressed, data) = match &entry.kind {
        EntryKind::Dir => {
            name.push(b'/');
            keep(spool, compress(Vec::new())).map_err(failed)?
        }
        EntryKind::Symlink { target } => {
            keep(spool, compress(target.as_bytes().to_vec())).map_err(failed)?
        }
        EntryKind::File if entry.size > STREAMED_FILE_BYTES => {
            let _admitted = spool.admit(STREAM_COST_BYTES);
            files
                .streamed_file(inventory, entry, spool)
                .map_err(failed)?
        }
        EntryKind::File => {
            let _admitted = spool.admit(entry.size.saturating_mul(2));
            files
                .compressed_file(inventory, entry, spool)
                .map_err(failed)?
        }
    };
    Ok(PreparedEntry {
        name,
        mode: entry.normalized_mode()
            | match entry.kind {
                EntryKind::Dir => 0o040000,
                EntryKind::Symlink { .. } => 0o120000,
                EntryKind::File => 0o100000,
            },
        is_dir: entry.is_dir(),
        method: compressed.method,
        crc: compressed.crc,
        uncompressed: compressed.uncompressed,
        data,
    })
}

/// Compresses a large file without holding it: fixed chunks through zlib-rs's raw deflate into
/// a temporary file of its own. Stored instead when its first chunk is already compressed (by
/// magic) or does not shrink under libdeflate (then the rest is not deflated at all), or when
/// the whole does not shrink (then it is read a second time, and a different CRC-32 means it
/// changed while building). The returned [`Compressed`] has no data: the bytes
/// are in the returned [`Spooled`]. With `sha256`, the bytes read (once) are hashed into it on
/// the way, so that a cache key describes the very bytes compressed.
pub(crate) fn compress_streaming(
    inventory: &Inventory,
    entry: &Entry,
    spool: &Spool,
    mut sha256: Option<&mut Sha256>,
) -> io::Result<(Compressed, Spooled)> {
    use io::{Seek, SeekFrom};
    enum Sink<'f> {
        Undecided,
        Deflating(flate2::write::DeflateEncoder<BufWriter<SpoolFile<'f>>>),
        Storing(BufWriter<SpoolFile<'f>>),
    }
    enum Finished {
        Deflated(u64),
        Stored,
        NotSmaller,
    }
    let file = spool.temporary_file().map_err(spool_failed)?;
    let level = flate2::Compression::new(DEFLATE_LEVEL.unsigned_abs());
    let (crc, finished) = {
        let mut sink = Sink::Undecided;
        let crc = read_in_chunks(inventory, entry, |chunk| {
            if let Some(hasher) = sha256.as_deref_mut() {
                hasher.update(chunk);
            }
            if let Sink::Undecided = sink {
                let out = BufWriter::with_capacity(STREAM_CHUNK_BYTES, SpoolFile(&file));
                // A file whose first chunk is already compressed, or does not shrink, is stored
                // without deflating the rest: random or encrypted data, media, archives.
                sink = if is_already_compressed(chunk) || deflate(chunk).is_none() {
                    Sink::Storing(out)
                } else {
                    Sink::Deflating(flate2::write::DeflateEncoder::new(out, level))
                };
            }
            match &mut sink {
                Sink::Deflating(encoder) => encoder.write_all(chunk),
                Sink::Storing(out) => out.write_all(chunk),
                Sink::Undecided => Ok(()),
            }
        })?;
        let finished = match sink {
            Sink::Deflating(mut encoder) => {
                encoder.try_finish()?;
                let len = encoder.total_out();
                encoder.finish()?.flush()?;
                if len < entry.size {
                    Finished::Deflated(len)
                } else {
                    Finished::NotSmaller
                }
            }
            Sink::Storing(mut out) => {
                out.flush()?;
                Finished::Stored
            }
            Sink::Undecided => Finished::Stored,
        };
        (crc, finished)
    };
    let (method, len) = match finished {
        Finished::Deflated(len) => (Method::Deflated, len),
        Finished::Stored => (Method::Stored, entry.size),
        Finished::NotSmaller => {
            file.set_len(0).map_err(spool_failed)?;
            (&file).seek(SeekFrom::Start(0)).map_err(spool_failed)?;
            let mut out = BufWriter::with_capacity(STREAM_CHUNK_BYTES, SpoolFile(&file));
            let again = read_in_chunks(inventory, entry, |chunk| out.write_all(chunk))?;
            out.flush()?;
            if again != crc {
                return Err(io::Error::other("it changed while building; run again"));
            }
            (Method::Stored, entry.size)
        }
    };
    Ok((
        Compressed {
            method,
            crc,
            uncompressed: entry.size,
            data: Vec::new(),
        },
        Spooled::Own { file, len },
    ))
}

/// The SHA-256 and CRC-32 of a large file's bytes, read once in chunks with the checks of
/// [`read_in_chunks`] (never whole in memory).
pub(crate) fn hash_streamed(inventory: &Inventory, entry: &Entry) -> io::Result<([u8; 32], u32)> {
    let mut hasher = Sha256::new();
    let crc = read_in_chunks(inventory, entry, |chunk| {
        hasher.update(chunk);
        Ok(())
    })?;
    Ok((hasher.finalize().into(), crc))
}

/// Copies `len` bytes at `offset` of `source` (a cache entry, a previous zip) into a spool file
/// of their own, in chunks of [`STREAM_CHUNK_BYTES`], handing each chunk to `each` (to check
/// it). `Ok(None)` when `source` cannot be read that far; errors are the spool's
/// ([`SpoolFailed`]).
pub(crate) fn spool_copy(
    source: &std::fs::File,
    offset: u64,
    len: u64,
    spool: &Spool,
    mut each: impl FnMut(&[u8]),
) -> io::Result<Option<Spooled>> {
    use std::os::unix::fs::FileExt;
    let file = spool.temporary_file().map_err(spool_failed)?;
    let mut out = BufWriter::with_capacity(STREAM_CHUNK_BYTES, SpoolFile(&file));
    let mut chunk = vec![0u8; STREAM_CHUNK_BYTES.min(usize::try_from(len).unwrap_or(usize::MAX))];
    let mut done = 0u64;
    while done < len {
        let want = chunk
            .len()
            .min(usize::try_from(len - done).unwrap_or(usize::MAX));
        let Some(at) = offset.checked_add(done) else {
            return Ok(None);
        };
        if source.read_exact_at(&mut chunk[..want], at).is_err() {
            return Ok(None);
        }
        each(&chunk[..want]);
        out.write_all(&chunk[..want])?;
        done += want as u64;
    }
    out.flush()?;
    drop(out);
    Ok(Some(Spooled::Own { file, len }))
}

/// An error of the spool (a full disk, say), told apart from an error reading the source file.
#[derive(Debug)]
pub(crate) struct SpoolFailed(io::Error);

impl std::fmt::Display for SpoolFailed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(formatter)
    }
}

impl std::error::Error for SpoolFailed {}

pub(crate) fn spool_failed(err: io::Error) -> io::Error {
    io::Error::new(err.kind(), SpoolFailed(err))
}

/// A streamed entry's temporary file, whose errors are [`SpoolFailed`].
struct SpoolFile<'f>(&'f std::fs::File);

impl Write for SpoolFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(spool_failed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(spool_failed)
    }
}

/// Reads an entry's bytes once, in chunks of exactly [`STREAM_CHUNK_BYTES`] (the last one
/// shorter), handing each to `each`, and returns their CRC-32. The checks of
/// [`read_unchanged`] apply: a regular file opened without blocking, whose size and
/// modification time are those the walk saw, before and after.
fn read_in_chunks(
    inventory: &Inventory,
    entry: &Entry,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u32> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let changed = || io::Error::other("it changed while building; run again");
    let disk = match &entry.content {
        Content::Disk(path) => Some(crate::files::open_regular(path)?),
        _ => None,
    };
    let before = match &disk {
        Some(file) => {
            let before = file.metadata()?;
            if before.len() != entry.size
                || entry.mtime.is_some_and(|mtime| mtime != before.mtime())
            {
                return Err(changed());
            }
            Some(before)
        }
        None => None,
    };
    let reader: Box<dyn Read + '_> = match &disk {
        Some(file) => Box::new(file),
        None => inventory.open(entry)?,
    };
    let mut reader = reader.take(entry.size.saturating_add(1));
    let mut chunk = vec![0u8; STREAM_CHUNK_BYTES];
    let mut crc = crc32fast::Hasher::new();
    let mut total = 0u64;
    loop {
        let mut filled = 0;
        while filled < chunk.len() {
            match reader.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        if filled == 0 {
            break;
        }
        total += filled as u64;
        if total > entry.size {
            return Err(changed());
        }
        crc.update(&chunk[..filled]);
        each(&chunk[..filled])?;
    }
    if total != entry.size {
        return Err(changed());
    }
    if let (Some(file), Some(before)) = (&disk, &before) {
        let after = file.metadata()?;
        if after.len() != before.len()
            || after.mtime() != before.mtime()
            || after.mtime_nsec() != before.mtime_nsec()
        {
            return Err(changed());
        }
    }
    Ok(crc.finalize())
}

/// The error for an archive path Lambda's file system cannot hold.
pub(crate) fn path_too_long(origin: &Path, reason: &str) -> Error {
    Error::input(
        format!("{} cannot go into a layer: {reason}", origin.display()),
        Some(
            "shorten the path (or the source's `into`), or leave it out with a .layerignore pattern"
                .to_string(),
        ),
    )
}

/// Reads a file's bytes once, whole, and makes sure they are the bytes the walk saw: a file
/// whose size or modification time changes while the build reads it fails the build, so the
/// zip and its manifest never describe a file that was half rewritten. Files are opened
/// without blocking and must still be regular files (one swapped for a FIFO is refused).
///
/// Whole reads are bounded by the unzipped quota, which `build` enforces from the walk before
/// anything is read: libdeflate compresses whole buffers, and its output is part of the
/// format (see the module documentation).
pub(crate) fn read_unchanged(inventory: &Inventory, entry: &Entry) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let changed = || io::Error::other("it changed while building; run again");
    let expected = usize::try_from(entry.size).map_err(|_| changed())?;
    let Content::Disk(path) = &entry.content else {
        let mut bytes = Vec::with_capacity(expected.min(1 << 26));
        inventory
            .open(entry)?
            .take(entry.size.saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() != expected {
            return Err(changed());
        }
        return Ok(bytes);
    };
    let file = crate::files::open_regular(path)?;
    let before = file.metadata()?;
    if before.len() != entry.size || entry.mtime.is_some_and(|mtime| mtime != before.mtime()) {
        return Err(changed());
    }
    let mut bytes = Vec::with_capacity(expected);
    (&file)
        .take(entry.size.saturating_add(1))
        .read_to_end(&mut bytes)?;
    let after = file.metadata()?;
    if bytes.len() != expected
        || after.len() != before.len()
        || after.mtime() != before.mtime()
        || after.mtime_nsec() != before.mtime_nsec()
    {
        return Err(changed());
    }
    Ok(bytes)
}

/// Raw deflate of a whole buffer; `None` when the result would not be smaller than the input.
fn deflate(raw: &[u8]) -> Option<Vec<u8>> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<libdeflater::Compressor>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = slot.get_or_insert_with(|| {
            libdeflater::Compressor::new(
                libdeflater::CompressionLvl::new(DEFLATE_LEVEL).unwrap_or_default(),
            )
        });
        // Only output smaller than the input is worth keeping; a buffer of that size makes
        // libdeflate give up early on incompressible data.
        let mut out = vec![0u8; raw.len().saturating_sub(1)];
        let written = compressor.deflate_compress(raw, &mut out).ok()?;
        if written == 0 || written >= raw.len() {
            return None;
        }
        out.truncate(written);
        Some(out)
    })
}

/// Content that compression cannot shrink: recognised by magic bytes, never by name.
fn is_already_compressed(bytes: &[u8]) -> bool {
    const MAGICS: &[&[u8]] = &[
        b"PK\x03\x04",         // zip, jar, wheel, docx
        b"\x1f\x8b",           // gzip
        b"\xfd7zXZ\x00",       // xz
        b"\x28\xb5\x2f\xfd",   // zstd
        b"BZh",                // bzip2
        b"\x89PNG\r\n\x1a\n",  // PNG
        b"\xff\xd8\xff",       // JPEG
        b"GIF8",               // GIF
        b"7z\xbc\xaf\x27\x1c", // 7-zip
        b"wOF2",               // WOFF2
    ];
    MAGICS.iter().any(|magic| bytes.starts_with(magic))
}

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const UNIX: u16 = 3;
const FLAG_UTF8: u16 = 1 << 11;
const U32_MAX: u64 = 0xFFFF_FFFF;

impl PreparedZip {
    /// True when a write failed because bytes reused from the previous zip or the cache were
    /// damaged (see [`Spooled::Borrowed`]): preparing again with every reused entry checked up
    /// front gives the right zip.
    pub(crate) fn found_damage(&self) -> bool {
        self.spool.found_damage()
    }

    /// The CRC-32 of the bytes of each reused content, as written and checked.
    pub(crate) fn checked_crcs(&self) -> std::collections::HashMap<[u8; 32], u32> {
        self.spool.checked_crcs()
    }

    /// The exact size of the zip in bytes.
    pub fn zipped_bytes(&self) -> u64 {
        let mut written = CountingWriter::default();
        // Writing headers to a counter cannot fail; entry data is added up, not copied.
        let data: u64 = self.entries.iter().map(|entry| entry.data.len()).sum();
        self.write_records(&mut written, false)
            .map_or(0, |()| written.count + data)
    }

    /// The sum of the sizes of the files written (what the manifest reports as unzipped).
    pub(crate) fn unzipped_bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|entry| !entry.is_dir && entry.mode & 0o170000 == 0o100000)
            .fold(0u64, |sum, entry| sum.saturating_add(entry.uncompressed))
    }

    /// The number of regular files written.
    pub(crate) fn file_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|entry| entry.mode & 0o170000 == 0o100000)
            .count()
    }

    /// Writes the zip to any writer.
    pub(crate) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        self.write_records(out, true)
    }

    /// Writes the zip, or with `with_data` false everything but the entries' data (to count).
    fn write_records(&self, out: &mut impl Write, with_data: bool) -> io::Result<()> {
        let mut offset: u64 = 0;
        let mut offsets = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            offsets.push(offset);
            offset += self.write_local(out, entry, with_data)?;
        }
        let central_start = offset;
        let mut central_size: u64 = 0;
        for (entry, &local) in self.entries.iter().zip(&offsets) {
            central_size += self.write_central(out, entry, local)?;
        }
        let count = self.entries.len() as u64;
        let needs_zip64 = count >= 0xFFFF || central_start >= U32_MAX || central_size >= U32_MAX;
        if needs_zip64 {
            let record_start = central_start + central_size;
            put32(out, ZIP64_END_OF_CENTRAL_DIRECTORY)?;
            put64(out, 44)?; // size of the rest of this record
            put16(out, (UNIX << 8) | 45)?;
            put16(out, 45)?;
            put32(out, 0)?;
            put32(out, 0)?;
            put64(out, count)?;
            put64(out, count)?;
            put64(out, central_size)?;
            put64(out, central_start)?;
            put32(out, ZIP64_LOCATOR)?;
            put32(out, 0)?;
            put64(out, record_start)?;
            put32(out, 1)?;
        }
        put32(out, END_OF_CENTRAL_DIRECTORY)?;
        put16(out, 0)?;
        put16(out, 0)?;
        put16(out, count.min(0xFFFF) as u16)?;
        put16(out, count.min(0xFFFF) as u16)?;
        put32(out, central_size.min(U32_MAX) as u32)?;
        put32(out, central_start.min(U32_MAX) as u32)?;
        put16(out, 0)?; // no archive comment
        Ok(())
    }

    fn flags(entry: &PreparedEntry) -> u16 {
        if entry.name.is_ascii() { 0 } else { FLAG_UTF8 }
    }

    fn write_local(
        &self,
        out: &mut impl Write,
        entry: &PreparedEntry,
        with_data: bool,
    ) -> io::Result<u64> {
        let compressed = entry.data.len();
        let zip64 = entry.uncompressed >= U32_MAX || compressed >= U32_MAX;
        let mut extra = Vec::new();
        if zip64 {
            put16(&mut extra, 0x0001)?;
            put16(&mut extra, 16)?;
            put64(&mut extra, entry.uncompressed)?;
            put64(&mut extra, compressed)?;
        }
        put32(out, LOCAL_HEADER)?;
        put16(out, if zip64 { 45 } else { 20 })?;
        put16(out, Self::flags(entry))?;
        put16(out, entry.method as u16)?;
        put16(out, self.timestamp.time)?;
        put16(out, self.timestamp.date)?;
        put32(out, entry.crc)?;
        put32(
            out,
            if zip64 {
                U32_MAX as u32
            } else {
                compressed as u32
            },
        )?;
        put32(
            out,
            if zip64 {
                U32_MAX as u32
            } else {
                entry.uncompressed as u32
            },
        )?;
        put16(out, entry.name.len() as u16)?;
        put16(out, extra.len() as u16)?;
        out.write_all(&entry.name)?;
        out.write_all(&extra)?;
        if with_data {
            self.spool.copy_to(&entry.data, out)?;
        }
        Ok(30 + entry.name.len() as u64 + extra.len() as u64 + compressed)
    }

    fn write_central(
        &self,
        out: &mut impl Write,
        entry: &PreparedEntry,
        local_offset: u64,
    ) -> io::Result<u64> {
        let compressed = entry.data.len();
        let mut extra = Vec::new();
        let mut fields = Vec::new();
        for value in [entry.uncompressed, compressed, local_offset] {
            if value >= U32_MAX {
                fields.push(value);
            }
        }
        if !fields.is_empty() {
            put16(&mut extra, 0x0001)?;
            put16(&mut extra, (fields.len() * 8) as u16)?;
            for value in &fields {
                put64(&mut extra, *value)?;
            }
        }
        let version = if fields.is_empty() { 20 } else { 45 };
        let clamp = |value: u64| value.min(U32_MAX) as u32;
        put32(out, CENTRAL_HEADER)?;
        put16(out, (UNIX << 8) | version)?;
        put16(out, version)?;
        put16(out, Self::flags(entry))?;
        put16(out, entry.method as u16)?;
        put16(out, self.timestamp.time)?;
        put16(out, self.timestamp.date)?;
        put32(out, entry.crc)?;
        put32(out, clamp(compressed))?;
        put32(out, clamp(entry.uncompressed))?;
        put16(out, entry.name.len() as u16)?;
        put16(out, extra.len() as u16)?;
        put16(out, 0)?; // comment length
        put16(out, 0)?; // disk number
        put16(out, 0)?; // internal attributes
        let dos_dir = if entry.is_dir { 0x10 } else { 0 };
        put32(out, (entry.mode << 16) | dos_dir)?;
        put32(out, clamp(local_offset))?;
        out.write_all(&entry.name)?;
        out.write_all(&extra)?;
        Ok(46 + entry.name.len() as u64 + extra.len() as u64)
    }

    /// Writes the zip to `destination` atomically: a temporary file in the same folder, flushed
    /// and synced, then renamed over the destination. On any error the destination is untouched.
    /// Returns the digests of the bytes written, hashed on the way out.
    pub fn write_atomically(&self, destination: &Path) -> Result<Digests, Error> {
        let mut digest = None;
        write_file_atomically(destination, |out| {
            let (sha256, _) = hash_while_writing(out, |sink| self.write(sink))?;
            digest = Some(Digests::from_sha256(&sha256));
            Ok(())
        })?;
        digest.ok_or_else(|| Error::write(destination, io::Error::other("zip was not written")))
    }
}

/// Temporary files of this process that a signal must not leave behind. The lock is also held
/// while a zip and its manifest are renamed into place, so an interrupt lands before or after
/// that pair of renames, never between them.
static LIVE_TEMPS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Makes SIGINT and SIGTERM remove this process's temporary files before it exits (with 130,
/// the shell's status for an interrupted command). Installing twice is harmless.
pub(crate) fn remove_temps_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        let temps = match LIVE_TEMPS.lock() {
            Ok(temps) => temps,
            Err(poisoned) => poisoned.into_inner(),
        };
        for temp in temps.iter() {
            let _ = std::fs::remove_file(temp);
        }
        let _ = writeln!(
            io::stderr(),
            "layerpack: interrupted; temporary files removed, previous outputs left as they were"
        );
        std::process::exit(130);
    });
}

fn live_temps() -> std::sync::MutexGuard<'static, Vec<std::path::PathBuf>> {
    match LIVE_TEMPS.lock() {
        Ok(temps) => temps,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A temporary sibling of a destination, named `.layerpack-NAME.PID.RANDOM.tmp` so that the next
/// build of the same output can tell its own stale temporaries from a live build's. It is
/// registered for removal on a signal and removed when dropped.
struct Temp {
    file: tempfile::NamedTempFile,
}

impl Temp {
    fn beside(destination: &Path) -> Result<Temp, Error> {
        use std::os::unix::fs::PermissionsExt;
        let parent = parent_of(destination);
        // Created and registered under the lock, so an interrupt cannot fall between the two
        // and leave an unregistered file behind.
        let mut temps = live_temps();
        let file = tempfile::Builder::new()
            .prefix(&format!(
                ".layerpack-{}.{}.",
                file_name_text(destination),
                std::process::id()
            ))
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(parent)
            .map_err(|err| Error::write(parent, err))?;
        temps.push(file.path().to_path_buf());
        Ok(Temp { file })
    }

    /// Fills the file through a buffer, then flushes and syncs it. The kernel starts writing
    /// the bytes to disk as they come (see [`WritebackFile`]), so the sync waits for the last
    /// of them only.
    fn fill(
        &mut self,
        destination: &Path,
        fill: impl FnOnce(&mut BufWriter<WritebackFile<'_>>) -> io::Result<()>,
    ) -> Result<(), Error> {
        {
            let file = WritebackFile {
                file: self.file.as_file_mut(),
                written: 0,
                started: 0,
            };
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            fill(&mut writer).map_err(|err| Error::write(destination, err))?;
            writer
                .flush()
                .map_err(|err| Error::write(destination, err))?;
        }
        let _span = crate::timing::span("sync to disk");
        self.file
            .as_file()
            .sync_all()
            .map_err(|err| Error::write(destination, err))
    }
}

/// How many bytes of a file being written gather before the kernel is asked to start writing
/// them to disk.
const WRITEBACK_BYTES: u64 = 8 << 20;

/// A file being filled from its start, whose bytes the kernel is asked to start writing to disk
/// every [`WRITEBACK_BYTES`] (Linux's `sync_file_range` with `SYNC_FILE_RANGE_WRITE`, which
/// waits for nothing). Writing a zip of tens of MB and writing it back to disk then overlap,
/// and the final `fsync`, which still decides durability, waits for the tail. Elsewhere it is a
/// plain file.
pub(crate) struct WritebackFile<'f> {
    file: &'f mut std::fs::File,
    written: u64,
    started: u64,
}

impl Write for WritebackFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let wrote = self.file.write(buf)?;
        self.written += wrote as u64;
        if self.written - self.started >= WRITEBACK_BYTES {
            start_writeback(self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(wrote)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Asks the kernel to start writing `len` bytes at `offset` of `file` to disk, without waiting.
/// Only a hint: whatever it does, the caller's `fsync` makes the file durable.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: sync_file_range reads no memory of this process; it takes a file descriptor that
    // `file` keeps open for the length of the call, and plain numbers.
    let _ = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

impl Drop for Temp {
    fn drop(&mut self) {
        // Removed and unregistered under the lock, for the same reason as in `beside` (after a
        // rename into place the path is gone and the removal does nothing).
        let mut temps = live_temps();
        let path = self.file.path().to_path_buf();
        let _ = std::fs::remove_file(&path);
        temps.retain(|live| *live != path);
    }
}

fn parent_of(destination: &Path) -> &Path {
    destination
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn file_name_text(destination: &Path) -> String {
    destination
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes temporaries that a killed build of `destination` left beside it: those named for it
/// whose process is gone. A live build's temporaries are left alone.
pub(crate) fn remove_stale_temps(destination: &Path) {
    let prefix = format!(".layerpack-{}.", file_name_text(destination));
    let Ok(children) = std::fs::read_dir(parent_of(destination)) else {
        return;
    };
    for child in children.flatten() {
        let name = child.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(rest) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest
            .split('.')
            .next()
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if !alive && child.file_type().is_ok_and(|kind| kind.is_file()) {
            let _ = std::fs::remove_file(child.path());
        }
    }
}

/// Refuses a destination that exists and is not a regular file (a folder named like the
/// manifest, say) before anything is written.
fn check_replaceable(destination: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(destination) {
        Ok(metadata) if !metadata.is_file() => Err(Error::input(
            format!(
                "cannot write {}: it is {}",
                destination.display(),
                crate::files::describe_type(&metadata.file_type())
            ),
            Some("move it out of the way; nothing was written".to_string()),
        )),
        _ => Ok(()),
    }
}

fn create_parent(destination: &Path) -> Result<(), Error> {
    let parent = parent_of(destination);
    std::fs::create_dir_all(parent).map_err(|err| {
        Error::input(
            format!("cannot create the output folder {}: {err}", parent.display()),
            Some(
                "a file of that name may be in the way, or its parent folder is not writable; nothing was written"
                    .to_string(),
            ),
        )
    })
}

/// What was written for a zip: its digests and size, counted on the way out.
pub(crate) struct Written {
    pub(crate) digests: Digests,
    pub(crate) zipped_bytes: u64,
}

/// Writes a zip and its manifest as one pair: both are written to temporaries first, then
/// renamed into place together. If either cannot be written, or the second rename fails, the
/// previous zip and manifest stay as they were. `manifest` makes the manifest's bytes from what
/// was written. Stale temporaries of a killed build of the same output are removed first.
pub(crate) fn write_zip_and_manifest(
    prepared: &PreparedZip,
    zip_path: &Path,
    manifest_path: &Path,
    manifest: impl FnOnce(&Written) -> io::Result<Vec<u8>>,
) -> Result<Written, Error> {
    for destination in [zip_path, manifest_path] {
        create_parent(destination)?;
        check_replaceable(destination)?;
        remove_stale_temps(destination);
    }
    let mut zip_temp = Temp::beside(zip_path)?;
    let mut written = None;
    zip_temp.fill(zip_path, |out| {
        let (sha256, count) = hash_while_writing(out, |sink| prepared.write(sink))?;
        written = Some(Written {
            digests: Digests::from_sha256(&sha256),
            zipped_bytes: count,
        });
        Ok(())
    })?;
    let written =
        written.ok_or_else(|| Error::write(zip_path, io::Error::other("zip was not written")))?;
    let manifest_bytes = manifest(&written).map_err(|err| Error::write(manifest_path, err))?;
    let mut manifest_temp = Temp::beside(manifest_path)?;
    manifest_temp.fill(manifest_path, |out| out.write_all(&manifest_bytes))?;

    let _commit = live_temps();
    // Keep the previous zip reachable until the manifest is in place too.
    let backup = zip_path.exists().then(|| {
        let backup = parent_of(zip_path).join(format!(
            ".layerpack-{}.{}.previous.tmp",
            file_name_text(zip_path),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&backup);
        std::fs::hard_link(zip_path, &backup).ok().map(|()| backup)
    });
    let backup = backup.flatten();
    std::fs::rename(zip_temp.file.path(), zip_path).map_err(|err| Error::write(zip_path, err))?;
    if let Err(err) = std::fs::rename(manifest_temp.file.path(), manifest_path) {
        match &backup {
            Some(backup) => {
                let _ = std::fs::rename(backup, zip_path);
            }
            None => {
                let _ = std::fs::remove_file(zip_path);
            }
        }
        return Err(Error::write(manifest_path, err));
    }
    if let Some(backup) = backup {
        let _ = std::fs::remove_file(backup);
    }
    Ok(written)
}

/// Writes a file through a temporary sibling and a rename, creating missing parent folders.
pub(crate) fn write_file_atomically(
    destination: &Path,
    fill: impl FnOnce(&mut BufWriter<WritebackFile<'_>>) -> io::Result<()>,
) -> Result<(), Error> {
    create_parent(destination)?;
    check_replaceable(destination)?;
    remove_stale_temps(destination);
    let mut temp = Temp::beside(destination)?;
    temp.fill(destination, fill)?;
    let _commit = live_temps();
    std::fs::rename(temp.file.path(), destination).map_err(|err| Error::write(destination, err))?;
    Ok(())
}

/// The size of the blocks [`hash_while_writing`] hands from the thread that makes the bytes to
/// the one that hashes and writes them.
const WRITE_BLOCK_BYTES: usize = 1 << 20;

/// Runs `produce`, which writes a file's bytes into the sink it is given, while two more threads
/// hash those bytes (SHA-256) and write them to `out`, a block at a time, in a pipeline: the
/// hash of a zip of tens of MB then costs no wall time on top of reading its entries and
/// writing them, and neither waits for the other. Returns the SHA-256 and the number of bytes.
/// An error of `out` wins over the producer's (which then only sees the writer gone).
fn hash_while_writing<W: Write + Send>(
    out: &mut W,
    produce: impl FnOnce(&mut BlockSink) -> io::Result<()>,
) -> io::Result<([u8; 32], u64)> {
    std::thread::scope(|scope| {
        // Two blocks in flight per stage at most: bounded memory whatever the zip.
        let (blocks, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (hashed, to_write) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (spent, reusable) = std::sync::mpsc::channel::<Vec<u8>>();
        let hasher = scope.spawn(move || -> [u8; 32] {
            let mut hasher = Sha256::new();
            for block in received {
                hasher.update(&block);
                if hashed.send(block).is_err() {
                    break;
                }
            }
            hasher.finalize().into()
        });
        let writer = scope.spawn(move || -> io::Result<u64> {
            let mut count = 0u64;
            for block in to_write {
                out.write_all(&block)?;
                count += block.len() as u64;
                let _ = spent.send(block);
            }
            Ok(count)
        });
        let mut sink = BlockSink {
            blocks,
            reusable,
            block: Vec::with_capacity(WRITE_BLOCK_BYTES),
        };
        let produced = produce(&mut sink).and_then(|()| sink.send_block());
        drop(sink);
        let hash = hasher.join();
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the thread writing the zip failed")));
        match (produced, written, hash) {
            (_, Err(err), _) | (Err(err), Ok(_), _) => Err(err),
            (Ok(()), Ok(_), Err(_)) => Err(io::Error::other("the thread hashing the zip failed")),
            (Ok(()), Ok(count), Ok(hash)) => Ok((hash, count)),
        }
    })
}

/// What [`hash_while_writing`]'s producer writes into: bytes are gathered into blocks, and
/// each full block is handed to the writing thread (its buffers come back for reuse).
struct BlockSink {
    blocks: std::sync::mpsc::SyncSender<Vec<u8>>,
    reusable: std::sync::mpsc::Receiver<Vec<u8>>,
    block: Vec<u8>,
}

impl BlockSink {
    fn send_block(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let next = match self.reusable.try_recv() {
            Ok(mut spent) => {
                spent.clear();
                spent
            }
            Err(_) => Vec::with_capacity(WRITE_BLOCK_BYTES),
        };
        let full = std::mem::replace(&mut self.block, next);
        self.blocks
            .send(full)
            .map_err(|_| io::Error::other("the zip's writer stopped"))
    }
}

impl Write for BlockSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = WRITE_BLOCK_BYTES - self.block.len();
        let taken = buf.len().min(room);
        self.block.extend_from_slice(&buf[..taken]);
        if self.block.len() == WRITE_BLOCK_BYTES {
            self.send_block()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Default)]
struct CountingWriter {
    count: u64,
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.count += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn put16(out: &mut impl Write, value: u16) -> io::Result<()> {
    out.write_all(&value.to_le_bytes())
}

fn put32(out: &mut impl Write, value: u32) -> io::Result<()> {
    out.write_all(&value.to_le_bytes())
}

fn put64(out: &mut impl Write, value: u64) -> io::Result<()> {
    out.write_all(&value.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_epoch_and_clamping() {
        assert_eq!(DosDateTime::from_unix(0), DosDateTime::EPOCH);
        assert_eq!(DosDateTime::from_unix(-5), DosDateTime::EPOCH);
        // 2023-11-14 22:13:20 UTC
        let date = DosDateTime::from_unix(1_700_000_000);
        assert_eq!(date.date, ((2023 - 1980) << 9) | (11 << 5) | 14);
        assert_eq!(date.time, (22 << 11) | (13 << 5) | 10);
        assert_eq!(date.to_unix(), 1_700_000_000);
        let far = DosDateTime::from_unix(i64::MAX / 2);
        assert_eq!(far.date >> 9, 2107 - 1980);
    }

    #[test]
    fn a_file_written_back_as_it_is_filled_holds_every_byte_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("out.zip");
        let bytes: Vec<u8> = (0..(WRITEBACK_BYTES * 5 / 2))
            .map(|index| (index % 251) as u8)
            .collect();
        let mut written = 0;
        write_file_atomically(&path, |out| {
            // Odd-sized writes, so that the writeback ranges do not fall on the writes' edges.
            for chunk in bytes.chunks(1_234_567) {
                out.write_all(chunk)?;
            }
            out.flush()?;
            written = out.get_ref().written;
            Ok(())
        })
        .expect("write");
        assert_eq!(written, bytes.len() as u64);
        assert!(std::fs::read(&path).expect("read") == bytes);
    }

    #[test]
    fn hashing_while_writing_gives_the_bytes_and_hash_of_a_plain_write() {
        let bytes: Vec<u8> = (0..3 * WRITE_BLOCK_BYTES + 12_345)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut out = Vec::new();
        let (sha256, count) = hash_while_writing(&mut out, |sink| {
            // Pieces of every size, across block boundaries.
            for piece in bytes.chunks(WRITE_BLOCK_BYTES / 3 + 7) {
                sink.write_all(piece)?;
            }
            Ok(())
        })
        .expect("write");
        assert!(out == bytes);
        assert_eq!(count, bytes.len() as u64);
        assert_eq!(sha256, <[u8; 32]>::from(Sha256::digest(&bytes)));

        // The writer's error wins over the producer's, and nothing hangs.
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err =
            hash_while_writing(&mut Full, |sink| sink.write_all(&bytes)).expect_err("a full disk");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        let err = hash_while_writing(&mut Vec::new(), |_| Err(io::Error::other("damaged")))
            .expect_err("the producer's error");
        assert_eq!(err.to_string(), "damaged");
    }

    #[test]
    fn compressed_content_is_recognised_by_magic() {
        assert!(is_already_compressed(b"PK\x03\x04rest"));
        assert!(is_already_compressed(b"\x1f\x8b\x08"));
        assert!(!is_already_compressed(b"import os\n"));
        assert!(!is_already_compressed(b""));
    }
}
