//! A metering reverse proxy: what one saga costs in DynamoDB requests and capacity
//! units, and in service calls (Lambda invocations on AWS), measured on the wire.
//!
//! The `meter` binary listens on one port per route and forwards every request to the
//! route's upstream. A DynamoDB route adds `"ReturnConsumedCapacity": "INDEXES"` to each
//! request that accepts it, and reads the `ConsumedCapacity` of the answer (by table,
//! and how much of it its secondary indexes took), so the
//! services need no change to be measured. (DynamoDB Local does not check SigV4
//! signatures, which the added field invalidates; never point this at AWS.) Other
//! routes only count requests. `GET /tally` on the admin address answers the counts so
//! far; a benchmark takes the difference of two tallies around what it measures.
//!
//! DynamoDB Local reports no capacity for a request that fails, such as a conditional
//! write whose condition does not hold; DynamoDB proper charges for those too.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One forwarding route: requests to `listen` go to `upstream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `dynamodb` meters DynamoDB requests; any other name counts calls to a service.
    pub name: String,
    pub listen: SocketAddr,
    pub upstream: String,
}

impl Route {
    fn is_dynamodb(&self) -> bool {
        self.name == DYNAMODB
    }
}

/// The route name whose requests are DynamoDB's.
pub const DYNAMODB: &str = "dynamodb";

/// Parses `name@port=upstream` routes separated by whitespace, e.g.
/// `dynamodb@18000=http://127.0.0.1:8000 order@18001=http://127.0.0.1:3003`; every
/// route listens on 127.0.0.1.
pub fn parse_routes(spec: &str) -> Result<Vec<Route>, String> {
    spec.split_whitespace()
        .map(|entry| {
            let (name, rest) = entry
                .split_once('@')
                .ok_or_else(|| format!("{entry:?}: expected name@port=upstream"))?;
            let (port, upstream) = rest
                .split_once('=')
                .ok_or_else(|| format!("{entry:?}: expected name@port=upstream"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("{entry:?}: {port:?} is not a port"))?;
            if name.is_empty() || !upstream.starts_with("http://") {
                return Err(format!(
                    "{entry:?}: a route needs a name and an http:// upstream"
                ));
            }
            Ok(Route {
                name: name.to_owned(),
                listen: SocketAddr::from(([127, 0, 0, 1], port)),
                upstream: upstream.trim_end_matches('/').to_owned(),
            })
        })
        .collect()
}

/// What one DynamoDB operation cost over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationTally {
    pub requests: u64,
    /// Read capacity units (read request units on demand).
    pub read_units: f64,
    /// Write capacity units (write request units on demand).
    pub write_units: f64,
}

/// The calls a service received over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CallTally {
    pub requests: u64,
    /// The time from each request to its answer, added up: what Lambda bills.
    pub millis: f64,
}

/// The capacity one table consumed over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TableTally {
    /// Read and write capacity units, indexes included.
    pub units: f64,
    /// Of which its global secondary indexes took.
    pub index_units: f64,
}

/// Everything the meter counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// By DynamoDB operation (`PutItem`, `TransactWriteItems`...).
    pub dynamodb: BTreeMap<String, OperationTally>,
    /// By table.
    #[serde(default)]
    pub tables: BTreeMap<String, TableTally>,
    /// By service route.
    pub calls: BTreeMap<String, CallTally>,
}

impl Tally {
    /// What was counted after `earlier` was taken.
    pub fn since(&self, earlier: &Tally) -> Tally {
        let dynamodb = self
            .dynamodb
            .iter()
            .map(|(operation, now)| {
                let before = earlier.dynamodb.get(operation).copied().unwrap_or_default();
                let delta = OperationTally {
                    requests: now.requests - before.requests,
                    read_units: now.read_units - before.read_units,
                    write_units: now.write_units - before.write_units,
                };
                (operation.clone(), delta)
            })
            .filter(|(_, delta)| delta.requests > 0)
            .collect();
        let tables = self
            .tables
            .iter()
            .map(|(table, now)| {
                let before = earlier.tables.get(table).copied().unwrap_or_default();
                let delta = TableTally {
                    units: now.units - before.units,
                    index_units: now.index_units - before.index_units,
                };
                (table.clone(), delta)
            })
            .filter(|(_, delta)| delta.units > 0.0)
            .collect();
        let calls = self
            .calls
            .iter()
            .map(|(route, now)| {
                let before = earlier.calls.get(route).copied().unwrap_or_default();
                let delta = CallTally {
                    requests: now.requests - before.requests,
                    millis: now.millis - before.millis,
                };
                (route.clone(), delta)
            })
            .filter(|(_, delta)| delta.requests > 0)
            .collect();
        Tally {
            dynamodb,
            tables,
            calls,
        }
    }

    pub fn dynamodb_requests(&self) -> u64 {
        self.dynamodb.values().map(|t| t.requests).sum()
    }

    pub fn transactions(&self) -> u64 {
        self.dynamodb
            .iter()
            .filter(|(operation, _)| operation.starts_with("Transact"))
            .map(|(_, t)| t.requests)
            .sum()
    }

    pub fn read_units(&self) -> f64 {
        self.dynamodb.values().map(|t| t.read_units).sum()
    }

    pub fn write_units(&self) -> f64 {
        self.dynamodb.values().map(|t| t.write_units).sum()
    }

    pub fn service_calls(&self) -> u64 {
        self.calls.values().map(|c| c.requests).sum()
    }

