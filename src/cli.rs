//! The command line: `serve` (default), `migrate`, `user create`, `keys rotate`.

use std::io::BufRead;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};
use portcullis_application::ports::{InlinePasswordHasher, StrengthPasswordPolicy, SystemClock};
use portcullis_application::{SignupCommand, SignupError, SignupHandler, SignupUseCase};
use portcullis_domain::{BcryptCost, MinPasswordScore, Role, Roles, SecretString};
use portcullis_infrastructure::persistence::DieselUnitOfWorkFactory;
use portcullis_infrastructure::tokens::rotate_signing_key;
use std::sync::Arc;

use crate::config::Config;
use crate::server;

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
    Serve,
    /// Apply pending database migrations (PORTCULLIS_DATABASE_URL) and exit.
    Migrate,
    /// Manage users directly in the database.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the JWT signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `portcullis user …`
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is the first line of standard input. Same rules as signup,
    /// the password policy included (PORTCULLIS_MIN_PASSWORD_SCORE).
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
}

/// `portcullis keys …`
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add a new signing key and make it current. Old tokens stay valid until they expire;
    /// running instances accept the new key at once and sign with it within 30 seconds.
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
            server::open_database(config)?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::User(UserCommand::Create { email, name, admin }) => create_user(config, email, name, admin),
        Command::Keys(KeysCommand::Rotate) => {
            let pool = server::open_database(config)?;
            let kid = rotate_signing_key(&pool, Utc::now())?;
            println!("new signing key {kid} is current");
            Ok(())
        }
    }
}

fn create_user(config: &Config, email: String, name: String, admin: bool) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    let pool = server::open_database(config)?;
    let cost = BcryptCost::new(config.bcrypt_cost).context("PORTCULLIS_BCRYPT_COST")?;
    let min_score = MinPasswordScore::new(config.min_password_score).context("PORTCULLIS_MIN_PASSWORD_SCORE")?;
    let handler = SignupHandler::new(
        Arc::new(DieselUnitOfWorkFactory::new(pool)),
        Arc::new(InlinePasswordHasher::new(cost)?),
        Arc::new(StrengthPasswordPolicy::new(min_score)),
        Arc::new(SystemClock),
    );
    let mut roles = vec![Role::user()];
    if admin {
        roles.push(Role::admin());
    }
    let command = SignupCommand { name, email, password: SecretString::new(password), avatar_url: None };
    match handler.handle_with_roles(command, Roles::new(roles)) {
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
