//! One module per view in the nav.

pub mod tasks;
