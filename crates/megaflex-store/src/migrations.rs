//! The schema migrations, embedded in the binary.
//!
//! Built by hand instead of with `sqlx::migrate!()`: the macro lives in
//! `sqlx-macros`, whose SQLite feature compiles a second, host-side copy of
//! SQLite and sqlx into every cold build. The versions, descriptions and SQL
//! are exactly what the macro produced from `migrations/`, so databases
//! migrated by earlier releases verify against the same checksums (a test
//! below opens the files and compares).

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, sql)` in order; the description is the file name
/// after the version with `_` as spaces, as `migrate!()` derives it.
pub(crate) const SQLITE: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "servicenow", include_str!("../migrations/0002_servicenow.sql")),
    (3, "snmp engine", include_str!("../migrations/0003_snmp_engine.sql")),
    (4, "instance", include_str!("../migrations/0004_instance.sql")),
];

/// The PostgreSQL schema, from `migrations/postgres/`: the same tables in
/// PostgreSQL's types, started afresh (no PostgreSQL store predates them).
pub(crate) const POSTGRES: &[(i64, &str, &str)] = &[(1, "init", include_str!("../migrations/postgres/0001_init.sql"))];

pub(crate) fn migrator(migrations: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `migrations/` is embedded under the version and
    /// description `migrate!()` gave it, and nothing else is.
    #[test]
    fn embedded_migrations_match_the_directory() {
        assert_matches_directory("migrations", SQLITE);
    }

    /// The same for PostgreSQL's `migrations/postgres/`.
    #[test]
    fn embedded_postgres_migrations_match_the_directory() {
        assert_matches_directory("migrations/postgres", POSTGRES);
    }

    fn assert_matches_directory(dir: &str, list: &[(i64, &str, &str)]) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .map(|path| {
                let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
                let (version, description) = stem.split_once('_').unwrap();
                (version.parse().unwrap(), description.replace('_', " "), std::fs::read_to_string(&path).unwrap())
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> =
            list.iter().map(|&(v, d, s)| (v, d.to_owned(), s.to_owned())).collect();
        assert_eq!(embedded, files);
    }
}
