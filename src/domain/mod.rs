//! Facts about layers that several stages need, kept below all of them.
//!
//! The rules, `why`'s lookup replay (`resolve`) and the commands all ask the same questions of a
//! layer: which interpreter a CPython extension file is built for, which libraries the OS
//! provides and where the loader finds the rest, who would load a binary at a given place. Each
//! answer is written once here, so the stages that use it cannot drift apart.

pub(crate) mod distribution;
pub(crate) mod extension;
pub(crate) mod layout;
pub(crate) mod libraries;
pub(crate) mod placement;
pub(crate) mod pycache;
pub(crate) mod served;
