//! The upstream sign-in providers' configuration: `PORTCULLIS_PROVIDERS` (the ids, in order)
//! and, per id `X`, `PORTCULLIS_PROVIDER_X_*` over the file's `[providers.x]` table.
//!
//! A provider that is configured badly is left out with a problem naming the variable; it
//! never stops the others or the service (`portcullis config check` lists the problems).
//! Without `PORTCULLIS_PROVIDERS`, the file's `[providers.x]` tables are the providers, in the
//! order of their ids.

use std::collections::BTreeMap;

use figment::value::Value;
use portcullis_domain::{LinkingPolicy, ProviderId, SecretString};
use portcullis_infrastructure::upstream::{ProviderKind, ProviderSettings};

use crate::config::ConfigError;

/// The fields of one provider, as in `PORTCULLIS_PROVIDER_X_<FIELD>` (upper-cased) and in
/// `[providers.x]` (as written here).
pub const PROVIDER_FIELDS: &[&str] = &[
    "client_id",
    "client_secret",
    "kind",
    "issuer",
    "authorize_url",
    "token_url",
    "userinfo_url",
    "scopes",
    "name",
    "linking",
];

/// The providers that are configured well, and what is wrong with the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProvidersConfig {
    /// Usable providers, in configured order.
    pub settings: Vec<ProviderSettings>,
    /// One entry per provider left out (never holds a secret).
    pub problems: Vec<ConfigError>,
}

/// Reads the providers from the environment pairs and the file's `providers` value.
pub fn read_providers(file: Option<&Value>, env: &BTreeMap<String, String>) -> ProvidersConfig {
    let mut config = ProvidersConfig::default();
    let tables = match file {
        Some(Value::Dict(_, tables)) => tables.clone(),
        Some(Value::String(_, ids)) if !env.contains_key("PORTCULLIS_PROVIDERS") => {
            return read_listed(&split(ids), &BTreeMap::new(), env);
        }
        Some(_) => {
            config.problems.push(ConfigError::new("providers", "must be a table of [providers.<id>] tables"));
            BTreeMap::new()
        }
        None => BTreeMap::new(),
    };
    let ids: Vec<String> = match env.get("PORTCULLIS_PROVIDERS") {
        Some(list) => split(list),
        None => tables.keys().cloned().collect(),
    };
    let mut read = read_listed(&ids, &tables, env);
    config.problems.append(&mut read.problems);
    config.settings = read.settings;
    config
}

fn split(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect()
}

fn read_listed(ids: &[String], tables: &BTreeMap<String, Value>, env: &BTreeMap<String, String>) -> ProvidersConfig {
    let mut config = ProvidersConfig::default();
    for raw in ids {
        let Ok(id) = ProviderId::parse(raw) else {
            config.problems.push(ConfigError::new(
                "PORTCULLIS_PROVIDERS",
                format!("'{raw}' is not a provider id ([a-z0-9_], 1 to 32 characters)"),
            ));
            continue;
        };
        if config.settings.iter().any(|provider| provider.id == id) {
            config.problems.push(ConfigError::new("PORTCULLIS_PROVIDERS", format!("'{id}' is listed twice")));
            continue;
        }
        match read_one(&id, tables.get(id.as_str()), env) {
            Ok(settings) => config.settings.push(settings),
            Err(problem) => config.problems.push(problem),
        }
    }
    config
}

/// The variable that holds `field` of provider `id`.
pub fn variable(id: &ProviderId, field: &str) -> String {
    format!("PORTCULLIS_PROVIDER_{}_{}", id.as_str().to_uppercase(), field.to_uppercase())
}

fn read_one(
    id: &ProviderId,
    table: Option<&Value>,
    env: &BTreeMap<String, String>,
) -> Result<ProviderSettings, ConfigError> {
    let file: BTreeMap<String, Value> = match table {
        Some(Value::Dict(_, fields)) => fields.clone(),
        Some(_) => return Err(ConfigError::new(&format!("providers.{id}"), "must be a table")),
        None => BTreeMap::new(),
    };
    if let Some(unknown) = file.keys().find(|key| !PROVIDER_FIELDS.contains(&key.as_str())) {
        return Err(ConfigError::new(&format!("providers.{id}.{unknown}"), "unknown provider setting"));
    }
    let get = |field: &str| -> Option<String> {
        let from_env = env.get(&variable(id, field)).cloned();
        let from_file = || file.get(field).and_then(text);
        from_env.or_else(from_file).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
    };
    let required = |field: &str| get(field).ok_or_else(|| ConfigError::new(&variable(id, field), "is required"));

    let kind = match get("kind") {
        Some(raw) => ProviderKind::parse(&raw.to_ascii_lowercase())
            .ok_or_else(|| ConfigError::new(&variable(id, "kind"), "must be oidc, github or facebook"))?,
        None => ProviderKind::default_for(id),
    };
    let client_id = required("client_id")?;
    let client_secret = SecretString::new(required("client_secret")?);
    let issuer = match (get("issuer"), kind, id.as_str()) {
        (Some(issuer), _, _) => Some(issuer),
        (None, ProviderKind::Oidc, "google") => Some("https://accounts.google.com".to_owned()),
        (None, ProviderKind::Oidc, _) => {
            return Err(ConfigError::new(&variable(id, "issuer"), "is required for an oidc provider"));
        }
        (None, _, _) => None,
    };
    for (field, value) in [
        ("issuer", &issuer),
        ("authorize_url", &get("authorize_url")),
        ("token_url", &get("token_url")),
        ("userinfo_url", &get("userinfo_url")),
    ] {
        if let Some(value) = value {
            let url = url::Url::parse(value).map_err(|_| ConfigError::new(&variable(id, field), "is not a URL"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::new(&variable(id, field), "must be an http(s) URL"));
            }
        }
    }
    let scopes = get("scopes").unwrap_or_else(|| kind.default_scopes().to_owned());
    let linking = match get("linking").as_deref() {
        None | Some("explicit") => LinkingPolicy::Explicit,
        Some("verified_email") => LinkingPolicy::VerifiedEmail,
        Some(_) => return Err(ConfigError::new(&variable(id, "linking"), "must be explicit or verified_email")),
    };
    let name = get("name").unwrap_or_else(|| default_name(id));
    Ok(ProviderSettings {
        id: id.clone(),
        kind,
        name,
        client_id,
        client_secret,
        issuer,
        authorize_url: get("authorize_url"),
        token_url: get("token_url"),
        userinfo_url: get("userinfo_url"),
        scopes: scopes.split([' ', ',']).filter(|scope| !scope.is_empty()).map(str::to_owned).collect(),
        linking,
    })
}

