//! Errors of the tool itself, kept apart from findings about a layer.
//!
//! A finding says the layer is wrong (exit 1); an [`Error`] says layerpack could not do its job:
//! a bad `layer.toml`, an unreadable input, an unwritable destination (exit 2). Each error names
//! the file involved and says what to do, and renders through miette with a stable code.

use std::io;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error("cannot read {}", path.display())]
    #[diagnostic(
        code(layerpack::read),
        help("check that the path exists and that you may read it")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot write {}", path.display())]
    #[diagnostic(
        code(layerpack::write),
        help("check that the folder exists and is writable; nothing was written there")
    )]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{} is not a readable zip archive: {message}", path.display())]
    #[diagnostic(
        code(layerpack::zip),
        help("pass a layer .zip, or a folder laid out as a layer")
    )]
    Zip { path: PathBuf, message: String },

    /// `layer.toml` could not be parsed or is invalid; points at the offending text.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ConfigError>),

    /// Input that is wrong in a way the user can fix (a missing source folder, a path clash).
    #[error("{message}")]
    #[diagnostic(code(layerpack::input))]
    Input {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// A command-line value that makes no sense (unknown runtime, bad architecture).
    #[error("{message}")]
    #[diagnostic(code(layerpack::usage))]
    Usage {
        message: String,
        #[help]
        help: Option<String>,
    },
}

impl Error {
    pub(crate) fn read(path: &Path, source: io::Error) -> Error {
        Error::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn write(path: &Path, source: io::Error) -> Error {
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn zip(path: &Path, err: impl std::fmt::Display) -> Error {
        Error::Zip {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }

    pub(crate) fn input(message: impl Into<String>, help: impl Into<Option<String>>) -> Error {
        Error::Input {
            message: message.into(),
            help: help.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>, help: impl Into<Option<String>>) -> Error {
        Error::Usage {
            message: message.into(),
            help: help.into(),
        }
    }

    /// The process exit status of a tool error: 2 (findings that fail exit 1 without an error).
    pub fn exit_code(&self) -> i32 {
        2
    }
}

/// An invalid `layer.toml`, with the file's text so miette can point at the line.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(layerpack::config))]
pub struct ConfigError {
    pub(crate) message: String,
    #[source_code]
    pub(crate) source_code: NamedSource<String>,
    #[label("{label}")]
    pub(crate) span: Option<SourceSpan>,
    pub(crate) label: String,
    #[help]
    pub(crate) help: Option<String>,
}
