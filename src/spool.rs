//! Where compressed entries wait for their turn, in bounded memory.
//!
//! Why it exists: `build` compresses entries in parallel, largest first, but writes them in path
//! order, and only after linting, which needs the exact zipped size. Holding every compressed
//! entry in memory until then makes peak memory grow with the layer: a 240 MiB layer of files
//! that do not compress held 240 MiB of stored bytes, plus the files being read. Here memory is
//! bounded whatever the layer:
//!
//! - work in flight (a file read whole and libdeflate's output buffer) is admitted against a
//!   budget of [`IN_FLIGHT_BYTES`]; a thread whose file does not fit waits for another to
//!   finish, except when nothing else is in flight, so any file ever fits;
//! - finished entries stay in memory up to [`HELD_BYTES`] in all; the rest are appended to one
//!   unlinked temporary file (the spool), and a large file streamed through the compressor
//!   writes to an unlinked temporary file of its own. Both are created beside the output zip
//!   when its folder exists (so the spool lives on the file system that takes the zip anyway)
//!   and in the system's temporary folder otherwise. Being unlinked from the start, they vanish
//!   with the process, however it ends, and a later build never sees them.
//!
//! Entries reused from the previous zip or the cache are not copied here at all: they are
//! borrowed (a range of the file they are in) and read once, as the zip is written, checked
//! against the CRC-32 recorded for them (see [`Borrowed`]).
//!
//! Which entries are spooled depends on completion order, which depends on thread timing; the
//! bytes written do not: every entry is copied out in path order, from memory or a file alike.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The most bytes of work admitted at once: a file read whole (up to
/// [`crate::archive::STREAMED_FILE_BYTES`]) costs twice its size, its bytes and libdeflate's
/// output buffer.
pub(crate) const IN_FLIGHT_BYTES: u64 = 128 << 20;

/// The most bytes of finished entries kept in memory; the rest go to the spool file.
pub(crate) const HELD_BYTES: u64 = 32 << 20;

/// The bytes of one finished entry, as the zip stores them.
#[derive(Debug)]
pub(crate) enum Spooled {
    /// Kept in memory.
    Memory(Vec<u8>),
    /// `len` bytes at `offset` of the shared spool file.
    Shared { offset: u64, len: u64 },
    /// The whole of a temporary file of its own (a streamed entry).
    Own { file: File, len: u64 },
    /// Bytes of a file this build only reads (the previous zip, a cache entry or pack), not
    /// copied before the zip is written, and checked as they are written.
    Borrowed(Borrowed),
}

/// `len` bytes at `offset` of `source`, reused as they are. They are read once, when the zip is
/// written, and must then have the CRC-32 `data_crc` (when it is known) and give `expected`
/// when `check` (a CRC-32 already fed with what precedes them in `source`, an entry's header)
/// is combined with theirs. Bytes that fail it are never written on: the write fails and
/// [`Spool::found_damage`] says why, so that the build can prepare those entries again.
#[derive(Debug)]
pub(crate) struct Borrowed {
    pub(crate) source: Arc<File>,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) data_crc: Option<u32>,
    pub(crate) check: Option<(crc32fast::Hasher, u32)>,
    /// The content the bytes stand for, under which their CRC-32 is remembered once checked.
    pub(crate) content: [u8; 32],
}

impl Spooled {
    /// The number of bytes.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Spooled::Memory(bytes) => bytes.len() as u64,
            Spooled::Shared { len, .. } | Spooled::Own { len, .. } => *len,
            Spooled::Borrowed(borrowed) => borrowed.len,
        }
    }
}

/// The shared spool file and the next free offset in it.
struct SharedFile {
    file: File,
    end: u64,
}

/// The budgets, and the spool file once something overflows into it.
pub(crate) struct Spool {
    dir: PathBuf,
    in_flight: Mutex<u64>,
    freed: Condvar,
    held: Mutex<u64>,
    shared: Mutex<Option<SharedFile>>,
    /// Reads borrowed bytes ahead, since consecutive entries usually lie side by side.
    window: Mutex<ReadWindow>,
    /// Set when borrowed bytes failed their check (or could not be read).
    damaged: AtomicBool,
    /// The CRC-32 of the borrowed bytes of each content, once written and checked.
    checked: Mutex<HashMap<[u8; 32], u32>>,
}

