//! Reading the audit log, until core has its own service for it.
//!
//! [`list_audit`] is the one place the server reads the audit log (the REST operation
//! `GET /admin/audit` and the CLI's `audit list` both call it). It stands in for core's
//! `app.audit().list(&actor, &AuditFilter, &PageRequest)`; when that lands, this function's body
//! becomes that call.

use ottsonly_core::model::{
    AuditEntry, AuditFilter, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, Page, PageRequest, Slice,
};
use ottsonly_core::{Actor, Error, Ottsonly, Result, Role, UserId};

/// Which entries to list; every field that is set must match exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Who acted (a user id, or `system` for the operator's CLI).
    pub actor_id: Option<UserId>,
    /// What was acted on: `user`, `product`, `order`, `subscription`, `broadcast`, `topup`.
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// What was done, e.g. `order.refund`, `wallet.adjust`.
    pub action: Option<String>,
}

/// Entries read from the store per pass at most while filtering on fields the store's filter
/// does not have (`target_type`, `action`); a page that hits the bound may hold fewer than
/// `limit` items while `next_cursor` is set.
const SCAN_MAX: usize = 1_000;

/// The audit log, newest first, one page (admins only).
pub(crate) async fn list_audit(
    app: &Ottsonly,
    actor: &Actor,
    query: &AuditQuery,
    page: &PageRequest,
) -> Result<Page<AuditEntry>> {
    // The seed's matrix has no row for the audit log: it is an operator tool, like the outbox.
    if actor.role != Role::Admin {
        return Err(Error::Forbidden);
    }
    let limit = page.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
    if limit == 0 || limit > PAGE_LIMIT_MAX {
        return Err(Error::validation("limit", format!("must be between 1 and {PAGE_LIMIT_MAX}")));
    }
    if let Some(c) = &page.cursor {
        ottsonly_core::check_cursor(c)?;
    }
    let limit = limit as usize;
    let filter = AuditFilter { actor_id: query.actor_id.clone(), target_id: query.target_id.clone() };
    let matches = |e: &AuditEntry| {
        query.target_type.as_ref().is_none_or(|t| *t == e.target_type)
            && query.action.as_ref().is_none_or(|a| *a == e.action)
    };
    let mut reader = app.store().reader().await?;
    let mut items = Vec::new();
    let mut before = page.cursor.clone();
    let mut scanned = 0;
    loop {
        // One more than a page: a match beyond `limit` says another page exists.
        let slice = Slice { before_id: before.clone(), limit: limit as u32 + 1 };
        let batch = reader.list_audit(&filter, &slice).await?;
        let exhausted = batch.len() < slice.limit as usize;
        for e in batch {
            scanned += 1;
            before = Some(e.id.to_string());
            if matches(&e) {
                items.push(e);
                if items.len() > limit {
                    items.truncate(limit);
                    let next_cursor = items.last().map(|e| e.id.to_string());
                    return Ok(Page { items, next_cursor });
                }
            }
        }
        if exhausted {
            return Ok(Page { items, next_cursor: None });
        }
        if scanned >= SCAN_MAX {
            // Resume after the last entry read, matched or not.
            return Ok(Page { items, next_cursor: before });
        }
    }
}
