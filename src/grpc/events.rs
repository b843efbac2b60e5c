//! SupportService: the audit trail of events, for staff: a page at a time
//! (`ListEvents`) or as it happens (`WatchEvents`).
//!
//! A watcher is a task that reads the events after the last id it sent,
//! in pages, and then waits on the [`EventBus`]: the store's event watch
//! (PostgreSQL LISTEN/NOTIFY, SQLite a short poll) wakes every watcher
//! when events may have been committed, through any replica. Event ids
//! are committed in order (SQLite has one writer; on PostgreSQL each
//! event-writing transaction takes an advisory lock, migration 0011), so
//! reading "after the last id" never skips one: a client that resumes
//! with the last id it saw gets every later event exactly once.
//!
//! Bounded: a watcher holds at most `watch_buffer` messages; one that does
//! not read falls behind, is ended RESOURCE_EXHAUSTED after what it has
//! been sent, and resumes with its last id. A token has at most
//! `watchers_per_token` watchers at once.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tonic::{Request, Status};

use crate::error::{Error, Result};
use crate::grpc::AppState;
use crate::grpc::convert::{
    code_field, decode_id_page_token, instant_field, one_page, page_size_field,
};
use crate::grpc::support::SupportApi;
use crate::pb::*;

impl SupportApi {
    pub(crate) async fn list_events_call(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<ListEventsResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let r = request.into_inner();
        let limit = page_size_field("page_size", r.page_size)?;
        let after_id = decode_id_page_token(&r.page_token)?;
        let since = match r.since_at {
            Some(at) => Some(instant_field("since_at", Some(at), self.state.clock.now())?),
            None => None,
        };
        let text = |v: String| if v.is_empty() { None } else { Some(v) };
        let code = |field: &str, v: &str| -> Result<Option<String>> {
            if v.is_empty() {
                Ok(None)
            } else {
                Ok(Some(code_field(field, v)?.as_str().to_owned()))
            }
        };
        let query = crate::store::events::EventQuery {
            contract_id: code("contract_id", &r.contract_id)?,
            license_id: code("license_id", &r.license_id)?,
            kind: text(r.kind),
            since,
            request_id: None,
            after_id,
            limit: limit + 1,
            ..Default::default()
        };
        let mut events = self.state.store.list_events(&query).await?;
        let next_page_token = one_page(&mut events, limit, |last| last.id.to_string());
        Ok(ListEventsResponse {
            events: events.into_iter().map(event_message).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn watch_events_call(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<WatchStream> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        // Checked again at every wake: a token revoked or expired while it
        // watches loses the stream.
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        if r.after_id < 0 {
            return Err(Error::invalid("after_id", "must not be negative"));
        }
        if r.kinds.len() > MAX_WATCH_KINDS {
            return Err(Error::invalid(
                "kinds",
                format!("at most {MAX_WATCH_KINDS} kinds"),
            ));
        }
        let mut kinds = Vec::with_capacity(r.kinds.len());
        for kind in r.kinds {
            if kind.is_empty()
                || kind.len() > 64
                || !kind
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_' || b == b'-')
            {
                return Err(Error::invalid("kinds", "an event kind, e.g. key.reissued"));
            }
            kinds.push(kind);
        }
        let contract_id = if r.contract_id.is_empty() {
            None
        } else {
            Some(
                code_field("contract_id", &r.contract_id)?
                    .as_str()
                    .to_owned(),
            )
        };
        let settings = &self.state.settings;
        let slot = self
            .state
            .events
            .admit(caller.token_id, settings.watchers_per_token)
            .ok_or_else(|| Error::RateLimited {
                message: format!(
                    "this token has {} event watchers open already; close one first",
                    settings.watchers_per_token
                ),
                retry_after: None,
            })?;
        let query = crate::store::events::EventQuery {
            contract_id,
            kinds,
            after_id: Some(r.after_id),
            limit: WATCH_PAGE,
            ..Default::default()
        };
        let (sender, receiver) = mpsc::channel(settings.watch_buffer.max(1));
        let end = Arc::new(Mutex::new(None));
        let task = tokio::spawn(run_watcher(
            self.state.clone(),
            metadata,
            query,
            sender,
            end.clone(),
            WatchLimits {
                heartbeat: settings.watch_heartbeat,
                stall: settings.watch_stall,
            },
        ));
        Ok(WatchStream {
            receiver,
            end,
            done: false,
            task: task.abort_handle(),
            _slot: slot,
        })
    }
}

/// A watcher's times.
#[derive(Debug, Clone, Copy)]
struct WatchLimits {
    /// Quiet time before a heartbeat.
    heartbeat: Duration,
    /// How long a full buffer may stay full before the watcher is dropped.
    stall: Duration,
}

/// Events read at once by a watcher.
const WATCH_PAGE: i64 = 100;

/// The most kinds one watcher may filter on.
const MAX_WATCH_KINDS: usize = 20;

fn event_message(e: crate::store::events::Event) -> Event {
    Event {
        id: e.id,
        occurred_at: Some(timestamp(e.occurred_at)),
        actor: e.actor,
        actor_token_id: e.actor_token_id.unwrap_or_default(),
        call_id: e.request_id.clone().unwrap_or_default(),
        request_id: e.request_id.unwrap_or_default(),
        reissue_request_id: e.reissue_request_id.unwrap_or_default(),
        kind: e.kind,
        contract_id: e.contract_id.unwrap_or_default(),
        license_id: e.license_id.unwrap_or_default(),
        subject: e.subject,
        detail: e.detail,
    }
}

/// Wakes the event watchers of one server when events may have been
/// committed, stops them at shutdown, and counts them per token.
#[derive(Debug)]
pub struct EventBus {
    tick: watch::Sender<u64>,
    stop: watch::Sender<bool>,
    per_token: Mutex<HashMap<i64, usize>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            tick: watch::Sender::new(0),
            stop: watch::Sender::new(false),
            per_token: Mutex::new(HashMap::new()),
        }
    }
}

impl EventBus {
    /// Events may have been committed: every watcher reads again.
    pub fn notify(&self) {
        self.tick.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The server is stopping: every watcher ends UNAVAILABLE, so that
    /// the graceful shutdown does not wait for streams that never end.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Watchers open now.
    pub fn watchers(&self) -> usize {
        self.per_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }

    fn admit(self: &Arc<Self>, token_id: i64, limit: usize) -> Option<WatcherSlot> {
        let mut per_token = self
            .per_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let open = per_token.entry(token_id).or_insert(0);
        if *open >= limit {
            crate::telemetry::count_watcher_refused();
            return None;
        }
        *open += 1;
        crate::telemetry::watcher_opened();
        Some(WatcherSlot {
            bus: self.clone(),
            token_id,
        })
    }
}

/// One open watcher of a token; freed when the stream is dropped.
#[derive(Debug)]
struct WatcherSlot {
    bus: Arc<EventBus>,
    token_id: i64,
}

impl Drop for WatcherSlot {
    fn drop(&mut self) {
        let mut per_token = self
            .bus
            .per_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = per_token.get_mut(&self.token_id) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                per_token.remove(&self.token_id);
            }
        }
        crate::telemetry::watcher_closed();
    }
}

