//! Payloads as they reach the saga from outside: from the gateway, but also from
//! operators and scripts (`temporal workflow signal --input ...`) with anything at all.
//!
//! A handler whose typed input fails to decode fails the workflow task, and since the
//! bad signal stays in the history, every replay fails again: the saga is stranded.
//! So every signal handler takes [`RawValue`], which accepts any payloads (none, one
//! or several, any encoding), and decodes it here with the worker's own converter. A
//! payload that does not decode becomes `None`, which the handler notes and drops.

use temporalio_common::data_converters::{
    GenericPayloadConverter, PayloadConverter, RawValue, SerializationContext,
    SerializationContextData, TemporalDeserializable, WorkflowSerializationContext,
};

/// `payload` as a `T` (decoded with the worker's `converter`), or `None` when it is not
/// one.
pub fn decode<T: TemporalDeserializable + 'static>(
    converter: &PayloadConverter,
    payload: RawValue,
) -> Option<T> {
    let data = SerializationContextData::Workflow(WorkflowSerializationContext::new());
    let context = SerializationContext::new(&data, converter);
    converter.from_payloads(&context, payload.payloads).ok()
}

#[cfg(test)]
mod tests {
    use saga_contract::Decision;
    use service_kit::payload_codec::test_payload;
    use temporalio_common::protos::temporal::api::common::v1::Payload;

    use super::*;

    fn json(data: &str) -> Payload {
        test_payload("json/plain", data.as_bytes())
    }

    fn raw(payloads: Vec<Payload>) -> RawValue {
        RawValue::new(payloads)
    }

    #[test]
    fn what_the_contract_sends_decodes() {
        let converter = PayloadConverter::default();
        assert_eq!(decode::<()>(&converter, raw(vec![])), Some(()));
        assert_eq!(
            decode::<()>(&converter, raw(vec![test_payload("binary/null", b"")])),
            Some(())
        );
        assert_eq!(
            decode::<Decision>(&converter, raw(vec![json(r#"{"reason":"too dear"}"#)])),
            Some(Decision {
                reason: Some("too dear".into())
            })
        );
        assert_eq!(
            decode::<Decision>(&converter, raw(vec![json("{}")])),
            Some(Decision { reason: None })
        );
    }

    #[test]
    fn anything_else_is_none_and_never_an_error() {
        let converter = PayloadConverter::default();
        let bad = [
            vec![json(r#""garbage""#)],
            vec![json("{not json")],
            vec![test_payload("binary/plain", &[0xff, 0x00])],
            vec![test_payload("binary/protobuf", &[0x08, 0x01])],
            vec![json("{}"), json("{}")],
            vec![Payload::default()],
        ];
        for payloads in bad {
            assert_eq!(decode::<()>(&converter, raw(payloads.clone())), None);
            assert_eq!(
                decode::<Decision>(&converter, raw(payloads.clone())),
                None,
                "{payloads:?}"
            );
        }
        assert_eq!(decode::<Decision>(&converter, raw(vec![])), None);
        assert_eq!(
            decode::<Decision>(&converter, raw(vec![json(r#"{"reason": 42}"#)])),
            None
        );
    }
}
