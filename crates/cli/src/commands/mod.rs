pub mod audit;
pub mod env;
pub mod sync;
pub mod task;
