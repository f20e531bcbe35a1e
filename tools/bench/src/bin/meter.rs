//! `meter`: the metering proxy `infra/bench-saga.sh` puts between the services and
//! DynamoDB Local, and between the worker and the services (see [`bench::meter`]).
//!
//!   METER_ADMIN=127.0.0.1:18100 \
//!   METER_ROUTES="dynamodb@18101=http://127.0.0.1:8000 order@18102=http://127.0.0.1:3003" meter

use std::net::SocketAddr;

use service_kit::config::required;
use service_kit::serve::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    service_kit::telemetry::init("meter");
    let routes = bench::meter::parse_routes(&required("METER_ROUTES")?)?;
    let admin: SocketAddr = required("METER_ADMIN")?.parse()?;
    bench::meter::serve(routes, admin).await?;
    Ok(())
}
