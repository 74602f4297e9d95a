//! Reading a zip's entries the way Lambda's extraction would: streaming, bounded and verified.
//!
//! A zip from anywhere may lie: an entry of 1 MB may inflate to 1 GB, twenty directory records may
//! share one compressed stream, a size field may say 2^62. This module is the one place that
//! turns a zip's records into bytes, so every command gets the same guarantees:
//!
//! - entries are inflated as streams, never whole, and a reader never yields more bytes than the
//!   entry's recorded size (a longer stream is an error, not more work);
//! - a reader checks the CRC-32 and the size when it reaches the end, so an entry that reads
//!   to its end was extracted exactly as Lambda would extract it;
//! - every reader of one zip draws from one inflate budget, tied to Lambda's 250 MiB quota, so
//!   no input costs more than a bounded amount of work;
//! - entries whose bytes overlap another entry's are found from the records alone, so `check`
//!   reports them instead of inflating the same stream again and again.
//!
//! The central directory is parsed here by hand (every offset checked, so a truncated or hostile
//! file gives an error, never a panic), because the `zip` crate keeps one record per name and
//! hides the repeated and overlapping records that these checks are about.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lambda's quota on the unzipped size of a function and its layers.
pub(crate) const UNZIPPED_QUOTA: u64 = 250 * 1024 * 1024;

/// The most bytes all readers of one zip may inflate together: four times the quota, enough to
/// verify every entry of a layer at the quota and to read its binaries a second time.
pub(crate) const INFLATE_BUDGET: u64 = 4 * UNZIPPED_QUOTA;

/// The longest path Linux accepts (`PATH_MAX`, including the terminating NUL).
pub(crate) const LINUX_PATH_MAX: usize = 4096;

/// The longest file name Linux accepts (`NAME_MAX`).
pub(crate) const LINUX_NAME_MAX: usize = 255;

/// The longest name a zip record can hold (a 16-bit length field).
pub(crate) const ZIP_NAME_MAX: usize = 65_535;

/// Whether Lambda can create `path` under `/opt/`: a zip name holds at most 65,535 bytes, Linux
/// at most 4,096 per path (with `/opt/` and the terminating NUL) and 255 per name.
pub(crate) fn check_path_limits(path: &str) -> Result<(), String> {
    use crate::units::group_digits;
    if path.len() > ZIP_NAME_MAX {
        return Err(format!(
            "its path inside the layer is {} bytes long, and a zip entry name holds at most {}",
            group_digits(path.len() as u64),
            group_digits(ZIP_NAME_MAX as u64)
        ));
    }
    let extracted = "/opt/".len() + path.len() + 1;
    if extracted > LINUX_PATH_MAX {
        return Err(format!(
            "as /opt/{}… it is {} bytes long, and Linux accepts paths of at most {}",
            path.chars().take(24).collect::<String>(),
            group_digits(extracted as u64),
            group_digits(LINUX_PATH_MAX as u64)
        ));
    }
    if let Some(name) = path.split('/').find(|name| name.len() > LINUX_NAME_MAX) {
        return Err(format!(
            "the name `{}…` is {} bytes long, and Linux accepts names of at most {LINUX_NAME_MAX}",
            name.chars().take(24).collect::<String>(),
            group_digits(name.len() as u64)
        ));
    }
    Ok(())
}

/// Compression methods Lambda's extraction supports: stored and deflated.
pub(crate) const METHOD_STORED: u16 = 0;
pub(crate) const METHOD_DEFLATED: u16 = 8;

/// One record of a zip's central directory, as written (Zip64 sizes resolved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRecord {
    pub(crate) name: Vec<u8>,
    pub(crate) flags: u16,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) compressed: u64,
    pub(crate) uncompressed: u64,
    pub(crate) local_offset: u64,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        bytes.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Where a zip's central directory is and how many records it claims.
struct Directory {
    entries: u64,
    size: u64,
    offset: u64,
}

