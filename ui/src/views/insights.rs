//! Insights: how runs went over a window (24 hours, 7 or 30 days), grouped by task,
//! environment, executor, schedule, workflow or step, live as runs end. Hand-written SVG
//! charts (a few rects with their figures in `<title>`s for hover): a chart crate would add
//! more to the wasm than the charts themselves, and these read the theme's variables.

use flightdeck_types::{
    DurationBucket, FailureReason, GroupFigures, Health, Insights, InsightsGroup, InsightsQuery,
    Timestamp, WorkflowBottleneck,
};
use leptos::prelude::*;

use super::{use_route, Route};
use crate::api;
use crate::live::use_live;

const DAY_MS: i64 = 86_400_000;

/// Statuses in the order the bars stack them, bottom up.
const STACK: [&str; 7] = [
    "succeeded",
    "failed",
    "timed_out",
    "interrupted",
    "cancelled",
    "running",
    "queued",
];

fn query(days: i64, by: InsightsGroup) -> InsightsQuery {
    let now = js_sys::Date::now() as i64;
    InsightsQuery {
        since: Timestamp::from_millis(now - days * DAY_MS),
        until: Timestamp::from_millis(now + 1),
        by,
    }
}

/// A duration, or a dash when there is none (the app's one duration format).
pub fn ms(v: Option<i64>) -> String {
    v.map_or_else(|| "–".into(), super::format::duration)
}

pub fn rate(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{:.1} %", r * 100.0))
}

