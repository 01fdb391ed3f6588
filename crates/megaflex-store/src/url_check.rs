//! Which store a `[store] url` names, and whether a PostgreSQL URL is
//! acceptable. Shared by the store and `megaflex check`, so the file is
//! refused with its line and column before anything connects.

/// The kinds of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `sqlite://PATH` (or `sqlite:PATH`).
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
}

impl StoreKind {
    /// The kind `url` names, by its scheme.
    pub fn of(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            _ => None,
        }
    }
}

/// Why a PostgreSQL URL cannot be used, in words that never repeat the URL
/// (it may carry the very password it is refused for), or `None`.
pub fn postgres_url_problem(url: &str) -> Option<String> {
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Some(format!("not a PostgreSQL URL ({e}): write postgres://USER@HOST:PORT/DATABASE")),
    };
    if parsed.password().is_some() || parsed.query_pairs().any(|(k, _)| k == "password") {
        return Some(
            "the PostgreSQL URL carries a password: remove it, and name the environment variable that holds it \
             with password_env (e.g. password_env = \"MEGAFLEX_PG_PASSWORD\")"
                .into(),
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) && !parsed.query_pairs().any(|(k, _)| k == "host") {
        return Some("the PostgreSQL URL names no host: write postgres://USER@HOST:PORT/DATABASE".into());
    }
    if parsed.path().trim_start_matches('/').is_empty() && !parsed.query_pairs().any(|(k, _)| k == "dbname") {
        return Some("the PostgreSQL URL names no database: write postgres://USER@HOST:PORT/DATABASE".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_scheme() {
        assert_eq!(StoreKind::of("sqlite://megaflex.db"), Some(StoreKind::Sqlite));
        assert_eq!(StoreKind::of("postgres://u@h/db"), Some(StoreKind::Postgres));
        assert_eq!(StoreKind::of("PostgreSQL://u@h/db"), Some(StoreKind::Postgres));
        assert_eq!(StoreKind::of("mysql://u@h/db"), None);
        assert_eq!(StoreKind::of("megaflex.db"), None);
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_repeating_it() {
        for url in ["postgres://u:hunter2@h:5432/db", "postgres://u@h/db?password=hunter2"] {
            let why = postgres_url_problem(url).expect(url);
            assert!(why.contains("password_env") && !why.contains("hunter2"), "{why}");
        }
        assert_eq!(postgres_url_problem("postgres://megaflex@db.example:5432/megaflex"), None);
        assert_eq!(postgres_url_problem("postgres://megaflex@db.example/megaflex?sslmode=require"), None);
        assert!(postgres_url_problem("postgres://megaflex@db.example:5432/").unwrap().contains("no database"));
    }
}
