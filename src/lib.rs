//! layerpack: build and check AWS Lambda layers, offline.
//!
//! # The pipeline
//!
//! One module per stage, in the order `layerpack build` runs them for each layer:
//!
//! 1. [`config`] reads `layer.toml` (runtimes, architectures, sources, `[lint]` settings);
//! 2. [`gather`] walks the sources, leaving out what [`ignore`] says, into an [`inventory`]: the
//!    layer's entries, sorted, with where each one's bytes come from;
//! 3. a layer past Lambda's unzipped quota is linted on its sizes alone and refused before any
//!    byte is read;
//! 4. `cache` recognizes an unchanged layer and replays its last outcome;
//! 5. [`bytecode`] keeps the `.pyc` files valid in a zip whose dates are normalized;
//! 6. [`archive`] compresses every entry (`cache` hands back entries compressed before);
//! 7. [`inspect`] reads the headers of every binary, and the runner of [`rules`] runs every rule
//!    over the layer as it will ship (each sees a [`lint`] context); an error-level finding
//!    refuses the build;
//! 8. [`archive`] writes the zip, and `manifest` the `<zip>.json` beside it, by rename; `cache`
//!    records the outcome for the next build. The zip is written beside the output while the
//!    rules of 7 run, and replaces the output only once they have passed;
//! 9. `report` prints the findings and the outcome.
//!
//! `check` runs 1, 2, 7 and 9 over folders, zips (read by [`extract`]) or the layers of a
//! function; [`layer`] is the one loader every command opens a layer with. [`resolve`] replays a
//! runtime's lookup of a module, library or command for `why` and the `STK006` rule; it judges
//! the native code it finds with the rule runner it is handed, never importing the rules.
//!
//! Facts every stage reads sit below the stages: [`runtime`] (the runtime table: identifiers,
//! search paths), [`facts`] (what each runtime's image provides, generated from in-Lambda dumps),
//! `domain` (facts several stages derive from a layer: extension tags, the OS's libraries,
//! wrapping folders, what a layer serves), `entrypoint` (what Lambda starts by itself), `deps`
//! (dependency metadata), [`finding`] (what a rule reports). Imports run one way, command line →
//! [`commands`] → stages → facts, with no cycle between top-level modules;
//! `tests/it/architecture.rs` checks it.
//!
//! # The library's surface
//!
//! `main.rs` only parses flags and calls [`cli::run`]. The rest of the public surface is what
//! the integration tests (`tests/it/`) and the benchmarks (`benches/`) drive: the stages above,
//! one at a time, on trees and zips they make. Everything else is `pub(crate)`, so an item no
//! stage uses is reported as dead by the compiler.

#![warn(unreachable_pub)]

pub mod archive;
pub mod bytecode;
mod cache;
pub mod cli;
pub mod commands;
pub mod config;
mod deploy;
mod deps;
mod domain;
mod entrypoint;
pub mod error;
pub mod extract;
pub mod facts;
mod files;
pub mod finding;
pub mod gather;
pub mod ignore;
pub mod inspect;
pub mod inventory;
pub mod layer;
pub mod lint;
mod manifest;
mod report;
pub mod resolve;
pub mod rules;
pub mod runtime;
mod spool;
mod summary;
mod text;
mod timing;
mod units;