fn find_directory(file: &File, len: u64) -> io::Result<Directory> {
    const END_SIGNATURE: u32 = 0x0605_4b50;
    const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
    const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
    let tail_len = len.min(22 + 65_535 + 20);
    let tail_start = len - tail_len;
    let mut tail = vec![0u8; usize::try_from(tail_len).map_err(|_| invalid("zip too large"))?];
    file.read_exact_at(&mut tail, tail_start)?;
    let end = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&at| u32_at(&tail, at) == Some(END_SIGNATURE))
        .ok_or_else(|| invalid("no end of central directory"))?;
    let short = || invalid("short end record");
    let mut entries = u64::from(u16_at(&tail, end + 10).ok_or_else(short)?);
    let mut size = u64::from(u32_at(&tail, end + 12).ok_or_else(short)?);
    let mut offset = u64::from(u32_at(&tail, end + 16).ok_or_else(short)?);
    if (entries == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF)
        && end >= 20
        && u32_at(&tail, end - 20) == Some(ZIP64_LOCATOR_SIGNATURE)
    {
        let zip64_end = u64_at(&tail, end - 12).ok_or_else(|| invalid("short zip64 locator"))?;
        let mut record = [0u8; 56];
        file.read_exact_at(&mut record, zip64_end)?;
        if u32_at(&record, 0) != Some(ZIP64_END_SIGNATURE) {
            return Err(invalid("bad zip64 end record"));
        }
        let short = || invalid("short zip64 end record");
        entries = u64_at(&record, 32).ok_or_else(short)?;
        size = u64_at(&record, 40).ok_or_else(short)?;
        offset = u64_at(&record, 48).ok_or_else(short)?;
    }
    if offset.checked_add(size).is_none_or(|stop| stop > len) {
        return Err(invalid("central directory outside the file"));
    }
    Ok(Directory {
        entries,
        size,
        offset,
    })
}

/// Every record of a zip's central directory, in order, repeated names included. Reads only the
/// end records and the directory itself.
pub fn central_directory(file: &File) -> io::Result<Vec<RawRecord>> {
    const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
    let len = file.metadata()?.len();
    let found = find_directory(file, len)?;
    let mut directory =
        vec![0u8; usize::try_from(found.size).map_err(|_| invalid("zip too large"))?];
    file.read_exact_at(&mut directory, found.offset)?;
    let mut records = Vec::new();
    let mut at = 0usize;
    let short = || invalid("short central directory record");
    while records.len() as u64 != found.entries && at < directory.len() {
        if u32_at(&directory, at) != Some(CENTRAL_SIGNATURE) {
            return Err(invalid("bad central directory record"));
        }
        let field = |delta: usize| u16_at(&directory, at + delta).map(usize::from);
        let (Some(name_len), Some(extra_len), Some(comment_len)) =
            (field(28), field(30), field(32))
        else {
            return Err(short());
        };
        let name_start = at + 46;
        let extra_start = name_start + name_len;
        let name = directory
            .get(name_start..extra_start)
            .ok_or_else(short)?
            .to_vec();
        let extra = directory
            .get(extra_start..extra_start + extra_len)
            .ok_or_else(short)?;
        let mut record = RawRecord {
            name,
            flags: u16_at(&directory, at + 8).ok_or_else(short)?,
            method: u16_at(&directory, at + 10).ok_or_else(short)?,
            crc32: u32_at(&directory, at + 16).ok_or_else(short)?,
            compressed: u64::from(u32_at(&directory, at + 20).ok_or_else(short)?),
            uncompressed: u64::from(u32_at(&directory, at + 24).ok_or_else(short)?),
            local_offset: u64::from(u32_at(&directory, at + 42).ok_or_else(short)?),
        };
        apply_zip64_extra(&mut record, extra);
        records.push(record);
        at = extra_start + extra_len + comment_len;
    }
    Ok(records)
}

