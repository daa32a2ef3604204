//! Reading the audit log: who did what to what, for admins.
//!
//! Entries are written by the services themselves, in the unit of work of the action they record
//! (`Ctx::audit`); this is the read side.

use crate::access::{Action, Actor};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::model::{AuditEntry, AuditFilter, Page, PageRequest};

/// Longest value accepted for a text filter (actions, target types and ids are short names
/// and UUIDs; anything longer matches nothing and is refused as a mistake).
const FILTER_MAX_LEN: usize = 128;

pub struct Audit<'a> {
    pub(crate) ctx: &'a Ctx,
}

impl Audit<'_> {
    /// Audit entries, newest first, filtered by actor, target (type and/or id) and action, all
    /// present filters combined with AND; blank filters are ignored. Admin only
    /// ([`Action::ViewAuditLog`]). Paginated like every list: pass `next_cursor` back as
    /// `page.cursor`.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>> {
        actor.require(Action::ViewAuditLog)?;
        let filter = AuditFilter {
            actor_id: filter.actor_id.clone().filter(|a| !a.as_str().trim().is_empty()),
            target_type: text("target_type", filter.target_type.as_deref())?,
            target_id: text("target_id", filter.target_id.as_deref())?,
            action: text("action", filter.action.as_deref())?,
        };
        if let Some(a) = &filter.actor_id {
            text("actor_id", Some(a.as_str()))?;
        }
        let slice = Ctx::slice(page)?;
        let mut r = self.ctx.store.reader().await?;
        let items = r.list_audit(&filter, &slice).await?;
        Ok(Ctx::page(items, &slice, |e| e.id.as_str().to_string()))
    }
}

/// A text filter trimmed, `None` when blank; too long is a validation error.
fn text(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.len() > FILTER_MAX_LEN => {
            Err(Error::validation(field, format!("must be at most {FILTER_MAX_LEN} bytes")))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}
