//! Queueing for hot documents, inside this process.
//!
//! MongoDB transactions are optimistic: when two units write one document, the second gets a
//! write conflict at once and core runs it again after a short backoff. Under a flash sale
//! (hundreds of purchases of one product) almost every attempt loses, and the losers' traffic
//! slows down the one unit that holds the product, so units can run out of retries.
//!
//! So units of this process take turns on a document before writing it:
//! - a guarded write first takes the document's turn without waiting ([`HotDocs::try_take`]);
//!   if another unit of this process holds it (an uncommitted write there, so the server would
//!   refuse ours anyway), the write is not sent: the unit fails with `Transient` and notes which
//!   document it lost on;
//! - when the same tokio task begins its next unit (core's retry), `begin` first waits, in FIFO
//!   order, for that document's turn ([`HotDocs::wait_turn`]), so the retry's snapshot starts
//!   after the previous writer finished and its write goes through.
//!
//! Only `begin` waits, and it holds no turn while waiting, so turns cannot deadlock. Turns are
//! an optimisation only: correctness still comes from the server's conditional writes and write
//! conflicts, which also cover other processes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OwnedMutexGuard;

/// A document guarded writes take turns on: collection and `_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DocKey {
    pub(crate) coll: &'static str,
    pub(crate) id: String,
}

impl DocKey {
    pub(crate) fn new(coll: &'static str, id: &str) -> Self {
        DocKey { coll, id: id.to_owned() }
    }
}

/// The task whose unit holds a document's turn, if any.
type Owner = Arc<Mutex<Option<tokio::task::Id>>>;
/// A document's turn: FIFO for waiters, plus who holds it.
type TurnLock = (Arc<tokio::sync::Mutex<()>>, Owner);

/// A unit's turn on one document, released when the unit ends.
pub(crate) struct Turn {
    pub(crate) key: DocKey,
    owner: Owner,
    _guard: OwnedMutexGuard<()>,
}

impl Turn {
    fn new(key: DocKey, owner: Owner, guard: OwnedMutexGuard<()>) -> Self {
        *lock(&owner) = tokio::task::try_id();
        Turn { key, owner, _guard: guard }
    }
}

impl Turn {
    /// The unit is gone (its abort is still in flight): no task owns the turn any more, so a
    /// retry of the same task may queue for it.
    pub(crate) fn disown(&self) {
        *lock(&self.owner) = None;
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // Runs before the guard (a field) is released.
        *lock(&self.owner) = None;
    }
}

/// Turn locks have no owner once nobody holds or waits for them; past this many entries the idle
/// ones are dropped.
const MAX_IDLE_LOCKS: usize = 1024;
/// A task that lost a turn and did not begin again within this time has given up (core retries
/// after at most ~130 ms), so its next unit is unrelated and must not queue.
const WAITING_FOR: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct HotDocs {
    locks: Mutex<HashMap<DocKey, TurnLock>>,
    /// The document each task lost its last unit on, to wait for at its next `begin`.
    waiting: Mutex<HashMap<tokio::task::Id, (DocKey, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain maps, still consistent after a panic elsewhere.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HotDocs {
    fn turn_lock(&self, key: &DocKey) -> TurnLock {
        let mut locks = lock(&self.locks);
        if locks.len() > MAX_IDLE_LOCKS {
            // Only the map refers to an idle lock.
            locks.retain(|_, (l, _)| Arc::strong_count(l) > 1);
        }
        locks.entry(key.clone()).or_default().clone()
    }

    /// The document's turn if no other unit of this process holds it; otherwise notes that the
    /// current task should wait for it at its next `begin`.
    pub(crate) fn try_take(&self, key: &DocKey) -> Option<Turn> {
        let (turn, owner) = self.turn_lock(key);
        match turn.try_lock_owned() {
            Ok(guard) => Some(Turn::new(key.clone(), owner, guard)),
            Err(_) => {
                let task = tokio::task::try_id();
                // A task whose own other unit holds the turn must not wait for itself.
                if let Some(task) = task.filter(|t| *lock(&owner) != Some(*t)) {
                    let mut waiting = lock(&self.waiting);
                    let now = Instant::now();
                    waiting.retain(|_, (_, since)| now.duration_since(*since) < WAITING_FOR);
                    waiting.insert(task, (key.clone(), now));
                }
                None
            }
        }
    }

    /// If the current task's last unit lost a turn, waits (FIFO, at most `limit`) for that
    /// document's turn and returns it; the new unit then holds it from the start.
    pub(crate) async fn wait_turn(&self, limit: Duration) -> Option<Turn> {
        let task = tokio::task::try_id()?;
        let (key, since) = lock(&self.waiting).remove(&task)?;
        if since.elapsed() >= WAITING_FOR {
            return None;
        }
        let (turn, owner) = self.turn_lock(&key);
        let guard = tokio::time::timeout(limit, turn.lock_owned()).await.ok()?;
        Some(Turn::new(key, owner, guard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_loser_waits_for_its_turn_at_the_next_begin() {
        let hot = Arc::new(HotDocs::default());
        let key = DocKey::new("products", "p1");
        let first = hot.try_take(&key).expect("free");
        let loser = {
            let (hot, key) = (hot.clone(), key.clone());
            tokio::spawn(async move {
                assert!(hot.try_take(&key).is_none(), "held by the first unit");
                // The retry waits until the first unit is done, then holds the turn.
                let turn = hot.wait_turn(Duration::from_secs(5)).await.expect("turn");
                assert_eq!(turn.key, key);
                assert!(hot.wait_turn(Duration::from_secs(5)).await.is_none(), "nothing to wait for");
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        loser.await.unwrap();
        assert!(hot.try_take(&key).is_some(), "free again");
    }

    #[tokio::test]
    async fn a_task_never_waits_for_its_own_turn() {
        let hot = Arc::new(HotDocs::default());
        tokio::spawn(async move {
            let key = DocKey::new("users", "u1");
            let _outer = hot.try_take(&key).expect("free");
            // A second unit of the same task loses, but does not queue behind its own task.
            assert!(hot.try_take(&key).is_none());
            assert!(hot.wait_turn(Duration::from_secs(5)).await.is_none());
        })
        .await
        .unwrap();
    }
}