/// Replaces 0xFFFFFFFF sizes and offsets by their values in the Zip64 extra field (tag 1),
/// which lists only the fields that overflowed, in this order.
fn apply_zip64_extra(record: &mut RawRecord, extra: &[u8]) {
    let mut at = 0usize;
    while let (Some(tag), Some(len)) = (u16_at(extra, at), u16_at(extra, at + 2)) {
        let body_start = at + 4;
        let body_end = body_start + usize::from(len);
        if tag == 1 {
            let Some(body) = extra.get(body_start..body_end.min(extra.len())) else {
                return;
            };
            let mut cursor = 0usize;
            for field in [
                &mut record.uncompressed,
                &mut record.compressed,
                &mut record.local_offset,
            ] {
                if *field == 0xFFFF_FFFF
                    && let Some(value) = u64_at(body, cursor)
                {
                    *field = value;
                    cursor += 8;
                }
            }
            return;
        }
        at = body_end;
    }
}

/// The offset of an entry's data: after its local header, whose name and extra lengths may
/// differ from the central record's.
pub(crate) fn data_start(file: &File, local_offset: u64) -> io::Result<u64> {
    const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
    let mut header = [0u8; 30];
    file.read_exact_at(&mut header, local_offset)
        .map_err(|_| invalid("the local header lies outside the file"))?;
    if u32_at(&header, 0) != Some(LOCAL_SIGNATURE) {
        return Err(invalid(
            "no local header where the central directory points",
        ));
    }
    let name_len = u64::from(u16_at(&header, 26).unwrap_or(0));
    let extra_len = u64::from(u16_at(&header, 28).unwrap_or(0));
    local_offset
        .checked_add(30 + name_len + extra_len)
        .ok_or_else(|| invalid("the local header offset is out of range"))
}

/// For each record, the index of an earlier record (by position in the file) whose bytes, from
/// local header to end of data, overlap its own: the same stream listed twice, or entries
/// nested inside one another. Records whose local header cannot be read are left alone (their
/// reader reports that).
pub(crate) fn overlapping(file: &File, records: &[RawRecord]) -> Vec<Option<usize>> {
    let mut spans: Vec<(u64, u64, usize)> = records
        .iter()
        .enumerate()
        .filter_map(|(index, record)| {
            let start = data_start(file, record.local_offset).ok()?;
            Some((
                record.local_offset,
                start.saturating_add(record.compressed),
                index,
            ))
        })
        .collect();
    spans.sort_unstable();
    let mut result = vec![None; records.len()];
    let mut reach: Option<(u64, usize)> = None;
    for (start, end, index) in spans {
        match reach {
            Some((far, owner)) if start < far => {
                result[index] = Some(owner);
                if end > far {
                    reach = Some((end, owner));
                }
            }
            _ => reach = Some((end, index)),
        }
    }
    result
}

/// Bytes inflated so far by every reader of one zip, against [`INFLATE_BUDGET`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Budget {
    used: Arc<AtomicU64>,
}

impl Budget {
    /// Takes `bytes` from the budget; an error once it is spent.
    pub(crate) fn take(&self, bytes: u64) -> io::Result<()> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > INFLATE_BUDGET {
            return Err(io::Error::other(format!(
                "more than {} MiB inflated from this zip; layerpack stops reading it (a layer \
                 cannot be larger than {} MiB unzipped)",
                INFLATE_BUDGET >> 20,
                UNZIPPED_QUOTA >> 20
            )));
        }
        Ok(())
    }
}

/// What an entry's record says its bytes are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expected {
    pub(crate) method: u16,
    pub(crate) encrypted: bool,
    pub(crate) crc32: u32,
    pub(crate) compressed: u64,
    pub(crate) uncompressed: u64,
}

enum Decoder<R: Read> {
    Stored(io::Take<R>),
    Deflated(Box<flate2::read::DeflateDecoder<io::Take<R>>>),
}

