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
//!
//! The maps are `quick_cache` caches bounded by entry count; what this file
//! adds is the lifetime, read from the server's [`Clock`] (so tests move
//! time instead of sleeping), and the rule that a read begun before a
//! change does not put the old value back (a generation, bumped by every
//! removal, that an insert must still match).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::domain::calendar::Calendar;
use crate::domain::license::KeyRecord;
use crate::store::TokenRecord;

/// At most this many entries per map; past it, quick_cache evicts the
/// entries least worth keeping.
const MAX_ENTRIES: usize = 10_000;

/// Token look-ups, key records and the calendar, each kept for `ttl`.
pub struct ReadCache {
    ttl: Duration,
    clock: Arc<dyn Clock>,
    tokens: TtlMap<TokenRecord>,
    keys: TtlMap<KeyRecord>,
    calendar: RwLock<CalendarSlot>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("ttl", &self.ttl)
            .field("tokens", &self.tokens.entries.len())
            .field("keys", &self.keys.entries.len())
            .finish_non_exhaustive()
    }
}

impl ReadCache {
    /// A cache whose entries live for `ttl` by `clock`; zero keeps nothing.
    pub fn new(ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            ttl,
            clock,
            tokens: TtlMap::new(),
            keys: TtlMap::new(),
            calendar: RwLock::default(),
        }
    }

    /// How long an entry is trusted.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether something read at `fetched` is still fresh now. A clock that
    /// went back counts as stale.
    fn fresh(&self, fetched: DateTime<Utc>) -> bool {
        let age = self.clock.now() - fetched;
        age >= chrono::TimeDelta::zero() && age.to_std().is_ok_and(|age| age < self.ttl)
    }

    /// The remembered record of a token hash, if still fresh.
    pub fn token(&self, token_hash: &str) -> Option<TokenRecord> {
        self.tokens.get(token_hash, |fetched| self.fresh(fetched))
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
        if !self.ttl.is_zero() {
            let now = self.clock.now();
            self.tokens.insert(token_hash, record, now, generation);
        }
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
        self.keys.get(key_id, |fetched| self.fresh(fetched))
    }

    /// Taken before reading a key from the database, and handed back to
    /// [`Self::remember_key`].
    pub fn key_generation(&self) -> u64 {
        self.keys.generation()
    }

    /// Remembers the record of a key read from the database, unless this
    /// server changed a key since the read began.
    pub fn remember_key(&self, generation: u64, record: &KeyRecord) {
        if !self.ttl.is_zero() {
            let now = self.clock.now();
            self.keys.insert(&record.id, record, now, generation);
        }
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
        self.fresh(*fetched).then(|| calendar.clone())
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
        let now = self.clock.now();
        let mut slot = self
            .calendar
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.generation == generation {
            slot.entry = Some((now, calendar));
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
    entry: Option<(DateTime<Utc>, Arc<Calendar>)>,
}

/// Records by id, each with the moment it was read.
struct TtlMap<V> {
    /// Bumped by every removal, so that a read that began before a change
    /// does not put back what the change made stale. An insert holds it for
    /// reading while it inserts, a removal for writing: no removal can fall
    /// between an insert's check and its write.
    generation: RwLock<u64>,
    entries: quick_cache::sync::Cache<String, (DateTime<Utc>, V)>,
}

impl<V: Clone> TtlMap<V> {
    fn new() -> Self {
        Self {
            generation: RwLock::new(0),
            entries: quick_cache::sync::Cache::new(MAX_ENTRIES),
        }
    }

    fn get(&self, id: &str, fresh: impl Fn(DateTime<Utc>) -> bool) -> Option<V> {
        let (fetched, value) = self.entries.get(id)?;
        fresh(fetched).then_some(value)
    }

    fn generation(&self) -> u64 {
        *self
            .generation
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `value`, read from the database when the map was at
    /// `generation`, unless something was removed since.
    fn insert(&self, id: &str, value: &V, now: DateTime<Utc>, generation: u64) {
        let current = self
            .generation
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if *current == generation {
            self.entries.insert(id.to_owned(), (now, value.clone()));
        }
    }

    /// Keeps only the values `keep` accepts; a removal like any other.
    fn retain(&self, keep: impl Fn(&V) -> bool) {
        let mut generation = self
            .generation
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *generation += 1;
        self.entries.retain(|_, (_, value)| keep(value));
    }

    fn remove(&self, id: &str) {
        let mut generation = self
            .generation
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *generation += 1;
        self.entries.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn an_entry_is_fresh_until_the_clock_passes_its_lifetime() {
        let clock = Arc::new(FixedClock::new(at(0)));
        let cache = ReadCache::new(Duration::from_secs(5), clock.clone());
        assert!(cache.fresh(at(0)));
        clock.set(at(4));
        assert!(cache.fresh(at(0)));
        clock.set(at(5));
        assert!(!cache.fresh(at(0)), "five seconds old is stale");
        clock.set(at(-1));
        assert!(!cache.fresh(at(0)), "a clock that went back makes it stale");
    }

    #[test]
    fn a_read_begun_before_a_removal_does_not_put_the_old_value_back() {
        let map = TtlMap::<i64>::new();
        let generation = map.generation();
        map.remove("token");
        map.insert("token", &1, at(0), generation);
        assert_eq!(map.get("token", |_| true), None);
        map.insert("token", &2, at(0), map.generation());
        assert_eq!(map.get("token", |_| true), Some(2));
        let generation = map.generation();
        map.retain(|value| *value != 2);
        assert_eq!(map.get("token", |_| true), None);
        map.insert("token", &2, at(0), generation);
        assert_eq!(map.get("token", |_| true), None);
    }

    #[test]
    fn the_map_stays_within_its_bound() {
        let map = TtlMap::<i64>::new();
        for n in 0..(3 * MAX_ENTRIES as i64) {
            map.insert(&n.to_string(), &n, at(0), map.generation());
        }
        assert!(map.entries.len() <= MAX_ENTRIES, "{}", map.entries.len());
    }

    #[test]
    fn a_lifetime_of_zero_keeps_nothing() {
        let clock = Arc::new(FixedClock::new(at(0)));
        let cache = ReadCache::new(Duration::ZERO, clock);
        let calendar = Arc::new(Calendar::default());
        cache.remember_calendar(cache.calendar_generation(), calendar);
        assert!(cache.calendar().is_none());
    }
}
