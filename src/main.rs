use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use layerpack::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let status = match run(&cli, &mut out) {
        Ok(status) => status,
        Err(error) => {
            let _ = out.flush();
            let code = error.exit_code();
            eprintln!("{:?}", miette::Report::new(error));
            code
        }
    };
    let _ = out.flush();
    ExitCode::from(u8::try_from(status).unwrap_or(2))
}
