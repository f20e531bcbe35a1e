use super::*;

fn json_payload(text: &str) -> Payload {
    test_payload("json/plain", text.as_bytes())
}

fn ring_with(current: &str, keys: &[(&str, [u8; 32])]) -> KeyRing {
    let keys: HashMap<_, _> = keys
        .iter()
        .map(|(id, key)| (id.to_string(), BASE64.encode(key)))
        .collect();
    KeyRing::from_json(&serde_json::json!({"current": current, "keys": keys}).to_string())
        .expect("a valid ring")
}

#[test]
fn a_sealed_payload_hides_its_content_and_opens_to_the_original() {
    let ring = KeyRing::from_json(&KeyRing::generate_json("k1")).expect("valid");
    let original = json_payload(r#"{"customer_id":"c-42","reason":"too expensive"}"#);
    let sealed = ring.encrypt(&original);
    assert!(is_encrypted(&sealed));
    assert_eq!(sealed.metadata[KEY_ID], b"k1");
    let text = String::from_utf8_lossy(&sealed.data);
    assert!(
        !text.contains("c-42") && !text.contains("json/plain"),
        "{text}"
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&sealed.data).is_err());
    assert_eq!(ring.decrypt(sealed).expect("opens"), original);
}

#[test]
fn two_seals_of_one_payload_differ() {
    let ring = KeyRing::from_json(&KeyRing::generate_json("k1")).expect("valid");
    let original = json_payload("1");
    assert_ne!(ring.encrypt(&original).data, ring.encrypt(&original).data);
}

#[test]
fn after_a_rotation_old_payloads_still_open_and_new_ones_use_the_new_key() {
    let old = ring_with("2026-06", &[("2026-06", [1; 32])]);
    let sealed_before = old.encrypt(&json_payload("\"before\""));
    let rotated = ring_with("2026-12", &[("2026-06", [1; 32]), ("2026-12", [2; 32])]);
    assert_eq!(
        rotated.decrypt(sealed_before).expect("opens"),
        json_payload("\"before\"")
    );
    assert_eq!(
        rotated.encrypt(&json_payload("1")).metadata[KEY_ID],
        b"2026-12"
    );
}

#[test]
fn payloads_in_clear_pass_through() {
    let ring = ring_with("k", &[("k", [3; 32])]);
    let plain = json_payload("\"approve\"");
    assert_eq!(ring.decrypt(plain.clone()).expect("passes"), plain);
}

#[test]
fn a_wrong_key_an_unknown_key_or_a_changed_byte_is_refused() {
    let ring = ring_with("k", &[("k", [3; 32])]);
    let other = ring_with("k", &[("k", [4; 32])]);
    let sealed = ring.encrypt(&json_payload("1"));
    assert_eq!(
        other.decrypt(sealed.clone()),
        Err(CodecError::Corrupt("k".into()))
    );
    let stranger = ring_with("j", &[("j", [3; 32])]);
    assert_eq!(
        stranger.decrypt(sealed.clone()),
        Err(CodecError::UnknownKey("k".into()))
    );
    let mut tampered = sealed;
    let last = tampered.data.len() - 1;
    tampered.data[last] ^= 1;
    assert_eq!(ring.decrypt(tampered), Err(CodecError::Corrupt("k".into())));
}

#[test]
fn an_invalid_ring_is_refused_without_quoting_its_keys() {
    let short = BASE64.encode([7u8; 16]);
    for (document, expected) in [
        ("not json".to_owned(), "not a"),
        (
            serde_json::json!({"current": "a", "keys": {"a": short}}).to_string(),
            "32 bytes",
        ),
        (
            serde_json::json!({"current": "b", "keys": {"a": BASE64.encode([7u8; 32])}})
                .to_string(),
            "current key \"b\"",
        ),
        (
            serde_json::json!({"current": "a", "keys": {"a": "%%%"}}).to_string(),
            "not base64",
        ),
    ] {
        let error = KeyRing::from_json(&document).expect_err(&document);
        let message = error.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(
            !message.contains(&short) && !message.contains("%%%"),
            "{message}"
        );
    }
}
