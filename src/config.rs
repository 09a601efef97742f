//! Configuration: defaults, then an optional TOML file (`portcullis.toml`, or the path in
//! `PORTCULLIS_CONFIG`), then `PORTCULLIS_*` environment variables, later winning.
//! A bad value stops start-up with a message naming the variable.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use url::Url;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The effective configuration of one Portcullis process.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `PORTCULLIS_DATABASE_URL`: `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// `PORTCULLIS_BIND`: listen address; port 0 picks a free one.
    pub bind: String,
    /// `PORTCULLIS_PUBLIC_URL`: base of links, the tokens' `iss`, the default allowed origin.
    pub public_url: Url,
    /// `PORTCULLIS_ALLOWED_ORIGINS`: origins allowed to make credentialed requests.
    pub allowed_origins: Vec<String>,
    /// `PORTCULLIS_TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// `PORTCULLIS_AUDIENCE`: the access token's `aud`.
    pub audience: String,
    /// `PORTCULLIS_ACCESS_TTL_SECS`: access-token lifetime.
    pub access_ttl_secs: u64,
    /// `PORTCULLIS_REFRESH_TTL_SECS`: refresh-token lifetime.
    pub refresh_ttl_secs: u64,
    /// `PORTCULLIS_SESSION_MAX_SECS`: absolute session lifetime.
    pub session_max_secs: u64,
    /// `PORTCULLIS_REFRESH_GRACE_SECS`: reuse grace window.
    pub refresh_grace_secs: u64,
    /// `PORTCULLIS_BCRYPT_COST`: 4..=31.
    pub bcrypt_cost: u32,
    /// `PORTCULLIS_MIN_PASSWORD_SCORE`: 0..=4.
    pub min_password_score: u8,
    /// `PORTCULLIS_RATE_LIMIT_PER_MINUTE`: per-IP limit, 0 = off.
    pub rate_limit_per_minute: u32,
    /// `PORTCULLIS_LOCKOUT_THRESHOLD`: failed logins before lockout, 0 = off.
    pub lockout_threshold: u32,
    /// `PORTCULLIS_LOCKOUT_SECS`: lockout duration.
    pub lockout_secs: u64,
    /// `PORTCULLIS_MAIL_DIR`: where `.eml` files go without SMTP.
    pub mail_dir: String,
    /// `PORTCULLIS_SMTP_URL`: SMTP server (holds a password: redacted in `Debug`).
    pub smtp_url: Option<String>,
    /// `PORTCULLIS_MAIL_FROM`: the sender of mail (default `Portcullis <no-reply@HOST>`, HOST
    /// being the public URL's host).
    pub mail_from: Option<String>,
    /// `PORTCULLIS_COOKIE_SECURE`: the `Secure` cookie attribute.
    pub cookie_secure: bool,
    /// `PORTCULLIS_LOG`: log filter.
    pub log: String,
    /// `PORTCULLIS_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `PORTCULLIS_HASH_WORKERS`: password-hashing threads (default: one per core).
    pub hash_workers: usize,
    /// `PORTCULLIS_HASH_QUEUE`: hashes that may wait before requests get `503` (default 64).
    pub hash_queue: usize,
    /// `PORTCULLIS_DB_POOL_SIZE`: database connections (default 10).
    pub db_pool_size: u32,
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The variable (or file key) at fault.
    pub variable: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(variable: &str, message: impl Into<String>) -> Self {
        Self { variable: variable.to_owned(), message: message.into() }
    }
}

