//! The scheduler: fires this device's due schedules.
//!
//! A tick reads every enabled schedule whose runner is this device and whose next fire is at
//! or before now, and in ONE write (so 1,000 schedules due together cost one commit) queues
//! their runs and moves `last_fired_at`/`next_fire_at` on. A device that is not a schedule's
//! runner never fires it, which is what keeps two synced devices from both firing.
//!
//! Misfires: of the due times of one schedule, the latest is "on time" when it is at most
//! `grace` old; the others, and a late latest, were missed (device asleep or off).
//! - skip: one run if the latest due time is on time, else none;
//! - run_once: one run for all of them;
//! - run_all: one per due time, the earliest `misfire_cap` of them; the rest are dropped and
//!   the count is written to the audit entry (`misfire_dropped`).
//!
//! Overlap is judged per run against the schedule's live runs, those queued by this same tick
//! included (so run_all under `skip` queues one run).
//!
//! Firing ahead: a tick also fires what falls due within `lead` (500 ms) after now, queuing
//! those runs with `not_before` = their due instant, which the runner honours. So a batch of
//! 1,000 schedules due together is committed before its instant instead of hundreds of
//! milliseconds after it, and each run still starts at its time, not before. The price: the
//! overlap policy is judged up to `lead` early, and a pause or delete in that window cancels
//! the runs queued ahead (see [`super::pause`]). `lead` stays below the shortest period a
//! schedule can have (1 s), so one tick sees at most one future fire of a schedule.
//!
//! The lead adapts to the batch: the run loop counts what falls due with the earliest fire
//! and, at the cost per fire the last big tick measured, wakes early enough to commit it all
//! before its instant (with half again as margin), from `lead` up to [`MAX_LEAD`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck_types::{
    AuditAction, EntityKind, Execution, FieldChange, MisfirePolicy, OverlapPolicy, Schedule,
    Timestamp,
};

use super::clock::Clock;
use super::timing::Timing;
use crate::error::Result;
use crate::store::{schedules as sql, Store, Writer};

/// Due times of one schedule enumerated at most (a 1-second interval asleep for a week must
/// not enumerate 600,000 instants).
const MAX_DUE: usize = flightdeck_types::schedule::MAX_MISFIRE_CAP as usize + 1;

/// How far ahead a tick fires (see the module notes). Below the 1 s shortest period.
pub const DEFAULT_LEAD: Duration = Duration::from_millis(500);

/// The most a big batch may lead by: still below the 1 s shortest period.
pub const MAX_LEAD: Duration = Duration::from_millis(900);

/// A tick that fires fewer schedules than this says little about the cost per fire.
const COST_SAMPLE_MIN: usize = 20;

/// What one schedule did in a tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub schedule_id: String,
    /// The due times seen (at most 1,001).
    pub due: Vec<Timestamp>,
    pub queued: Vec<String>,
    /// Runs not queued because of the overlap policy.
    pub overlap_skipped: usize,
    /// Live runs asked to cancel (cancel_previous).
    pub cancelled: Vec<String>,
    /// Due times not run because of the misfire policy (skip, run_once) or cap (run_all).
    pub misfire_dropped: usize,
    pub next_fire_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickReport {
    pub fired: Vec<Fired>,
}

impl TickReport {
    pub fn queued(&self) -> usize {
        self.fired.iter().map(|f| f.queued.len()).sum()
    }
}

pub struct Scheduler {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    /// How late a fire may be and still count as on time.
    pub grace: Duration,
    /// How far ahead of its instant a fire is queued (with `not_before` = the instant), at
    /// least; a big batch leads by more (see the module notes).
    pub lead: Duration,
    /// The lead the run loop last woke with, in ms (0: `lead`), so the tick covers the batch.
    woke_lead_ms: AtomicU64,
    /// What one fire cost in the last tick that fired at least `COST_SAMPLE_MIN`, in µs.
    fire_cost_us: AtomicU64,
}

