//! Reservations: stock held for an order, then committed (sold) or released, each
//! move one transaction over the reservation and every product's counters.

use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use service_kit::dynamo::{self, StoreError, is_condition_failure, n, s};

use super::{
    InventoryStore, MOVE_ATTEMPTS, MoveOutcome, PRODUCT, RESERVATION, ReserveOutcome, Shortage,
    product_pk, reservation_pk,
};
use crate::domain::{Product, Reservation, ReservationStatus, StockLine};

impl InventoryStore {
    pub async fn reserve(&self, reservation: &Reservation) -> Result<ReserveOutcome, StoreError> {
        let claim = dynamo::put_new(
            &self.table,
            dynamo::to_item(
                reservation,
                reservation_pk(&reservation.order_id),
                RESERVATION,
            )?,
        )?;
        let mut items = vec![claim];
        for line in &reservation.lines {
            items.push(self.stock_update(
                line,
                "SET available = available - :q, reserved = reserved + :q, updated_at = :now",
                "attribute_exists(pk) AND available >= :q",
                &reservation.updated_at,
            )?);
        }
        let result = dynamo::transact(&self.client, &items).await;
        let error = match result {
            Ok(_) => return Ok(ReserveOutcome::Reserved(reservation.clone())),
            Err(error) => error,
        };
        let Some([claim, product_reasons @ ..]) = dynamo::cancellation_reasons(&error) else {
            return Err(error.into());
        };
        if is_condition_failure(claim) {
            return match self.get_reservation(&reservation.order_id).await? {
                Some(existing) => Ok(ReserveOutcome::Exists(existing)),
                None => Err(StoreError::Failed("reservation vanished".into())),
            };
        }
        let mut unknown = Vec::new();
        let mut shortages = Vec::new();
        for (line, reason) in reservation.lines.iter().zip(product_reasons) {
            if !is_condition_failure(reason) {
                continue;
            }
            match reason.item() {
                Some(item) => {
                    let product: Product = dynamo::from_item(item.clone())?;
                    shortages.push(Shortage {
                        sku: line.sku.clone(),
                        requested: line.quantity,
                        available: product.available,
                    });
                }
                None => unknown.push(line.sku.clone()),
            }
        }
        match (unknown.is_empty(), shortages.is_empty()) {
            (false, _) => Ok(ReserveOutcome::UnknownProducts(unknown)),
            (true, false) => Ok(ReserveOutcome::Insufficient(shortages)),
            (true, true) => Err(error.into()),
        }
    }

    pub async fn get_reservation(&self, order_id: &str) -> Result<Option<Reservation>, StoreError> {
        dynamo::get_consistent(
            &self.client,
            &self.table,
            dynamo::key(reservation_pk(order_id), RESERVATION),
        )
        .await
    }

    /// RESERVED → RELEASED, returning the stock. Releasing an order that has no
    /// reservation closes it (an empty RELEASED reservation) so that a reservation
    /// arriving late cannot take stock.
    pub async fn release(&self, order_id: &str, now: &str) -> Result<MoveOutcome, StoreError> {
        self.move_reservation(
            order_id,
            ReservationStatus::Released,
            "SET available = available + :q, reserved = reserved - :q, updated_at = :now",
            now,
        )
        .await
    }

    /// RESERVED → COMMITTED: the held stock is sold.
    pub async fn commit(&self, order_id: &str, now: &str) -> Result<MoveOutcome, StoreError> {
        self.move_reservation(
            order_id,
            ReservationStatus::Committed,
            "SET reserved = reserved - :q, updated_at = :now",
            now,
        )
        .await
    }

