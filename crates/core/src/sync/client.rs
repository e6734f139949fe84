//! The HTTP transport of sync: join, push and pull against the server's `/v1` API, and one
//! round ([`round`]) that pushes everything pending and pulls until current.

use std::time::Duration;

use flightdeck_types::sync::{
    Announcement, DevicesResponse, ErrorBody, JoinRequest, JoinResponse, LeaveResponse,
    PullResponse, PushResponse, WireChange, CLIENT_TIME_HEADER, EPOCH_HEADER, PROTOCOL_HEADER,
    PROTOCOL_VERSION, SCHEMA_HEADER, SERVER_TIME_HEADER,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::push_bodies::push_bodies;
use super::{acknowledge, acknowledge_next, outgoing, outgoing_after, pull_cursor};
use crate::error::{CoreError, Result};
use crate::store::{ChangeRow, Store};

/// Cells per push request (whole transactions, so a request may hold a few more).
pub const PUSH_BATCH_CELLS: usize = 5_000;
/// Cells per pull page the client asks for.
pub const PULL_PAGE_CELLS: usize = 5_000;

#[derive(Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    token: String,
    /// This device's local schema version, sent as [`SCHEMA_HEADER`] when known.
    schema: Option<u32>,
    /// The server epoch ([`EPOCH_HEADER`]) of the newest response, shared by the clones a
    /// round makes: the round compares it with the one stored (see `server_loss`).
    epoch: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// The server's clock in the newest response ([`SERVER_TIME_HEADER`]), with this
    /// device's wall clock when it arrived.
    server_time: std::sync::Arc<std::sync::Mutex<Option<ServerTime>>>,
    /// Added to the wall clock this client tells the server (a test's device whose clock is
    /// off: the store's skew).
    clock_skew_ms: i64,
}

/// The server's clock as a response said it, and this device's when the response arrived
/// (both Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTime {
    pub server_ms: i64,
    pub received_ms: i64,
}

impl ServerTime {
    /// Read from a response's headers, if the server sent its clock.
    fn of(response: &reqwest::Response) -> Option<ServerTime> {
        let server_ms = response
            .headers()
            .get(SERVER_TIME_HEADER)?
            .to_str()
            .ok()?
            .parse()
            .ok()?;
        Some(ServerTime {
            server_ms,
            received_ms: crate::clock::now_millis(),
        })
    }

    /// Tells `store` how far its clock is off (see [`Store::note_server_time`]).
    pub fn note(self, store: &Store) -> Result<i64> {
        store.note_server_time(self.server_ms, self.received_ms)
    }
}

fn network_error(base: &str, e: reqwest::Error) -> CoreError {
    CoreError::Sync {
        code: "unreachable".into(),
        message: format!("cannot reach {base}: {e}"),
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        // The server closes connections idle for its header timeout (20 s by default):
        // dropping ours sooner keeps a request from landing on one it is closing.
        .pool_idle_timeout(Duration::from_secs(10))
        .build()
        .expect("a TLS backend is compiled in")
}

/// Turns a response into its JSON body, or the server's JSON error into `CoreError::Sync`.
async fn decode<T: DeserializeOwned>(base: &str, response: reqwest::Response) -> Result<T> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| network_error(base, e))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| CoreError::Sync {
            code: "bad_response".into(),
            message: format!("{base} sent a response this client cannot read: {e}"),
        });
    }
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => Err(CoreError::Sync {
            code: body.error.code,
            message: body.error.message,
        }),
        Err(_) => Err(CoreError::Sync {
            code: format!("http_{}", status.as_u16()),
            message: format!("{base} answered HTTP {status}"),
        }),
    }
}

