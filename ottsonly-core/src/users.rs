//! Profiles and staff administration of users.

use crate::access::{Action, Actor};
use crate::auth::phone_race;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::model::{Page, PageRequest, Role, User, UserFilter};
use crate::phone::PhoneNumber;
use crate::validate;
use serde_json::json;

pub struct Users<'a> {
    pub(crate) ctx: &'a Ctx,
}

/// A profile change; `None` leaves a field as it is, `Some("")` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub email: Option<String>,
}

impl Users<'_> {
    pub async fn me(&self, actor: &Actor) -> Result<User> {
        let mut r = self.ctx.store.reader().await?;
        r.get_user(&actor.user_id).await?.ok_or(Error::NotFound { what: "user" })
    }

    pub async fn update_profile(&self, actor: &Actor, patch: ProfilePatch) -> Result<User> {
        let name = match patch.name.as_deref() {
            None => None,
            Some(n) if n.trim().is_empty() => Some(None),
            Some(n) => Some(Some(validate::text("name", n, 100)?)),
        };
        let email = match patch.email.as_deref() {
            None => None,
            Some(e) if e.trim().is_empty() => Some(None),
            Some(e) => Some(Some(validate::email(e)?)),
        };
        let (name, email) = (&name, &email);
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let mut u = tx.get_user(&actor.user_id).await?.ok_or(Error::NotFound { what: "user" })?;
                    if let Some(n) = name {
                        u.name = n.clone();
                    }
                    if let Some(e) = email {
                        u.email = e.clone();
                    }
                    u.updated_at = self.ctx.now();
                    tx.update_user(&u).await?;
                    Ok(u)
                })
            })
            .await
    }

    pub async fn get(&self, actor: &Actor, id: &UserId) -> Result<User> {
        actor.require(Action::ViewAllUsers)?;
        let mut r = self.ctx.store.reader().await?;
        r.get_user(id).await?.ok_or(Error::NotFound { what: "user" })
    }

    /// Staff search; `phone` may be a full number or the start of one.
    pub async fn list(
        &self,
        actor: &Actor,
        phone: Option<&str>,
        role: Option<Role>,
        page: &PageRequest,
    ) -> Result<Page<User>> {
        actor.require(Action::ViewAllUsers)?;
        let phone_prefix = match phone.map(str::trim).filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => Some(normalise_phone_prefix(p, self.ctx.config.auth.default_region.as_deref())?),
        };
        let slice = Ctx::slice(page)?;
        let mut r = self.ctx.store.reader().await?;
        let items = r.list_users(&UserFilter { phone_prefix, role }, &slice).await?;
        Ok(Ctx::page(items, &slice, |u| u.id.as_str().to_string()))
    }

    /// Changes a user's role. Admins cannot change their own role (no accidental lock-out).
    pub async fn set_role(&self, actor: &Actor, id: &UserId, role: Role) -> Result<User> {
        actor.require(Action::ManageUsers)?;
        if *id == actor.user_id {
            return Err(Error::InvalidState("admins cannot change their own role".into()));
        }
        self.update_admin(actor, id, "user.set_role", |u| {
            let before = u.role;
            u.role = role;
            json!({ "from": before, "to": role })
        })
        .await
    }

    /// Blocks a user: their tokens stop working at once and they cannot log in.
    pub async fn block(&self, actor: &Actor, id: &UserId, reason: Option<&str>) -> Result<User> {
        actor.require(Action::ManageUsers)?;
        if *id == actor.user_id {
            return Err(Error::InvalidState("admins cannot block themselves".into()));
        }
        let reason = reason.map(|r| validate::optional_text("reason", r, 500)).transpose()?;
        self.update_admin(actor, id, "user.block", |u| {
            u.is_blocked = true;
            u.token_version += 1;
            json!({ "reason": reason })
        })
        .await
    }

    pub async fn unblock(&self, actor: &Actor, id: &UserId) -> Result<User> {
        actor.require(Action::ManageUsers)?;
        self.update_admin(actor, id, "user.unblock", |u| {
            u.is_blocked = false;
            json!({})
        })
        .await
    }

    async fn update_admin(
        &self,
        actor: &Actor,
        id: &UserId,
        action: &str,
        change: impl Fn(&mut User) -> serde_json::Value + Sync,
    ) -> Result<User> {
        let change = &change;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    let mut u = tx.get_user(id).await?.ok_or(Error::NotFound { what: "user" })?;
                    let details = change(&mut u);
                    u.updated_at = now;
                    tx.update_user(&u).await?;
                    if u.is_blocked {
                        tx.revoke_user_refresh_tokens(&u.id, now).await?;
                    }
                    self.ctx.audit(tx, actor, action, ("user", u.id.as_str()), details).await?;
                    Ok(u)
                })
            })
            .await
    }

    /// Sets the role of the user with this phone, creating the user if needed. This is how an
    /// operator makes the first admin from the command line.
    pub async fn set_role_by_phone(&self, actor: &Actor, phone_raw: &str, role: Role) -> Result<User> {
        actor.require(Action::ManageUsers)?;
        let phone = &PhoneNumber::parse(phone_raw, self.ctx.config.auth.default_region.as_deref())
            .map_err(|e| Error::validation("phone", e.to_string()))?;
        self.ctx
            .unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    let (user, created) = match tx.get_user_by_phone(phone).await? {
                        Some(mut u) => {
                            u.role = role;
                            u.updated_at = now;
                            tx.update_user(&u).await?;
                            (u, false)
                        }
                        None => {
                            let u = User::new(self.ctx.id(), phone.clone(), role, now);
                            tx.insert_user(&u).await.map_err(phone_race)?;
                            (u, true)
                        }
                    };
                    let details = json!({ "to": role, "created": created });
                    self.ctx.audit(tx, actor, "user.set_role", ("user", user.id.as_str()), details).await?;
                    Ok(user)
                })
            })
            .await
    }
}

/// Turns what staff type into an E.164 prefix: "+9198", "98765", "+91 98765".
fn normalise_phone_prefix(raw: &str, default_region: Option<&str>) -> Result<String> {
    let has_plus = raw.starts_with('+');
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty()
        || digits.len() > 15
        || raw.chars().any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
    {
        return Err(Error::validation("phone", "must be digits, optionally starting with +"));
    }
    Ok(match (has_plus, default_region.and_then(crate::phone::calling_code)) {
        (true, _) | (false, None) => format!("+{digits}"),
        (false, Some(cc)) => format!("+{cc}{}", digits.trim_start_matches('0')),
    })
}
