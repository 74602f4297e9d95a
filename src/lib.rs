//! layerpack: build and check AWS Lambda layers, offline.
//!
//! The pipeline, one module per stage:
//! `config` → `gather` (+ `ignore`) → `inventory` → `inspect` → `lint` (`rules/`) → `bytecode`
//! → `archive` → `manifest`; `cache` lets `build` reuse compressed entries and skip an unchanged
//! layer; `resolve` replays a runtime's lookup for `why`. `runtime` is the one table of runtime
//! facts every stage reads; `entrypoint` finds what Lambda starts by itself (bootstrap,
//! extensions, exec wrapper). `main.rs` only parses flags and calls [`cli::run`].

pub mod archive;
pub mod bytecode;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod deps;
pub mod domain;
pub mod duplicates;
pub mod entrypoint;
pub mod error;
pub mod extract;
pub mod facts;
pub mod files;
pub mod finding;
pub mod gather;
pub mod ignore;
pub mod inspect;
pub mod inventory;
pub mod layer;
pub mod lint;
pub mod manifest;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod runtime;
pub mod spool;
pub mod summary;
pub mod text;
pub mod timing;
pub mod units;
