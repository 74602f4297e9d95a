//! Opening files a user controls without blocking, and reading them without end.
//!
//! A source folder or an input path can hold anything: a FIFO that never delivers a byte, a
//! link to `/dev/zero` that never ends, a file swapped for a FIFO while a build runs. Every
//! file layerpack reads is opened here, non-blocking (`O_NONBLOCK`), and its type is checked on
//! the open handle (not on the path, which could change in between); text files are read up to
//! a cap. Nothing else in layerpack calls `File::open` on user input. What a stat says of a file
//! (its [`Signature`]) and absolute paths made without a system call per path are here too.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The most bytes read from a configuration or ignore file: far beyond any real one.
pub(crate) const MAX_TEXT_FILE: u64 = 4 << 20;

/// Opens `path` for reading without blocking, and refuses anything but a regular file (a FIFO,
/// socket or device gives an error of kind `InvalidInput`). Symlinks are followed.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let file_type = file.metadata()?.file_type();
    if !file_type.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is not a regular file but {}", describe_type(&file_type)),
        ));
    }
    Ok(file)
}

/// The folder layerpack runs in, asked for once, so that many paths are made absolute without a
/// system call each (`std::path::absolute` asks for the working folder on every relative path).
#[derive(Clone, Debug)]
pub(crate) struct WorkingDir(Option<PathBuf>);

impl WorkingDir {
    /// The working folder now; unknown when the system cannot say (then [`WorkingDir::absolute`]
    /// asks again per path, as `std::path::absolute` does, and keeps a path it cannot resolve).
    pub(crate) fn current() -> WorkingDir {
        WorkingDir(std::env::current_dir().ok())
    }

    /// `path` made absolute without touching the file system (no symlink is resolved): the
    /// same path, byte for byte, as `std::path::absolute` gives, or `path` itself when that
    /// fails.
    pub(crate) fn absolute(&self, path: &Path) -> PathBuf {
        let joined = match &self.0 {
            // An absolute path is made absolute by `std::path::absolute` without a system call.
            Some(dir) if path.is_relative() && !path.as_os_str().is_empty() => dir.join(path),
            _ => path.to_path_buf(),
        };
        if is_normal_absolute(&joined) {
            return joined;
        }
        std::path::absolute(&joined).unwrap_or(joined)
    }
}

/// True for a path that `std::path::absolute` gives back unchanged: `/` and names, with no
/// empty or `.` name and no `/` at the end (which it would rewrite).
fn is_normal_absolute(path: &Path) -> bool {
    path.as_os_str()
        .as_encoded_bytes()
        .strip_prefix(b"/")
        .is_some_and(|names| {
            names
                .split(|&byte| byte == b'/')
                .all(|name| !name.is_empty() && name != b".")
        })
}

/// What git's index keeps of a file to tell that it did not change without reading it: size,
/// modification and change times with nanoseconds, identity (inode and device) and mode. The
/// gather stage takes it when its walk stats each file; the build cache records and compares
/// it (and decides when it can be trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Signature {
    pub(crate) size: u64,
    pub(crate) mtime: i64,
    pub(crate) mtime_ns: i64,
    pub(crate) ctime: i64,
    pub(crate) ctime_ns: i64,
    pub(crate) inode: u64,
    pub(crate) device: u64,
    pub(crate) mode: u32,
}