impl SyncClient {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            http: http_client(),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            schema: None,
            epoch: Default::default(),
            server_time: Default::default(),
            clock_skew_ms: 0,
        }
    }

    /// The same client, telling the server a clock `skew_ms` off the wall clock (see
    /// [`Store::clock_skew_ms`]).
    pub fn with_clock_skew(mut self, skew_ms: i64) -> Self {
        self.clock_skew_ms = skew_ms;
        self
    }

    /// The server's clock in the newest response this client (or a clone) received.
    pub fn last_server_time(&self) -> Option<ServerTime> {
        self.server_time.lock().map(|t| *t).unwrap_or_default()
    }

    /// The server epoch of the newest response this client (or a clone) received.
    pub fn last_epoch(&self) -> Option<String> {
        self.epoch.lock().map(|e| e.clone()).unwrap_or_default()
    }

    fn note_epoch(&self, response: &reqwest::Response) {
        let epoch = response
            .headers()
            .get(EPOCH_HEADER)
            .and_then(|v| v.to_str().ok());
        if let (Some(epoch), Ok(mut slot)) = (epoch, self.epoch.lock()) {
            *slot = Some(epoch.to_string());
        }
        if let (Some(time), Ok(mut slot)) = (ServerTime::of(response), self.server_time.lock()) {
            *slot = Some(time);
        }
    }

    /// The same client, telling the server that this device has local schema `version`.
    pub fn with_schema(mut self, version: u32) -> Self {
        self.schema = Some(version);
        self
    }

    /// The headers every authenticated request carries: this device's clock, and its local
    /// schema version when known.
    fn schema_header(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let now = crate::clock::now_millis() + self.clock_skew_ms;
        let request = request.header(CLIENT_TIME_HEADER, now.to_string());
        match self.schema {
            Some(version) => request.header(SCHEMA_HEADER, version.to_string()),
            None => request,
        }
    }

    /// Sends `request` as this device, with the protocol and schema headers, and reads its
    /// answer.
    async fn send_as_device<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T> {
        let request = request
            .bearer_auth(&self.token)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string());
        let response = self
            .schema_header(request)
            .send()
            .await
            .map_err(|e| network_error(&self.base, e))?;
        self.note_epoch(&response);
        decode(&self.base, response).await
    }

    /// `GET /v1/devices`: the devices of this workspace.
    pub async fn devices(&self) -> Result<DevicesResponse> {
        let url = format!("{}/v1/devices", self.base);
        self.send_as_device(self.http.get(url)).await
    }

    /// `POST /v1/leave`: this device leaves its workspace; the server revokes its token.
    pub async fn leave(&self) -> Result<LeaveResponse> {
        let url = format!("{}/v1/leave", self.base);
        self.send_as_device(self.http.post(url)).await
    }

    /// Trades a join token for this device's own token; also returns the server's clock.
    pub async fn join(
        base: &str,
        request: &JoinRequest,
    ) -> Result<(JoinResponse, Option<ServerTime>)> {
        let base = base.trim_end_matches('/');
        let response = http_client()
            .post(format!("{base}/v1/join"))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .json(request)
            .send()
            .await
            .map_err(|e| network_error(base, e))?;
        let time = ServerTime::of(&response);
        Ok((decode(base, response).await?, time))
    }

    /// `POST /v1/push` of a body already serialized (see [`push_bodies`]).
    pub async fn push_json(&self, json: Vec<u8>) -> Result<PushResponse> {
        let response = self
            .schema_header(self.http.post(format!("{}/v1/push", self.base)))
            .bearer_auth(&self.token)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json)
            .send()
            .await
            .map_err(|e| network_error(&self.base, e))?;
        self.note_epoch(&response);
        decode(&self.base, response).await
    }

    /// Whether the server answers and can reach its database (`GET /readyz`), within `wait`.
    pub async fn ready(&self, wait: Duration) -> Result<()> {
        let response = self
            .http
            .get(format!("{}/readyz", self.base))
            .timeout(wait)
            .send()
            .await
            .map_err(|e| network_error(&self.base, e))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(CoreError::Sync {
            code: format!("http_{}", response.status().as_u16()),
            message: format!("{} is up but not ready ({})", self.base, response.status()),
        })
    }

    pub async fn pull(&self, after: i64, limit: usize) -> Result<PullResponse> {
        let response = self
            .schema_header(self.http.get(format!("{}/v1/pull", self.base)))
            .query(&[("after", after.to_string()), ("limit", limit.to_string())])
            .bearer_auth(&self.token)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .send()
            .await
            .map_err(|e| network_error(&self.base, e))?;
        self.note_epoch(&response);
        decode(&self.base, response).await
    }
}

/// What one sync round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub pushed_cells: usize,
    pub pulled_cells: usize,
    pub conflicts: usize,
    /// The server's newest sequence number, as last seen.
    pub server_head: i64,
    /// This device's pull cursor afterwards.
    pub local_cursor: i64,
    /// Pulled cells of the `memories` table: when there are any, the memory search indexes
    /// (local, derived from the synced text) are brought up to date after the round.
    pub pulled_memory_cells: usize,
    /// Memories whose index entries that update (re)built.
    pub memories_indexed: usize,
}