/// The bytes of a borrowed source last read, `filled` bytes from `start`; where the last copy
/// ended, and how far the last read went.
struct ReadWindow {
    source: Option<Arc<File>>,
    start: u64,
    filled: usize,
    bytes: Vec<u8>,
    last_end: u64,
    ahead: usize,
}

/// How much of a borrowed source is read at once, at most.
const WINDOW_BYTES: usize = 1 << 20;

/// A copy that starts at most this far past where the last one ended continues it (the gap of
/// a local header between two entries of a zip).
const NEAR_BYTES: u64 = 4 << 10;

impl ReadWindow {
    /// Hands `len` bytes at `offset` of `source` to `each`, in slices of the window, reading
    /// ahead a window at a time.
    fn copy(
        &mut self,
        source: &Arc<File>,
        offset: u64,
        len: u64,
        mut each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut at = offset;
        let end = offset
            .checked_add(len)
            .ok_or_else(|| io::Error::other("a borrowed range ends past 2^64"))?;
        while at < end {
            let same = self
                .source
                .as_ref()
                .is_some_and(|held| Arc::ptr_eq(held, source));
            let window_end = self.start + self.filled as u64;
            if !same || at < self.start || at >= window_end {
                // Read ahead only where reads run in order (entries copied in the order of the
                // zip they come from), twice as far at each read in order, as the kernel's
                // read-ahead does; otherwise just what is asked for (entries of a pack).
                let in_order = same && at >= self.last_end && at - self.last_end <= NEAR_BYTES;
                let want =
                    usize::try_from(end - at).map_or(WINDOW_BYTES, |left| left.min(WINDOW_BYTES));
                self.ahead = if in_order {
                    self.ahead.saturating_mul(2).clamp(want, WINDOW_BYTES)
                } else {
                    want
                };
                self.fill(source, at, self.ahead)?;
                continue;
            }
            let from = (at - self.start) as usize;
            let to = (end.min(window_end) - self.start) as usize;
            each(&self.bytes[from..to])?;
            at += (to - from) as u64;
        }
        self.last_end = end;
        Ok(())
    }

    fn fill(&mut self, source: &Arc<File>, at: u64, want: usize) -> io::Result<()> {
        // One buffer for the whole write, zeroed once.
        if self.bytes.len() < WINDOW_BYTES {
            self.bytes.resize(WINDOW_BYTES, 0);
        }
        let want = want.min(WINDOW_BYTES);
        self.source = None;
        let mut filled = 0;
        while filled < want {
            match source.read_at(&mut self.bytes[filled..want], at + filled as u64) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        if filled == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a reused entry's bytes are cut short",
            ));
        }
        self.source = Some(source.clone());
        self.start = at;
        self.filled = filled;
        Ok(())
    }
}

