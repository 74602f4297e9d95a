//! The hostile corpus: zips and folders as an attacker or a broken tool makes them, generated at
//! test time (nothing large is committed), and a runner that measures a child's peak memory.
//!
//! A 1 GiB entry costs about 1 MiB of zip here: the zeros are deflated once per MiB with a full
//! flush, which makes every MiB's compressed bytes identical, so they are repeated rather than
//! recompressed; the CRC-32 of the whole is combined from the CRC of one MiB.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 1980-01-01 00:00:00 as a DOS date and time.
const DOS_DATE: u16 = (1 << 5) | 1;

/// One mebibyte.
pub const MIB: u64 = 1 << 20;

/// What a zip entry says and holds; every field may lie.
#[derive(Clone, Debug)]
pub struct Raw {
    pub name: Vec<u8>,
    /// Unix mode with file type (0o100644 file, 0o120777 symlink, 0o40755 folder).
    pub mode: u32,
    pub method: u16,
    pub flags: u16,
    /// The bytes stored after the local header.
    pub data: Vec<u8>,
    /// Recorded CRC-32, uncompressed and compressed sizes.
    pub crc: u32,
    pub size: u64,
    pub compressed: u64,
}

impl Raw {
    /// Whether a size needs Zip64, and the extra field that then carries both sizes (empty
    /// otherwise): the same in the local header and the central record.
    fn zip64_extra(&self) -> (bool, Vec<u8>) {
        let zip64 = self.size >= 0xFFFF_FFFF || self.compressed >= 0xFFFF_FFFF;
        let mut extra = Vec::new();
        if zip64 {
            extra.extend_from_slice(&1u16.to_le_bytes());
            extra.extend_from_slice(&16u16.to_le_bytes());
            extra.extend_from_slice(&self.size.to_le_bytes());
            extra.extend_from_slice(&self.compressed.to_le_bytes());
        }
        (zip64, extra)
    }

    /// A stored entry that tells the truth.
    pub fn stored(name: &str, content: &[u8]) -> Raw {
        Raw {
            name: name.as_bytes().to_vec(),
            mode: if name.ends_with('/') {
                0o40755
            } else {
                0o100644
            },
            method: 0,
            flags: 0,
            data: content.to_vec(),
            crc: crc32fast::hash(content),
            size: content.len() as u64,
            compressed: content.len() as u64,
        }
    }

    /// A deflated entry that tells the truth.
    pub fn deflated(name: &str, content: &[u8]) -> Raw {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(content).expect("deflate");
        let data = encoder.finish().expect("deflate");
        Raw {
            compressed: data.len() as u64,
            data,
            method: 8,
            ..Raw::stored(name, content)
        }
    }

    /// A deflated entry of `prefix` followed by zeros up to `total` bytes: a bomb whose sizes
    /// and CRC are true.
    pub fn zeros(name: &str, prefix: &[u8], total: u64) -> Raw {
        let (data, crc) = deflated_zeros(prefix, total);
        Raw {
            name: name.as_bytes().to_vec(),
            mode: 0o100644,
            method: 8,
            flags: 0,
            compressed: data.len() as u64,
            data,
            crc,
            size: total,
        }
    }

    pub fn mode(mut self, mode: u32) -> Raw {
        self.mode = mode;
        self
    }
}

/// Deflates `prefix` + zeros up to `total` bytes (at least one MiB) in about total/1000 bytes.
pub fn deflated_zeros(prefix: &[u8], total: u64) -> (Vec<u8>, u32) {
    assert!(prefix.len() as u64 <= MIB && total >= MIB && total.is_multiple_of(MIB));
    let mut first = prefix.to_vec();
    first.resize(MIB as usize, 0);
    let zeros = vec![0u8; MIB as usize];
    let mut compress = flate2::Compress::new(flate2::Compression::default(), false);
    let mut segment = |input: &[u8], flush: flate2::FlushCompress| -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() / 100 + 1024);
        let start_in = compress.total_in();
        loop {
            let consumed = (compress.total_in() - start_in) as usize;
            let status = compress
                .compress_vec(&input[consumed..], &mut out, flush)
                .expect("deflate");
            let done_in = (compress.total_in() - start_in) as usize == input.len();
            if done_in && (status == flate2::Status::StreamEnd || out.len() < out.capacity()) {
                break;
            }
            out.reserve(out.capacity().max(1024));
        }
        out
    };
    let mut data = segment(&first, flate2::FlushCompress::Full);
    let repeated = segment(&zeros, flate2::FlushCompress::Full);
    let middle = total / MIB - 1;
    for _ in 0..middle {
        data.extend_from_slice(&repeated);
    }
    data.extend(segment(&[], flate2::FlushCompress::Finish));
    let mut crc = crc32fast::Hasher::new();
    crc.update(&first);
    let mut one = crc32fast::Hasher::new();
    one.update(&zeros);
    for _ in 0..middle {
        crc.combine(&one);
    }
    (data, crc.finalize())
}

