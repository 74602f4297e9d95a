//! Runs what `layerpack check` runs on one folder — gather, inspect, every layer rule — and
//! prints the finding counts. `benches/check_speed.sh` times it while the `check` command is
//! not available.
//!
//! `cargo run --release --example check_layer -- DIR RUNTIME [ARCH]`

use std::path::Path;
use std::process::ExitCode;

use layerpack::finding::Counts;
use layerpack::lint::{Budget, LintSettings, check_inventory};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, runtime, rest @ ..] = args.as_slice() else {
        eprintln!("usage: check_layer DIR RUNTIME [ARCH]");
        return ExitCode::from(2);
    };
    let arch = rest
        .first()
        .cloned()
        .unwrap_or_else(|| "x86_64".to_string());
    let run = || -> Result<Counts, layerpack::error::Error> {
        let inventory = layerpack::gather::gather_dir(Path::new(dir), &[])?.inventory;
        let runtimes = layerpack::commands::parse_runtimes(std::slice::from_ref(runtime))?;
        let archs = layerpack::commands::parse_archs(&[arch])?;
        let findings = check_inventory(
            dir,
            &inventory,
            &runtimes,
            &archs,
            Budget::default(),
            &LintSettings::default(),
        );
        Ok(Counts::of(&findings))
    };
    match run() {
        Ok(counts) => {
            println!(
                "{} errors, {} warnings, {} infos",
                counts.errors, counts.warnings, counts.infos
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(2)
        }
    }
}
