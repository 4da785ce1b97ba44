#![allow(clippy::unwrap_used, clippy::expect_used)]

mod clients;
mod names;
mod open;
mod postgres;
mod servers;
mod settings;

use switchboard_store::{Database, PostgresUrl, Store};
use tempfile::TempDir;

/// The PostgreSQL server the suite also runs on, when `SWITCHBOARD_TEST_POSTGRES`
/// names one (`make test` starts one); else SQLite only.
fn postgres_server() -> Option<PostgresUrl> {
    let url = std::env::var("SWITCHBOARD_TEST_POSTGRES").ok()?;
    match Database::parse(&url).unwrap() {
        Database::Postgres(url) => Some(url),
        Database::Sqlite => None,
    }
}

/// A store in a fresh temporary directory; keep the `TempDir` alive as long as the store.
/// With `SWITCHBOARD_TEST_POSTGRES` set, the store is a new database on that server.
async fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let database = match postgres_server() {
        Some(server) => Database::Postgres(
            switchboard_store::postgres::scratch_database(&server, "store_test")
                .await
                .unwrap(),
        ),
        None => Database::Sqlite,
    };
    let store = Store::open_at(dir.path(), &database).await.unwrap();
    (dir, store)
}

/// Fails to compile if a `Store` future cannot be spawned on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(store: &Store, server: &switchboard_store::ServerRecord) {
    fn send<T: Send>(_: T) {}
    send(Store::open(std::path::Path::new("")));
    send(store.data_version());
    send(store.list_servers());
    send(store.get_server(""));
    send(store.add_server(server));
    send(store.update_server(server));
    send(store.set_server_enabled("", true));
    send(store.remove_server(""));
    send(store.add_client("", ""));
    send(store.list_clients());
    send(store.remove_client(""));
    send(store.client_by_token_hash(""));
    send(store.touch_client(0));
    send(store.get_setting::<String>(""));
    send(store.set_setting("", &0));
}
