//! Settings and handled webhook events.

use super::*;

/// put_setting_if_absent stores the first value and returns it to every later caller.
pub async fn setting_put_if_absent_keeps_first(ts: TestStore) {
    let c = Ctx::new(ts);
    assert_eq!(c.read().await.get_setting("jwt_secret").await.unwrap(), None);
    in_tx!(c, |tx| {
        assert_eq!(tx.put_setting_if_absent("jwt_secret", "first").await.unwrap(), "first");
        assert_eq!(tx.put_setting_if_absent("jwt_secret", "second").await.unwrap(), "first");
        assert_eq!(tx.get_setting("jwt_secret").await.unwrap().as_deref(), Some("first"));
    });
    assert_eq!(in_tx!(c, |tx| tx.put_setting_if_absent("jwt_secret", "third").await.unwrap()), "first");
    assert_eq!(in_tx!(c, |tx| tx.put_setting_if_absent("other", "").await.unwrap()), "");
    let mut r = c.read().await;
    assert_eq!(r.get_setting("jwt_secret").await.unwrap().as_deref(), Some("first"));
    assert_eq!(r.get_setting("other").await.unwrap().as_deref(), Some(""));
    assert_eq!(r.get_setting("JWT_SECRET").await.unwrap(), None);
}

/// A webhook event is recorded once per source; a dropped unit records nothing.
pub async fn webhook_events_are_recorded_once(ts: TestStore) {
    let c = Ctx::new(ts);
    assert!(!c.read().await.webhook_event_seen("gateway", "evt_1").await.unwrap());
    {
        let mut tx = c.store().begin().await.unwrap();
        assert!(tx.record_webhook_event("gateway", "evt_1", c.now()).await.unwrap());
        drop(tx);
    }
    assert!(!c.read().await.webhook_event_seen("gateway", "evt_1").await.unwrap(), "rolled back");
    assert!(in_tx!(c, |tx| tx.record_webhook_event("gateway", "evt_1", c.now()).await.unwrap()));
    assert!(
        !in_tx!(c, |tx| tx.record_webhook_event("gateway", "evt_1", c.now()).await.unwrap()),
        "second time"
    );
    assert!(in_tx!(c, |tx| tx.record_webhook_event("other", "evt_1", c.now()).await.unwrap()), "per source");
    let mut r = c.read().await;
    assert!(r.webhook_event_seen("gateway", "evt_1").await.unwrap());
    assert!(r.webhook_event_seen("other", "evt_1").await.unwrap());
    assert!(!r.webhook_event_seen("gateway", "evt_2").await.unwrap());
}
