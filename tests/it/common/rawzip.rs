//! Zips with arbitrary raw entries (unsafe names, duplicates, odd modes, symlinks), as other
//! tools or attackers make them, for the `ZIP` and `HYG004` fixtures.
//!
//! The writer is written out by hand (stored entries, Unix made-by, one fixed DOS date) because
//! a zip library refuses exactly what these fixtures need: duplicate names, absolute paths,
//! backslashes and NUL bytes.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Deserialize;

/// `[zip]` of a fixture's `case.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZipSpec {
    /// Raw entries written after the files of `layer/`, in this order.
    #[serde(default)]
    pub entries: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    /// The name exactly as stored (after `repeat`, if any).
    pub name: String,
    /// Text written `times` times before `name`: a long path without a long line in the fixture.
    pub repeat: Option<String>,
    #[serde(default)]
    pub times: usize,
    #[serde(default)]
    pub content: String,
    /// Unix mode bits including the file type (e.g. 0o100644, 0o120777 for a symlink, whose
    /// target is the content). Default: 0o40755 for a name ending in `/`, else 0o100644.
    pub mode: Option<u32>,
    /// Write the entry as a Windows tool does: made-by MS-DOS, and these raw external attributes
    /// (DOS attribute bits, no Unix mode; 0 records nothing at all) instead of the Unix mode.
    pub dos_attributes: Option<u32>,
    /// The compression method recorded; 8 (deflate) compresses `content` truthfully unless
    /// `corrupt` is set, any other method stores `content` as it is under that number.
    pub method: Option<u16>,
    /// Record this CRC-32 instead of the content's.
    pub crc: Option<u32>,
    /// Record this uncompressed size instead of the content's.
    pub size: Option<u32>,
    /// Set the encryption flag (general-purpose bit 0).
    #[serde(default)]
    pub encrypted: bool,
    /// With method 8: store `content` itself as the "deflate stream" (not valid deflate).
    #[serde(default)]
    pub corrupt: bool,
    /// Write no data, only a central record under `name` that points at the local header of
    /// the earlier entry named here (two entries sharing one stream).
    pub alias_of: Option<String>,
}

impl RawEntry {
    /// The name as stored: `repeat` × `times`, then `name`.
    fn full_name(&self) -> String {
        self.repeat
            .as_deref()
            .unwrap_or_default()
            .repeat(self.times)
            + &self.name
    }

    /// The bytes stored and what the records say of them: (data, method, flags, crc, size).
    fn encode(&self) -> (Vec<u8>, u16, u16, u32, u32) {
        let content = self.content.as_bytes();
        let method = self.method.unwrap_or(0);
        let data = if method == 8 && !self.corrupt {
            let mut encoder =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(content).expect("deflate");
            encoder.finish().expect("deflate")
        } else {
            content.to_vec()
        };
        (
            data,
            method,
            u16::from(self.encrypted),
            self.crc.unwrap_or_else(|| crc32fast::hash(content)),
            self.size
                .unwrap_or_else(|| u32::try_from(content.len()).expect("small content")),
        )
    }
}

/// 1980-01-01 00:00:00 as a DOS date and time.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;

/// Where an entry's bytes come from.
enum Data<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

struct Written {
    name: Vec<u8>,
    /// Made-by host (3 Unix, 0 MS-DOS) and the raw external attributes.
    host: u16,
    external: u32,
    crc: u32,
    size: u32,
    compressed: u32,
    method: u16,
    extra_flags: u16,
    offset: u32,
}

impl Written {
    /// The entry's local header, which its data follows.
    fn local_header(&self) -> Vec<u8> {
        let mut header = Vec::with_capacity(30 + self.name.len());
        header.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        header.extend_from_slice(&20u16.to_le_bytes());
        header.extend_from_slice(&(flags(&self.name) | self.extra_flags).to_le_bytes());
        header.extend_from_slice(&self.method.to_le_bytes());
        header.extend_from_slice(&DOS_TIME.to_le_bytes());
        header.extend_from_slice(&DOS_DATE.to_le_bytes());
        header.extend_from_slice(&self.crc.to_le_bytes());
        header.extend_from_slice(&self.compressed.to_le_bytes());
        header.extend_from_slice(&self.size.to_le_bytes());
        header.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&self.name);
        header
    }
}

/// Writes every folder, file and symlink of `tree` (sorted, with their modes on disk) and then
/// `spec.entries` into a zip at `out`. Every entry is stored (not compressed).
pub fn write(out: &Path, tree: &Path, spec: &ZipSpec) {
    let mut writer = ZipOut {
        out: BufWriter::new(File::create(out).expect("create zip")),
        offset: 0,
        written: Vec::new(),
    };
    for entry in walkdir::WalkDir::new(tree).min_depth(1).sort_by_file_name() {
        let entry = entry.expect("walk layer");
        let relative = entry
            .path()
            .strip_prefix(tree)
            .expect("below root")
            .to_str()
            .expect("utf-8 fixture path")
            .to_string();
        let metadata = std::fs::symlink_metadata(entry.path()).expect("metadata");
        let mode = metadata.permissions().mode();
        if metadata.is_dir() {
            writer.add(
                format!("{relative}/").as_bytes(),
                unix(mode),
                Data::Bytes(b""),
            );
        } else if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(entry.path()).expect("read link");
            let target = target.to_str().expect("utf-8 link").as_bytes().to_vec();
            writer.add(relative.as_bytes(), unix(mode), Data::Bytes(&target));
        } else {
            writer.add(relative.as_bytes(), unix(mode), Data::File(entry.path()));
        }
    }
    for raw in &spec.entries {
        if let Some(target) = &raw.alias_of {
            let original = writer
                .written
                .iter()
                .find(|written| written.name == target.as_bytes())
                .unwrap_or_else(|| panic!("alias_of `{target}`: no earlier entry of that name"));
            let alias = Written {
                name: raw.full_name().into_bytes(),
                ..*original
            };
            writer.written.push(alias);
            continue;
        }
        let name = raw.full_name();
        let mode = raw.mode.unwrap_or(if name.ends_with('/') {
            0o40755
        } else {
            0o100644
        });
        let attributes = match raw.dos_attributes {
            Some(external) => (0, external),
            None => unix(mode),
        };
        let (data, method, extra_flags, crc, size) = raw.encode();
        writer.add_raw(
            name.as_bytes(),
            attributes,
            &data,
            (method, extra_flags, crc, size),
        );
    }
    writer.finish();
}

