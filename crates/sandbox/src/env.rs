//! The environment a sandboxed server gets.

use std::{collections::BTreeMap, path::Path};

/// PATH, HOME, LANG, the temp folder and the server's own configured
/// variables: nothing else of the gateway's environment reaches it.
pub fn minimal_env(
    path: &str,
    home: Option<&Path>,
    lang: Option<&str>,
    temp_dir: &Path,
    server_env: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), path.to_owned());
    if let Some(home) = home {
        env.insert("HOME".to_owned(), home.display().to_string());
    }
    env.insert(
        "LANG".to_owned(),
        lang.filter(|l| !l.is_empty())
            .unwrap_or("C.UTF-8")
            .to_owned(),
    );
    env.insert("TMPDIR".to_owned(), temp_dir.display().to_string());
    env.extend(server_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}
