//! Configuration: defaults, then an optional TOML file (`portcullis.toml`, or the path in
//! `PORTCULLIS_CONFIG`), then `PORTCULLIS_*` environment variables, later winning.
//! A bad value stops start-up with a message naming the variable.
//!
//! [`figment`] reads the file and layers the environment over it. Every value, whatever its
//! TOML type, is then read as text (a list joins its items with commas), trimmed, and checked
//! once into its type; an empty value means the default, even over a value in the file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use figment::providers::{Data, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use portcullis_domain::SecretString;
use url::Url;

/// The types of [`Config::bcrypt_cost`] and [`Config::min_password_score`], here for callers
/// that do not depend on `portcullis-domain`.
pub use portcullis_domain::{BcryptCost, MinPasswordScore};

use crate::providers_config::{ProvidersConfig, read_providers};

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
    /// `PORTCULLIS_REAUTH_SECS`: how recent a sign-in must be for a user without a password
    /// to delete the account or set a first password.
    pub reauth_secs: u64,
    /// `PORTCULLIS_BCRYPT_COST`: 4..=31.
    pub bcrypt_cost: BcryptCost,
    /// `PORTCULLIS_MIN_PASSWORD_SCORE`: 0..=4.
    pub min_password_score: MinPasswordScore,
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
    /// `PORTCULLIS_ADMIN_REQUIRES_MFA`: the admin API only for sessions signed in with two factors.
    pub admin_requires_mfa: bool,
    /// `PORTCULLIS_BODY_TIMEOUT_SECS`: how long a request body may take to arrive (1..=300).
    pub body_timeout_secs: u64,
    /// `PORTCULLIS_MAIL_RETRY_SECS`: how long a mail that cannot be delivered is retried
    /// before it is given up on (1..=2592000, default 86400: 24 hours).
    pub mail_retry_secs: u64,
    /// `PORTCULLIS_DATABASE_CREATE`: whether a missing SQLite file or an empty database may
    /// be set up as a new one (default `true`, the zero-setup start; set `false` in
    /// production so a wrong URL or a lost file stops the start instead).
    pub database_create: bool,
    /// `PORTCULLIS_ENCRYPTION_KEY` (or the content of `PORTCULLIS_ENCRYPTION_KEY_FILE`): 32
    /// random bytes in base64 that seal the secrets kept in the database (signing keys, TOTP
    /// secrets); `None`: they are stored in the clear (warned at start).
    pub encryption_key: Option<SecretString>,
    /// `PORTCULLIS_ENCRYPTION_KEY_FILE`: the file the key was read from, if it came from one
    /// (a path, not a secret).
    pub encryption_key_file: Option<String>,
    /// `PORTCULLIS_ENCRYPTION_KEYS_OLD`: comma-separated earlier keys, which still open what
    /// they sealed (at start it is sealed again with the current key).
    pub encryption_keys_old: Vec<SecretString>,
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
    /// `PORTCULLIS_PROVIDERS` and `PORTCULLIS_PROVIDER_X_*` (`[providers.x]` in the file): the
    /// upstream sign-in providers, and the problems of those left out.
    pub providers: ProvidersConfig,
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
    pub(crate) fn new(variable: &str, message: impl Into<String>) -> Self {
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
            reauth_secs: 600,
            bcrypt_cost: BcryptCost::DEFAULT,
            min_password_score: MinPasswordScore::DEFAULT,
            rate_limit_per_minute: 10,
            lockout_threshold: 5,
            lockout_secs: 900,
            mail_dir: "./mail".into(),
            smtp_url: None,
            mail_from: None,
            cookie_secure: true,
            admin_requires_mfa: false,
            body_timeout_secs: 10,
            mail_retry_secs: 86_400,
            database_create: true,
            encryption_key: None,
            encryption_key_file: None,
            encryption_keys_old: Vec::new(),
            log: "info".into(),
            log_format: LogFormat::Text,
            hash_workers: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            hash_queue: 64,
            db_pool_size: 10,
            providers: ProvidersConfig::default(),
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
    "PORTCULLIS_DATABASE_CREATE",
    "PORTCULLIS_BIND",
    "PORTCULLIS_PUBLIC_URL",
    "PORTCULLIS_ALLOWED_ORIGINS",
    "PORTCULLIS_TRUSTED_PROXIES",
    "PORTCULLIS_AUDIENCE",
    "PORTCULLIS_ACCESS_TTL_SECS",
    "PORTCULLIS_REFRESH_TTL_SECS",
    "PORTCULLIS_SESSION_MAX_SECS",
    "PORTCULLIS_REFRESH_GRACE_SECS",
    "PORTCULLIS_REAUTH_SECS",
    "PORTCULLIS_BCRYPT_COST",
    "PORTCULLIS_MIN_PASSWORD_SCORE",
    "PORTCULLIS_RATE_LIMIT_PER_MINUTE",
    "PORTCULLIS_LOCKOUT_THRESHOLD",
    "PORTCULLIS_LOCKOUT_SECS",
    "PORTCULLIS_MAIL_DIR",
    "PORTCULLIS_SMTP_URL",
    "PORTCULLIS_MAIL_FROM",
    "PORTCULLIS_MAIL_RETRY_SECS",
    "PORTCULLIS_COOKIE_SECURE",
    "PORTCULLIS_ADMIN_REQUIRES_MFA",
    "PORTCULLIS_BODY_TIMEOUT_SECS",
    "PORTCULLIS_ENCRYPTION_KEY",
    "PORTCULLIS_ENCRYPTION_KEY_FILE",
    "PORTCULLIS_ENCRYPTION_KEYS_OLD",
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
        let all_env = env;
        let mut layers = Figment::new();
        if let Some(text) = file {
            layers = layers.merge(FileLayer(Toml::string(text)));
        }
        let env: BTreeMap<String, &str> = env
            .iter()
            .filter(|(name, _)| VARIABLES.contains(&name.as_str()))
            .map(|(name, value)| (key(name), value.as_str()))
            .collect();
        let mut layered: Dict = layers
            .merge(Serialized::from(env, Profile::Default))
            .extract()
            .map_err(|e| ConfigError::new("config file", e.kind.to_string().trim_end()))?;
        let file_providers = layered.remove("providers");
        if let Some(unknown) = layered.keys().find(|k| !VARIABLES.iter().any(|v| key(v) == **k)) {
            return Err(ConfigError::new(unknown, "unknown setting in the config file"));
        }
        let mut values = BTreeMap::new();
        for variable in VARIABLES {
            if let Some(value) = layered.get(&key(variable)) {
                let text = text(value).ok_or_else(|| ConfigError::new(variable, "must be text, a number or a list"))?;
                if !text.trim().is_empty() {
                    values.insert(*variable, text.trim().to_owned());
                }
            }
        }
        let mut config = Self::from_values(&values)?;
        config.providers = read_providers(file_providers.as_ref(), all_env);
        Ok(config)
    }

    /// Checks the set values (trimmed, none empty), in the order of [`VARIABLES`].
    fn from_values(values: &BTreeMap<&str, String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let get = |name: &str| values.get(name).map(String::as_str);

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
        config.reauth_secs = number(values, "PORTCULLIS_REAUTH_SECS", config.reauth_secs, 0..=86_400)?;
        config.bcrypt_cost = checked(values, "PORTCULLIS_BCRYPT_COST", config.bcrypt_cost, BcryptCost::new)?;
        config.min_password_score =
            checked(values, "PORTCULLIS_MIN_PASSWORD_SCORE", config.min_password_score, MinPasswordScore::new)?;
        config.rate_limit_per_minute =
            number(values, "PORTCULLIS_RATE_LIMIT_PER_MINUTE", config.rate_limit_per_minute, 0..=1_000_000)?;
        config.lockout_threshold = number(values, "PORTCULLIS_LOCKOUT_THRESHOLD", config.lockout_threshold, 0..=1000)?;
        config.lockout_secs = number(values, "PORTCULLIS_LOCKOUT_SECS", config.lockout_secs, 1..=31_536_000)?;
        config.hash_workers = number(values, "PORTCULLIS_HASH_WORKERS", config.hash_workers, 1..=256)?;
        config.hash_queue = number(values, "PORTCULLIS_HASH_QUEUE", config.hash_queue, 1..=100_000)?;
        config.db_pool_size = number(values, "PORTCULLIS_DB_POOL_SIZE", config.db_pool_size, 1..=1000)?;
        config.body_timeout_secs = number(values, "PORTCULLIS_BODY_TIMEOUT_SECS", config.body_timeout_secs, 1..=300)?;
        config.mail_retry_secs = number(values, "PORTCULLIS_MAIL_RETRY_SECS", config.mail_retry_secs, 1..=2_592_000)?;
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
            config.cookie_secure = flag(raw, "PORTCULLIS_COOKIE_SECURE")?;
        }
        if let Some(raw) = get("PORTCULLIS_ADMIN_REQUIRES_MFA") {
            config.admin_requires_mfa = flag(raw, "PORTCULLIS_ADMIN_REQUIRES_MFA")?;
        }
        if let Some(raw) = get("PORTCULLIS_DATABASE_CREATE") {
            config.database_create = flag(raw, "PORTCULLIS_DATABASE_CREATE")?;
        }
        read_encryption_keys(&mut config, &get)?;
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

