//! Orders and their state machine, independent of storage and HTTP.

use std::collections::BTreeMap;

use service_kit::validate::{MAX_AMOUNT, parse_amount, parse_id};

// The status enum and its state machine, the order and its line are part of the
// contract the saga, the services and the gateway share.
pub use saga_contract::OrderLine;
pub use saga_contract::calls::{Order, OrderStatus, StatusChange};

/// The limits of an order, shared with the gateway and the inventory.
pub use saga_contract::calls::{MAX_LINE_QUANTITY, MAX_ORDER_LINES};

/// Lines with one entry per SKU, sorted, and their total. Repeated SKUs merge when
/// their prices agree; a retried creation normalises to the same lines.
pub fn normalise_lines(lines: Vec<OrderLine>) -> Result<(Vec<OrderLine>, u64), String> {
    if lines.is_empty() {
        return Err("`lines` must not be empty.".to_owned());
    }
    let mut merged = BTreeMap::<String, OrderLine>::new();
    for line in lines {
        let sku = parse_id(&line.sku, "sku")?;
        if line.quantity == 0 || line.quantity > MAX_LINE_QUANTITY {
            return Err(format!(
                "The quantity of {sku} must be between 1 and {MAX_LINE_QUANTITY}."
            ));
        }
        parse_amount(line.unit_price, "unit_price")?;
        match merged.get_mut(&sku) {
            Some(existing) if existing.unit_price != line.unit_price => {
                return Err(format!("{sku} appears with two different unit prices."));
            }
            Some(existing) => {
                existing.quantity += line.quantity;
                if existing.quantity > MAX_LINE_QUANTITY {
                    return Err(format!(
                        "The quantity of {sku} must be at most {MAX_LINE_QUANTITY}."
                    ));
                }
            }
            None => {
                merged.insert(sku.clone(), OrderLine { sku, ..line });
            }
        }
    }
    if merged.len() > MAX_ORDER_LINES {
        return Err(format!(
            "An order may hold at most {MAX_ORDER_LINES} products."
        ));
    }
    let lines: Vec<OrderLine> = merged.into_values().collect();
    let total = lines
        .iter()
        .try_fold(0u64, |total, line| {
            total.checked_add(u64::from(line.quantity).checked_mul(line.unit_price)?)
        })
        .filter(|total| *total <= MAX_AMOUNT)
        .ok_or_else(|| format!("The order total must be at most {MAX_AMOUNT} minor units."))?;
    Ok((lines, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    fn line(sku: &str, quantity: u32, unit_price: u64) -> OrderLine {
        OrderLine {
            sku: sku.into(),
            quantity,
            unit_price,
        }
    }

    #[test]
    fn the_happy_path_moves_one_step_at_a_time() {
        assert_eq!(Reserved.allowed_from(), [Pending]);
        assert_eq!(Paid.allowed_from(), [Reserved]);
        assert_eq!(Completed.allowed_from(), [Paid]);
        assert!(Pending.allowed_from().is_empty());
    }

    #[test]
    fn only_unfinished_orders_can_be_cancelled() {
        for from in [Pending, Reserved, Paid] {
            assert!(Cancelled.allowed_from().contains(&from));
            assert!(!from.is_final());
        }
        for from in [Completed, Cancelled] {
            assert!(!Cancelled.allowed_from().contains(&from));
            assert!(from.is_final());
        }
    }

    #[test]
    fn nothing_leaves_a_final_state() {
        for to in [Pending, Reserved, Paid, Completed, Cancelled] {
            assert!(!to.allowed_from().contains(&Completed));
            assert!(!to.allowed_from().contains(&Cancelled));
        }
    }

    #[test]
    fn lines_merge_and_total() {
        let (lines, total) = normalise_lines(vec![
            line("B", 1, 500),
            line("A", 2, 250),
            line("B", 2, 500),
        ])
        .expect("valid");
        assert_eq!(lines, vec![line("A", 2, 250), line("B", 3, 500)]);
        assert_eq!(total, 2000);
    }

    #[test]
    fn bad_lines_are_refused() {
        assert!(normalise_lines(vec![]).is_err());
        assert!(normalise_lines(vec![line("A", 0, 100)]).is_err());
        assert!(normalise_lines(vec![line("A", 1, 0)]).is_err());
        assert!(normalise_lines(vec![line("A", 1, 100), line("A", 1, 200)]).is_err());
        assert!(normalise_lines(vec![line("A", MAX_LINE_QUANTITY, MAX_AMOUNT)]).is_err());
    }
}
