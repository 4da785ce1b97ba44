use switchboard_store::{Error, validate_client_name, validate_server_name};

#[test]
fn accepts_valid_server_names() {
    for name in [
        "a",
        "Z",
        "0",
        "github",
        "my-server_2",
        "trailing-",
        "9lives",
        &"x".repeat(64),
    ] {
        validate_server_name(name).unwrap_or_else(|e| panic!("{name:?} rejected: {e}"));
    }
}

#[test]
fn rejects_invalid_server_names() {
    for name in [
        "",
        &"x".repeat(65),
        "-leading-dash",
        "_leading_underscore",
        "has space",
        "dot.ted",
        "slash/ed",
        "émoji",
        "double__underscore",
        "trailing__",
        "trailing_",
    ] {
        match validate_server_name(name) {
            Err(Error::InvalidName(msg)) => {
                assert!(msg.contains("server name"), "{msg}");
                assert!(!msg.contains('\n'), "{msg}");
            }
            other => panic!("{name:?} gave {other:?}"),
        }
    }
}

#[test]
fn server_name_error_explains_the_rules() {
    let msg = validate_server_name("a__b").unwrap_err().to_string();
    assert!(msg.contains("\"a__b\""), "{msg}");
    assert!(msg.contains("64"), "{msg}");
    assert!(msg.contains("__"), "{msg}");
}

#[test]
fn client_names_allow_double_underscore() {
    validate_client_name("claude__desktop").unwrap();
    validate_client_name("claude_").unwrap();
    assert!(matches!(
        validate_client_name(""),
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        validate_client_name("-x"),
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        validate_client_name("a b"),
        Err(Error::InvalidName(_))
    ));
    let msg = validate_client_name("a b").unwrap_err().to_string();
    assert!(msg.contains("client name"), "{msg}");
}