/// An entry's bytes, inflated as they are read. Yields at most the recorded size; at the end
/// checks size and CRC-32, so a read to the end is a verified extraction.
pub(crate) struct EntryReader<R: Read> {
    decoder: Decoder<R>,
    expected: Expected,
    produced: u64,
    crc: crc32fast::Hasher,
    budget: Budget,
    finished: bool,
}

impl<R: Read> EntryReader<R> {
    /// A reader over `data`, positioned at the first byte of the entry's data. Refuses methods
    /// Lambda cannot inflate and encrypted entries.
    pub(crate) fn new(data: R, expected: Expected, budget: Budget) -> io::Result<EntryReader<R>> {
        if expected.encrypted {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the entry is encrypted",
            ));
        }
        let limited = data.take(expected.compressed);
        let decoder = match expected.method {
            METHOD_STORED => Decoder::Stored(limited),
            METHOD_DEFLATED => {
                Decoder::Deflated(Box::new(flate2::read::DeflateDecoder::new(limited)))
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("compression method {other} ({})", method_name(other)),
                ));
            }
        };
        Ok(EntryReader {
            decoder,
            expected,
            produced: 0,
            crc: crc32fast::Hasher::new(),
            budget,
            finished: false,
        })
    }

    /// Reads to the end, discarding the bytes: verifies the entry. Returns the size.
    pub(crate) fn verify(mut self) -> io::Result<u64> {
        let mut buffer = vec![0u8; 1 << 16];
        while self.read(&mut buffer)? != 0 {}
        Ok(self.produced)
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if self.produced != self.expected.uncompressed {
            return Err(invalid(&format!(
                "the data holds {} bytes, the zip records {}",
                self.produced, self.expected.uncompressed
            )));
        }
        let crc = std::mem::take(&mut self.crc).finalize();
        if crc != self.expected.crc32 {
            return Err(invalid(&format!(
                "CRC-32 of the data is {crc:08x}, the zip records {:08x}",
                self.expected.crc32
            )));
        }
        Ok(())
    }
}

impl<R: Read> Read for EntryReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let remaining = self.expected.uncompressed - self.produced;
        let read = if remaining == 0 {
            // One byte more tells a stream longer than its record from one that ends here.
            let mut probe = [0u8; 1];
            let read = match &mut self.decoder {
                Decoder::Stored(inner) => inner.read(&mut probe),
                Decoder::Deflated(inner) => inner.read(&mut probe),
            }
            .map_err(corrupt)?;
            if read != 0 {
                return Err(invalid(&format!(
                    "the data holds more than the {} bytes the zip records",
                    self.expected.uncompressed
                )));
            }
            0
        } else {
            let want = buf
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            match &mut self.decoder {
                Decoder::Stored(inner) => inner.read(&mut buf[..want]),
                Decoder::Deflated(inner) => inner.read(&mut buf[..want]),
            }
            .map_err(corrupt)?
        };
        if read == 0 {
            self.finish()?;
            return Ok(0);
        }
        self.budget.take(read as u64)?;
        self.produced += read as u64;
        self.crc.update(&buf[..read]);
        Ok(read)
    }
}

fn corrupt(err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::InvalidInput || err.kind() == io::ErrorKind::InvalidData {
        invalid(&format!("the deflate stream is corrupt ({err})"))
    } else {
        err
    }
}

/// The name of a zip compression method, for messages.
pub(crate) fn method_name(method: u16) -> &'static str {
    match method {
        0 => "stored",
        1 => "shrunk",
        6 => "imploded",
        8 => "deflated",
        9 => "deflate64",
        12 => "bzip2",
        14 => "LZMA",
        93 => "zstd",
        95 => "xz",
        98 => "PPMd",
        99 => "AES-encrypted",
        _ => "unknown",
    }
}

/// A byte range of a shared file, read with positioned reads: many readers share one handle,
/// each with its own position.
#[derive(Clone, Debug)]
pub(crate) struct FileRange {
    file: Arc<File>,
    start: u64,
    len: u64,
    position: u64,
}

