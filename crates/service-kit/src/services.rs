//! The services, as `infra/services.json` declares them: each one's table, the variable
//! that gives its callers its URL, its local port and who calls it. The scripts read
//! the same file, so a caller's configuration here, the local stack and the deployment
//! checks cannot disagree about which services exist or who calls them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::config::{ConfigError, base_url};

pub const DECLARATION_JSON: &str = include_str!("../../../infra/services.json");

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// Its table's owner name in `infra/tables.json`.
    pub table: String,
    /// The variable that gives its callers its base URL, e.g. `PAYMENT_URL`.
    pub url: String,
    /// Its local port: the first port of `infra/run.sh` plus this.
    pub port_offset: u16,
    /// Who calls it: `gateway`, `worker`.
    pub callers: Vec<String>,
}

/// A caller's base URL of each service it calls, by service name.
pub type ServiceUrls = BTreeMap<&'static str, String>;

static DECLARED: LazyLock<BTreeMap<String, Declaration>> = LazyLock::new(|| {
    // Compiled in, and parsed by this module's test: it cannot fail at run time.
    serde_json::from_str(DECLARATION_JSON).expect("infra/services.json is valid")
});

/// Every declared service, by name.
pub fn declared() -> impl Iterator<Item = (&'static str, &'static Declaration)> {
    DECLARED
        .iter()
        .map(|(name, declaration)| (name.as_str(), declaration))
}

/// The services `caller` calls.
pub fn called_by(caller: &str) -> impl Iterator<Item = (&'static str, &'static Declaration)> {
    declared().filter(move |(_, declaration)| declaration.callers.iter().any(|c| c == caller))
}

/// The base URL of each service `caller` calls, from its declared variable: each must
/// be set.
pub fn urls_from_env(caller: &str) -> Result<ServiceUrls, ConfigError> {
    called_by(caller)
        .map(|(name, declaration)| Ok((name, base_url(&declaration.url)?)))
        .collect()
}

/// The variables that give `urls` to a caller's process (`PAYMENT_URL=…`), the inverse
/// of [`urls_from_env`].
pub fn url_variables(urls: &ServiceUrls) -> Vec<(&'static str, String)> {
    urls.iter()
        .filter_map(|(name, url)| Some((DECLARED.get(*name)?.url.as_str(), url.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_parses_and_names_each_url_once() {
        let urls: Vec<_> = declared().map(|(_, d)| d.url.as_str()).collect();
        assert!(urls.len() >= 5, "{urls:?}");
        let mut unique = urls.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), urls.len(), "{urls:?}");
    }

    #[test]
    fn a_caller_gets_the_services_declared_as_called_by_it() {
        let gateway: Vec<_> = called_by("gateway").map(|(name, _)| name).collect();
        let worker: Vec<_> = called_by("worker").map(|(name, _)| name).collect();
        assert!(gateway.contains(&"customer"), "{gateway:?}");
        assert!(!worker.contains(&"customer"), "{worker:?}");
        assert!(worker.contains(&"payment"), "{worker:?}");
        assert_eq!(called_by("nobody").count(), 0);
    }

    #[test]
    fn url_variables_name_the_declared_variable_and_skip_unknown_services() {
        let urls = ServiceUrls::from([
            ("payment", "http://127.0.0.1:1".to_owned()),
            ("nowhere", "http://127.0.0.1:2".to_owned()),
        ]);
        assert_eq!(
            url_variables(&urls),
            [("PAYMENT_URL", "http://127.0.0.1:1".to_owned())]
        );
    }
}
