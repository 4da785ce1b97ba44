//! The store on PostgreSQL: what differs from SQLite (schema creation and
//! migrations by several instances at once, the change feed). The rest of the
//! suite runs on PostgreSQL too when `SWITCHBOARD_TEST_POSTGRES` is set.

use std::time::{Duration, Instant};

use sqlx::{ConnectOptions as _, Connection as _};
use switchboard_store::{Database, Error, ServerRecord, Store, TransportConfig, postgres};

use crate::postgres_server;

fn transport() -> TransportConfig {
    TransportConfig::Http {
        url: "http://localhost/mcp".into(),
        headers: Default::default(),
    }
}

/// A new database on the test server, or None (with a note) without one.
async fn scratch() -> Option<Database> {
    let Some(server) = postgres_server() else {
        eprintln!("SWITCHBOARD_TEST_POSTGRES is not set: skipped (make test sets it)");
        return None;
    };
    Some(Database::Postgres(
        postgres::scratch_database(&server, "store_pg")
            .await
            .unwrap(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_opening_a_fresh_database_together_migrate_it_once() {
    let Some(database) = scratch().await else {
        return;
    };
    let dirs: Vec<_> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    let opens: Vec<_> = dirs
        .iter()
        .map(|dir| {
            let (path, database) = (dir.path().to_path_buf(), database.clone());
            tokio::spawn(async move { Store::open_at(&path, &database).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().unwrap());
    }
    stores[0]
        .add_server(&ServerRecord::new("shared", transport()))
        .await
        .unwrap();
    for store in &stores {
        assert!(store.get_server("shared").await.unwrap().is_some());
        assert!(store.path().is_none());
    }
}

#[tokio::test]
async fn a_change_through_one_instance_is_announced_to_another_at_once() {
    let Some(database) = scratch().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Store::open_at(dir_a.path(), &database).await.unwrap();
    let b = Store::open_at(dir_b.path(), &database).await.unwrap();
    // The first ask starts the listener; let it settle.
    let mut seen = a.data_version().await.unwrap();
    seen = tokio::time::timeout(Duration::from_secs(5), a.next_change(seen, Duration::ZERO))
        .await
        .unwrap()
        .unwrap();

    let started = Instant::now();
    b.set_setting("announced", &true).await.unwrap();
    // A poll interval of an hour: only the announcement can wake it.
    let version = tokio::time::timeout(
        Duration::from_secs(1),
        a.next_change(seen, Duration::from_secs(3600)),
    )
    .await
    .expect("the change reaches the other instance within a second")
    .unwrap();
    assert_ne!(version, seen);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        a.get_setting::<bool>("announced").await.unwrap(),
        Some(true)
    );
}

#[tokio::test]
async fn a_change_made_by_hand_in_sql_is_announced_too() {
    let Some(database) = scratch().await else {
        return;
    };
    let Database::Postgres(url) = &database else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(dir.path(), &database).await.unwrap();
    let mut seen = store.data_version().await.unwrap();
    seen = tokio::time::timeout(
        Duration::from_secs(5),
        store.next_change(seen, Duration::ZERO),
    )
    .await
    .unwrap()
    .unwrap();
    let options: sqlx::postgres::PgConnectOptions = url.expose().parse().unwrap();
    let mut conn = options.connect().await.unwrap();
    sqlx::query("UPDATE switchboard.settings SET value = 'false'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO switchboard.permissions VALUES ('', 'x', '*', 'deny', 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let version = tokio::time::timeout(
        Duration::from_secs(1),
        store.next_change(seen, Duration::from_secs(3600)),
    )
    .await
    .expect("announced")
    .unwrap();
    assert_ne!(version, seen);
    assert_eq!(store.list_permissions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: refused at once.
    let database = Database::parse("postgres://sb:hunter2@127.0.0.1:1/switchboard").unwrap();
    let err = Store::open_at(dir.path(), &database).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("postgres://sb:***@127.0.0.1:1/switchboard"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}
