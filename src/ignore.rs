//! ignore stage.
