//! What a server answers from memory for a few seconds instead of asking
//! the database on every call: the access tokens it has seen and the
//! calendar's closures and overrides.
//!
//! Both change rarely and are read by nearly every call. A change made
//! through this server (a closure, an override) is seen at once; a change
//! made elsewhere (`neo-supportd token revoke`, another replica) is seen
//! within the time to live. A time to live of zero turns the cache off.
//! Unknown tokens are never cached, so a revoked or mistyped token costs
//! one query per call, as before.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::domain::calendar::Calendar;
use crate::store::TokenRecord;

/// At most this many tokens are remembered; when full, the expired ones go,
/// and if none has expired, all of them.
const MAX_TOKENS: usize = 10_000;

/// Token look-ups and the calendar, each kept for `ttl`.
#[derive(Debug)]
pub struct ReadCache {
    ttl: Duration,
    tokens: RwLock<HashMap<String, (Instant, TokenRecord)>>,
    calendar: RwLock<CalendarSlot>,
}

impl ReadCache {
    /// A cache whose entries live for `ttl`; zero keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            tokens: RwLock::default(),
            calendar: RwLock::default(),
        }
    }

    /// How long an entry is trusted.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The remembered record of a token hash, if still fresh.
    pub fn token(&self, token_hash: &str) -> Option<TokenRecord> {
        let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
        let (fetched, record) = tokens.get(token_hash)?;
        (fetched.elapsed() < self.ttl).then(|| record.clone())
    }

    /// Remembers the record of a token found in the database.
    pub fn remember_token(&self, token_hash: &str, record: &TokenRecord) {
        if self.ttl.is_zero() {
            return;
        }
        let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, (fetched, _)| fetched.elapsed() < self.ttl);
            if tokens.len() >= MAX_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(token_hash.to_owned(), (Instant::now(), record.clone()));
    }

    /// The remembered calendar, if still fresh.
    pub fn calendar(&self) -> Option<Arc<Calendar>> {
        let slot = self.calendar.read().unwrap_or_else(PoisonError::into_inner);
        let (fetched, calendar) = slot.entry.as_ref()?;
        (fetched.elapsed() < self.ttl).then(|| calendar.clone())
    }

    /// Taken before reading the calendar from the database, and handed back
    /// to [`Self::remember_calendar`].
    pub fn calendar_generation(&self) -> u64 {
        self.calendar
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// Remembers a calendar read from the database, unless it was changed
    /// through this server since the read began: the read may have missed
    /// the change.
    pub fn remember_calendar(&self, generation: u64, calendar: Arc<Calendar>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut slot = self
            .calendar
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.generation == generation {
            slot.entry = Some((Instant::now(), calendar));
        }
    }

    /// Forgets the calendar after a change through this server, so the
    /// next call reads it again.
    pub fn forget_calendar(&self) {
        let mut slot = self
            .calendar
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        slot.generation += 1;
        slot.entry = None;
    }
}

/// The calendar last read, and how many changes this server has made.
#[derive(Debug, Default)]
struct CalendarSlot {
    generation: u64,
    entry: Option<(Instant, Arc<Calendar>)>,
}
