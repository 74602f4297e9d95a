//! Timing spans for finding where a command spends its time, printed to stderr only when
//! `LAYERPACK_TIMING` is set (to anything but empty).
//!
//! Why it exists: speed is judged by benchmarks of whole runs (`benches/compare.sh`); when one
//! is slow, these spans say which stage to look at without a profiler.

use std::time::Instant;

/// Whether timing is on: `LAYERPACK_TIMING` is set, and not empty.
static ON: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    std::env::var_os("LAYERPACK_TIMING").is_some_and(|value| !value.is_empty())
});

/// A stage being timed: prints `timing: NAME 12.3 ms` when dropped, if timing is on.
pub(crate) struct Span {
    name: &'static str,
    started: Option<Instant>,
}

/// Starts timing `name`; free when `LAYERPACK_TIMING` is unset.
pub(crate) fn span(name: &'static str) -> Span {
    Span {
        name,
        started: ON.then(Instant::now),
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            eprintln!(
                "timing: {} {:.1} ms",
                self.name,
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    }
}

/// Prints `timing: NAME COUNT` (how much work a stage did or saved), if timing is on.
pub(crate) fn count(name: &str, count: usize) {
    if *ON {
        eprintln!("timing: {name} {count}");
    }
}
