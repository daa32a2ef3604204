//! The operator command line: one binary serves the API and runs maintenance commands against
//! the same configuration and database.

use super::bootstrap::open_core;
use super::import;
use super::settings::{Environment, Secret, Settings, Sources};
use super::telemetry::{self, LogTarget};
use crate::frontends::rest::spec_json;
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use ottsonly_core::catalog::CREDENTIAL_IMPORT_MAX;
use ottsonly_core::config::JWT_SECRET_MIN_BYTES;
use ottsonly_core::model::{AuditEntry, AuditFilter, Page, PageRequest};
use ottsonly_core::{Actor, ProductId, Role, UserId};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "ottsonly-server", version, about = "OTTSONLY REST server and operator tools")]
pub struct Cli {
    /// TOML file layered under the OTTSONLY_* environment (default: ./ottsonly.toml if present).
    #[arg(long, global = true, env = "OTTSONLY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage the catalog.
    #[command(subcommand)]
    Products(ProductsCommand),
    /// Manage credential pools.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Subscription maintenance.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCommand),
    /// Payment operations.
    #[command(subcommand)]
    Payments(PaymentsCommand),
    /// The audit log of admin actions.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print audit entries, newest first; every filter given must match exactly.
    List {
        /// Who acted: a user id, or `system` (this command line).
        #[arg(long)]
        actor: Option<String>,
        /// `user`, `product`, `order`, `subscription`, `broadcast` or `topup`.
        #[arg(long)]
        target_type: Option<String>,
        #[arg(long)]
        target_id: Option<String>,
        /// e.g. `order.refund`, `wallet.adjust`, `user.set_role`.
        #[arg(long)]
        action: Option<String>,
        /// Entries per page (at most 200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Start after this entry: the `next cursor` printed by an earlier call.
        #[arg(long)]
        cursor: Option<String>,
        /// `json`: one JSON object per line; `table`: aligned columns.
        #[arg(long, value_enum, default_value_t = AuditFormat::Json)]
        format: AuditFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Json,
    Table,
}

#[derive(Debug, Subcommand)]
pub enum PaymentsCommand {
    /// Ask the gateway now about every open top-up (ignoring the usual delay), credit captured
    /// payments and expire intents past the horizon.
    Reconcile {
        /// Most top-ups to check in this pass.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Give the user with this phone a role, creating the user if needed.
    SetRole {
        #[arg(long)]
        phone: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Support,
    User,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Support => Role::Support,
            RoleArg::User => Role::User,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// Create products from a CSV or JSON file with the columns
    /// platform_name,plan_name,description,price_paise,duration_days,stock,is_active.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Add logins to a product's pool from a CSV or JSON file with the columns
    /// username,password,profile,pin,notes.
    Import {
        #[arg(long)]
        product: String,
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Run one maintenance pass: expire ended subscriptions and send reminders.
    Sweep,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&Sources::from_process(cli.config.clone()))?;
    let command = cli.command.unwrap_or(Command::Serve);
    let target = if matches!(command, Command::Serve) { LogTarget::Stdout } else { LogTarget::Stderr };
    // Held to the end of `run`: dropping it flushes the queued log lines.
    let _log_guard = telemetry::init(&settings.log, settings.log_format, target)?;
    match command {
        Command::Serve => super::serve::serve(settings).await,
        Command::Migrate => {
            super::store::open_store(settings.database_url.expose()).await?;
            println!("database {} is up to date", settings.database_url_redacted());
            Ok(())
        }
        Command::Openapi => {
            // The document depends on no data or secret: a throwaway in-memory database and
            // throwaway keys suffice (and keep the real ones out of this code path).
            let mut s = settings;
            s.database_url = Secret::new("sqlite::memory:");
            s.env = Environment::Dev;
            s.jwt_secret = Some(Secret::new("x".repeat(JWT_SECRET_MIN_BYTES)));
            s.credentials_key = Some(Secret::new("0".repeat(64)));
            s.test_phones = None;
            let app = open_core(&s).await?;
            println!("{}", spec_json(&app));
            Ok(())
        }
        Command::Users(UsersCommand::SetRole { phone, role }) => {
            settings.validate()?;
            let app = open_core(&settings).await?;
            let user = app.users().set_role_by_phone(&Actor::system(app.now()), &phone, role.into()).await?;
            print_json(&json!({ "id": user.id, "phone": user.phone, "role": user.role }))
        }
        Command::Products(ProductsCommand::Import { file }) => {
            settings.validate()?;
            let text = read(&file)?;
            let products = import::parse_products(&file, &text)?;
            let app = open_core(&settings).await?;
            let system = Actor::system(app.now());
            let mut created = Vec::new();
            for (i, p) in products.into_iter().enumerate() {
                // Rows before a failing one stay created; the message says how far it got.
                let product = app.catalog().create(&system, p).await.with_context(|| {
                    format!("record {} failed; {} product(s) were created before it", i + 1, created.len())
                })?;
                created.push(
                    json!({ "id": product.id, "name": product.display_name(), "price_paise": product.price }),
                );
            }
            print_json(&json!({ "created": created }))
        }
        Command::Credentials(CredentialsCommand::Import { product, file }) => {
            settings.validate()?;
            let text = read(&file)?;
            let creds = import::parse_credentials(&file, &text)?;
            let app = open_core(&settings).await?;
            let system = Actor::system(app.now());
            let product = ProductId::from_string(product);
            let total = creds.len();
            let mut stock = 0;
            let mut done = 0;
            // Core imports at most CREDENTIAL_IMPORT_MAX per unit of work; each chunk is all or nothing.
            for chunk in creds.chunks(CREDENTIAL_IMPORT_MAX) {
                let p = app
                    .catalog()
                    .import_credentials(&system, &product, chunk.to_vec())
                    .await
                    .with_context(|| format!("import failed after {done} of {total} credential(s)"))?;
                done += chunk.len();
                stock = p.stock;
            }
            print_json(&json!({ "product_id": product, "imported": done, "stock": stock }))
        }
        Command::Payments(PaymentsCommand::Reconcile { limit }) => {
            settings.validate()?;
            let app = open_core(&settings).await?;
            let r = app.wallet().reconcile(true, limit).await?;
            print_json(&json!({
                "checked": r.checked, "credited": r.credited, "expired": r.expired, "errors": r.errors,
                "held": r.held, "pending": r.pending, "gateway_calls": r.gateway_calls,
            }))
        }
        Command::Audit(AuditCommand::List {
            actor,
            target_type,
            target_id,
            action,
            limit,
            cursor,
            format,
        }) => {
            settings.validate()?;
            let app = open_core(&settings).await?;
            let filter =
                AuditFilter { actor_id: actor.map(UserId::from_string), target_type, target_id, action };
            let page = PageRequest { limit: Some(limit), cursor };
            let page = app.audit().list(&Actor::system(app.now()), &filter, &page).await?;
            print_audit(&page, format)
        }
        Command::Subscriptions(SubscriptionsCommand::Sweep) => {
            settings.validate()?;
            let app = open_core(&settings).await?;
            let report = app.subscriptions().run_maintenance().await?;
            print_json(&json!({ "expired": report.expired, "reminded": report.reminded }))
        }
    }
}

fn read(file: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// JSON lines on stdout (one entry each) or a table; the cursor of the next page, if any, goes to
/// stderr so that stdout stays one format.
fn print_audit(page: &Page<AuditEntry>, format: AuditFormat) -> anyhow::Result<()> {
    match format {
        AuditFormat::Json => {
            for e in &page.items {
                let line = json!({
                    "id": e.id, "created_at": e.created_at, "actor_id": e.actor_id, "action": e.action,
                    "target_type": e.target_type, "target_id": e.target_id, "details": e.details,
                });
                println!("{line}");
            }
        }
        AuditFormat::Table => {
            let rows: Vec<[String; 5]> = page
                .items
                .iter()
                .map(|e| {
                    [
                        e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        e.actor_id.to_string(),
                        e.action.clone(),
                        format!("{}:{}", e.target_type, e.target_id),
                        e.id.to_string(),
                    ]
                })
                .collect();
            let header = ["CREATED_AT", "ACTOR", "ACTION", "TARGET", "ID"].map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            for row in std::iter::once(&header).chain(&rows) {
                let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
                println!("{}", cells.join("  ").trim_end());
            }
        }
    }
    if let Some(next) = &page.next_cursor {
        eprintln!("next cursor: {next} (pass --cursor {next} for the next page)");
    }
    Ok(())
}
