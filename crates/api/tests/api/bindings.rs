/// The committed `ui/src/bindings/index.ts` matches the schema. Refresh it
/// with `UPDATE_BINDINGS=1 cargo test -p switchboard-api`.
#[test]
fn bindings_are_fresh() {
    let want = switchboard_api::bindings::typescript();
    let path = switchboard_api::bindings::path();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run `UPDATE_BINDINGS=1 cargo test -p switchboard-api` and commit it",
        path.display()
    );
}

#[test]
fn every_command_is_in_the_map() {
    let ts = switchboard_api::bindings::typescript();
    for method in switchboard_api::METHODS {
        assert!(ts.contains(&format!("  {method}: {{ params:")), "{method}");
    }
}
