//! `Set-Cookie` parsing and a minimal browser-like cookie jar (name + path; `Max-Age=0` deletes).
//! Kept by hand rather than reqwest's store so tests can assert every attribute and so
//! `Secure` cookies are sent to `http://127.0.0.1` as curl and browsers do for localhost.

/// One `Set-Cookie` header, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value.
    pub value: String,
    /// Attributes in order, names as sent, values if any.
    pub attributes: Vec<(String, Option<String>)>,
    /// The header as received.
    pub raw: String,
}

impl SetCookie {
    /// Parses `name=value; Attr; Attr=value`.
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let attributes = parts
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| match part.split_once('=') {
                Some((key, value)) => (key.trim().to_owned(), Some(value.trim().to_owned())),
                None => (part.to_owned(), None),
            })
            .collect();
        Some(Self {
            name: name.to_owned(),
            value: value.trim().trim_matches('"').to_owned(),
            attributes,
            raw: header.to_owned(),
        })
    }

    /// The attribute `name` (case-insensitive): `Some(None)` for a flag, `Some(Some(v))` for a value.
    pub fn attribute(&self, name: &str) -> Option<Option<&str>> {
        self.attributes.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_deref())
    }

    /// Whether flag or attribute `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// The value of attribute `name`.
    pub fn value_of(&self, name: &str) -> Option<&str> {
        self.attribute(name).flatten()
    }

    /// `Path`, `/` when absent.
    pub fn path(&self) -> &str {
        self.value_of("Path").unwrap_or("/")
    }

    /// `Max-Age` as a number.
    pub fn max_age(&self) -> Option<i64> {
        self.value_of("Max-Age").map(|raw| raw.parse().unwrap_or_else(|_| panic!("Max-Age {raw:?} is a number")))
    }

    /// Whether this header deletes the cookie (`Max-Age` ≤ 0).
    pub fn deletes(&self) -> bool {
        self.max_age().is_some_and(|age| age <= 0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct StoredCookie {
    name: String,
    value: String,
    path: String,
}

/// Cookies held by one client.
#[derive(Clone, Debug, Default)]
pub struct CookieJar {
    cookies: Vec<StoredCookie>,
}

fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    let request_path = request_path.split('?').next().unwrap_or(request_path);
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

impl CookieJar {
    /// Applies a `Set-Cookie`: stores or replaces the cookie, or deletes it.
    pub fn store(&mut self, cookie: &SetCookie) {
        let path = cookie.path().to_owned();
        self.cookies.retain(|held| !(held.name == cookie.name && held.path == path));
        if !cookie.deletes() {
            self.cookies.push(StoredCookie { name: cookie.name.clone(), value: cookie.value.clone(), path });
        }
    }

    /// Puts a cookie in by hand.
    pub fn insert(&mut self, name: &str, value: &str, path: &str) {
        self.cookies.retain(|held| !(held.name == name && held.path == path));
        self.cookies.push(StoredCookie { name: name.to_owned(), value: value.to_owned(), path: path.to_owned() });
    }

    /// The value of the cookie `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|held| held.name == name).map(|held| held.value.as_str())
    }

    /// Names of the cookies held, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.cookies.iter().map(|held| held.name.clone()).collect();
        names.sort();
        names
    }

    /// The `Cookie` header a browser would send to `path`, if any cookie applies.
    pub fn header_for(&self, path: &str) -> Option<String> {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|held| path_matches(&held.path, path))
            .map(|held| format!("{}={}", held.name, held.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attributes_and_paths() {
        let cookie =
            SetCookie::parse("refresh_token=abc; HttpOnly; Secure; SameSite=Strict; Path=/api/auth; Max-Age=60")
                .expect("parses");
        assert_eq!((cookie.name.as_str(), cookie.value.as_str()), ("refresh_token", "abc"));
        assert!(cookie.has("httponly") && cookie.has("Secure") && !cookie.has("Domain"));
        assert_eq!(cookie.value_of("samesite"), Some("Strict"));
        assert_eq!((cookie.path(), cookie.max_age()), ("/api/auth", Some(60)));

        let mut jar = CookieJar::default();
        jar.store(&cookie);
        assert!(jar.header_for("/api/auth/refresh").is_some());
        assert!(jar.header_for("/api/authx").is_none());
        assert!(jar.header_for("/").is_none());
        jar.store(&SetCookie::parse("refresh_token=; Path=/api/auth; Max-Age=0").expect("parses"));
        assert!(jar.get("refresh_token").is_none());
    }
}
