//! The catalog and reservation rules, independent of storage and HTTP.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A product with its stock. `available` can be reserved; `reserved` is held by
/// orders in flight until they are committed (sold) or released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub description: String,
    /// Unit price in minor units of `currency`.
    pub price: u64,
    pub currency: String,
    pub available: u32,
    pub reserved: u32,
    pub created_at: String,
    pub updated_at: String,
}

/// The catalog fields an admin may change after creation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<u64>,
}

impl ProductUpdate {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.price.is_none()
    }
}

/// The limits of a reservation, the order's (a DynamoDB transaction is limited to 100
/// items; 50 lines keep far below it).
pub use saga_contract::calls::{MAX_LINE_QUANTITY, MAX_ORDER_LINES};
/// The most units of stock one product may hold.
pub const MAX_STOCK: u32 = 1_000_000;

/// A line of a reservation, as the saga sends it.
pub use saga_contract::calls::StockLine;

/// Lines with one entry per SKU, sorted by SKU, every quantity within bounds. Two
/// requests for the same goods normalise to the same lines, so a retried reservation
/// can be recognised whatever order its lines came in.
pub fn normalise_lines(lines: Vec<StockLine>) -> Result<Vec<StockLine>, String> {
    if lines.is_empty() {
        return Err("`lines` must not be empty.".to_owned());
    }
    let mut merged = BTreeMap::<String, u32>::new();
    for line in lines {
        let sku = service_kit::validate::parse_id(&line.sku, "sku")?;
        if line.quantity == 0 {
            return Err(format!("The quantity of {sku} must be at least 1."));
        }
        let total = merged.entry(sku.clone()).or_default();
        *total = total.saturating_add(line.quantity);
        if *total > MAX_LINE_QUANTITY {
            return Err(format!(
                "The quantity of {sku} must be at most {MAX_LINE_QUANTITY}."
            ));
        }
    }
    if merged.len() > MAX_ORDER_LINES {
        return Err(format!(
            "A reservation may hold at most {MAX_ORDER_LINES} products."
        ));
    }
    Ok(merged
        .into_iter()
        .map(|(sku, quantity)| StockLine { sku, quantity })
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationStatus {
    /// Stock is held for the order.
    Reserved,
    /// The order went through; the held stock is sold.
    Committed,
    /// The stock went back on the shelf, or was never taken (see [`Reservation::lines`]).
    Released,
}

/// Stock held for one order. A reservation is created once per order id and only moves
/// forward: RESERVED → COMMITTED, or RESERVED → RELEASED.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub order_id: String,
    /// Empty for a release that arrived before any reservation: the order id is then
    /// closed, so a late reservation cannot take stock nobody will release.
    pub lines: Vec<StockLine>,
    pub status: ReservationStatus,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, quantity: u32) -> StockLine {
        StockLine {
            sku: sku.into(),
            quantity,
        }
    }

    #[test]
    fn lines_are_merged_by_sku_and_sorted() {
        let lines = normalise_lines(vec![line("B", 1), line("A", 2), line("B", 3)]);
        assert_eq!(lines, Ok(vec![line("A", 2), line("B", 4)]));
    }

    #[test]
    fn zero_quantities_and_empty_requests_are_refused() {
        assert!(normalise_lines(vec![]).is_err());
        assert!(normalise_lines(vec![line("A", 0)]).is_err());
    }

    #[test]
    fn merged_quantities_are_bounded() {
        assert!(normalise_lines(vec![line("A", MAX_LINE_QUANTITY), line("A", 1)]).is_err());
        assert!(normalise_lines(vec![line("A", u32::MAX), line("A", u32::MAX)]).is_err());
    }

    #[test]
    fn the_number_of_products_is_bounded() {
        let many = (0..=MAX_ORDER_LINES)
            .map(|i| line(&format!("SKU-{i}"), 1))
            .collect();
        assert!(normalise_lines(many).is_err());
    }

    #[test]
    fn skus_must_be_plain_ids() {
        assert!(normalise_lines(vec![line("A#1", 1)]).is_err());
    }
}
