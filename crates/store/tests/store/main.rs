#![allow(clippy::unwrap_used, clippy::expect_used)]

mod clients;
mod names;
mod open;
mod servers;
mod settings;

use switchboard_store::Store;
use tempfile::TempDir;

/// A store in a fresh temporary directory; keep the `TempDir` alive as long as the store.
async fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
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