impl FileRange {
    pub(crate) fn new(file: Arc<File>, start: u64, len: u64) -> FileRange {
        FileRange {
            file,
            start,
            len,
            position: 0,
        }
    }
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.len.saturating_sub(self.position);
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let at = self
            .start
            .checked_add(self.position)
            .ok_or_else(|| invalid("offset out of range"))?;
        let read = self.file.read_at(&mut buf[..want], at)?;
        self.position += read as u64;
        Ok(read)
    }
}

impl Seek for FileRange {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        let position = match target {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = position
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(bytes: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).expect("deflate");
        encoder.finish().expect("deflate")
    }

    fn expected(method: u16, data: &[u8], plain: &[u8]) -> Expected {
        Expected {
            method,
            encrypted: false,
            crc32: crc32fast::hash(plain),
            compressed: data.len() as u64,
            uncompressed: plain.len() as u64,
        }
    }

    fn read_all(data: &[u8], expected: Expected) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        EntryReader::new(data, expected, Budget::default())?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn a_true_entry_reads_whole() {
        let plain = b"import os\n".repeat(100);
        let data = deflate(&plain);
        assert_eq!(
            read_all(&data, expected(8, &data, &plain)).expect("reads"),
            plain
        );
        assert_eq!(
            read_all(&plain, expected(0, &plain, &plain)).expect("reads"),
            plain
        );
    }

    #[test]
    fn lies_are_errors() {
        let plain = b"hello world, hello world".repeat(10);
        let data = deflate(&plain);
        let mut wrong_crc = expected(8, &data, &plain);
        wrong_crc.crc32 ^= 1;
        let err = read_all(&data, wrong_crc).expect_err("crc");
        assert!(err.to_string().contains("CRC-32"), "{err}");
        let mut short = expected(8, &data, &plain);
        short.uncompressed -= 1;
        let err = read_all(&data, short).expect_err("longer");
        assert!(err.to_string().contains("more than"), "{err}");
        let mut long = expected(8, &data, &plain);
        long.uncompressed += 1;
        let err = read_all(&data, long).expect_err("shorter");
        assert!(err.to_string().contains("holds"), "{err}");
        let mut unknown = expected(14, &data, &plain);
        unknown.method = 14;
        assert!(read_all(&data, unknown).is_err());
        let mut encrypted = expected(8, &data, &plain);
        encrypted.encrypted = true;
        assert!(read_all(&data, encrypted).is_err());
        let garbage = vec![0xFFu8; 64];
        assert!(read_all(&garbage, expected(8, &garbage, &plain)).is_err());
    }

    #[test]
    fn a_bomb_stops_at_its_recorded_size() {
        // 64 MiB of zeros deflate to ~64 KiB; a record claiming 10 bytes reads 10 and fails.
        let plain = vec![0u8; 64 << 20];
        let data = deflate(&plain);
        let mut record = expected(8, &data, &plain);
        record.uncompressed = 10;
        let mut reader =
            EntryReader::new(data.as_slice(), record, Budget::default()).expect("open");
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_err());
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn the_budget_is_shared() {
        let budget = Budget::default();
        budget.take(INFLATE_BUDGET).expect("within");
        assert!(budget.take(1).is_err());
    }

    #[test]
    fn zip64_extra_fills_only_overflowed_fields() {
        let mut record = RawRecord {
            name: b"a".to_vec(),
            flags: 0,
            method: 0,
            crc32: 0,
            compressed: 10,
            uncompressed: 0xFFFF_FFFF,
            local_offset: 0xFFFF_FFFF,
        };
        let mut extra = vec![1, 0, 16, 0];
        extra.extend_from_slice(&(1u64 << 62).to_le_bytes());
        extra.extend_from_slice(&77u64.to_le_bytes());
        apply_zip64_extra(&mut record, &extra);
        assert_eq!(record.uncompressed, 1 << 62);
        assert_eq!(record.compressed, 10);
        assert_eq!(record.local_offset, 77);
    }
}