/// What a round does. `PullOnly` is for a device that knows it has nothing to push (the
/// daemon, woken by an announcement, with no local write since its last full round): it saves
/// the scan for unpushed changes, about 1 ms, on the path of every change to this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    PushAndPull,
    PullOnly,
}

/// One round of `kind`. `PushAndPull` pushes every pending local transaction, then pulls until
/// current.
///
/// A push is acknowledged locally only once everything the server had before it has been
/// pulled: a remote change that beat a local edit is then still found, during that pull,
/// against an unacknowledged local value, and kept in the conflict log. When the push got the
/// very next sequence number after this device's pull cursor, nobody else pushed in between:
/// both cursors move at once and the round needs no pull at all (no echo of our own change),
/// which keeps a write's path to the other devices to one round trip.
///
/// Memories pulled in the round, even one that failed half-way, are then indexed so that they
/// are found by meaning at once (see [`index_pulled_memories`]).
pub async fn round(store: &Store, client: &SyncClient, kind: Round) -> Result<SyncReport> {
    let started = crate::telemetry::enabled().then(std::time::SystemTime::now);
    let outcome = round_inner(store, client, kind).await;
    if let Some(started) = started {
        crate::telemetry::sync_round(started, &outcome);
    }
    outcome
}

async fn round_inner(store: &Store, client: &SyncClient, kind: Round) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let outcome = match kind {
        Round::PushAndPull => push_and_pull(store, client, &mut report).await,
        Round::PullOnly => pull_until_current(store, client, &mut report).await,
    };
    // A server that lost what it had acknowledged (restored from an older backup, or
    // replaced) is noticed here, from its epoch or a refused cursor, and recovered from.
    let outcome = match super::server_loss::detect(store, client, &outcome) {
        Ok(Some(reason)) => super::server_loss::recover(store, client, &reason, &mut report).await,
        Ok(None) => outcome,
        Err(e) => Err(e),
    };
    let outcome = outcome.and_then(|()| {
        report.local_cursor = pull_cursor(store)?;
        if let Some(time) = client.last_server_time() {
            time.note(store)?;
        }
        Ok(())
    });
    if report.pulled_memory_cells > 0 {
        report.memories_indexed = index_pulled_memories(store);
    }
    super::device_list::refresh_after_round(store, client).await;
    outcome.map(|()| report)
}

/// Applies the cells an announcement carried (a push the server numbered `head`), as the
/// pull page `(after, head]`, when this device's pull cursor is exactly `after`: the change
/// arrives without a pull's round trip. `None`, with nothing written, when the announcement
/// carries no cells or the cursor is elsewhere (then pull as usual). An announcement lost,
/// repeated or out of order is therefore harmless: only the next one after the cursor applies.
pub fn apply_announced(store: &Store, announcement: &Announcement) -> Result<Option<SyncReport>> {
    let (Some(after), Some(changes)) = (announcement.after, &announcement.changes) else {
        return Ok(None);
    };
    if pull_cursor(store)? != after {
        return Ok(None);
    }
    let rows = changes
        .iter()
        .cloned()
        .map(super::wire::from_wire)
        .collect::<Result<Vec<_>>>()?;
    let Some(conflicts) = super::apply_rows_onto(store, &rows, after, announcement.head)? else {
        return Ok(None);
    };
    let mut report = SyncReport {
        pulled_cells: rows.len(),
        conflicts: conflicts.len(),
        server_head: announcement.head,
        local_cursor: announcement.head,
        pulled_memory_cells: rows.iter().filter(|c| c.table == "memories").count(),
        ..SyncReport::default()
    };
    if report.pulled_memory_cells > 0 {
        report.memories_indexed = index_pulled_memories(store);
    }
    Ok(Some(report))
}

/// Runs blocking work (a store read, embedding) so that the runtime's other tasks (a request
/// in flight) go on meanwhile: on a multi-threaded runtime, in place of the worker thread;
/// elsewhere, simply inline.
fn off_the_worker<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Indexes pulled memories with the built-in model, off the async worker thread when the
/// runtime has others (embedding is CPU work that can take a while). A failure is logged and
/// never fails the round: the rows are safely stored, and the next index pass catches up.
pub(crate) fn index_pulled_memories(store: &Store) -> usize {
    let indexed = off_the_worker(|| crate::memory::index_pending_default(store));
    indexed.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not index the memories this sync pulled");
        0
    })
}