impl Signature {
    /// The signature of the file `metadata` describes.
    pub(crate) fn of(metadata: &std::fs::Metadata) -> Signature {
        use std::os::unix::fs::MetadataExt;
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

    /// How many bytes [`Signature::to_le_bytes`] gives.
    pub(crate) const ENCODED_LEN: usize = 7 * 8 + 4;

    /// The signature as the build cache's files keep it: its fields in order, little-endian.
    pub(crate) fn to_le_bytes(self) -> [u8; Self::ENCODED_LEN] {
        let mut bytes = [0u8; Self::ENCODED_LEN];
        let numbers = [
            self.size,
            self.mtime as u64,
            self.mtime_ns as u64,
            self.ctime as u64,
            self.ctime_ns as u64,
            self.inode,
            self.device,
        ];
        for (slot, number) in bytes.chunks_exact_mut(8).zip(numbers) {
            slot.copy_from_slice(&number.to_le_bytes());
        }
        bytes[7 * 8..].copy_from_slice(&self.mode.to_le_bytes());
        bytes
    }

    /// Reads what [`Signature::to_le_bytes`] wrote; `None` when `bytes` is not that long.
    pub(crate) fn from_le_bytes(bytes: &[u8]) -> Option<Signature> {
        let bytes: &[u8; Self::ENCODED_LEN] = bytes.try_into().ok()?;
        let number = |index: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[index * 8..index * 8 + 8]);
            u64::from_le_bytes(word)
        };
        let mut mode = [0u8; 4];
        mode.copy_from_slice(&bytes[7 * 8..]);
        Some(Signature {
            size: number(0),
            mtime: number(1) as i64,
            mtime_ns: number(2) as i64,
            ctime: number(3) as i64,
            ctime_ns: number(4) as i64,
            inode: number(5),
            device: number(6),
            mode: u32::from_le_bytes(mode),
        })
    }
}

/// What a non-regular file is, for messages.
pub(crate) fn describe_type(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else if file_type.is_symlink() {
        "a symlink"
    } else {
        "a regular file"
    }
}

/// Reads a regular file as UTF-8 text of at most `limit` bytes; a larger file is an error of
/// kind `InvalidData`, after reading no more than `limit + 1` bytes.
pub(crate) fn read_text_capped(path: &Path, limit: u64) -> io::Result<String> {
    let bytes = read_capped(path, limit)?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not valid UTF-8 text"))
}

/// Reads a regular file of at most `limit` bytes.
pub(crate) fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} bytes, more than layerpack reads of such a file",
                crate::units::group_digits(limit)
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_reads_back_as_written_and_a_short_one_is_refused() {
        let signature = Signature {
            size: 1 << 40,
            mtime: -86_400,
            mtime_ns: 999_999_999,
            ctime: 1_700_000_000,
            ctime_ns: 1,
            inode: u64::MAX,
            device: 2049,
            mode: 0o100_755,
        };
        let bytes = signature.to_le_bytes();
        assert_eq!(Signature::from_le_bytes(&bytes), Some(signature));
        assert_eq!(Signature::from_le_bytes(&bytes[1..]), None);
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if status.is_ok_and(|status| status.success()) {
            let err = open_regular(&fifo).expect_err("a FIFO is refused");
            assert!(err.to_string().contains("FIFO"), "{err}");
        }
        let err = open_regular(Path::new("/dev/zero")).expect_err("a device is refused");
        assert!(err.to_string().contains("device"), "{err}");
        assert!(read_capped(Path::new("/dev/zero"), 10).is_err());
    }

    #[test]
    fn working_dir_makes_paths_absolute_as_the_standard_library_does() {
        let working = WorkingDir::current();
        for path in [
            "a", "./a", "a/./b", "a//b", "a/b/", "../a", "a/../b", ".", "..", "./", "/", "/a/b",
            "//a", "///a", "/a/./b/", "", "a b/ç", "/a/../b", "/a/.", "/a/..", "/.", "/a/b/.",
            "a/.", "/a//b", "/.a/b.", "/a/...",
        ] {
            let path = Path::new(path);
            let expected = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            assert_eq!(
                working.absolute(path).as_os_str().as_encoded_bytes(),
                expected.as_os_str().as_encoded_bytes(),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn text_is_capped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; 11]).expect("write");
        assert!(read_text_capped(&path, 10).is_err());
        assert_eq!(read_text_capped(&path, 11).expect("fits").len(), 11);
    }
}
