//! Opening files a user controls without blocking, and reading them without end.
//!
//! A source folder or an input path can hold anything: a FIFO that never delivers a byte, a
//! link to `/dev/zero` that never ends, a file swapped for a FIFO while a build runs. Every
//! file layerpack reads is opened here, non-blocking (`O_NONBLOCK`), and its type is checked on
//! the open handle (not on the path, which could change in between); text files are read up to
//! a cap. Nothing else in layerpack calls `File::open` on user input.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

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
    fn text_is_capped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; 11]).expect("write");
        assert!(read_text_capped(&path, 10).is_err());
        assert_eq!(read_text_capped(&path, 11).expect("fits").len(), 11);
    }
}