/// A yes/no value.
fn flag(raw: &str, variable: &str) -> Result<bool, ConfigError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(variable, "must be true or false")),
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

/// The figment key of a variable: `PORTCULLIS_BCRYPT_COST` is `bcrypt_cost`.
fn key(variable: &str) -> String {
    variable.strip_prefix("PORTCULLIS_").unwrap_or(variable).to_lowercase()
}

/// A value as text: a string as it is, a list as its items joined with commas, anything
/// else as TOML writes it (`12`, `true`). `None` for what TOML cannot write.
fn text(value: &Value) -> Option<String> {
    let toml = toml::Value::try_from(value).ok()?;
    Some(match toml {
        toml::Value::String(s) => s,
        toml::Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).unwrap_or_else(|| item.to_string()))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    })
}

/// The TOML file as a figment layer, its keys matched to [`VARIABLES`] whatever their case
/// (`BCRYPT_COST` is `bcrypt_cost`); other keys are kept as written, to be reported.
struct FileLayer(Data<Toml>);

impl Provider for FileLayer {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.0.data()?;
        for dict in data.values_mut() {
            *dict = std::mem::take(dict)
                .into_iter()
                .map(|(file_key, value)| {
                    let variable = format!("PORTCULLIS_{}", file_key.to_uppercase());
                    let known = VARIABLES.contains(&variable.as_str());
                    (if known { key(&variable) } else { file_key }, value)
                })
                .collect();
        }
        Ok(data)
    }
}

