use super::*;

#[test]
fn one_key_names_one_order_per_customer() {
    assert_eq!(order_id_for("u-1", "k"), order_id_for("u-1", "k"));
    assert_ne!(order_id_for("u-1", "k"), order_id_for("u-2", "k"));
    assert_ne!(order_id_for("u-1", "k"), order_id_for("u-1", "k2"));
    assert!(parse_id(&order_id_for("u-1", "k"), "order_id").is_ok());
}