impl Default for Config {
    fn default() -> Self {
        let public_url = Url::parse("http://localhost:8080").expect("constant URL parses");
        Self {
            database_url: "sqlite://portcullis.db".into(),
            bind: "127.0.0.1:8080".into(),
            allowed_origins: default_origins(&public_url),
            public_url,
            trusted_proxies: Vec::new(),
            audience: "portcullis".into(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 604_800,
            session_max_secs: 2_592_000,
            refresh_grace_secs: 10,
            bcrypt_cost: 12,
            min_password_score: 3,
            rate_limit_per_minute: 10,
            lockout_threshold: 5,
            lockout_secs: 900,
            mail_dir: "./mail".into(),
            smtp_url: None,
            mail_from: None,
            cookie_secure: true,
            log: "info".into(),
            log_format: LogFormat::Text,
            hash_workers: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            hash_queue: 64,
            db_pool_size: 10,
        }
    }
}

impl Config {
    /// The sender of mail: `PORTCULLIS_MAIL_FROM`, or `Portcullis <no-reply@HOST>`.
    pub fn mail_sender(&self) -> String {
        self.mail_from
            .clone()
            .unwrap_or_else(|| format!("Portcullis <no-reply@{}>", self.public_url.host_str().unwrap_or("localhost")))
    }
}

/// The public URL as an origin (`scheme://host[:port]`), plus its `127.0.0.1` and `[::1]`
/// twins when the host is `localhost`.
pub fn default_origins(public_url: &Url) -> Vec<String> {
    let origin = public_url.origin().ascii_serialization();
    let mut origins = vec![origin];
    if public_url.host_str() == Some("localhost") {
        for host in ["127.0.0.1", "[::1]"] {
            let mut twin = public_url.clone();
            if twin.set_host(Some(host)).is_ok() {
                origins.push(twin.origin().ascii_serialization());
            }
        }
    }
    origins
}

/// Every variable this configuration reads, in the order they are documented.
pub const VARIABLES: &[&str] = &[
    "PORTCULLIS_DATABASE_URL",
    "PORTCULLIS_BIND",
    "PORTCULLIS_PUBLIC_URL",
    "PORTCULLIS_ALLOWED_ORIGINS",
    "PORTCULLIS_TRUSTED_PROXIES",
    "PORTCULLIS_AUDIENCE",
    "PORTCULLIS_ACCESS_TTL_SECS",
    "PORTCULLIS_REFRESH_TTL_SECS",
    "PORTCULLIS_SESSION_MAX_SECS",
    "PORTCULLIS_REFRESH_GRACE_SECS",
    "PORTCULLIS_BCRYPT_COST",
    "PORTCULLIS_MIN_PASSWORD_SCORE",
    "PORTCULLIS_RATE_LIMIT_PER_MINUTE",
    "PORTCULLIS_LOCKOUT_THRESHOLD",
    "PORTCULLIS_LOCKOUT_SECS",
    "PORTCULLIS_MAIL_DIR",
    "PORTCULLIS_SMTP_URL",
    "PORTCULLIS_MAIL_FROM",
    "PORTCULLIS_COOKIE_SECURE",
    "PORTCULLIS_LOG",
    "PORTCULLIS_LOG_FORMAT",
    "PORTCULLIS_HASH_WORKERS",
    "PORTCULLIS_HASH_QUEUE",
    "PORTCULLIS_DB_POOL_SIZE",
];

impl Config {
    /// Loads the configuration of this process: defaults, the file, then the environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable, or an unreadable file.
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_")).collect();
        let file = match env.get("PORTCULLIS_CONFIG") {
            Some(path) => Some(read_file(Path::new(path), "PORTCULLIS_CONFIG")?),
            None if Path::new("portcullis.toml").exists() => {
                Some(read_file(Path::new("portcullis.toml"), "portcullis.toml")?)
            }
            None => None,
        };
        Self::from_sources(file.as_deref(), &env)
    }