impl Scheduler {
    pub fn new(store: Arc<Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            grace: Duration::from_secs(60),
            lead: DEFAULT_LEAD,
            woke_lead_ms: AtomicU64::new(0),
            fire_cost_us: AtomicU64::new(0),
        }
    }

    /// The lead this tick fires with: `lead`, or more when the run loop woke early for a big
    /// batch.
    pub fn current_lead(&self) -> Duration {
        self.lead
            .max(Duration::from_millis(
                self.woke_lead_ms.load(Ordering::Relaxed),
            ))
            .min(MAX_LEAD.max(self.lead))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Fires everything due at `now`, and what falls due within `lead` after it (the clock is
    /// not consulted).
    pub fn tick(&self, now: Timestamp) -> Result<TickReport> {
        let window = Window {
            now,
            horizon: Timestamp(now.as_millis() + self.current_lead().as_millis() as i64),
            grace_ms: self.grace.as_millis() as i64,
        };
        let device = self.store.device_id().to_string();
        let began = Instant::now();
        let report = self.store.write(|w| {
            let due = sql::due(w, &device, window.horizon)?;
            let mut report = TickReport::default();
            for s in due {
                report.fired.push(fire(w, &s, &window)?);
            }
            Ok(report)
        })?;
        if report.fired.len() >= COST_SAMPLE_MIN {
            let per_fire = began.elapsed().as_micros() as u64 / report.fired.len() as u64;
            self.fire_cost_us.store(per_fire, Ordering::Relaxed);
        }
        Ok(report)
    }

    /// When the run loop should tick next: before the earliest next fire by `lead`, or by
    /// what the batch due with it is expected to take to commit, plus half (at most
    /// [`MAX_LEAD`]).
    pub fn next_tick_at(&self) -> Result<Option<Timestamp>> {
        let device = self.store.device_id().to_string();
        let Some(earliest) = self.store.read(|c| sql::earliest_fire(c, &device))? else {
            return Ok(None);
        };
        let max_lead = MAX_LEAD.max(self.lead);
        let batch_end = Timestamp(earliest.as_millis() + max_lead.as_millis() as i64);
        let batch = self.store.read(|c| sql::count_due(c, &device, batch_end))?;
        let cost_us = self.fire_cost_us.load(Ordering::Relaxed) * batch as u64 * 3 / 2;
        let lead = Duration::from_micros(cost_us).clamp(self.lead, max_lead);
        self.woke_lead_ms
            .store(lead.as_millis() as u64, Ordering::Relaxed);
        Ok(Some(Timestamp(
            earliest.as_millis() - lead.as_millis() as i64,
        )))
    }

    /// Ticks at the clock's now.
    pub fn tick_now(&self) -> Result<TickReport> {
        self.tick(self.clock.now())
    }

    /// Fires schedules until `stop` is set to true: sleeps until the earliest next fire (at
    /// most 30 s), waking early when a schedule changes.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) -> Result<()> {
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let changes = self
            .store
            .subscribe_to(|c| c.table == "schedules" && c.action != AuditAction::Transition);
        // The store's subscription is a blocking channel: a thread forwards schedule changes
        // (not the scheduler's own fires, which are `transition`s) until the loop is gone.
        std::thread::spawn(move || loop {
            match changes.recv_timeout(Duration::from_secs(1)) {
                Ok(_) => {
                    if wake_tx.send(()).is_err() {
                        return;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if wake_tx.is_closed() => return,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
            }
        });
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let report = self.tick_now()?;
            if !report.fired.is_empty() {
                tracing::debug!(
                    schedules = report.fired.len(),
                    runs = report.queued(),
                    "fired"
                );
            }
            let next = self.next_tick_at()?;
            let now = self.clock.now().as_millis();
            let wait_ms = next
                .map(|t| (t.as_millis() - now).clamp(0, 30_000))
                .unwrap_or(30_000);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
                _ = wake_rx.recv() => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Applies the overlap policy to one prospective run: queues it or not. `live` is updated.
/// Returns the run queued, if any, and the runs asked to cancel.
pub(crate) fn overlap(
    w: &mut Writer<'_>,
    s: &Schedule,
    live: &mut Vec<(String, String)>,
    not_before: Option<Timestamp>,
) -> Result<(Option<Execution>, Vec<String>)> {
    let mut cancelled = Vec::new();
    match s.overlap_policy {
        OverlapPolicy::Skip if !live.is_empty() => return Ok((None, cancelled)),
        OverlapPolicy::QueueOne if live.iter().any(|(_, st)| st == "queued") => {
            return Ok((None, cancelled))
        }
        OverlapPolicy::CancelPrevious => {
            for (id, _) in live.drain(..) {
                super::cancel_in(w, &id)?;
                cancelled.push(id);
            }
        }
        _ => {}
    }
    let run = super::queue_run(w, s, not_before)?;
    live.push((run.id.clone(), "queued".into()));
    Ok((Some(run), cancelled))
}

fn change(old: serde_json::Value, new: serde_json::Value) -> FieldChange {
    FieldChange { old, new }
}

/// The instants one tick covers.
#[derive(Clone, Copy)]
struct Window {
    now: Timestamp,
    /// `now + lead`: due times in (now, horizon] are fired ahead.
    horizon: Timestamp,
    grace_ms: i64,
}

fn fire(w: &mut Writer<'_>, s: &Schedule, window: &Window) -> Result<Fired> {
    let Window {
        now,
        horizon,
        grace_ms,
    } = *window;
    let timing = Timing::of(s)?;
    let mut due = Vec::new();
    let mut t = s.next_fire_at;
    while let Some(at) = t.filter(|at| *at <= horizon) {
        if due.len() == MAX_DUE {
            break;
        }
        due.push(at);
        t = timing.next_after(at);
    }
    let next_fire_at = timing.next_after(horizon);
    let latest = *due.last().expect("a due schedule has a due time");
    // The due times the policy picks, oldest first; a future one is queued to wait for it.
    let picked: Vec<Timestamp> = match s.misfire_policy {
        MisfirePolicy::Skip if now.as_millis() - latest.as_millis() <= grace_ms => vec![latest],
        MisfirePolicy::Skip => Vec::new(),
        MisfirePolicy::RunOnce => vec![latest],
        MisfirePolicy::RunAll => due.iter().copied().take(s.misfire_cap as usize).collect(),
    };
    let mut fired = Fired {
        schedule_id: s.id.clone(),
        due: due.clone(),
        queued: Vec::new(),
        overlap_skipped: 0,
        cancelled: Vec::new(),
        misfire_dropped: due.len() - picked.len(),
        next_fire_at,
    };
    let mut live = match s.overlap_policy {
        // Nothing to judge: spare the query (a batch of 1,000 fires runs this 1,000 times).
        OverlapPolicy::Allow => Vec::new(),
        _ => sql::live_runs(w, &s.id)?,
    };
    for at in picked {
        let not_before = (at > now).then_some(at);
        let (run, cancelled) = overlap(w, s, &mut live, not_before)?;
        fired.cancelled.extend(cancelled);
        match run {
            Some(run) => fired.queued.push(run.id),
            None => fired.overlap_skipped += 1,
        }
    }
    sql::set_fired(w, &s.id, Some(latest), next_fire_at, w.now())?;
    let ts = |t: Option<Timestamp>| serde_json::to_value(t).unwrap_or_default();
    let mut changes = BTreeMap::new();
    changes.insert(
        "last_fired_at".into(),
        change(ts(s.last_fired_at), ts(Some(latest))),
    );
    changes.insert(
        "next_fire_at".into(),
        change(ts(s.next_fire_at), ts(next_fire_at)),
    );
    changes.insert(
        "runs_queued".into(),
        change(serde_json::Value::Null, fired.queued.len().into()),
    );
    if fired.misfire_dropped > 0 {
        changes.insert(
            "misfire_dropped".into(),
            change(serde_json::Value::Null, fired.misfire_dropped.into()),
        );
    }
    if fired.overlap_skipped > 0 {
        changes.insert(
            "overlap_skipped".into(),
            change(serde_json::Value::Null, fired.overlap_skipped.into()),
        );
    }
    w.audit(
        EntityKind::Schedule,
        &s.id,
        AuditAction::Transition,
        changes,
    );
    Ok(fired)
}
