//! The `layerpack` binary: parses flags, runs the command, renders a tool error, sets the exit
//! status. Everything else lives in the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use layerpack::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Colour only on a terminal and never with NO_COLOR; fixed width and no links elsewhere, so
    // CI logs and snapshots read the same everywhere.
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(true)
                .terminal_links(false)
                .width(100)
                .build(),
        )
    }));
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