/// The stream a watcher's client reads: what the task sent, then how it
/// ended (RESOURCE_EXHAUSTED for a watcher that fell behind, UNAVAILABLE
/// at shutdown, or a database error).
pub struct WatchStream {
    receiver: mpsc::Receiver<WatchEventsResponse>,
    end: Arc<Mutex<Option<Status>>>,
    done: bool,
    task: tokio::task::AbortHandle,
    _slot: WatcherSlot,
}

impl Stream for WatchStream {
    type Item = std::result::Result<WatchEventsResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.receiver.poll_recv(cx) {
            Poll::Ready(Some(message)) => Poll::Ready(Some(Ok(message))),
            Poll::Ready(None) => {
                self.done = true;
                let end = self
                    .end
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                Poll::Ready(end.map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends the events of `query` from its `after_id` on, then new ones as
/// the bus reports them, with a heartbeat when idle; sets `end` and
/// returns when the client is too slow, its token is revoked or expired
/// (checked at every wake, so within a heartbeat), the server stops or the
/// database fails.
async fn run_watcher(
    state: AppState,
    metadata: tonic::metadata::MetadataMap,
    mut query: crate::store::events::EventQuery,
    sender: mpsc::Sender<WatchEventsResponse>,
    end: Arc<Mutex<Option<Status>>>,
    limits: WatchLimits,
) {
    let finish = |status: Status| {
        *end.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
    };
    let mut tick = state.events.tick.subscribe();
    let mut stop = state.events.stop.subscribe();
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        if *stop.borrow_and_update() {
            finish(Status::unavailable(format!(
                "the server is stopping; resume with after_id {}",
                query.after_id.unwrap_or(0)
            )));
            return;
        }
        if let Err(error) = state.authenticate(&metadata).await {
            finish(crate::grpc::to_status(error));
            return;
        }
        // Seen before the read: a commit after it wakes the wait below.
        tick.borrow_and_update();
        let events = match state.store.list_events(&query).await {
            Ok(events) => events,
            Err(error) => {
                finish(crate::grpc::to_status(error));
                return;
            }
        };
        let full_page = i64::try_from(events.len()).unwrap_or(i64::MAX) >= query.limit;
        let sent_any = !events.is_empty();
        for event in events {
            let id = event.id;
            let message = WatchEventsResponse {
                item: Some(watch_events_response::Item::Event(event_message(event))),
            };
            if !offer(&sender, message, query.after_id, limits.stall, &finish).await {
                return;
            }
            query.after_id = Some(id);
        }
        if sent_any {
            quiet_since = tokio::time::Instant::now();
        }
        if full_page {
            continue;
        }
        tokio::select! {
            changed = tick.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = stop.changed() => {}
            () = sender.closed() => return,
            () = tokio::time::sleep_until(quiet_since + limits.heartbeat) => {
                let message = WatchEventsResponse {
                    item: Some(watch_events_response::Item::HeartbeatAt(timestamp(
                        state.clock.now(),
                    ))),
                };
                if !offer(&sender, message, query.after_id, limits.stall, &finish).await {
                    return;
                }
                quiet_since = tokio::time::Instant::now();
            }
        }
    }
}

/// Puts a message in the watcher's buffer, waiting at most `stall` for
/// room; `false` when the watcher is gone or too slow (then its end is
/// set).
async fn offer(
    sender: &mpsc::Sender<WatchEventsResponse>,
    message: WatchEventsResponse,
    last_id: Option<i64>,
    stall: Duration,
    finish: &impl Fn(Status),
) -> bool {
    let message = match sender.try_send(message) {
        Ok(()) => return true,
        Err(mpsc::error::TrySendError::Closed(_)) => return false,
        Err(mpsc::error::TrySendError::Full(message)) => message,
    };
    match tokio::time::timeout(stall, sender.send(message)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            crate::telemetry::count_watcher_dropped();
            finish(crate::grpc::to_status(Error::RateLimited {
                message: format!(
                    "this watcher fell behind and was dropped; resume with after_id {}",
                    last_id.unwrap_or(0)
                ),
                retry_after: None,
            }));
            false
        }
    }
}
