#[cfg(test)]
mod api_tests;
pub mod auth;
#[cfg(test)]
mod concurrency_tests;
pub mod devices;
#[cfg(test)]
mod generated_tests;
pub mod health;
pub mod join;
#[cfg(test)]
mod join_token_tests;
#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod refusal_tests;
pub mod sync;
#[cfg(test)]
mod test_support;
pub mod ws;
#[cfg(test)]
mod ws_tests;