/// Work admitted by [`Spool::admit`]; its cost is given back when dropped.
pub(crate) struct Admitted<'s> {
    spool: &'s Spool,
    cost: u64,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        let mut in_flight = lock(&self.spool.in_flight);
        *in_flight = in_flight.saturating_sub(self.cost);
        drop(in_flight);
        self.spool.freed.notify_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Spool {
    /// A spool whose files go in `dir` (the output zip's folder), or in the system's temporary
    /// folder when `dir` cannot take them.
    pub(crate) fn beside(dir: &Path) -> Spool {
        Spool {
            dir: dir.to_path_buf(),
            in_flight: Mutex::new(0),
            freed: Condvar::new(),
            held: Mutex::new(0),
            shared: Mutex::new(None),
            window: Mutex::new(ReadWindow {
                source: None,
                start: 0,
                filled: 0,
                bytes: Vec::new(),
                last_end: 0,
                ahead: 0,
            }),
            damaged: AtomicBool::new(false),
            checked: Mutex::new(HashMap::new()),
        }
    }

    /// True when borrowed bytes failed their check while the zip was written (the write then
    /// failed): those bytes were damaged, or changed since they were looked at.
    pub(crate) fn found_damage(&self) -> bool {
        self.damaged.load(Ordering::Relaxed)
    }

    /// The CRC-32 of each content whose borrowed bytes were written and checked.
    pub(crate) fn checked_crcs(&self) -> HashMap<[u8; 32], u32> {
        lock(&self.checked).clone()
    }

    /// The folder the spool's files go in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits until `cost` bytes of work fit in [`IN_FLIGHT_BYTES`] (or nothing else is in
    /// flight), and admits them.
    pub(crate) fn admit(&self, cost: u64) -> Admitted<'_> {
        let mut in_flight = lock(&self.in_flight);
        while *in_flight > 0 && in_flight.saturating_add(cost) > IN_FLIGHT_BYTES {
            in_flight = match self.freed.wait(in_flight) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
        *in_flight = in_flight.saturating_add(cost);
        Admitted { spool: self, cost }
    }

    /// Keeps a finished entry's bytes: in memory while [`HELD_BYTES`] allows, else appended to
    /// the spool file (and dropped from memory).
    pub(crate) fn keep(&self, bytes: Vec<u8>) -> io::Result<Spooled> {
        let len = bytes.len() as u64;
        {
            let mut held = lock(&self.held);
            if held.saturating_add(len) <= HELD_BYTES {
                *held += len;
                return Ok(Spooled::Memory(bytes));
            }
        }
        let mut shared = lock(&self.shared);
        if shared.is_none() {
            *shared = Some(SharedFile {
                file: self.temporary_file()?,
                end: 0,
            });
        }
        let Some(spool) = shared.as_mut() else {
            return Err(io::Error::other(
                "the spool file is missing (internal error)",
            ));
        };
        let offset = spool.end;
        spool.file.write_all_at(&bytes, offset)?;
        spool.end += len;
        Ok(Spooled::Shared { offset, len })
    }

    /// An unlinked temporary file for one streamed entry.
    pub(crate) fn temporary_file(&self) -> io::Result<File> {
        tempfile::tempfile_in(&self.dir).or_else(|_| tempfile::tempfile())
    }

    /// Writes an entry's bytes to `out`.
    pub(crate) fn copy_to(&self, spooled: &Spooled, out: &mut impl Write) -> io::Result<()> {
        match spooled {
            Spooled::Memory(bytes) => out.write_all(bytes),
            Spooled::Own { file, len } => copy_range(file, 0, *len, out),
            Spooled::Borrowed(borrowed) => {
                let damaged = |what: &str| {
                    self.damaged.store(true, Ordering::Relaxed);
                    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
                };
                let mut crc = crc32fast::Hasher::new();
                let mut written = Ok(());
                let read = lock(&self.window).copy(
                    &borrowed.source,
                    borrowed.offset,
                    borrowed.len,
                    |slice| {
                        crc.update(slice);
                        written = out.write_all(slice);
                        // Stop reading on a write error, and report it as such below.
                        written
                            .as_ref()
                            .map(|_| ())
                            .map_err(|err| io::Error::new(err.kind(), ""))
                    },
                );
                written?;
                read.map_err(|_| damaged("a reused entry could not be read back whole"))?;
                let data_crc = crc.clone().finalize();
                let whole = borrowed.check.as_ref().is_none_or(|(before, expected)| {
                    let mut whole = before.clone();
                    whole.combine(&crc);
                    whole.finalize() == *expected
                });
                if borrowed.data_crc.is_some_and(|known| known != data_crc) || !whole {
                    return Err(damaged(
                        "a reused entry's bytes differ from those recorded for them",
                    ));
                }
                lock(&self.checked).insert(borrowed.content, data_crc);
                Ok(())
            }
            Spooled::Shared { offset, len } => {
                let shared = lock(&self.shared);
                let spool = shared.as_ref().ok_or_else(|| {
                    io::Error::other("the spool file is missing (internal error)")
                })?;
                copy_range(&spool.file, *offset, *len, out)
            }
        }
    }
}

