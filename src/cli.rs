//! The command line: `serve` (default), `migrate`, `user create|list|set-roles`, `keys rotate`,
//! `config check`.

use std::io::BufRead;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};
use portcullis_application::ports::UserQuery;
use portcullis_application::{SignupCommand, SignupError};
use portcullis_domain::{Email, Role, Roles, SecretString};
use portcullis_service::Service;

use crate::config::Config;

const ENV_HELP: &str = "Configuration comes from defaults, then portcullis.toml (or the file in PORTCULLIS_CONFIG), \
then PORTCULLIS_* environment variables. Most used: PORTCULLIS_DATABASE_URL (sqlite://portcullis.db or postgres://…), \
PORTCULLIS_BIND (127.0.0.1:8080), PORTCULLIS_PUBLIC_URL (http://localhost:8080), PORTCULLIS_BCRYPT_COST (12). \
See the README for the full table.";

/// Portcullis: an authentication service.
#[derive(Parser, Debug)]
#[command(name = "portcullis", version, about, after_help = ENV_HELP)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database if needed, then serve HTTP on PORTCULLIS_BIND.
    #[command(after_help = "Every PORTCULLIS_* variable matters here; `portcullis config check` prints them. \
The ones to set in production: PORTCULLIS_DATABASE_URL, PORTCULLIS_BIND, PORTCULLIS_PUBLIC_URL \
(the issuer and the base of mailed links), PORTCULLIS_ALLOWED_ORIGINS, PORTCULLIS_TRUSTED_PROXIES, \
PORTCULLIS_SMTP_URL and PORTCULLIS_MAIL_FROM. Stops gracefully on SIGTERM or SIGINT (in-flight \
requests get 10 s, mail due now 10 s more; mail waiting for a retry stays in the database).")]
    Serve,
    /// Apply pending database migrations (PORTCULLIS_DATABASE_URL) and exit.
    #[command(after_help = "Variables: PORTCULLIS_DATABASE_URL. `serve` migrates by itself; this is for \
deployments that migrate as a separate step.")]
    Migrate,
    /// Manage users directly in the database.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the JWT signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `portcullis config …`
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment merged) with secrets
    /// redacted, and exit non-zero if any value is bad.
    #[command(after_help = "Reads every PORTCULLIS_* variable and PORTCULLIS_CONFIG (the TOML file; \
default ./portcullis.toml). Passwords in URLs print as ***.")]
    Check,
}

/// `portcullis user …`
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is asked for (no echo) on a terminal, else it is the first
    /// line of standard input. Same rules as signup,
    /// the password policy included (PORTCULLIS_MIN_PASSWORD_SCORE).
    #[command(after_help = "Variables: PORTCULLIS_DATABASE_URL, PORTCULLIS_BCRYPT_COST, \
PORTCULLIS_MIN_PASSWORD_SCORE, and for the verification mail PORTCULLIS_PUBLIC_URL, \
PORTCULLIS_MAIL_DIR or PORTCULLIS_SMTP_URL, PORTCULLIS_MAIL_FROM.\n\n\
Example: echo 'Trellis-Quartz-Harbor-48' | portcullis user create --email root@example.com --name Root --admin")]
    Create {
        /// Login address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Also give the user the `admin` role.
        #[arg(long)]
        admin: bool,
    },
    /// List users, oldest first: id, email, name, roles, and whether each is verified or disabled.
    #[command(after_help = "Variables: PORTCULLIS_DATABASE_URL.")]
    List {
        /// Only users whose email or name contains this (case-insensitive, taken literally).
        #[arg(long, short = 'q', value_name = "TEXT")]
        search: Option<String>,
    },
    /// Replace a user's roles, e.g. `--roles admin,user`. Refused if it would leave no active admin.
    #[command(after_help = "Variables: PORTCULLIS_DATABASE_URL. The user's access tokens show the new roles \
from their next refresh (at most PORTCULLIS_ACCESS_TTL_SECS later); the admin API checks the \
database at once.")]
    SetRoles {
        /// The user's login address.
        #[arg(long)]
        email: String,
        /// The complete new role list, comma-separated (names of a-z, 0-9, '_' and '-').
        #[arg(long, value_delimiter = ',', required = true, value_name = "ROLE,...")]
        roles: Vec<String>,
    },
}

/// `portcullis keys …`
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add a new signing key and make it current. Old tokens stay valid until they expire;
    /// running instances accept the new key at once and sign with it within 30 seconds.
    #[command(after_help = "Variables: PORTCULLIS_DATABASE_URL (every instance on that database shares the keys).")]
    Rotate,
}