pub(super) async fn push_and_pull(
    store: &Store,
    client: &SyncClient,
    report: &mut SyncReport,
) -> Result<()> {
    if store.clock_corrected() {
        store.restamp_clocks_ahead(super::push_cursor(store)?)?;
    }
    let mut restamped = false;
    let mut next = outgoing(store, PUSH_BATCH_CELLS)?;
    while let Some(batch) = next.take() {
        let cursor = pull_cursor(store)?;
        // A full batch may have more behind it: the next one is read from the store while
        // this one is on the wire and the server merges it (used only if this one is
        // acknowledged).
        let full = batch.changes.len() >= PUSH_BATCH_CELLS;
        let (pushed, following) = tokio::join!(push_batch(client, &batch.changes), async {
            full.then(|| {
                off_the_worker(|| outgoing_after(store, batch.last_db_version, PUSH_BATCH_CELLS))
            })
        });
        let response = match pushed {
            // Cells stamped while this device's clock ran ahead, before it knew: the refusal
            // carries the server's clock; stamp them with it and push again, once.
            Err(CoreError::Sync { code, .. }) if code == "clock_ahead" && !restamped => {
                restamped = true;
                if let Some(time) = client.last_server_time() {
                    time.note(store)?;
                }
                let changed = store.restamp_clocks_ahead(super::push_cursor(store)?)?;
                tracing::warn!(
                    changed,
                    "the server refused changes stamped ahead of its clock; stamped them anew"
                );
                next = outgoing(store, PUSH_BATCH_CELLS)?;
                continue;
            }
            other => other?,
        };
        report.pushed_cells += batch.changes.len();
        report.server_head = response.head;
        if response.seq == Some(cursor + 1) {
            acknowledge_next(store, batch.last_db_version, cursor + 1)?;
        } else {
            pull_until_current(store, client, report).await?;
            acknowledge(store, batch.last_db_version)?;
        }
        // A batch short of the limit was everything pending when it was read. A write since
        // wakes the daemon again (or its poll finds it), so no second scan is needed here.
        next = following.transpose()?.flatten();
    }
    if report.pushed_cells == 0 || report.server_head > pull_cursor(store)? {
        pull_until_current(store, client, report).await?;
    }
    Ok(())
}

/// Sends a batch in as many requests as the server's size limit needs (one, nearly always),
/// in order; returns the last answer. Nothing is acknowledged locally here.
async fn push_batch(client: &SyncClient, changes: &[WireChange]) -> Result<PushResponse> {
    let mut last = None;
    for body in push_bodies(changes)? {
        let response = client.push_json(body.json).await?;
        if response.acknowledged_db_version < body.last_db_version {
            return Err(CoreError::Sync {
                code: "partial_ack".into(),
                message: format!(
                    "the server acknowledged db_version {} of {}",
                    response.acknowledged_db_version, body.last_db_version
                ),
            });
        }
        last = Some(response);
    }
    Ok(last.expect("a batch holds at least one change"))
}

async fn pull_until_current(
    store: &Store,
    client: &SyncClient,
    report: &mut SyncReport,
) -> Result<()> {
    let mut after = pull_cursor(store)?;
    let mut fetch = Some(prefetch(client, after));
    while let Some(pending) = fetch.take() {
        let page = pending.await.map_err(|e| CoreError::Sync {
            code: "internal".into(),
            message: format!("the pull task failed: {e}"),
        })??;
        report.server_head = page.head;
        if page.rows.is_empty() && page.next <= after {
            return Ok(());
        }
        // The next page downloads and decodes while this one is applied (on a multi-threaded
        // runtime): a bootstrap then takes about as long as the local apply alone.
        if page.next < page.head {
            fetch = Some(prefetch(client, page.next));
        }
        report.conflicts += super::apply_rows(store, &page.rows, page.next)?.len();
        report.pulled_cells += page.rows.len();
        report.pulled_memory_cells += page.rows.iter().filter(|c| c.table == "memories").count();
        after = page.next;
    }
    Ok(())
}

/// A pulled page with its cells decoded from the wire.
struct DecodedPage {
    rows: Vec<ChangeRow>,
    next: i64,
    head: i64,
}

fn prefetch(client: &SyncClient, after: i64) -> tokio::task::JoinHandle<Result<DecodedPage>> {
    let client = client.clone();
    tokio::spawn(async move {
        let page = client.pull(after, PULL_PAGE_CELLS).await?;
        let rows = page
            .changes
            .into_iter()
            .map(super::wire::from_wire)
            .collect::<Result<Vec<_>>>()?;
        Ok(DecodedPage {
            rows,
            next: page.next,
            head: page.head,
        })
    })
}