/// A whole number in `range`, or `default` when unset.
fn number<T>(
    values: &BTreeMap<&str, String>,
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    checked(values, name, default, |value: T| {
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(format!("must be between {} and {}", range.start(), range.end()))
        }
    })
}

/// A whole number made into its type by `check`, or `default` when unset.
fn checked<N, T, E>(
    values: &BTreeMap<&str, String>,
    name: &str,
    default: T,
    check: impl FnOnce(N) -> Result<T, E>,
) -> Result<T, ConfigError>
where
    N: std::str::FromStr,
    E: fmt::Display,
{
    let Some(raw) = values.get(name) else {
        return Ok(default);
    };
    let value: N = raw.parse().map_err(|_| ConfigError::new(name, format!("'{raw}' is not a whole number")))?;
    check(value).map_err(|e| ConfigError::new(name, e.to_string()))
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
            .field("reauth_secs", &self.reauth_secs)
            .field("bcrypt_cost", &self.bcrypt_cost.get())
            .field("min_password_score", &self.min_password_score.get())
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("lockout_threshold", &self.lockout_threshold)
            .field("lockout_secs", &self.lockout_secs)
            .field("mail_dir", &self.mail_dir)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("cookie_secure", &self.cookie_secure)
            .field("admin_requires_mfa", &self.admin_requires_mfa)
            .field("body_timeout_secs", &self.body_timeout_secs)
            .field("mail_retry_secs", &self.mail_retry_secs)
            .field("database_create", &self.database_create)
            .field("encryption_key", &self.encryption_key)
            .field("encryption_key_file", &self.encryption_key_file)
            .field("encryption_keys_old", &self.encryption_keys_old.len())
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("hash_workers", &self.hash_workers)
            .field("hash_queue", &self.hash_queue)
            .field("db_pool_size", &self.db_pool_size)
            .field("providers", &self.providers)
            .finish()
    }
}

