//! Database rows and their conversion to and from domain values. Rows never leave this
//! crate; a stored value that no longer passes the domain rules is reported as corrupt.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use portcullis_application::ports::PortError;
use portcullis_domain::{
    AccountToken, AccountTokenPurpose, ApiKey, ApiKeyId, ApiKeyName, AuthMethod, AuthMethods, AvatarUrl, Email,
    PasswordHash, RefreshToken, RefreshTokenHash, Roles, Scopes, SecretHash, Session, SessionId, User, UserId,
    UserName,
};

use super::schema::{account_tokens, api_keys, refresh_tokens, sessions, users};

#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub password_hash: Option<String>,
    pub avatar_url: Option<String>,
    pub roles: String,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = sessions)]
pub(crate) struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// RFC 8176 values, space-separated.
    pub amr: String,
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = refresh_tokens)]
pub(crate) struct RefreshTokenRow {
    pub token_hash: String,
    pub session_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = account_tokens)]
pub(crate) struct AccountTokenRow {
    pub token_hash: String,
    pub user_id: String,
    pub purpose: String,
    pub email: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = api_keys)]
pub(crate) struct ApiKeyRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    /// Space-separated.
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> PortError {
    PortError::internal("stored_row.corrupt", format!("corrupt stored {what}: {error}"))
}

pub(crate) fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

pub(crate) fn naive(time: DateTime<Utc>) -> NaiveDateTime {
    time.naive_utc()
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            name: user.name.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            password_hash: user.password.as_ref().map(|hash| hash.as_stored().to_owned()),
            avatar_url: user.avatar_url.as_ref().map(|url| url.as_str().to_owned()),
            roles: user.roles.names().join(","),
            email_verified: user.email_verified,
            disabled: user.disabled,
            created_at: naive(user.created_at),
            updated_at: naive(user.updated_at),
        }
    }
}

impl TryFrom<UserRow> for User {
    type Error = PortError;

    fn try_from(row: UserRow) -> Result<Self, PortError> {
        Ok(User {
            id: row.id.parse::<UserId>().map_err(|e| corrupt("user id", e))?,
            name: UserName::parse(&row.name).map_err(|e| corrupt("user name", e))?,
            email: Email::parse(&row.email).map_err(|e| corrupt("email", e))?,
            password: row
                .password_hash
                .map(PasswordHash::from_stored)
                .transpose()
                .map_err(|e| corrupt("password hash", e))?,
            // Stored before the rules grew stricter (control characters), an avatar URL that
            // no longer parses is left out rather than making the whole user unreadable.
            avatar_url: row.avatar_url.as_deref().and_then(|raw| {
                AvatarUrl::parse(raw)
                    .inspect_err(|error| tracing::warn!(user_id = %row.id, %error, "stored avatar URL left out"))
                    .ok()
            }),
            roles: Roles::parse(row.roles.split(',').filter(|r| !r.is_empty())).map_err(|e| corrupt("roles", e))?,
            email_verified: row.email_verified,
            disabled: row.disabled,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        })
    }
}

impl From<&Session> for SessionRow {
    fn from(session: &Session) -> Self {
        Self {
            id: session.id.to_string(),
            user_id: session.user_id.to_string(),
            created_at: naive(session.created_at),
            last_used_at: naive(session.last_used_at),
            expires_at: naive(session.expires_at),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            amr: session.methods.iter().map(AuthMethod::claim).collect::<Vec<_>>().join(" "),
        }
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = PortError;

    fn try_from(row: SessionRow) -> Result<Self, PortError> {
        Ok(Session {
            id: row.id.parse::<SessionId>().map_err(|e| corrupt("session id", e))?,
            user_id: row.user_id.parse::<UserId>().map_err(|e| corrupt("session user id", e))?,
            created_at: utc(row.created_at),
            last_used_at: utc(row.last_used_at),
            expires_at: utc(row.expires_at),
            user_agent: row.user_agent,
            ip: row.ip,
            methods: AuthMethods::from_claims(row.amr.split_whitespace()).map_err(|e| corrupt("session amr", e))?,
        })
    }
}

impl From<&RefreshToken> for RefreshTokenRow {
    fn from(token: &RefreshToken) -> Self {
        Self {
            token_hash: token.hash.as_str().to_owned(),
            session_id: token.session_id.to_string(),
            created_at: naive(token.created_at),
            expires_at: naive(token.expires_at),
            used_at: token.used_at.map(naive),
        }
    }
}

impl TryFrom<RefreshTokenRow> for RefreshToken {
    type Error = PortError;

    fn try_from(row: RefreshTokenRow) -> Result<Self, PortError> {
        Ok(RefreshToken {
            hash: RefreshTokenHash::from_stored(row.token_hash),
            session_id: row.session_id.parse::<SessionId>().map_err(|e| corrupt("token session id", e))?,
            created_at: utc(row.created_at),
            expires_at: utc(row.expires_at),
            used_at: row.used_at.map(utc),
        })
    }
}

impl From<&AccountToken> for AccountTokenRow {
    fn from(token: &AccountToken) -> Self {
        Self {
            token_hash: token.hash.as_str().to_owned(),
            user_id: token.user_id.to_string(),
            purpose: token.purpose.as_str().to_owned(),
            email: token.email.clone(),
            created_at: naive(token.created_at),
            expires_at: naive(token.expires_at),
            used_at: token.used_at.map(naive),
        }
    }
}

impl TryFrom<AccountTokenRow> for AccountToken {
    type Error = PortError;

    fn try_from(row: AccountTokenRow) -> Result<Self, PortError> {
        Ok(AccountToken {
            hash: SecretHash::from_stored(row.token_hash),
            user_id: row.user_id.parse::<UserId>().map_err(|e| corrupt("account token user id", e))?,
            purpose: AccountTokenPurpose::parse(&row.purpose)
                .ok_or_else(|| corrupt("account token purpose", &row.purpose))?,
            email: row.email,
            created_at: utc(row.created_at),
            expires_at: utc(row.expires_at),
            used_at: row.used_at.map(utc),
        })
    }
}

impl From<&ApiKey> for ApiKeyRow {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id.to_string(),
            user_id: key.user_id.to_string(),
            name: key.name.as_str().to_owned(),
            prefix: key.prefix.clone(),
            key_hash: key.hash.as_str().to_owned(),
            scopes: key.scopes.names().join(" "),
            created_at: naive(key.created_at),
            expires_at: key.expires_at.map(naive),
            last_used_at: key.last_used_at.map(naive),
        }
    }
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = PortError;

    fn try_from(row: ApiKeyRow) -> Result<Self, PortError> {
        Ok(ApiKey {
            id: row.id.parse::<ApiKeyId>().map_err(|e| corrupt("api key id", e))?,
            user_id: row.user_id.parse::<UserId>().map_err(|e| corrupt("api key user id", e))?,
            name: ApiKeyName::parse(&row.name).map_err(|e| corrupt("api key name", e))?,
            prefix: row.prefix,
            hash: SecretHash::from_stored(row.key_hash),
            scopes: Scopes::parse(row.scopes.split(' ').filter(|s| !s.is_empty()))
                .map_err(|e| corrupt("api key scopes", e))?,
            created_at: utc(row.created_at),
            expires_at: row.expires_at.map(utc),
            last_used_at: row.last_used_at.map(utc),
        })
    }
}
