//! The macOS profile generated from an enforcement.

use switchboard_sandbox::{Enforcement, seatbelt};

fn enforcement(network: bool) -> Enforcement {
    Enforcement {
        read: vec!["/usr".into(), "/opt/my \"odd\" path".into()],
        write: vec!["/Users/me/data".into()],
        network,
        program: "/usr/local/bin/node".into(),
        args: vec![],
    }
}

#[test]
fn the_profile_denies_by_default_and_allows_only_the_grants() {
    let profile = seatbelt::profile(&enforcement(false));
    assert!(
        profile.starts_with("(version 1)\n(deny default)\n"),
        "{profile}"
    );
    assert!(profile.contains(r#"(allow file-read* (subpath "/usr") (subpath "/opt/my \"odd\" path") (subpath "/Users/me/data"))"#), "{profile}");
    assert!(
        profile.contains(r#"(allow file-write* (subpath "/Users/me/data"))"#),
        "{profile}"
    );
    assert!(
        !profile.contains("(allow network*)"),
        "network off: {profile}"
    );
    assert!(profile.contains("(allow network* (local unix))"));
    let balanced = profile.chars().filter(|c| *c == '(').count()
        == profile.chars().filter(|c| *c == ')').count();
    assert!(balanced, "{profile}");
}

#[test]
fn a_granted_network_is_allowed() {
    let profile = seatbelt::profile(&enforcement(true));
    assert!(profile.contains("(allow network*)\n"), "{profile}");
}