    /// RESERVED → COMMITTED in one write, for a caller that knows the reservation's
    /// `lines`: the transaction holds on condition that the reservation is RESERVED
    /// with exactly those lines, so nothing is read first. `false` when a condition
    /// failed (committed already, released, other lines, no reservation): the caller
    /// reads what is there.
    pub async fn commit_lines(
        &self,
        order_id: &str,
        lines: &[StockLine],
        now: &str,
    ) -> Result<bool, StoreError> {
        let status = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(reservation_pk(order_id), RESERVATION)))
            .update_expression("SET #status = :to, updated_at = :now")
            .condition_expression("#status = :reserved AND #lines = :lines")
            // Both are DynamoDB reserved words.
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lines", "lines")
            .expression_attribute_values(":to", dynamo::to_value(&ReservationStatus::Committed)?)
            .expression_attribute_values(
                ":reserved",
                dynamo::to_value(&ReservationStatus::Reserved)?,
            )
            .expression_attribute_values(":lines", dynamo::to_value(&lines)?)
            .expression_attribute_values(":now", s(now))
            .build()?;
        let mut items = vec![TransactWriteItem::builder().update(status).build()];
        for line in lines {
            items.push(self.stock_update(
                line,
                "SET reserved = reserved - :q, updated_at = :now",
                "attribute_exists(pk)",
                now,
            )?);
        }
        match dynamo::transact(&self.client, &items).await {
            Ok(_) => Ok(true),
            Err(error) => match dynamo::cancellation_reasons(&error) {
                Some(reasons) if reasons.iter().any(is_condition_failure) => Ok(false),
                _ => Err(error.into()),
            },
        }
    }

    /// A conditional update of one product's counters inside a transaction.
    fn stock_update(
        &self,
        line: &StockLine,
        expression: &str,
        condition: &str,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(product_pk(&line.sku), PRODUCT)))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_values(":q", n(line.quantity))
            .expression_attribute_values(":now", s(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Moves a reservation from RESERVED to `to`, applying `product_expression` to
    /// each of its products in the same transaction.
    async fn move_reservation(
        &self,
        order_id: &str,
        to: ReservationStatus,
        product_expression: &str,
        now: &str,
    ) -> Result<MoveOutcome, StoreError> {
        for _ in 0..MOVE_ATTEMPTS {
            let Some(reservation) = self.get_reservation(order_id).await? else {
                if to != ReservationStatus::Released {
                    return Ok(MoveOutcome::NotFound);
                }
                match self.close_unreserved(order_id, now).await? {
                    Some(closed) => return Ok(MoveOutcome::Done(closed)),
                    None => continue, // a reservation appeared meanwhile: release it
                }
            };
            match reservation.status {
                status if status == to => return Ok(MoveOutcome::Done(reservation)),
                ReservationStatus::Reserved => {}
                _ => return Ok(MoveOutcome::WrongStatus(reservation)),
            }
            let items = self.move_items(&reservation, to, product_expression, now)?;
            let result = dynamo::transact(&self.client, &items).await;
            match result {
                Ok(_) => {
                    return Ok(MoveOutcome::Done(Reservation {
                        status: to,
                        updated_at: now.to_owned(),
                        ..reservation
                    }));
                }
                Err(error) => match dynamo::cancellation_reasons(&error) {
                    // Another request moved it first: look again.
                    Some([first, ..]) if is_condition_failure(first) => continue,
                    _ => return Err(error.into()),
                },
            }
        }
        Err(StoreError::Unavailable(format!(
            "reservation {order_id} kept changing under a move"
        )))
    }

    /// The transaction of one move: the reservation's status, on condition that it is
    /// still RESERVED, and each of its products' counters.
    fn move_items(
        &self,
        reservation: &Reservation,
        to: ReservationStatus,
        product_expression: &str,
        now: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let status = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                reservation_pk(&reservation.order_id),
                RESERVATION,
            )))
            .update_expression("SET #status = :to, updated_at = :now")
            .condition_expression("#status = :reserved")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", dynamo::to_value(&to)?)
            .expression_attribute_values(
                ":reserved",
                dynamo::to_value(&ReservationStatus::Reserved)?,
            )
            .expression_attribute_values(":now", s(now))
            .build()?;
        let mut items = vec![TransactWriteItem::builder().update(status).build()];
        for line in &reservation.lines {
            items.push(self.stock_update(line, product_expression, "attribute_exists(pk)", now)?);
        }
        Ok(items)
    }

    /// Writes an empty RELEASED reservation if there is none. `None` if one appeared.
    async fn close_unreserved(
        &self,
        order_id: &str,
        now: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        let closed = Reservation {
            order_id: order_id.to_owned(),
            lines: Vec::new(),
            status: ReservationStatus::Released,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        let item = dynamo::to_item(&closed, reservation_pk(order_id), RESERVATION)?;
        Ok(dynamo::insert_new(&self.client, &self.table, item)
            .await?
            .then_some(closed))
    }
}
