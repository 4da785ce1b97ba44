use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use switchboard_store::{ServerRecord, Store, TransportConfig};

/// These tests are about the SQLite file itself.
async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    (dir, store)
}

fn transport() -> TransportConfig {
    TransportConfig::Http {
        url: "http://localhost/mcp".into(),
        headers: Default::default(),
    }
}

async fn raw_connection(store: &Store) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(store.path().unwrap()))
        .await
        .unwrap()
}

#[tokio::test]
async fn creates_missing_directory_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested").join("switchboard");
    let store = Store::open(&data_dir).await.unwrap();

    assert_eq!(store.data_dir(), data_dir);
    assert_eq!(store.path().unwrap(), data_dir.join("switchboard.db"));
    assert!(store.path().unwrap().is_file());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "mode {mode:o}");
    }
}

#[tokio::test]
async fn unusable_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = Store::open(&file).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("a-file"), "{msg}");
}

#[tokio::test]
async fn database_is_in_wal_mode() {
    let (_dir, store) = temp_store().await;
    let mut conn = raw_connection(&store).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn reopening_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).await.unwrap();
        store
            .add_server(&ServerRecord::new("kept", transport()))
            .await
            .unwrap();
        store.add_client("client", "hash").await.unwrap();
        store.set_setting("answer", &42).await.unwrap();
    }
    let store = Store::open(dir.path()).await.unwrap();
    assert!(store.get_server("kept").await.unwrap().is_some());
    assert!(store.client_by_token_hash("hash").await.unwrap().is_some());
    assert_eq!(store.get_setting::<i32>("answer").await.unwrap(), Some(42));
}

#[tokio::test]
async fn data_version_changes_on_external_commit() {
    let (dir, gateway) = temp_store().await;
    let before = gateway.data_version().await.unwrap();
    assert_eq!(gateway.data_version().await.unwrap(), before);

    // Another process, such as the CLI, opens the same directory and edits it.
    let cli = Store::open(dir.path()).await.unwrap();
    cli.add_server(&ServerRecord::new("from-cli", transport()))
        .await
        .unwrap();
    drop(cli);

    let after = gateway.data_version().await.unwrap();
    assert_ne!(after, before);
    assert!(gateway.get_server("from-cli").await.unwrap().is_some());
    assert_eq!(gateway.data_version().await.unwrap(), after);
}

#[tokio::test]
async fn data_version_changes_on_raw_external_commit() {
    let (_dir, store) = temp_store().await;
    let before = store.data_version().await.unwrap();
    let mut conn = raw_connection(&store).await;
    sqlx::query("INSERT INTO settings (key, value) VALUES ('k', '1')")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_ne!(store.data_version().await.unwrap(), before);
}

#[tokio::test]
async fn concurrent_opens_of_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let opens = (0..6).map(|_| {
        let path = dir.path().to_path_buf();
        tokio::spawn(async move { Store::open(&path).await })
    });
    for open in opens.collect::<Vec<_>>() {
        open.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).await.unwrap();
    let second = Store::open(dir.path()).await.unwrap();

    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let name = format!("server-{i}");
            store
                .add_server(&ServerRecord::new(&name, transport()))
                .await?;
            store.set_server_enabled(&name, false).await?;
            store.set_setting(&format!("key-{i}"), &i).await
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    assert_eq!(first.list_servers().await.unwrap().len(), 40);
    assert_eq!(second.list_servers().await.unwrap().len(), 40);
}