/// The encryption keys: `PORTCULLIS_ENCRYPTION_KEY` or the file named by
/// `PORTCULLIS_ENCRYPTION_KEY_FILE` (not both), and `PORTCULLIS_ENCRYPTION_KEYS_OLD`; each
/// must be base64 of 32 bytes.
fn read_encryption_keys<'a>(config: &mut Config, get: &impl Fn(&str) -> Option<&'a str>) -> Result<(), ConfigError> {
    let check = |variable: &str, key: SecretString| {
        portcullis_infrastructure::sealing::SecretSealer::new(Some(&key), &[])
            .map(|_| key)
            .map_err(|error| ConfigError::new(variable, error.to_string()))
    };
    match (get("PORTCULLIS_ENCRYPTION_KEY"), get("PORTCULLIS_ENCRYPTION_KEY_FILE")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "PORTCULLIS_ENCRYPTION_KEY_FILE",
                "set either PORTCULLIS_ENCRYPTION_KEY or PORTCULLIS_ENCRYPTION_KEY_FILE, not both",
            ));
        }
        (Some(key), None) => {
            config.encryption_key = Some(check("PORTCULLIS_ENCRYPTION_KEY", SecretString::new(key.trim()))?);
        }
        (None, Some(path)) => {
            let key = std::fs::read_to_string(path).map_err(|error| {
                ConfigError::new("PORTCULLIS_ENCRYPTION_KEY_FILE", format!("cannot read {path}: {error}"))
            })?;
            config.encryption_key = Some(check("PORTCULLIS_ENCRYPTION_KEY_FILE", SecretString::new(key.trim()))?);
            config.encryption_key_file = Some(path.to_owned());
        }
        (None, None) => {}
    }
    if let Some(old) = get("PORTCULLIS_ENCRYPTION_KEYS_OLD") {
        config.encryption_keys_old = old
            .split(',')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(|key| check("PORTCULLIS_ENCRYPTION_KEYS_OLD", SecretString::new(key)))
            .collect::<Result<_, _>>()?;
    }
    Ok(())
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
        assert_eq!((config.session_max_secs, config.refresh_grace_secs), (2_592_000, 10));
        assert_eq!((config.bcrypt_cost.get(), config.min_password_score.get()), (12, 3));
        assert!(config.cookie_secure);
    }

    #[test]
    fn encryption_keys_are_checked_and_never_shown() {
        let good = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let config = Config::from_sources(None, &env(&[("PORTCULLIS_ENCRYPTION_KEY", good)])).expect("loads");
        assert_eq!(config.encryption_key.as_ref().map(SecretString::expose), Some(good));
        assert!(!format!("{config:?}").contains(good), "redacted in Debug");
        let short = Config::from_sources(None, &env(&[("PORTCULLIS_ENCRYPTION_KEY", "c2hvcnQ=")]));
        assert_eq!(short.map(|_| ()).map_err(|e| e.variable), Err("PORTCULLIS_ENCRYPTION_KEY".to_owned()));
        let old = Config::from_sources(None, &env(&[("PORTCULLIS_ENCRYPTION_KEYS_OLD", &format!("{good}, nope"))]));
        assert_eq!(old.map(|_| ()).map_err(|e| e.variable), Err("PORTCULLIS_ENCRYPTION_KEYS_OLD".to_owned()));
        let dir = std::env::temp_dir().join(format!("portcullis-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a dir");
        let file = dir.join("key");
        std::fs::write(&file, format!("{good}\n")).expect("writes");
        let path = file.display().to_string();
        let from_file =
            Config::from_sources(None, &env(&[("PORTCULLIS_ENCRYPTION_KEY_FILE", &path)])).expect("reads the file");
        assert_eq!(from_file.encryption_key.as_ref().map(SecretString::expose), Some(good));
        let both = Config::from_sources(
            None,
            &env(&[("PORTCULLIS_ENCRYPTION_KEY_FILE", &path), ("PORTCULLIS_ENCRYPTION_KEY", good)]),
        );
        assert!(both.is_err(), "one or the other");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn environment_beats_file_beats_defaults() {
        let file = "bcrypt_cost = 10\naudience = \"from-file\"\nallowed_origins = [\"https://a.example\", \"https://b.example\"]\n";
        let config = Config::from_sources(Some(file), &env(&[("PORTCULLIS_BCRYPT_COST", "4")])).expect("loads");
        assert_eq!(config.bcrypt_cost.get(), 4);
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
    fn bad_values_in_the_file_name_the_variable() {
        for (file, name) in [
            ("bcrypt_cost = 3", "PORTCULLIS_BCRYPT_COST"),
            ("bcrypt_cost = \"twelve\"", "PORTCULLIS_BCRYPT_COST"),
            ("cookie_secure = \"maybe\"", "PORTCULLIS_COOKIE_SECURE"),
            ("min_password_score = 5", "PORTCULLIS_MIN_PASSWORD_SCORE"),
            ("trusted_proxies = [\"10.0.0.0/8\", \"nope\"]", "PORTCULLIS_TRUSTED_PROXIES"),
            ("session_max_secs = 600\nrefresh_ttl_secs = 601", "PORTCULLIS_REFRESH_TTL_SECS"),
        ] {
            let error = Config::from_sources(Some(file), &BTreeMap::new()).expect_err(file);
            assert_eq!(error.variable, name, "{file}");
            assert!(error.to_string().starts_with(name), "{error}");
        }
        let error = Config::from_sources(Some("bcrypt_cost = "), &BTreeMap::new()).expect_err("bad TOML");
        assert_eq!(error.variable, "config file");
        assert!(error.message.contains("line 1"), "{error}");
    }

    #[test]
    fn a_bad_value_stops_the_command_line_naming_the_variable() {
        // As tests/api/cli.rs runs the binary: its usual environment plus one bad value.
        let usual = [
            ("PORTCULLIS_DATABASE_URL", "sqlite:///tmp/portcullis-test.db"),
            ("PORTCULLIS_BCRYPT_COST", "4"),
            ("PORTCULLIS_MAIL_DIR", "/tmp/portcullis-mail"),
            ("PORTCULLIS_RATE_LIMIT_PER_MINUTE", "0"),
            ("PORTCULLIS_LOG", "warn"),
        ];
        Config::from_sources(None, &env(&usual)).expect("the usual environment loads");
        for (variable, value) in [("PORTCULLIS_BCRYPT_COST", "3"), ("PORTCULLIS_COOKIE_SECURE", "maybe")] {
            let mut pairs = env(&usual);
            pairs.insert(variable.to_owned(), value.to_owned());
            let error = Config::from_sources(None, &pairs).expect_err(variable);
            assert!(format!("portcullis: configuration error: {error}").contains(variable), "{error}");
        }
    }

    #[test]
    fn bcrypt_cost_and_password_score_are_the_domain_types() {
        let config = Config::from_sources(
            Some("bcrypt_cost = \"31\"\nmin_password_score = 0"),
            &env(&[("PORTCULLIS_MIN_PASSWORD_SCORE", "4")]),
        )
        .expect("loads");
        assert_eq!(config.bcrypt_cost, BcryptCost::new(31).expect("valid"));
        assert_eq!(config.min_password_score, MinPasswordScore::MAX);
        let error = Config::from_sources(None, &env(&[("PORTCULLIS_BCRYPT_COST", "32")])).expect_err("too costly");
        assert_eq!(error.to_string(), "PORTCULLIS_BCRYPT_COST: bcrypt cost must be between 4 and 31");
        let error =
            Config::from_sources(None, &env(&[("PORTCULLIS_MIN_PASSWORD_SCORE", "5")])).expect_err("too strict");
        assert_eq!(error.message, "the minimum password score must be between 0 and 4");
        let error =
            Config::from_sources(None, &env(&[("PORTCULLIS_MIN_PASSWORD_SCORE", "x")])).expect_err("not a number");
        assert_eq!(error.message, "'x' is not a whole number");
    }

    #[test]
    fn file_values_are_read_as_text() {
        let file = "BCRYPT_COST = \" 5 \"\ncookie_secure = \"off\"\ntrusted_proxies = [\"10.0.0.0/8\", \" ::1 \", \"\"]\n\
                    log_format = \"JSON\"\nallowed_origins = \"https://a.example, https://b.example,\"\n";
        let config = Config::from_sources(Some(file), &BTreeMap::new()).expect("loads");
        assert_eq!(config.bcrypt_cost.get(), 5);
        assert!(!config.cookie_secure);
        assert_eq!(config.trusted_proxies, vec!["10.0.0.0/8", "::1"]);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.allowed_origins, vec!["https://a.example", "https://b.example"]);
        let error = Config::from_sources(Some("bcrypt_cost = 10.0"), &BTreeMap::new()).expect_err("not whole");
        assert_eq!(error.to_string(), "PORTCULLIS_BCRYPT_COST: '10.0' is not a whole number");
        let error = Config::from_sources(Some("Nonsense = 1"), &BTreeMap::new()).expect_err("unknown key");
        assert_eq!(error.to_string(), "Nonsense: unknown setting in the config file");
    }

    #[test]
    fn an_empty_value_means_the_default_even_over_the_file() {
        let file = "audience = \"from-file\"\nbcrypt_cost = 10\nallowed_origins = []\npublic_url = \"https://auth.example.com\"";
        let blank = env(&[("PORTCULLIS_AUDIENCE", ""), ("PORTCULLIS_BCRYPT_COST", "  ")]);
        let config = Config::from_sources(Some(file), &blank).expect("loads");
        assert_eq!(config.audience, "portcullis");
        assert_eq!(config.bcrypt_cost, BcryptCost::DEFAULT);
        assert_eq!(config.allowed_origins, vec!["https://auth.example.com"]);
    }

    #[test]
    fn only_known_variables_are_read_from_the_environment() {
        let config = Config::from_sources(None, &env(&[("PORTCULLIS_NONSENSE", "1"), ("PORTCULLIS_CONFIG", "x.toml")]))
            .expect("loads");
        assert_eq!(config, Config::default());
    }

    #[test]
    fn every_numeric_setting_is_read_from_the_environment_and_the_file() {
        let pairs = [("PORTCULLIS_REAUTH_SECS", "5"), ("PORTCULLIS_MAIL_RETRY_SECS", "30")];
        let config = Config::from_sources(None, &env(&pairs)).expect("loads");
        assert_eq!((config.reauth_secs, config.mail_retry_secs), (5, 30));
        let config = Config::from_sources(Some("reauth_secs = 7\nmail_retry_secs = 60\n"), &env(&[])).expect("loads");
        assert_eq!((config.reauth_secs, config.mail_retry_secs), (7, 60));
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
