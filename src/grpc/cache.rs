//! What a server answers from memory for a few seconds instead of asking
//! the database on every call: the access tokens it has seen, the records
//! of the license keys it has verified, and the calendar's closures and
//! overrides.
//!
//! They change rarely and are read by nearly every call of their kind. A
//! change made through this server (a closure, an override, a key
//! superseded by a reissue or revoked, a token revoked) is seen at once; a
//! closure or key changed elsewhere (another replica) is seen within the
//! time to live. A token revoked elsewhere (`neo-supportd token revoke`,
//! another replica) is forgotten as soon as the store's revocation watch
//! reports it ([`crate::store::Store::watch_revocations`]): within a
//! second. A time to live of zero turns the cache off. Unknown tokens and
//! keys are never cached, so a revoked or mistyped token costs one query
//! per call, as before.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::domain::calendar::Calendar;
use crate::domain::license::KeyRecord;
use crate::store::TokenRecord;

/// At most this many entries per map; when full, the expired ones go, and
/// if none has expired, all of them.
const MAX_ENTRIES: usize = 10_000;

/// Token look-ups, key records and the calendar, each kept for `ttl`.
#[derive(Debug)]
pub struct ReadCache {
    ttl: Duration,
    tokens: TtlMap<TokenRecord>,
    keys: TtlMap<KeyRecord>,
    calendar: RwLock<CalendarSlot>,
}

impl ReadCache {
    /// A cache whose entries live for `ttl`; zero keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            tokens: TtlMap::default(),
            keys: TtlMap::default(),
            calendar: RwLock::default(),
        }
    }

    /// How long an entry is trusted.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The remembered record of a token hash, if still fresh.
    pub fn token(&self, token_hash: &str) -> Option<TokenRecord> {
        self.tokens.get(token_hash, self.ttl)
    }

    /// Taken before looking a token up in the database, and handed back to
    /// [`Self::remember_token`].
    pub fn token_generation(&self) -> u64 {
        self.tokens.generation()
    }

    /// Remembers the record of a token found in the database, unless a
    /// token was forgotten since the look-up began: the look-up may have
    /// read it before its revocation.
    pub fn remember_token(&self, generation: u64, token_hash: &str, record: &TokenRecord) {
        self.tokens.insert(token_hash, record, self.ttl, generation);
    }

    /// Forgets the token with this id (revoked), so the next call with it
    /// reads the database.
    pub fn forget_token_id(&self, id: i64) {
        self.tokens.retain(|record| record.id != id);
    }

    /// Forgets every token: one was revoked, and which is not known.
    pub fn forget_tokens(&self) {
        self.tokens.retain(|_| false);
    }

    /// The remembered record of a license key, if still fresh.
    pub fn key(&self, key_id: &str) -> Option<KeyRecord> {
        self.keys.get(key_id, self.ttl)
    }

    /// Taken before reading a key from the database, and handed back to
    /// [`Self::remember_key`].
    pub fn key_generation(&self) -> u64 {
        self.keys.generation()
    }

    /// Remembers the record of a key read from the database, unless this
    /// server changed a key since the read began.
    pub fn remember_key(&self, generation: u64, record: &KeyRecord) {
        self.keys.insert(&record.id, record, self.ttl, generation);
    }

    /// Forgets a key whose record this server just changed (superseded or
    /// revoked), so the next verification reads it again.
    pub fn forget_key(&self, key_id: &str) {
        self.keys.remove(key_id);
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

/// Records by id, each with the moment it was read.
#[derive(Debug)]
struct TtlMap<V> {
    entries: RwLock<Entries<V>>,
}

#[derive(Debug)]
struct Entries<V> {
    /// Bumped by every removal, so that a read that began before a change
    /// does not put back what the change made stale.
    generation: u64,
    map: HashMap<String, (Instant, V)>,
}

impl<V> Default for TtlMap<V> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(Entries {
                generation: 0,
                map: HashMap::new(),
            }),
        }
    }
}

impl<V: Clone> TtlMap<V> {
    fn get(&self, id: &str, ttl: Duration) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let (fetched, value) = entries.map.get(id)?;
        (fetched.elapsed() < ttl).then(|| value.clone())
    }

    fn generation(&self) -> u64 {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// Keeps `value`, read from the database when the map was at
    /// `generation`, unless something was removed since.
    fn insert(&self, id: &str, value: &V, ttl: Duration, generation: u64) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.generation != generation {
            return;
        }
        if entries.map.len() >= MAX_ENTRIES {
            entries
                .map
                .retain(|_, (fetched, _)| fetched.elapsed() < ttl);
            if entries.map.len() >= MAX_ENTRIES {
                entries.map.clear();
            }
        }
        entries
            .map
            .insert(id.to_owned(), (Instant::now(), value.clone()));
    }

    /// Keeps only the values `keep` accepts; a removal like any other.
    fn retain(&self, keep: impl Fn(&V) -> bool) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.generation += 1;
        entries.map.retain(|_, (_, value)| keep(value));
    }

    fn remove(&self, id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.generation += 1;
        entries.map.remove(id);
    }
}
