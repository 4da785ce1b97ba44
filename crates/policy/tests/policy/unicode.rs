//! `invisible_unicode` rules: what is reported, and the characters that are ordinary text.

use serde_json::json;

use crate::{flag, flags, names, tool, with_schema};

fn tags(text: &str) -> String {
    text.chars()
        .map(|c| char::from_u32(0xE0000 + u32::from(c)).unwrap())
        .collect()
}

#[test]
fn tag_characters_are_reported_with_the_text_they_hide() {
    let t = tool(
        "x",
        "y",
        &format!("Summarizes text.{}", tags("Hi there, model")),
    );
    let flags = flags(&t);
    assert_eq!(
        flag(&flags, "hidden_unicode_tags").detail,
        "description: 15 hidden characters U+E0048, U+E0069, U+E0020, U+E0074, U+E0068, U+E0065, …; \
         tag text \"Hi there, model\""
    );
    assert_eq!(names(&flags), ["hidden_unicode_tags"]);
}

#[test]
fn zero_width_and_format_characters_are_listed_by_code_point() {
    let t = tool(
        "x",
        "y",
        "Get\u{200b}Sum of two\u{200b} num\u{ad}bers\u{feff}",
    );
    assert_eq!(
        flag(&flags(&t), "invisible_characters").detail,
        "description: 4 hidden characters U+200B, U+00AD, U+FEFF"
    );
}

#[test]
fn bidi_controls_are_found_in_keys_and_values() {
    let t = with_schema(
        "x",
        "save",
        "Saves a file.",
        json!({ "type": "object", "properties": {
            "name\u{2067}": { "type": "string", "default": "invoice\u{202e}fdp.exe" } } }),
    );
    let detail = flag(&flags(&t), "bidi_control").detail.clone();
    assert_eq!(
        detail,
        "input_schema.properties.name\\u{2067} (key): 1 hidden character U+2067 (+1 more)"
    );
}

#[test]
fn terminal_escape_sequences_are_control_characters() {
    let t = tool("x", "y", "Lists ports.\u{1b}[8m secret text\u{1b}[0m");
    assert_eq!(
        flag(&flags(&t), "control_characters").detail,
        "description: 2 hidden characters U+001B"
    );
}

#[test]
fn name_and_annotations_are_searched_too() {
    let mut t = tool("x", "read\u{200d}_file", "Reads a file.");
    t.annotations = Some(json!({ "title": "Read\u{2060}" }));
    assert_eq!(
        flag(&flags(&t), "invisible_characters").detail,
        "name: 1 hidden character U+200D (+1 more)"
    );
}

#[test]
fn variation_selectors_that_carry_data_are_flagged() {
    let supplement = tool("x", "y", "React \u{1F600}\u{E0153}\u{E0161}");
    assert_eq!(
        flag(&flags(&supplement), "invisible_characters").detail,
        "description: 2 hidden characters U+E0153, U+E0161"
    );
    let run = tool("x", "y", "Warn \u{26A0}\u{FE0F}\u{FE01}\u{FE02}");
    assert_eq!(
        flag(&flags(&run), "invisible_characters").detail,
        "description: 2 hidden characters U+FE01, U+FE02"
    );
}

#[test]
fn emoji_sequences_and_joining_scripts_are_ordinary_text() {
    let texts = [
        "Warns \u{26A0}\u{FE0F} before deleting.",
        "Family \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} photos.",
        "Rainbow flag \u{1F3F3}\u{FE0F}\u{200D}\u{1F308}.",
        "Keycap 1\u{FE0F}\u{20E3}.",
        // England's flag: black flag, tags "gbeng", cancel tag.
        "Flag \u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} for UK sites.",
        // Persian "I want", written with a zero-width non-joiner.
        "Persian: \u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}",
        // Devanagari with a zero-width joiner shaping a half form.
        "Hindi: \u{0915}\u{094D}\u{200D}\u{0937}",
    ];
    for text in texts {
        let flags = flags(&tool("x", "y", text));
        assert!(flags.is_empty(), "{text:?} fired {flags:#?}");
    }
}

#[test]
fn a_flag_tag_sequence_without_its_flag_is_hidden_text() {
    let t = tool("x", "y", "No flag \u{E0067}\u{E0062}\u{E007F}");
    assert!(names(&flags(&t)).contains(&"hidden_unicode_tags"));
}

#[test]
fn escaped_details_stay_one_short_line_and_keep_their_count() {
    let mut props = serde_json::Map::new();
    for n in 0..2 {
        props.insert(
            format!("p{n}{}", "\u{200b}".repeat(100)),
            json!({ "type": "string" }),
        );
    }
    let t = with_schema(
        "x",
        "y",
        "Does y.",
        json!({ "type": "object", "properties": props }),
    );
    let detail = flag(&flags(&t), "invisible_characters").detail.clone();
    assert!(
        detail.starts_with("input_schema.properties.p0\\u{200b}\\u{200b}"),
        "{detail}"
    );
    assert!(detail.ends_with("… (+1 more)"), "{detail}");
    assert!(detail.chars().count() <= 201, "{detail}");
}