    /// Builds a configuration from a TOML text (keys are the variable names without the
    /// `PORTCULLIS_` prefix, lower-case: `database_url = "…"`) and environment pairs.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_sources(file: Option<&str>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        if let Some(text) = file {
            let table: toml::Table =
                text.parse().map_err(|e: toml::de::Error| ConfigError::new("config file", e.message().to_owned()))?;
            for (key, value) in table {
                let variable = format!("PORTCULLIS_{}", key.to_uppercase());
                if !VARIABLES.contains(&variable.as_str()) {
                    return Err(ConfigError::new(&key, "unknown setting in the config file"));
                }
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|item| item.as_str().map(str::to_owned).unwrap_or_else(|| item.to_string()))
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                values.insert(variable, text);
            }
        }
        for (key, value) in env {
            if VARIABLES.contains(&key.as_str()) {
                values.insert(key.clone(), value.clone());
            }
        }
        Self::from_values(&values)
    }

    fn from_values(values: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let get = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        if let Some(url) = get("PORTCULLIS_DATABASE_URL") {
            if !(url.starts_with("sqlite://") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::new("PORTCULLIS_DATABASE_URL", "must start with sqlite:// or postgres://"));
            }
            config.database_url = url.to_owned();
        }
        if let Some(bind) = get("PORTCULLIS_BIND") {
            if bind.parse::<std::net::SocketAddr>().is_err() && !bind.contains(':') {
                return Err(ConfigError::new("PORTCULLIS_BIND", "must be HOST:PORT, e.g. 127.0.0.1:8080"));
            }
            config.bind = bind.to_owned();
        }
        if let Some(raw) = get("PORTCULLIS_PUBLIC_URL") {
            let url = Url::parse(raw).map_err(|e| ConfigError::new("PORTCULLIS_PUBLIC_URL", e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(ConfigError::new("PORTCULLIS_PUBLIC_URL", "must be an absolute http(s) URL"));
            }
            config.allowed_origins = default_origins(&url);
            config.public_url = url;
        }
        if let Some(raw) = get("PORTCULLIS_ALLOWED_ORIGINS") {
            config.allowed_origins = list(raw);
            for origin in &config.allowed_origins {
                let parsed = Url::parse(origin).map_err(|_| {
                    ConfigError::new("PORTCULLIS_ALLOWED_ORIGINS", format!("{origin} is not an origin"))
                })?;
                if parsed.origin().ascii_serialization() != *origin {
                    return Err(ConfigError::new(
                        "PORTCULLIS_ALLOWED_ORIGINS",
                        format!("{origin} is not an origin (scheme://host[:port], no path or trailing slash)"),
                    ));
                }
            }
        }
        if let Some(raw) = get("PORTCULLIS_TRUSTED_PROXIES") {
            config.trusted_proxies = list(raw);
            for cidr in &config.trusted_proxies {
                if !looks_like_cidr(cidr) {
                    return Err(ConfigError::new("PORTCULLIS_TRUSTED_PROXIES", format!("{cidr} is not a CIDR")));
                }
            }
        }
        if let Some(audience) = get("PORTCULLIS_AUDIENCE") {
            config.audience = audience.to_owned();
        }
        config.access_ttl_secs = number(values, "PORTCULLIS_ACCESS_TTL_SECS", config.access_ttl_secs, 1..=86_400)?;
        config.refresh_ttl_secs =
            number(values, "PORTCULLIS_REFRESH_TTL_SECS", config.refresh_ttl_secs, 60..=31_536_000)?;
        config.session_max_secs =
            number(values, "PORTCULLIS_SESSION_MAX_SECS", config.session_max_secs, 60..=315_360_000)?;
        config.refresh_grace_secs =
            number(values, "PORTCULLIS_REFRESH_GRACE_SECS", config.refresh_grace_secs, 0..=300)?;
        config.bcrypt_cost = number(values, "PORTCULLIS_BCRYPT_COST", config.bcrypt_cost, 4..=31)?;
        config.min_password_score = number(values, "PORTCULLIS_MIN_PASSWORD_SCORE", config.min_password_score, 0..=4)?;
        config.rate_limit_per_minute =
            number(values, "PORTCULLIS_RATE_LIMIT_PER_MINUTE", config.rate_limit_per_minute, 0..=1_000_000)?;
        config.lockout_threshold = number(values, "PORTCULLIS_LOCKOUT_THRESHOLD", config.lockout_threshold, 0..=1000)?;
        config.lockout_secs = number(values, "PORTCULLIS_LOCKOUT_SECS", config.lockout_secs, 1..=31_536_000)?;
        config.hash_workers = number(values, "PORTCULLIS_HASH_WORKERS", config.hash_workers, 1..=256)?;
        config.hash_queue = number(values, "PORTCULLIS_HASH_QUEUE", config.hash_queue, 1..=100_000)?;
        config.db_pool_size = number(values, "PORTCULLIS_DB_POOL_SIZE", config.db_pool_size, 1..=1000)?;
        if let Some(dir) = get("PORTCULLIS_MAIL_DIR") {
            config.mail_dir = dir.to_owned();
        }
        if let Some(from) = get("PORTCULLIS_MAIL_FROM") {
            config.mail_from = Some(from.to_owned());
        }
        if let Some(smtp) = get("PORTCULLIS_SMTP_URL") {
            let url = Url::parse(smtp).map_err(|_| ConfigError::new("PORTCULLIS_SMTP_URL", "is not a URL"))?;
            if !matches!(url.scheme(), "smtp" | "smtps") {
                return Err(ConfigError::new("PORTCULLIS_SMTP_URL", "must start with smtp:// or smtps://"));
            }
            config.smtp_url = Some(smtp.to_owned());
        }
        if let Some(raw) = get("PORTCULLIS_COOKIE_SECURE") {
            config.cookie_secure = match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(ConfigError::new("PORTCULLIS_COOKIE_SECURE", "must be true or false")),
            };
        }
        if let Some(log) = get("PORTCULLIS_LOG") {
            config.log = log.to_owned();
        }
        if let Some(format) = get("PORTCULLIS_LOG_FORMAT") {
            config.log_format = match format.to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(ConfigError::new("PORTCULLIS_LOG_FORMAT", "must be text or json")),
            };
        }
        if config.refresh_ttl_secs > config.session_max_secs {
            return Err(ConfigError::new("PORTCULLIS_REFRESH_TTL_SECS", "must not exceed PORTCULLIS_SESSION_MAX_SECS"));
        }
        Ok(config)
    }
}

