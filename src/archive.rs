//! archive stage.