/// A central-directory record that points at the local header of entry `target` under its
/// own name: overlapping entries.
#[derive(Clone, Debug)]
pub struct Alias {
    pub name: Vec<u8>,
    pub target: usize,
}

/// Writes `entries` (and `aliases`, extra central records) as a zip. Sizes of 4 GiB and more
/// go in Zip64 extra fields.
pub fn write_zip(path: &Path, entries: &[Raw], aliases: &[Alias]) {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for entry in entries {
        offsets.push(out.len() as u64);
        let (zip64, extra) = entry.zip64_extra();
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        out.extend_from_slice(&entry.flags.to_le_bytes());
        out.extend_from_slice(&entry.method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&DOS_DATE.to_le_bytes());
        out.extend_from_slice(&entry.crc.to_le_bytes());
        out.extend_from_slice(&clamp(entry.compressed, zip64).to_le_bytes());
        out.extend_from_slice(&clamp(entry.size, zip64).to_le_bytes());
        out.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        out.extend_from_slice(&entry.name);
        out.extend_from_slice(&extra);
        out.extend_from_slice(&entry.data);
    }
    let start = out.len() as u64;
    let mut count = 0u64;
    let records = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| (entry.name.clone(), index))
        .chain(
            aliases
                .iter()
                .map(|alias| (alias.name.clone(), alias.target)),
        );
    for (name, index) in records {
        let entry = &entries[index];
        let (zip64, extra) = entry.zip64_extra();
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&((3u16 << 8) | if zip64 { 45 } else { 20 }).to_le_bytes());
        out.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        out.extend_from_slice(&entry.flags.to_le_bytes());
        out.extend_from_slice(&entry.method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&DOS_DATE.to_le_bytes());
        out.extend_from_slice(&entry.crc.to_le_bytes());
        out.extend_from_slice(&clamp(entry.compressed, zip64).to_le_bytes());
        out.extend_from_slice(&clamp(entry.size, zip64).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 4]); // comment length, disk number
        out.extend_from_slice(&[0; 2]); // internal attributes
        out.extend_from_slice(&(entry.mode << 16).to_le_bytes());
        out.extend_from_slice(&(offsets[index] as u32).to_le_bytes());
        out.extend_from_slice(&name);
        out.extend_from_slice(&extra);
        count += 1;
    }
    let size = out.len() as u64 - start;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(count as u16).to_le_bytes());
    out.extend_from_slice(&(count as u16).to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&(start as u32).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    std::fs::write(path, out).expect("write hostile zip");
}

fn clamp(value: u64, zip64: bool) -> u32 {
    if zip64 { u32::MAX } else { value as u32 }
}

/// What a measured child did.
#[derive(Debug)]
pub struct Measured {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident set size of the child, in KiB: the highest `VmHWM` of its own address space
    /// seen while it ran. (`wait4`'s `ru_maxrss` is no use here: Linux carries the spawning test
    /// process's peak over into the child at `exec`, so it measures the test harness.)
    pub max_rss_kib: u64,
    pub elapsed: Duration,
}

/// The most memory any command may take on any input.
pub const MAX_RSS_KIB: u64 = 256 * 1024;

/// Runs `command` to its end, or kills it after `timeout` (a hang is a failure, not a wait),
/// and reports its exit code, output and peak memory.
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which also gives its rusage
pub fn run_measured(command: &mut Command, timeout: Duration) -> Measured {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn layerpack");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut max_rss_kib = 0;
    loop {
        max_rss_kib = max_rss_kib.max(high_water_kib(pid));
        // SAFETY: waits for our own child, with valid pointers to locals.
        let waited = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if waited == pid {
            break;
        }
        assert!(waited == 0, "wait4 failed");
        if started.elapsed() > timeout {
            let _ = child.kill();
            // SAFETY: as above, now blocking until the killed child is gone.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!(
                "{:?} did not finish within {timeout:?}: it hangs",
                command.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured {
        code,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
        max_rss_kib,
        elapsed: started.elapsed(),
    }
}

/// The peak resident memory of process `pid`'s address space so far (`VmHWM`), in KiB; 0 once it
/// has exited. Sampled every few milliseconds: a bomb that inflates a GiB takes far longer than
/// that to grow, so its growth is seen.
fn high_water_kib(pid: libc::pid_t) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}