fn read_file(path: &Path, variable: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(variable, format!("cannot read {}: {e}", path.display())))
}

fn list(raw: &str) -> Vec<String> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn looks_like_cidr(raw: &str) -> bool {
    let (addr, prefix) = raw.split_once('/').unwrap_or((raw, ""));
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else { return false };
    if prefix.is_empty() {
        return true;
    }
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.parse::<u8>().is_ok_and(|p| p <= max)
}

fn number<T>(
    values: &BTreeMap<String, String>,
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let value: T = raw.parse().map_err(|_| ConfigError::new(name, format!("'{raw}' is not a whole number")))?;
    if !range.contains(&value) {
        return Err(ConfigError::new(name, format!("must be between {} and {}", range.start(), range.end())));
    }
    Ok(value)
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("public_url", &self.public_url.as_str())
            .field("allowed_origins", &self.allowed_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("audience", &self.audience)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .field("session_max_secs", &self.session_max_secs)
            .field("refresh_grace_secs", &self.refresh_grace_secs)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("min_password_score", &self.min_password_score)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("lockout_threshold", &self.lockout_threshold)
            .field("lockout_secs", &self.lockout_secs)
            .field("mail_dir", &self.mail_dir)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("cookie_secure", &self.cookie_secure)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("hash_workers", &self.hash_workers)
            .field("hash_queue", &self.hash_queue)
            .field("db_pool_size", &self.db_pool_size)
            .finish()
    }
}

/// A URL with any password replaced by `***`.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let config = Config::from_sources(None, &BTreeMap::new()).expect("defaults load");
        assert_eq!(config.database_url, "sqlite://portcullis.db");
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.public_url.as_str(), "http://localhost:8080/");
        assert_eq!(config.allowed_origins, vec!["http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"]);
        assert_eq!((config.access_ttl_secs, config.refresh_ttl_secs), (900, 604_800));
        assert_eq!((config.session_max_secs, config.refresh_grace_secs, config.bcrypt_cost), (2_592_000, 10, 12));
        assert!(config.cookie_secure);
    }

    #[test]
    fn environment_beats_file_beats_defaults() {
        let file = "bcrypt_cost = 10\naudience = \"from-file\"\nallowed_origins = [\"https://a.example\", \"https://b.example\"]\n";
        let config = Config::from_sources(Some(file), &env(&[("PORTCULLIS_BCRYPT_COST", "4")])).expect("loads");
        assert_eq!(config.bcrypt_cost, 4);
        assert_eq!(config.audience, "from-file");
        assert_eq!(config.allowed_origins, vec!["https://a.example", "https://b.example"]);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("PORTCULLIS_BCRYPT_COST", "3"),
            ("PORTCULLIS_BCRYPT_COST", "twelve"),
            ("PORTCULLIS_PUBLIC_URL", "not a url"),
            ("PORTCULLIS_COOKIE_SECURE", "maybe"),
            ("PORTCULLIS_DATABASE_URL", "mysql://x"),
            ("PORTCULLIS_MIN_PASSWORD_SCORE", "5"),
            ("PORTCULLIS_ALLOWED_ORIGINS", "https://a.example/path"),
            ("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/99"),
            ("PORTCULLIS_LOG_FORMAT", "xml"),
        ] {
            let error = Config::from_sources(None, &env(&[(name, value)])).expect_err(name);
            assert_eq!(error.variable, name, "{value}");
            assert!(error.to_string().starts_with(name));
        }
        let error = Config::from_sources(Some("nonsense_key = 1"), &BTreeMap::new()).expect_err("unknown key");
        assert_eq!(error.variable, "nonsense_key");
    }

    #[test]
    fn debug_redacts_passwords_in_urls() {
        let config = Config::from_sources(
            None,
            &env(&[
                ("PORTCULLIS_DATABASE_URL", "postgres://app:s3cret@db/portcullis"),
                ("PORTCULLIS_SMTP_URL", "smtp://mailer:hunter2@mail.example:587"),
            ]),
        )
        .expect("loads");
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret") && !printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn public_url_sets_default_origins() {
        let config =
            Config::from_sources(None, &env(&[("PORTCULLIS_PUBLIC_URL", "https://auth.example.com/")])).expect("loads");
        assert_eq!(config.allowed_origins, vec!["https://auth.example.com"]);
    }
}
