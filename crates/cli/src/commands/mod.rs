pub mod audit;
pub mod env;
pub mod task;
