//! Workflow bottlenecks: each step's share of its runs' critical path.

use std::collections::{BTreeMap, HashMap};

use flightdeck_types::{InsightsQuery, StepShare, WorkflowBottleneck};

use super::{check_window, spread};
use crate::error::Result;
use crate::store::insights as sql;
use crate::store::Store;

/// Where each workflow's time goes over the window's succeeded runs (of `workflow` only, when
/// given): per step, its duration and its share of the critical path.
///
/// The critical path of a run is found from its step runs' times alone (a definition may have
/// changed since): from the step run that ended last, back through, each time, the step run
/// that ended last before it started (the one it waited for: a need, or the run that freed its
/// concurrency slot). A fan-out's items and a step's retries count for their step.
pub fn bottlenecks(
    store: &Store,
    q: &InsightsQuery,
    workflow: Option<&str>,
) -> Result<Vec<WorkflowBottleneck>> {
    check_window(q)?;
    let segments = store.read(|c| sql::step_segments(c, q.since, q.until, workflow))?;
    #[derive(Default)]
    struct Acc {
        runs: u64,
        run_ms: Vec<i64>,
        step_ms: HashMap<String, Vec<i64>>,
        critical: HashMap<String, i64>,
    }
    let mut per_workflow: BTreeMap<String, Acc> = BTreeMap::new();
    for run in segments.chunk_by(|a, b| a.1 == b.1) {
        let (name, _, run_start, run_end, ..) = &run[0];
        let acc = per_workflow.entry(name.clone()).or_default();
        acc.runs += 1;
        acc.run_ms.push((run_end - run_start).max(0));
        let mut spans: HashMap<&str, (i64, i64)> = HashMap::new();
        for (.., step, start, end) in run {
            let span = spans.entry(step).or_insert((*start, *end));
            *span = (span.0.min(*start), span.1.max(*end));
        }
        for (step, (start, end)) in spans {
            acc.step_ms
                .entry(step.to_string())
                .or_default()
                .push((end - start).max(0));
        }
        // Walk back from the last to end.
        let mut by_end: Vec<(&str, i64, i64)> =
            run.iter().map(|s| (s.4.as_str(), s.5, s.6)).collect();
        by_end.sort_by_key(|s| s.2);
        let mut current = by_end.len().checked_sub(1);
        while let Some(i) = current {
            let (step, start, end) = by_end[i];
            *acc.critical.entry(step.to_string()).or_default() += (end - start).max(0);
            current = by_end[..i].iter().rposition(|s| s.2 <= start);
        }
    }
    Ok(per_workflow
        .into_iter()
        .map(|(workflow, acc)| {
            let total: i64 = acc.run_ms.iter().sum();
            let mut steps: Vec<StepShare> = acc
                .step_ms
                .into_iter()
                .map(|(step, ms)| {
                    let critical_ms = acc.critical.get(&step).copied().unwrap_or(0);
                    StepShare {
                        runs: ms.len() as u64,
                        duration_ms: spread(ms),
                        critical_ms,
                        critical_share: match total {
                            0 => 0.0,
                            t => (critical_ms as f64 / t as f64).min(1.0),
                        },
                        step,
                    }
                })
                .collect();
            steps.sort_by(|a, b| {
                b.critical_ms
                    .cmp(&a.critical_ms)
                    .then_with(|| b.duration_ms.p50.cmp(&a.duration_ms.p50))
                    .then_with(|| a.step.cmp(&b.step))
            });
            WorkflowBottleneck {
                workflow,
                runs: acc.runs,
                duration_ms: spread(acc.run_ms),
                steps,
            }
        })
        .collect())
}
