//! Products (plans), stock, and the pool of account credentials behind them.

use crate::access::{Action, Actor};
use crate::crypto::Credentials;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::{CredentialId, ProductId};
use crate::model::{CredentialRecord, CredentialStatus, Page, PageRequest, Product};
use crate::money::Money;
use crate::validate;
use serde_json::json;

pub struct Catalog<'a> {
    pub(crate) ctx: &'a Ctx,
}

/// Longest plan: ten years.
pub const DURATION_DAYS_MAX: u32 = 3650;
/// Most credentials imported in one call (one unit of work).
pub const CREDENTIAL_IMPORT_MAX: usize = 1000;
/// Highest price of a plan: ₹10,00,000.
pub const PRICE_MAX_PAISE: i64 = 100_000_000;
/// Most units a product may have in stock.
pub const STOCK_MAX: i64 = 10_000_000;
/// Most units one stock adjustment may add or remove.
pub const STOCK_DELTA_MAX: i64 = 1_000_000;

/// The stock after adding `delta` to `stock` (both already bounded, so this never overflows), or
/// `InvalidState` when it would pass [`STOCK_MAX`]: like going below zero, it depends on the
/// stock at the time (a 409), while an out-of-range delta or stock is a validation error (400).
fn stock_after(stock: i64, delta: i64) -> Result<i64> {
    match stock.checked_add(delta) {
        Some(n) if n <= STOCK_MAX => Ok(n),
        _ => Err(Error::InvalidState(format!("stock is {stock} and cannot go above {STOCK_MAX}"))),
    }
}

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub platform_name: String,
    pub plan_name: String,
    pub description: String,
    pub price: Money,
    pub duration_days: u32,
    /// Initial stock for products sold without a credential pool (admin assigns later).
    pub stock: i64,
    pub is_active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    pub platform_name: Option<String>,
    pub plan_name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub duration_days: Option<u32>,
    pub is_active: Option<bool>,
}

fn check_price(price: Money) -> Result<Money> {
    if price.is_zero() || price.paise() > PRICE_MAX_PAISE {
        return Err(Error::validation("price_paise", format!("must be 1 to {PRICE_MAX_PAISE} paise")));
    }
    Ok(price)
}

fn check_duration(days: u32) -> Result<u32> {
    if days == 0 || days > DURATION_DAYS_MAX {
        return Err(Error::validation("duration_days", format!("must be 1 to {DURATION_DAYS_MAX}")));
    }
    Ok(days)
}

/// Validates a credential before it is sealed.
pub(crate) fn check_credentials(c: Credentials) -> Result<Credentials> {
    let opt = |field, v: Option<String>, max| -> Result<Option<String>> {
        Ok(v.map(|s| validate::optional_text(field, &s, max)).transpose()?.filter(|s| !s.is_empty()))
    };
    Ok(Credentials {
        username: validate::text("username", &c.username, 256)?,
        password: validate::text("password", &c.password, 256)?,
        profile: opt("profile", c.profile, 100)?,
        pin: opt("pin", c.pin, 32)?,
        notes: opt("notes", c.notes, 1000)?,
    })
}