/// Google, GitHub, Facebook, or the id itself.
fn default_name(id: &ProviderId) -> String {
    match id.as_str() {
        "google" => "Google".to_owned(),
        "github" => "GitHub".to_owned(),
        "facebook" => "Facebook".to_owned(),
        other => other.to_owned(),
    }
}

/// A file value as text: a string as it is, a list joined with spaces, a number or bool as written.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(_, text) => Some(text.clone()),
        Value::Array(_, items) => Some(items.iter().filter_map(text).collect::<Vec<_>>().join(" ")),
        Value::Num(_, number) => number.to_u128().map(|n| n.to_string()),
        Value::Bool(_, flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn listed_providers_take_defaults_by_id_and_keep_their_order() {
        let config = read_providers(
            None,
            &env(&[
                ("PORTCULLIS_PROVIDERS", "github, google"),
                ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_ID", "gh-id"),
                ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_SECRET", "gh-secret"),
                ("PORTCULLIS_PROVIDER_GOOGLE_CLIENT_ID", "g-id"),
                ("PORTCULLIS_PROVIDER_GOOGLE_CLIENT_SECRET", "g-secret"),
            ]),
        );
        assert!(config.problems.is_empty(), "{:?}", config.problems);
        let ids: Vec<&str> = config.settings.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["github", "google"]);
        assert_eq!(config.settings[0].kind, ProviderKind::GitHub);
        assert_eq!(config.settings[0].name, "GitHub");
        assert_eq!(config.settings[0].scopes, ["read:user", "user:email"]);
        assert_eq!(config.settings[1].kind, ProviderKind::Oidc);
        assert_eq!(config.settings[1].issuer.as_deref(), Some("https://accounts.google.com"));
        assert_eq!(config.settings[1].scopes, ["openid", "email", "profile"]);
        assert!(!format!("{config:?}").contains("g-secret"), "secrets are redacted in Debug");
    }

    #[test]
    fn a_bad_provider_is_reported_and_the_others_still_work() {
        let config = read_providers(
            None,
            &env(&[
                ("PORTCULLIS_PROVIDERS", "corp,Bad-Id,github"),
                ("PORTCULLIS_PROVIDER_CORP_CLIENT_ID", "corp-id"),
                ("PORTCULLIS_PROVIDER_CORP_CLIENT_SECRET", "corp-secret"),
                ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_ID", "gh-id"),
                ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_SECRET", "gh-secret"),
                ("PORTCULLIS_PROVIDER_GITHUB_LINKING", "sometimes"),
            ]),
        );
        assert!(config.settings.is_empty(), "{:?}", config.settings);
        let variables: Vec<&str> = config.problems.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(
            variables,
            ["PORTCULLIS_PROVIDER_CORP_ISSUER", "PORTCULLIS_PROVIDERS", "PORTCULLIS_PROVIDER_GITHUB_LINKING"]
        );
    }

    #[test]
    fn the_file_tables_are_the_providers_and_the_environment_wins() {
        let file: Value = figment::Figment::from(figment::providers::Serialized::defaults(serde_json::json!({
            "corp": {"client_id": "file-id", "client_secret": "file-secret", "issuer": "https://id.corp.example",
                     "scopes": ["openid", "email"], "linking": "verified_email"},
        })))
        .extract()
        .expect("a table");
        let config = read_providers(Some(&file), &env(&[("PORTCULLIS_PROVIDER_CORP_CLIENT_ID", "env-id")]));
        assert!(config.problems.is_empty(), "{:?}", config.problems);
        let corp = &config.settings[0];
        assert_eq!((corp.client_id.as_str(), corp.name.as_str()), ("env-id", "corp"));
        assert_eq!(corp.scopes, ["openid", "email"]);
        assert_eq!(corp.linking, LinkingPolicy::VerifiedEmail);
    }

    #[test]
    fn a_missing_secret_and_an_unknown_file_field_are_problems() {
        let file: Value = figment::Figment::from(figment::providers::Serialized::defaults(serde_json::json!({
            "github": {"client_id": "id", "client_secret": "s", "colour": "blue"},
        })))
        .extract()
        .expect("a table");
        let config = read_providers(
            Some(&file),
            &env(&[("PORTCULLIS_PROVIDERS", "github,facebook"), ("PORTCULLIS_PROVIDER_FACEBOOK_CLIENT_ID", "fb")]),
        );
        let variables: Vec<&str> = config.problems.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(variables, ["providers.github.colour", "PORTCULLIS_PROVIDER_FACEBOOK_CLIENT_SECRET"]);
    }
}
