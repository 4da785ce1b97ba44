//! The database every command of this process opens: `--database` (or
//! `SWITCHBOARD_DATABASE_URL`), else the SQLite files in the data directory.
//! Set once, from the command line, before any command runs.

use std::path::Path;
use std::sync::OnceLock;

use switchboard_audit::AuditDb;
use switchboard_store::{Database, Store};

static DATABASE: OnceLock<Database> = OnceLock::new();

/// Chooses the database for this process (the first call wins).
pub(crate) fn choose(database: Database) {
    let _ = DATABASE.set(database);
}

/// The database chosen for this process.
pub(crate) fn chosen() -> &'static Database {
    DATABASE.get_or_init(Database::default)
}

/// Opens the configuration.
pub(crate) async fn open_store(data_dir: &Path) -> Result<Store, switchboard_store::Error> {
    Store::open_at(data_dir, chosen()).await
}

/// Opens the audit log.
pub(crate) async fn open_audit(data_dir: &Path) -> Result<AuditDb, switchboard_audit::Error> {
    AuditDb::open_at(data_dir, chosen()).await
}
