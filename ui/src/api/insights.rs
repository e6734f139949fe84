//! Insights through the shell: figures over a window, failure reasons, bottlenecks, health.

use flightdeck_types::{FailureReason, Health, Insights, InsightsQuery, WorkflowBottleneck};
use serde::Serialize;

use super::{invoke, ApiError};

#[derive(Serialize)]
struct QueryArgs<'a> {
    query: &'a InsightsQuery,
}

pub async fn insights(query: InsightsQuery) -> Result<Insights, ApiError> {
    invoke("insights", &QueryArgs { query: &query }).await
}

pub async fn insight_failures(query: InsightsQuery) -> Result<Vec<FailureReason>, ApiError> {
    invoke("insight_failures", &QueryArgs { query: &query }).await
}

pub async fn insight_bottlenecks(
    query: InsightsQuery,
) -> Result<Vec<WorkflowBottleneck>, ApiError> {
    invoke("insight_bottlenecks", &QueryArgs { query: &query }).await
}

pub async fn health() -> Result<Health, ApiError> {
    invoke("health", &()).await
}
