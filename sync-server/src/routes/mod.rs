#[cfg(test)]
mod api_tests;
pub mod auth;
pub mod health;
pub mod join;
pub mod sync;