struct ZipOut {
    out: BufWriter<File>,
    offset: u64,
    written: Vec<Written>,
}

impl ZipOut {
    fn put(&mut self, bytes: &[u8]) {
        self.out.write_all(bytes).expect("write zip");
        self.offset += bytes.len() as u64;
    }

    /// Adds an entry whose records say what `(method, flags, crc, size)` say, whatever `data` is.
    fn add_raw(
        &mut self,
        name: &[u8],
        (host, external): (u16, u32),
        data: &[u8],
        (method, extra_flags, crc, size): (u16, u16, u32, u32),
    ) {
        let offset = u32::try_from(self.offset).expect("fixture zips stay below 4 GiB");
        let compressed = u32::try_from(data.len()).expect("small data");
        let written = Written {
            name: name.to_vec(),
            host,
            external,
            crc,
            size,
            compressed,
            method,
            extra_flags,
            offset,
        };
        self.put(&written.local_header());
        self.put(data);
        self.written.push(written);
    }

    fn add(&mut self, name: &[u8], (host, external): (u16, u32), data: Data<'_>) {
        let (crc, size) = match &data {
            Data::Bytes(bytes) => (crc32fast::hash(bytes), bytes.len() as u64),
            Data::File(path) => {
                let mut hasher = crc32fast::Hasher::new();
                let size = stream(path, |chunk| hasher.update(chunk));
                (hasher.finalize(), size)
            }
        };
        let size = u32::try_from(size).expect("fixture entries stay below 4 GiB");
        let offset = u32::try_from(self.offset).expect("fixture zips stay below 4 GiB");
        let written = Written {
            name: name.to_vec(),
            host,
            external,
            crc,
            size,
            compressed: size,
            method: 0,
            extra_flags: 0,
            offset,
        };
        self.put(&written.local_header());
        match data {
            Data::Bytes(bytes) => self.put(bytes),
            Data::File(path) => {
                let mut copied = 0u64;
                let out = &mut self.out;
                stream(path, |chunk| {
                    out.write_all(chunk).expect("write zip");
                    copied += chunk.len() as u64;
                });
                self.offset += copied;
            }
        }
        self.written.push(written);
    }

    fn finish(mut self) {
        let start = self.offset;
        let written = std::mem::take(&mut self.written);
        for entry in &written {
            let mut record = Vec::with_capacity(46 + entry.name.len());
            record.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            record.extend_from_slice(&((entry.host << 8) | 20).to_le_bytes());
            record.extend_from_slice(&20u16.to_le_bytes());
            record.extend_from_slice(&(flags(&entry.name) | entry.extra_flags).to_le_bytes());
            record.extend_from_slice(&entry.method.to_le_bytes());
            record.extend_from_slice(&DOS_TIME.to_le_bytes());
            record.extend_from_slice(&DOS_DATE.to_le_bytes());
            record.extend_from_slice(&entry.crc.to_le_bytes());
            record.extend_from_slice(&entry.compressed.to_le_bytes());
            record.extend_from_slice(&entry.size.to_le_bytes());
            record.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
            record.extend_from_slice(&0u16.to_le_bytes());
            record.extend_from_slice(&0u16.to_le_bytes());
            record.extend_from_slice(&0u16.to_le_bytes());
            record.extend_from_slice(&0u16.to_le_bytes());
            record.extend_from_slice(&entry.external.to_le_bytes());
            record.extend_from_slice(&entry.offset.to_le_bytes());
            record.extend_from_slice(&entry.name);
            self.put(&record);
        }
        let size = u32::try_from(self.offset - start).expect("small directory");
        let count = u16::try_from(written.len()).expect("fewer than 65536 entries");
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&size.to_le_bytes());
        end.extend_from_slice(&u32::try_from(start).expect("small zip").to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.put(&end);
        self.out.flush().expect("flush zip");
    }
}

/// Made-by Unix, with the mode in the high half of the external attributes (and the MS-DOS
/// directory bit for folders, as Info-ZIP writes it).
fn unix(mode: u32) -> (u16, u32) {
    let directory_bit = u32::from(mode & 0o170000 == 0o040000) << 4;
    (3, (mode << 16) | directory_bit)
}

/// The UTF-8 flag for names that are not plain ASCII.
fn flags(name: &[u8]) -> u16 {
    if name.is_ascii() { 0 } else { 1 << 11 }
}

/// Feeds a file's bytes to `sink` in chunks; returns the byte count.
fn stream(path: &Path, mut sink: impl FnMut(&[u8])) -> u64 {
    let mut file = File::open(path).expect("open fixture file");
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return total,
            Ok(read) => {
                sink(&buffer[..read]);
                total += read as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => panic!("read {}: {err}", path.display()),
        }
    }
}
