//! The public product list, kept for a short time: the catalog is read on every storefront page
//! and changes rarely, while a list read costs a store round trip per page.
//!
//! Freshness: every catalog write of this process (product create, update, stock change,
//! credential import, purchase, refund with restock) drops the cache after it commits, so this
//! process never serves a list older than its own writes. Writes of other processes sharing the
//! store show within `CatalogConfig::list_cache_ttl` (default 1 s). The list is a display: a
//! purchase always checks price, state and stock in its own unit of work.

use crate::model::{Page, Product, Timestamp};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Pages kept at most; past it the cache starts over (cursors are ids, so a crawler walking many
/// pages cannot grow it without bound).
const ENTRIES_MAX: usize = 64;

/// A page of the public list: its limit and cursor.
pub(crate) type ListKey = (u32, Option<String>);

struct Entry {
    generation: u64,
    at: Timestamp,
    page: Arc<Page<Product>>,
}

#[derive(Default)]
pub(crate) struct CatalogCache {
    /// Bumped by every write; an entry read before a bump is never stored after it.
    generation: AtomicU64,
    entries: RwLock<HashMap<ListKey, Entry>>,
}

impl CatalogCache {
    /// Call before reading the store for a page that [`CatalogCache::put`] will store.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The page if it was stored in this generation less than `ttl` before `now`.
    pub fn get(&self, key: &ListKey, now: Timestamp, ttl: chrono::TimeDelta) -> Option<Arc<Page<Product>>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(key)?;
        (e.generation == self.generation() && now >= e.at && now - e.at < ttl).then(|| e.page.clone())
    }

    /// Keeps a page read in generation `read_in`, unless a write has happened since.
    pub fn put(&self, key: ListKey, read_in: u64, now: Timestamp, page: Arc<Page<Product>>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if read_in != self.generation() {
            return;
        }
        if entries.len() >= ENTRIES_MAX && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, Entry { generation: read_in, at: now, page });
    }

    /// After a committed catalog write: nothing read before it is served again.
    pub fn invalidate(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn page(n: usize) -> Arc<Page<Product>> {
        Arc::new(Page { items: Vec::with_capacity(n), next_cursor: Some(n.to_string()) })
    }

    #[test]
    fn pages_expire_and_writes_win_over_reads_in_flight() {
        let c = CatalogCache::default();
        let t0 = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let ttl = TimeDelta::seconds(1);
        let key: ListKey = (20, None);
        let g = c.generation();
        c.put(key.clone(), g, t0, page(1));
        assert_eq!(
            c.get(&key, t0 + TimeDelta::milliseconds(999), ttl).unwrap().next_cursor.as_deref(),
            Some("1")
        );
        assert!(c.get(&key, t0 + ttl, ttl).is_none(), "expired");
        assert!(c.get(&key, t0 - TimeDelta::seconds(5), ttl).is_none(), "a clock that went back misses");
        // A read that began before a write is not stored after it.
        let before = c.generation();
        c.invalidate();
        assert!(c.get(&key, t0, ttl).is_none());
        c.put(key.clone(), before, t0, page(2));
        assert!(c.get(&key, t0, ttl).is_none());
        // Bounded: past the cap it starts over.
        let g = c.generation();
        for i in 0..=ENTRIES_MAX {
            c.put((20, Some(i.to_string())), g, t0, page(i));
        }
        assert!(c.entries.read().unwrap().len() <= ENTRIES_MAX);
    }
}
