//! manifest stage.