/// Copies `len` bytes at `offset` of `file` to `out`, through a fixed buffer.
fn copy_range(file: &File, offset: u64, len: u64, out: &mut impl Write) -> io::Result<()> {
    let mut buffer = vec![0u8; (256 << 10).min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let want = buffer.len().min((len - done) as usize);
        file.read_exact_at(&mut buffer[..want], offset + done)?;
        out.write_all(&buffer[..want])?;
        done += want as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_past_the_held_budget_go_to_the_file_and_come_back_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let spool = Spool::beside(dir.path());
        let big: Vec<u8> = (0..HELD_BYTES).map(|index| (index % 251) as u8).collect();
        let kept = spool.keep(big.clone()).expect("keep");
        assert!(matches!(kept, Spooled::Memory(_)));
        let small = b"spilled".to_vec();
        let spilled = spool.keep(small.clone()).expect("keep");
        assert!(matches!(spilled, Spooled::Shared { offset: 0, len: 7 }));
        let again = spool.keep(small.clone()).expect("keep");
        assert!(matches!(again, Spooled::Shared { offset: 7, len: 7 }));
        let mut out = Vec::new();
        for spooled in [&kept, &spilled, &again] {
            spool.copy_to(spooled, &mut out).expect("copy");
        }
        assert_eq!(out.len() as u64, HELD_BYTES + 14);
        assert_eq!(&out[..big.len()], &big[..]);
        assert_eq!(&out[big.len()..], b"spilledspilled");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            0,
            "the spool file is unlinked"
        );
    }

    #[test]
    fn borrowed_bytes_are_checked_as_they_are_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("source");
        // Two ranges side by side, as two entries of a zip, and a header before the second.
        let source: Vec<u8> = (0..3 * WINDOW_BYTES as u64)
            .map(|i| (i % 241) as u8)
            .collect();
        std::fs::write(&path, &source).expect("write source");
        let file = Arc::new(File::open(&path).expect("open"));
        let spool = Spool::beside(dir.path());
        let first = 10..(WINDOW_BYTES + 5);
        let second = (WINDOW_BYTES + 40)..(2 * WINDOW_BYTES + 7);
        let mut header = crc32fast::Hasher::new();
        header.update(b"header");
        let mut whole = header.clone();
        whole.update(&source[second.clone()]);
        let borrowed = |range: &std::ops::Range<usize>, data_crc, check| {
            Spooled::Borrowed(Borrowed {
                source: file.clone(),
                offset: range.start as u64,
                len: range.len() as u64,
                data_crc,
                check,
                content: [range.start as u8; 32],
            })
        };
        let good = [
            borrowed(&first, Some(crc32fast::hash(&source[first.clone()])), None),
            borrowed(
                &second,
                None,
                Some((header.clone(), whole.clone().finalize())),
            ),
        ];
        let mut out = Vec::new();
        for spooled in &good {
            spool.copy_to(spooled, &mut out).expect("copy");
        }
        assert!(out[..first.len()] == source[first.clone()]);
        assert!(out[first.len()..] == source[second.clone()]);
        assert!(!spool.found_damage());
        assert_eq!(
            spool.checked_crcs().get(&[first.start as u8; 32]),
            Some(&crc32fast::hash(&source[first.clone()]))
        );
        // A wrong CRC-32 or checksum, or a range past the end, fails and is reported as damage.
        for bad in [
            borrowed(&first, Some(1), None),
            borrowed(&second, None, Some((header.clone(), 1))),
            borrowed(&(source.len() - 3..source.len() + 3), None, None),
        ] {
            let spool = Spool::beside(dir.path());
            assert!(spool.copy_to(&bad, &mut Vec::new()).is_err());
            assert!(spool.found_damage());
        }
    }

    #[test]
    fn work_over_the_budget_waits_unless_nothing_else_runs() {
        let spool = Spool::beside(Path::new("."));
        // Alone, any cost is admitted.
        let huge = spool.admit(IN_FLIGHT_BYTES * 4);
        drop(huge);
        let first = spool.admit(IN_FLIGHT_BYTES - 1);
        let admitted = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _second = spool.admit(2);
                admitted.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            // The second waits while the first holds the budget (checked without timing: the
            // flag can only be set once the first is dropped below).
            assert_eq!(*lock(&spool.in_flight), IN_FLIGHT_BYTES - 1);
            drop(first);
        });
        assert!(admitted.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(*lock(&spool.in_flight), 0);
    }
}
