//! The gateway over real HTTP, in front of the real services on DynamoDB Local and,
//! where orders must run, the saga worker on the Temporal dev server.

mod attention;
mod auth;
mod authz;
mod breakers;
mod catalog;
mod codec;
mod events;
mod fanout;
mod jwt;
mod limits;
mod metrics;
mod openapi;
mod operations;
mod orders;
mod ratelimit;
mod reviews;
mod startup;
mod support;
