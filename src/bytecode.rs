//! bytecode stage.