/// Runs a non-serving command.
///
/// # Errors
/// Whatever stops it; the message is for the operator.
pub fn run_offline(command: Command, config: &Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => bail!("serve is not an offline command"),
        Command::Migrate => {
            portcullis_service::migrate(config)?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::User(UserCommand::Create { email, name, admin }) => create_user(config, email, name, admin),
        Command::User(UserCommand::List { search }) => list_users(config, search),
        Command::User(UserCommand::SetRoles { email, roles }) => set_roles(config, &email, &roles),
        Command::Config(ConfigCommand::Check) => {
            println!("{}", describe_config(config));
            match portcullis_service::passkeys_status(config) {
                Ok(rp_id) => println!(
                    "# passkeys: on, relying party id {rp_id}, origin {}",
                    config.public_url.origin().ascii_serialization()
                ),
                Err(off) => println!("# {off}"),
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate) => {
            let kid = portcullis_service::rotate_signing_key(config)?;
            println!("new signing key {kid} is current");
            Ok(())
        }
    }
}

fn create_user(config: &Config, email: String, name: String, admin: bool) -> anyhow::Result<()> {
    let password = read_password()?;
    // Built like the server's: the same rules, and the verification mail goes out like a
    // signup's (the worker delivers what is due before exiting; the rest waits in the outbox).
    let service = Service::start(config)?;
    let mut roles = vec![Role::user()];
    if admin {
        roles.push(Role::admin());
    }
    let command = SignupCommand { name, email, password: SecretString::new(password), avatar_url: None };
    let outcome = service.use_cases().signup.handle_with_roles(command, Roles::new(roles));
    if !service.shutdown(std::time::Duration::from_secs(30)) {
        eprintln!("note: the verification mail is not sent yet; it waits in the outbox and a running server sends it");
    }
    match outcome {
        Ok(user) => {
            println!("created user {} <{}> with roles {}", user.user_id, user.email, user.roles.join(","));
            Ok(())
        }
        Err(SignupError::Validation(errors)) => {
            let lines: Vec<String> = errors.errors().iter().map(|e| format!("  {}: {}", e.field, e.message)).collect();
            bail!("invalid input:\n{}", lines.join("\n"))
        }
        Err(SignupError::WeakPassword(weak)) => bail!("password refused as too weak: {weak}"),
        Err(SignupError::EmailTaken) => bail!("a user with this email already exists"),
        Err(SignupError::Port(error)) => Err(error.into()),
    }
}

/// The new user's password: asked for without echo when standard input is a terminal, else
/// the first line of standard input (its line ending stripped).
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Password for the new user: ")
            .context("reading the password from the terminal");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn list_users(config: &Config, search: Option<String>) -> anyhow::Result<()> {
    let units = portcullis_service::units(config)?;
    let mut after = None;
    println!("{:<36}  {:<32}  {:<24}  {:<16}  flags", "id", "email", "name", "roles");
    loop {
        let query = UserQuery { search: search.clone(), after, limit: 100 };
        let page = units.begin_read()?.users().list(&query)?;
        for user in &page {
            let mut flags = Vec::new();
            if user.email_verified {
                flags.push("verified");
            }
            if user.disabled {
                flags.push("disabled");
            }
            println!(
                "{:<36}  {:<32}  {:<24}  {:<16}  {}",
                user.id,
                user.email.as_str(),
                user.name.as_str(),
                user.roles.names().join(","),
                flags.join(",")
            );
        }
        match page.last() {
            Some(last) if page.len() == query.limit => after = Some(last.id),
            _ => return Ok(()),
        }
    }
}

fn set_roles(config: &Config, email: &str, roles: &[String]) -> anyhow::Result<()> {
    let email = Email::parse(email).context("--email")?;
    let roles = Roles::parse(roles.iter().map(|role| role.trim()).filter(|role| !role.is_empty()))
        .map_err(anyhow::Error::msg)
        .context("--roles")?;
    if roles.iter().next().is_none() {
        bail!("--roles: give at least one role");
    }
    let units = portcullis_service::units(config)?;
    let mut unit = units.begin()?;
    let Some(mut user) = unit.users().find_by_email(&email)? else {
        bail!("no user has the email {}", email.as_str());
    };
    let was_admin = user.is_active_admin();
    user.set_roles(roles, Utc::now());
    if was_admin && !user.is_active_admin() && unit.users().count_active_admins()? <= 1 {
        bail!("{} is the last active admin; make another admin first", email.as_str());
    }
    unit.users().update(&user)?;
    unit.commit()?;
    println!(
        "{} now has roles {} (access tokens show it from their next refresh)",
        email.as_str(),
        user.roles.names().join(",")
    );
    Ok(())
}

/// The effective configuration as `PORTCULLIS_*=value` lines, secrets redacted.
pub fn describe_config(config: &Config) -> String {
    use crate::config::{LogFormat, redact_url};
    let lines = [
        ("PORTCULLIS_DATABASE_URL", redact_url(&config.database_url)),
        ("PORTCULLIS_DATABASE_CREATE", config.database_create.to_string()),
        ("PORTCULLIS_BIND", config.bind.clone()),
        ("PORTCULLIS_PUBLIC_URL", config.public_url.to_string()),
        ("PORTCULLIS_ALLOWED_ORIGINS", config.allowed_origins.join(",")),
        ("PORTCULLIS_TRUSTED_PROXIES", config.trusted_proxies.join(",")),
        ("PORTCULLIS_AUDIENCE", config.audience.clone()),
        ("PORTCULLIS_ACCESS_TTL_SECS", config.access_ttl_secs.to_string()),
        ("PORTCULLIS_REFRESH_TTL_SECS", config.refresh_ttl_secs.to_string()),
        ("PORTCULLIS_SESSION_MAX_SECS", config.session_max_secs.to_string()),
        ("PORTCULLIS_REFRESH_GRACE_SECS", config.refresh_grace_secs.to_string()),
        ("PORTCULLIS_REAUTH_SECS", config.reauth_secs.to_string()),
        ("PORTCULLIS_BCRYPT_COST", config.bcrypt_cost.get().to_string()),
        ("PORTCULLIS_MIN_PASSWORD_SCORE", config.min_password_score.get().to_string()),
        ("PORTCULLIS_RATE_LIMIT_PER_MINUTE", config.rate_limit_per_minute.to_string()),
        ("PORTCULLIS_LOCKOUT_THRESHOLD", config.lockout_threshold.to_string()),
        ("PORTCULLIS_LOCKOUT_SECS", config.lockout_secs.to_string()),
        ("PORTCULLIS_MAIL_DIR", config.mail_dir.clone()),
        ("PORTCULLIS_SMTP_URL", config.smtp_url.as_deref().map(redact_url).unwrap_or_default()),
        ("PORTCULLIS_MAIL_FROM", config.mail_sender()),
        ("PORTCULLIS_MAIL_RETRY_SECS", config.mail_retry_secs.to_string()),
        ("PORTCULLIS_COOKIE_SECURE", config.cookie_secure.to_string()),
        ("PORTCULLIS_ADMIN_REQUIRES_MFA", config.admin_requires_mfa.to_string()),
        ("PORTCULLIS_BODY_TIMEOUT_SECS", config.body_timeout_secs.to_string()),
        (
            "PORTCULLIS_ENCRYPTION_KEY",
            if config.encryption_key.is_some() && config.encryption_key_file.is_none() { "[redacted]" } else { "" }
                .to_owned(),
        ),
        ("PORTCULLIS_ENCRYPTION_KEY_FILE", config.encryption_key_file.clone().unwrap_or_default()),
        (
            "PORTCULLIS_ENCRYPTION_KEYS_OLD",
            if config.encryption_keys_old.is_empty() { String::new() } else { "[redacted]".to_owned() },
        ),
        ("PORTCULLIS_LOG", config.log.clone()),
        ("PORTCULLIS_LOG_FORMAT", if config.log_format == LogFormat::Json { "json" } else { "text" }.to_owned()),
        ("PORTCULLIS_HASH_WORKERS", config.hash_workers.to_string()),
        ("PORTCULLIS_HASH_QUEUE", config.hash_queue.to_string()),
        ("PORTCULLIS_DB_POOL_SIZE", config.db_pool_size.to_string()),
    ];
    let mut text = lines.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("\n");
    let ids: Vec<&str> = config.providers.settings.iter().map(|provider| provider.id.as_str()).collect();
    text.push_str(&format!("\nPORTCULLIS_PROVIDERS={}", ids.join(",")));
    for provider in &config.providers.settings {
        let variable = |field: &str| portcullis_service::providers_config::variable(&provider.id, field);
        let fields = [
            ("kind", provider.kind.as_str().to_owned()),
            ("name", provider.name.clone()),
            ("client_id", provider.client_id.clone()),
            ("client_secret", "[redacted]".to_owned()),
            ("issuer", provider.issuer.clone().unwrap_or_default()),
            ("authorize_url", provider.authorize_url.clone().unwrap_or_default()),
            ("token_url", provider.token_url.clone().unwrap_or_default()),
            ("userinfo_url", provider.userinfo_url.clone().unwrap_or_default()),
            ("scopes", provider.scopes.join(" ")),
            (
                "linking",
                if provider.linking == portcullis_domain::LinkingPolicy::VerifiedEmail {
                    "verified_email"
                } else {
                    "explicit"
                }
                .to_owned(),
            ),
        ];
        for (field, value) in fields {
            text.push_str(&format!("\n{}={value}", variable(field)));
        }
    }
    text
}

/// Every problem `portcullis config check` reports beyond a bad value (which stops the
/// configuration from loading at all): the sign-in providers that would be left out.
pub fn config_problems(config: &Config) -> Vec<String> {
    portcullis_service::provider_problems(config)
        .into_iter()
        .map(|problem| {
            format!("{}: {} (this provider is left out; the others work)", problem.variable, problem.message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn config_check_lists_every_variable_and_hides_passwords() {
        let env: BTreeMap<String, String> = [
            ("PORTCULLIS_DATABASE_URL", "postgres://app:s3cret@db.example/portcullis"),
            ("PORTCULLIS_SMTP_URL", "smtp://mailer:hunter2@mail.example:587"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let config = Config::from_sources(None, &env).expect("loads");
        let text = describe_config(&config);
        for variable in crate::config::VARIABLES {
            assert!(text.contains(&format!("{variable}=")), "{variable} listed");
        }
        assert!(!text.contains("s3cret") && !text.contains("hunter2"), "{text}");
        assert!(text.contains("PORTCULLIS_DATABASE_URL=postgres://app:***@db.example/portcullis"), "{text}");
    }
}