#[component]
pub fn InsightsView() -> impl IntoView {
    let live = use_live();
    let (days, set_days) = signal(7i64);
    let (by, set_by) = signal(InsightsGroup::Task);
    let figures = LocalResource::new(move || {
        live.runs.get();
        live.workflow_runs.get();
        api::insights(query(days.get(), by.get()))
    });
    let failures = LocalResource::new(move || {
        live.runs.get();
        api::insight_failures(query(days.get(), InsightsGroup::Task))
    });
    let bottlenecks = LocalResource::new(move || {
        live.workflow_runs.get();
        api::insight_bottlenecks(query(days.get(), InsightsGroup::Step))
    });
    let health = LocalResource::new(move || {
        live.runs.get();
        live.memories.get();
        api::health()
    });
    view! {
        <section class="view" data-testid="insights">
            <div class="view-head">
                <h1>"Insights"</h1>
                <div class="filters tight">
                    <select class="input" data-testid="insights-window" aria-label="Window"
                        on:change=move |ev| set_days.set(event_target_value(&ev).parse().unwrap_or(7))>
                        <option value="1">"Last 24 hours"</option>
                        <option value="7" selected>"Last 7 days"</option>
                        <option value="30">"Last 30 days"</option>
                    </select>
                    <select class="input" data-testid="insights-by" aria-label="Group by"
                        on:change=move |ev| set_by.set(event_target_value(&ev).parse().unwrap_or(InsightsGroup::Task))>
                        {InsightsGroup::ALL.iter().map(|g| view! {
                            <option value=g.as_str()>{format!("By {}", g.as_str())}</option>
                        }).collect_view()}
                    </select>
                </div>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading insights…"</p> }>
                {move || Suspend::new(async move {
                    figures.await.map(|i| view! { <Figures insights=i /> })
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    bottlenecks.await.map(|b| view! { <Bottlenecks found=b /> })
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    failures.await.map(|f| view! { <Failures reasons=f /> })
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    health.await.map(|h| view! { <HealthPanel health=h /> })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Figures(insights: Insights) -> impl IntoView {
    let t = insights.total.clone();
    if t.runs == 0 {
        return view! {
            <p class="empty" data-testid="insights-empty">"No runs in this window. Choose a longer one."</p>
        }
        .into_any();
    }
    view! {
        <div class="insight-cards">
            <Card label="Runs" value=t.runs.to_string() testid="insights-runs" />
            <Card label="Success rate" value=rate(t.success_rate) testid="insights-success-rate" />
            <Card label="p50 duration" value=ms(t.duration_ms.p50) testid="insights-p50" />
            <Card label="p95 duration" value=ms(t.duration_ms.p95) testid="insights-p95" />
            <Card label="p50 in queue" value=ms(t.queue_ms.p50) testid="insights-queue" />
            <Card label="Retries" value=t.retries.to_string() testid="insights-retries" />
        </div>
        <h2>"Runs per day"</h2>
        <RunsPerDay insights=insights.clone() />
        <h2>"Success rate per day"</h2>
        <SuccessOverTime insights=insights.clone() />
        <h2>"Duration distribution (p50 and p95 marked)"</h2>
        <Distribution buckets=insights.durations.clone() p50=t.duration_ms.p50 p95=t.duration_ms.p95 />
        <h2>"Durations per group (p50 and p95 marked)"</h2>
        <Spreads groups=insights.groups.clone() />
        <h2>{format!("By {}", insights.by)}</h2>
        <GroupTable groups=insights.groups />
    }
    .into_any()
}

#[component]
fn Card(label: &'static str, value: String, testid: &'static str) -> impl IntoView {
    view! {
        <div class="insight-card">
            <span class="insight-label">{label}</span>
            <span class="insight-value" data-testid=testid>{value}</span>
        </div>
    }
}

/// A bar a day, stacked by status; each part's figure in its `<title>`.
#[component]
fn RunsPerDay(insights: Insights) -> impl IntoView {
    let (w, h) = (640.0, 140.0);
    let n = insights.days.len().max(1) as f64;
    let max = insights
        .days
        .iter()
        .map(|d| d.by_status.values().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bar = w / n;
    let rects = insights
        .days
        .iter()
        .enumerate()
        .flat_map(|(i, day)| {
            let mut y = h;
            let mut parts = Vec::new();
            let others = day
                .by_status
                .keys()
                .filter(|s| !STACK.contains(&s.as_str()))
                .cloned();
            let order: Vec<String> = STACK.iter().map(|s| s.to_string()).chain(others).collect();
            for status in order {
                let Some(count) = day.by_status.get(&status).copied() else {
                    continue;
                };
                let height = count as f64 / max * (h - 4.0);
                y -= height;
                parts.push(view! {
                    <rect class=format!("bar bar-{status}") x=i as f64 * bar + 1.0 y=y
                        width=(bar - 2.0).max(1.0) height=height>
                        <title>{format!("{}: {count} {status}", day.day)}</title>
                    </rect>
                });
            }
            parts
        })
        .collect_view();
    view! {
        <svg class="chart" data-testid="insights-per-day" viewBox=format!("0 0 {w} {h}")
            preserveAspectRatio="none" role="img" aria-label="Runs per day by status">
            {rects}
        </svg>
    }
}

/// The success rate of each day with runs that ended either way, as a line with a dot a day
/// (its figure in the dot's `<title>`).
#[component]
fn SuccessOverTime(insights: Insights) -> impl IntoView {
    let (w, h) = (640.0, 100.0);
    let n = insights.days.len().max(1) as f64;
    let step = w / n;
    let points: Vec<(f64, f64, String)> = insights
        .days
        .iter()
        .enumerate()
        .filter_map(|(i, day)| {
            let count = |names: &[&str]| -> u64 {
                names.iter().filter_map(|s| day.by_status.get(*s)).sum()
            };
            let (ok, bad) = (
                count(&["succeeded"]),
                count(&["failed", "timed_out", "interrupted"]),
            );
            (ok + bad > 0).then(|| {
                let rate = ok as f64 / (ok + bad) as f64;
                (
                    i as f64 * step + step / 2.0,
                    h - 6.0 - rate * (h - 12.0),
                    format!("{}: {:.1} % of {} runs", day.day, rate * 100.0, ok + bad),
                )
            })
        })
        .collect();
    let line = points
        .iter()
        .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <svg class="chart" data-testid="insights-success-over-time" viewBox=format!("0 0 {w} {h}")
            role="img" aria-label="Success rate per day">
            <line class="axis" x1="0" x2=w y1=6.0 y2=6.0 />
            <line class="axis" x1="0" x2=w y1=h - 6.0 y2=h - 6.0 />
            <polyline class="rate-line" points=line />
            {points.into_iter().map(|(x, y, title)| view! {
                <circle class="rate-dot" cx=x cy=y r="3"><title>{title}</title></circle>
            }).collect_view()}
        </svg>
    }
}

/// How all runs' durations spread: a bar per bucket (1-2-5 steps, so the scale is logarithmic),
/// its exact count in its `<title>`, with the p50 and p95 marked where they fall.
#[component]
fn Distribution(buckets: Vec<DurationBucket>, p50: Option<i64>, p95: Option<i64>) -> impl IntoView {
    if buckets.is_empty() {
        return ().into_any();
    }
    let (w, h, base) = (640.0, 120.0, 104.0);
    let bar = w / buckets.len() as f64;
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    // The bound below bucket `i`: the one before it, or the step below the first (1-2-5).
    let lower = |i: usize| -> f64 {
        match i {
            0 => {
                let up = buckets[0].up_to_ms;
                let mut lead = up;
                while lead >= 10 {
                    lead /= 10;
                }
                up as f64 / if lead == 5 { 2.5 } else { 2.0 }
            }
            i => buckets[i - 1].up_to_ms as f64,
        }
    };
    let x_of = |v: i64| -> f64 {
        let i = buckets
            .iter()
            .position(|b| b.up_to_ms >= v)
            .unwrap_or(buckets.len() - 1);
        let (lo, up) = (lower(i).max(0.5), buckets[i].up_to_ms as f64);
        let within = ((v.max(1) as f64).ln() - lo.ln()) / (up.ln() - lo.ln());
        (i as f64 + within.clamp(0.0, 1.0)) * bar
    };
    let marks = [("p50", p50), ("p95", p95)]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| (name, v, x_of(v))))
        .map(|(name, v, x)| {
            view! {
                <line class=format!("mark-{name}") x1=x x2=x y1="0" y2=base>
                    <title>{format!("{name} {}", ms(Some(v)))}</title>
                </line>
            }
        })
        .collect_view();
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let height = b.count as f64 / max * (base - 4.0);
            let from = if i == 0 { 0 } else { buckets[i - 1].up_to_ms };
            view! {
                <rect class="bar bar-succeeded" x=i as f64 * bar + 1.0 y=base - height
                    width=(bar - 2.0).max(1.0) height=height>
                    <title>{format!("over {} up to {}: {} run{}", ms(Some(from)), ms(Some(b.up_to_ms)), b.count, if b.count == 1 { "" } else { "s" })}</title>
                </rect>
                // Every other bound when many, so that they do not run into each other.
                {(buckets.len() <= 8 || i % 2 == 0).then(|| view! {
                    <text class="chart-label" x=i as f64 * bar + bar / 2.0 y=h - 2.0 text-anchor="middle">
                        {ms(Some(b.up_to_ms))}
                    </text>
                })}
            }
        })
        .collect_view();
    view! {
        <svg class="chart" data-testid="insights-distribution" viewBox=format!("0 0 {w} {h}")
            role="img" aria-label="Duration distribution of all runs">
            {bars}
            {marks}
        </svg>
    }
    .into_any()
}

/// Each group's durations: a bar to its max, with its p50 and p95 marked.
#[component]
fn Spreads(groups: Vec<GroupFigures>) -> impl IntoView {
    let groups: Vec<GroupFigures> = groups
        .into_iter()
        .filter(|g| g.duration_ms.count > 0)
        .take(12)
        .collect();
    let max = groups
        .iter()
        .filter_map(|g| g.duration_ms.max)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (w, row) = (640.0, 18.0);
    let x = move |v: Option<i64>| v.unwrap_or(0) as f64 / max * (w - 200.0) + 190.0;
    let h = row * groups.len().max(1) as f64;
    view! {
        <svg class="chart" data-testid="insights-spread" viewBox=format!("0 0 {w} {h}") role="img"
            aria-label="Durations per group">
            {groups.into_iter().enumerate().map(|(i, g)| {
                let y = i as f64 * row;
                let d = g.duration_ms.clone();
                view! {
                    <g>
                        <text class="chart-label" x="0" y=y + 13.0>{g.label.chars().take(28).collect::<String>()}</text>
                        <rect class="spread" x="190" y=y + 5.0 width=x(d.max) - 190.0 height="8">
                            <title>{format!("{}: p50 {}, p95 {}, max {} over {} runs", g.label, ms(d.p50), ms(d.p95), ms(d.max), d.count)}</title>
                        </rect>
                        <line class="mark-p50" x1=x(d.p50) x2=x(d.p50) y1=y + 2.0 y2=y + 16.0 />
                        <line class="mark-p95" x1=x(d.p95) x2=x(d.p95) y1=y + 2.0 y2=y + 16.0 />
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}

#[component]
fn GroupTable(groups: Vec<GroupFigures>) -> impl IntoView {
    view! {
        <table class="table" data-testid="insights-groups">
            <thead><tr>
                <th>"Group"</th><th>"Runs"</th><th>"Success"</th><th>"p50"</th><th>"p95"</th>
                <th>"Max"</th><th>"Queue p50"</th><th>"Retries"</th>
            </tr></thead>
            <tbody>
                {groups.into_iter().map(|g| view! {
                    <tr data-testid="insights-group" data-key=g.key.clone().unwrap_or_default()>
                        <td>{g.label.clone()}</td>
                        <td>{g.runs}</td>
                        <td data-testid="group-success-rate">{rate(g.success_rate)}</td>
                        <td>{ms(g.duration_ms.p50)}</td>
                        <td>{ms(g.duration_ms.p95)}</td>
                        <td>{ms(g.duration_ms.max)}</td>
                        <td>{ms(g.queue_ms.p50)}</td>
                        <td>{g.retries}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The top failure reasons; a reason opens the list of its runs (latest first), each a link
/// to the run.
#[component]
fn Failures(reasons: Vec<FailureReason>) -> impl IntoView {
    let route = use_route();
    let open = RwSignal::new(None::<usize>);
    if reasons.is_empty() {
        return ().into_any();
    }
    view! {
        <h2>"Top failure reasons"</h2>
        <ul class="failure-reasons" data-testid="insights-failures">
            {reasons.into_iter().enumerate().map(|(i, r)| {
                let more = r.count.saturating_sub(r.runs.len() as u64);
                let runs = r.runs.clone();
                view! {
                    <li>
                        <button class="link" data-testid="failure-reason"
                            aria-expanded=move || (open.get() == Some(i)).to_string()
                            title=format!("Show its runs; the latest: {}", r.example_error)
                            on:click=move |_| open.update(|o| *o = if *o == Some(i) { None } else { Some(i) })>
                            <span class="count">{r.count}</span>" "{r.reason.clone()}
                        </button>
                        <Show when=move || open.get() == Some(i)>
                            <ul class="failure-runs" data-testid="failure-runs">
                                {runs.clone().into_iter().map(|run| {
                                    let id = run.id.clone();
                                    view! {
                                        <li>
                                            <button class="link" data-testid="failure-run"
                                                on:click=move |_| route.set(Route::Run(id.clone()))>
                                                {super::format::local_time(run.at)}
                                            </button>
                                            " "<span class="muted">{run.error}</span>
                                        </li>
                                    }
                                }).collect_view()}
                                {(more > 0).then(|| view! {
                                    <li class="muted">{format!("and {more} older")}</li>
                                })}
                            </ul>
                        </Show>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// Each workflow's steps by their share of the critical path.
#[component]
fn Bottlenecks(found: Vec<WorkflowBottleneck>) -> impl IntoView {
    if found.is_empty() {
        return ().into_any();
    }
    view! {
        <h2>"Workflow bottlenecks (share of the critical path)"</h2>
        {found.into_iter().map(|wf| {
            let steps: Vec<_> = wf.steps.into_iter().take(10).collect();
            let (w, row) = (640.0, 18.0);
            let h = row * steps.len().max(1) as f64;
            view! {
                <h3>{format!("{} · {} runs · p50 {}", wf.workflow, wf.runs, ms(wf.duration_ms.p50))}</h3>
                <svg class="chart" data-testid="insights-bottleneck" viewBox=format!("0 0 {w} {h}") role="img"
                    aria-label=format!("Critical path of {}", wf.workflow)>
                    {steps.into_iter().enumerate().map(|(i, s)| {
                        let y = i as f64 * row;
                        view! {
                            <g>
                                <text class="chart-label" x="0" y=y + 13.0>{s.step.clone()}</text>
                                <rect class="bottleneck" x="190" y=y + 4.0 width=(s.critical_share * 440.0).max(1.0) height="10">
                                    <title>{format!("{}: {:.1} % of the critical path, p50 {}, p95 {}", s.step, s.critical_share * 100.0, ms(s.duration_ms.p50), ms(s.duration_ms.p95))}</title>
                                </rect>
                            </g>
                        }
                    }).collect_view()}
                </svg>
            }
        }).collect_view()}
    }
    .into_any()
}

#[component]
fn HealthPanel(health: Health) -> impl IntoView {
    view! {
        <h2>"Health"</h2>
        <ul class="health" data-testid="health">
            {health.checks.into_iter().map(|c| view! {
                <li class=format!("health-{}", c.status) data-testid="health-check" data-name=c.name.clone()
                    data-status=c.status.clone()>
                    <strong>{c.name.replace('_', " ")}</strong>" "{c.summary}
                    {c.recommendation.map(|r| view! { <p class="hint">{r}</p> })}
                </li>
            }).collect_view()}
        </ul>
    }
}

/// A task's own figures over the last 30 days, on its page: success rate and durations.
#[component]
pub fn TaskFigures(task_id: String) -> impl IntoView {
    let live = use_live();
    let figures = LocalResource::new(move || {
        live.runs.get();
        api::insights(query(30, InsightsGroup::Task))
    });
    view! {
        <Transition fallback=|| ()>
            {move || {
                let task_id = task_id.clone();
                Suspend::new(async move {
                    let insights = figures.await.ok()?;
                    let g = insights
                        .groups
                        .into_iter()
                        .find(|g| g.key.as_deref() == Some(task_id.as_str()))?;
                    Some(view! {
                        <p class="task-figures" data-testid="task-figures">
                            "Last 30 days: "{g.runs}" runs · success "
                            <span data-testid="task-success-rate">{rate(g.success_rate)}</span>
                            " · p50 "{ms(g.duration_ms.p50)}" · p95 "{ms(g.duration_ms.p95)}
                        </p>
                    })
                })
            }}
        </Transition>
    }
}