    /// The mean time a service took to answer, in milliseconds.
    pub fn mean_call_millis(&self) -> f64 {
        let calls = self.service_calls();
        if calls == 0 {
            return 0.0;
        }
        self.calls.values().map(|c| c.millis).sum::<f64>() / calls as f64
    }
}

/// The DynamoDB operation a request names in its `X-Amz-Target` header
/// (`DynamoDB_20120810.PutItem` → `PutItem`).
pub fn operation(headers: &HeaderMap) -> Option<String> {
    let target = headers.get("x-amz-target")?.to_str().ok()?;
    Some(target.rsplit('.').next()?.to_owned())
}

const READS: &[&str] = &[
    "GetItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "TransactGetItems",
];
const WRITES: &[&str] = &[
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

/// Whether `operation` consumes capacity (and so accepts `ReturnConsumedCapacity`).
fn is_metered(operation: &str) -> bool {
    READS.contains(&operation) || WRITES.contains(&operation)
}

/// The request body with `ReturnConsumedCapacity: INDEXES` added, or `None` to send it
/// as it is (an operation that consumes no capacity, or a body that is no object).
pub fn ask_for_capacity(operation: &str, body: &[u8]) -> Option<Vec<u8>> {
    if !is_metered(operation) {
        return None;
    }
    let mut request: serde_json::Map<String, Value> = serde_json::from_slice(body).ok()?;
    request
        .entry("ReturnConsumedCapacity")
        .or_insert_with(|| Value::from("INDEXES"));
    serde_json::to_vec(&request).ok()
}

/// What an answer reports it consumed of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumed {
    pub table: String,
    pub units: f64,
    pub index_units: f64,
}

/// The capacity an answer reports, by table (one entry, or one per table for batches
/// and transactions).
pub fn consumed(body: &[u8]) -> Vec<Consumed> {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let entry = |entry: &Value| Consumed {
        table: entry["TableName"].as_str().unwrap_or_default().to_owned(),
        units: entry["CapacityUnits"].as_f64().unwrap_or(0.0),
        index_units: entry["GlobalSecondaryIndexes"]
            .as_object()
            .map_or(0.0, |indexes| {
                indexes
                    .values()
                    .map(|index| index["CapacityUnits"].as_f64().unwrap_or(0.0))
                    .sum()
            }),
    };
    match &answer["ConsumedCapacity"] {
        Value::Array(entries) => entries.iter().map(entry).collect(),
        single @ Value::Object(_) => vec![entry(single)],
        _ => Vec::new(),
    }
}

impl Tally {
    fn record_dynamodb(&mut self, operation: &str, consumed: &[Consumed]) {
        for entry in consumed {
            let table = self.tables.entry(entry.table.clone()).or_default();
            table.units += entry.units;
            table.index_units += entry.index_units;
        }
        let units: f64 = consumed.iter().map(|entry| entry.units).sum();
        let tally = self.dynamodb.entry(operation.to_owned()).or_default();
        tally.requests += 1;
        if WRITES.contains(&operation) {
            tally.write_units += units;
        } else {
            tally.read_units += units;
        }
    }
}

#[derive(Clone)]
struct Forwarder {
    route: Arc<Route>,
    http: reqwest::Client,
    tally: Arc<Mutex<Tally>>,
}

/// Serves every route and the admin address until the process ends.
pub async fn serve(routes: Vec<Route>, admin: SocketAddr) -> std::io::Result<()> {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let http = reqwest::Client::new();
    let mut servers = Vec::new();
    for route in routes {
        let listener = tokio::net::TcpListener::bind(route.listen).await?;
        let forwarder = Forwarder {
            route: Arc::new(route),
            http: http.clone(),
            tally: tally.clone(),
        };
        let app = Router::new().fallback(forward).with_state(forwarder);
        servers.push(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ));
    }
    let listener = tokio::net::TcpListener::bind(admin).await?;
    let app = Router::new()
        .route("/tally", get(read_tally))
        .with_state(tally);
    axum::serve(listener, app).await
}

async fn read_tally(State(tally): State<Arc<Mutex<Tally>>>) -> axum::Json<Tally> {
    axum::Json(tally.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

async fn forward(State(forwarder): State<Forwarder>, request: Request) -> Response {
    match forward_one(&forwarder, request).await {
        Ok(response) => response,
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

async fn forward_one(forwarder: &Forwarder, request: Request) -> Result<Response, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let operation = operation(&parts.headers).filter(|_| forwarder.route.is_dynamodb());
    let body = match &operation {
        Some(operation) => ask_for_capacity(operation, &body)
            .map(Bytes::from)
            .unwrap_or(body),
        None => body,
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers.clone();
    for hop in [
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
    ] {
        headers.remove(hop);
    }
    let sent = std::time::Instant::now();
    let answer = forwarder
        .http
        .request(parts.method, format!("{}{path}", forwarder.route.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await?;
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let answer_body = answer.bytes().await?;
    let millis = sent.elapsed().as_secs_f64() * 1000.0;
    {
        let mut tally = forwarder.tally.lock().unwrap_or_else(|e| e.into_inner());
        match &operation {
            Some(operation) => tally.record_dynamodb(operation, &consumed(&answer_body)),
            None => {
                let calls = tally.calls.entry(forwarder.route.name.clone()).or_default();
                calls.requests += 1;
                calls.millis += millis;
            }
        }
    }
    let mut response = Response::new(Body::from(answer_body));
    *response.status_mut() = status;
    for (name, value) in &answer_headers {
        if !is_hop_by_hop(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
    ]
    .contains(name)
}

#[cfg(test)]
mod tests;