impl Catalog<'_> {
    /// Active products for everyone; admins may include inactive ones.
    pub async fn list(
        &self,
        viewer: Option<&Actor>,
        include_inactive: bool,
        page: &PageRequest,
    ) -> Result<Page<Product>> {
        if include_inactive {
            viewer.ok_or(Error::Forbidden)?.require(Action::ManageProducts)?;
        }
        let slice = Ctx::slice(page)?;
        let ttl = chrono::TimeDelta::from_std(self.ctx.config.catalog.list_cache_ttl).unwrap_or_default();
        let cached = !include_inactive && ttl > chrono::TimeDelta::zero();
        let key = (slice.limit, slice.before_id.clone());
        let cache = &self.ctx.catalog_cache;
        if cached && let Some(hit) = cache.get(&key, self.ctx.now(), ttl) {
            return Ok((*hit).clone());
        }
        let generation = cache.generation();
        let mut r = self.ctx.store.reader().await?;
        let items = r.list_products(include_inactive, &slice).await?;
        let page = Ctx::page(items, &slice, |p| p.id.as_str().to_string());
        if cached {
            cache.put(key, generation, self.ctx.now(), std::sync::Arc::new(page.clone()));
        }
        Ok(page)
    }

    /// A product; inactive ones are visible to admins only.
    pub async fn get(&self, viewer: Option<&Actor>, id: &ProductId) -> Result<Product> {
        let mut r = self.ctx.store.reader().await?;
        let p = r.get_product(id).await?.ok_or(Error::NotFound { what: "product" })?;
        let is_admin = viewer.is_some_and(|a| a.require(Action::ManageProducts).is_ok());
        if !p.is_active && !is_admin {
            return Err(Error::NotFound { what: "product" });
        }
        Ok(p)
    }

    pub async fn create(&self, actor: &Actor, new: NewProduct) -> Result<Product> {
        actor.require(Action::ManageProducts)?;
        if !(0..=STOCK_MAX).contains(&new.stock) {
            return Err(Error::validation("stock", format!("must be 0 to {STOCK_MAX}")));
        }
        let now = self.ctx.now();
        let product = &Product {
            id: self.ctx.id(),
            platform_name: validate::text("platform_name", &new.platform_name, 100)?,
            plan_name: validate::text("plan_name", &new.plan_name, 100)?,
            description: validate::optional_text("description", &new.description, 2000)?,
            price: check_price(new.price)?,
            duration_days: check_duration(new.duration_days)?,
            stock: new.stock,
            is_active: new.is_active,
            created_at: now,
            updated_at: now,
        };
        self.ctx
            .catalog_unit(|tx| Box::pin(async move {
                tx.insert_product(product).await?;
                let details = json!({ "name": product.display_name(), "price_paise": product.price, "stock": product.stock });
                self.ctx.audit(&mut *tx, actor, "product.create", ("product", product.id.as_str()), details).await?;
                Ok(product.clone())
            }))
            .await
    }

    pub async fn update(&self, actor: &Actor, id: &ProductId, patch: ProductPatch) -> Result<Product> {
        actor.require(Action::ManageProducts)?;
        let patch = &ProductPatch {
            platform_name: patch
                .platform_name
                .map(|v| validate::text("platform_name", &v, 100))
                .transpose()?,
            plan_name: patch.plan_name.map(|v| validate::text("plan_name", &v, 100)).transpose()?,
            description: patch
                .description
                .map(|v| validate::optional_text("description", &v, 2000))
                .transpose()?,
            price: patch.price.map(check_price).transpose()?,
            duration_days: patch.duration_days.map(check_duration).transpose()?,
            is_active: patch.is_active,
        };
        self.ctx
            .catalog_unit(|tx| Box::pin(async move {
                let mut p = tx.get_product(id).await?.ok_or(Error::NotFound { what: "product" })?;
                let before = p.clone();
                if let Some(v) = &patch.platform_name {
                    p.platform_name = v.clone();
                }
                if let Some(v) = &patch.plan_name {
                    p.plan_name = v.clone();
                }
                if let Some(v) = &patch.description {
                    p.description = v.clone();
                }
                if let Some(v) = patch.price {
                    p.price = v;
                }
                if let Some(v) = patch.duration_days {
                    p.duration_days = v;
                }
                if let Some(v) = patch.is_active {
                    p.is_active = v;
                }
                p.updated_at = self.ctx.now();
                tx.update_product(&p).await?;
                let details = json!({
                    "before": { "name": before.display_name(), "price_paise": before.price, "duration_days": before.duration_days, "is_active": before.is_active },
                    "after": { "name": p.display_name(), "price_paise": p.price, "duration_days": p.duration_days, "is_active": p.is_active },
                });
                self.ctx.audit(&mut *tx, actor, "product.update", ("product", p.id.as_str()), details).await?;
                Ok(p)
            }))
            .await
    }

    /// Takes a product off sale (existing subscriptions are untouched).
    pub async fn deactivate(&self, actor: &Actor, id: &ProductId) -> Result<Product> {
        self.update(actor, id, ProductPatch { is_active: Some(false), ..Default::default() }).await
    }

    /// Adds or removes stock; stock never goes below zero.
    pub async fn adjust_stock(
        &self,
        actor: &Actor,
        id: &ProductId,
        delta: i64,
        reason: Option<&str>,
    ) -> Result<Product> {
        actor.require(Action::ManageProducts)?;
        if delta.unsigned_abs() > STOCK_DELTA_MAX.unsigned_abs() {
            return Err(Error::validation(
                "delta",
                format!("must be -{STOCK_DELTA_MAX} to {STOCK_DELTA_MAX}"),
            ));
        }
        let reason = &reason.map(|r| validate::optional_text("reason", r, 500)).transpose()?;
        if delta == 0 {
            // Nothing moves and nothing is audited; the answer is the product as it is.
            return self.get(Some(actor), id).await;
        }
        self.ctx
            .catalog_unit(|tx| {
                Box::pin(async move {
                    let now = self.ctx.now();
                    let mut p = tx.get_product(id).await?.ok_or(Error::NotFound { what: "product" })?;
                    stock_after(p.stock, delta)?;
                    p.stock = tx.adjust_stock(id, delta, false, now).await?.ok_or_else(|| {
                        Error::InvalidState(format!("stock is {} and cannot go below zero", p.stock))
                    })?;
                    p.updated_at = now;
                    let details = json!({ "delta": delta, "stock": p.stock, "reason": reason });
                    self.ctx
                        .audit(&mut *tx, actor, "product.adjust_stock", ("product", p.id.as_str()), details)
                        .await?;
                    Ok(p)
                })
            })
            .await
    }

    /// Adds credentials to the product's pool, sealed at rest; each adds one to stock. All or
    /// nothing. Returns the product with its new stock.
    pub async fn import_credentials(
        &self,
        actor: &Actor,
        id: &ProductId,
        creds: Vec<Credentials>,
    ) -> Result<Product> {
        actor.require(Action::ManageProducts)?;
        if creds.is_empty() || creds.len() > CREDENTIAL_IMPORT_MAX {
            return Err(Error::validation(
                "credentials",
                format!("give 1 to {CREDENTIAL_IMPORT_MAX} credentials"),
            ));
        }
        let now = self.ctx.now();
        let mut sealed = Vec::with_capacity(creds.len());
        for (i, c) in creds.into_iter().enumerate() {
            let c = check_credentials(c).map_err(|e| match e {
                Error::Validation { field, message } => {
                    Error::validation(field, format!("credential #{}: {message}", i + 1))
                }
                e => e,
            })?;
            let cid: CredentialId = self.ctx.id();
            let blob = self.ctx.cipher.seal(self.ctx.entropy.as_ref(), cid.as_str(), &c)?;
            sealed.push(CredentialRecord {
                id: cid,
                product_id: Some(id.clone()),
                sealed: blob,
                status: CredentialStatus::Available,
                subscription_id: None,
                created_at: now,
                assigned_at: None,
            });
        }
        let sealed = &sealed;
        self.ctx
            .catalog_unit(|tx| {
                Box::pin(async move {
                    let mut p = tx.get_product(id).await?.ok_or(Error::NotFound { what: "product" })?;
                    stock_after(p.stock, sealed.len() as i64)?;
                    for rec in sealed {
                        tx.insert_credential(rec).await?;
                    }
                    let n = sealed.len() as i64;
                    p.stock = tx
                        .adjust_stock(id, n, false, now)
                        .await?
                        .ok_or(Error::NotFound { what: "product" })?;
                    let details = json!({ "count": n, "stock": p.stock });
                    self.ctx
                        .audit(
                            &mut *tx,
                            actor,
                            "product.import_credentials",
                            ("product", p.id.as_str()),
                            details,
                        )
                        .await?;
                    Ok(p)
                })
            })
            .await
    }

    /// Pool credentials not yet handed out.
    pub async fn available_credentials(&self, actor: &Actor, id: &ProductId) -> Result<u64> {
        actor.require(Action::ManageProducts)?;
        let mut r = self.ctx.store.reader().await?;
        r.get_product(id).await?.ok_or(Error::NotFound { what: "product" })?;
        Ok(r.count_available_credentials(id).await?)
    }
}
