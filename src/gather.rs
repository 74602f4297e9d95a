//! gather stage.
