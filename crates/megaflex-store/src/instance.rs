//! One daemon per SQLite store, and a store only its owner can read.
//!
//! Two daemons on one database both decide, collide on intent ids and fight
//! over the rate; `megaflex resume` writing behind a live daemon is
//! overwritten by it. So the daemon takes an exclusive `flock` on
//! `<database>.lock` for as long as it runs. The kernel drops the lock when
//! the process dies, by SIGKILL too, so a crash never leaves a stale lock
//! behind (unlike a pid file). The holder's pid, host and start time are
//! kept in the `instance` table so the refusal can name it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use megaport_types::EpochMillis;
use serde::Serialize;

/// The daemon that holds a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When it started.
    pub started_at: EpochMillis,
    /// Its megaflex version.
    pub version: String,
}

impl Holder {
    /// This process.
    pub fn this_process() -> Self {
        Self {
            pid: std::process::id(),
            host: host_name(),
            started_at: EpochMillis::now(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "megaflex {} pid {} on {} since {}", self.version, self.pid, self.host, self.started_at)
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Why a store could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another process holds the store's lock.
    #[error(
        "store {path} is in use by {}: one daemon per store (stop it first, or give this one its own [store] url)",
        holder.as_ref().map_or_else(|| "another megaflex process".to_owned(), ToString::to_string)
    )]
    InUse {
        /// The database file.
        path: PathBuf,
        /// Who, when the store says.
        holder: Option<Holder>,
    },
    /// The lock file or the store itself cannot be used.
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

impl ClaimError {
    /// Whether another process holds the store.
    pub fn is_in_use(&self) -> bool {
        matches!(self, Self::InUse { .. })
    }
}

/// `<database>.lock`.
pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the exclusive lock without waiting. `Ok(None)`: someone holds it.
pub(crate) fn try_lock(db: &Path) -> io::Result<Option<File>> {
    let file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(lock_path(db))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Creates the state directory (0700) and the database file (0600) if
/// missing. The modes are set explicitly: a umask of 022 would otherwise
/// leave the audit trail (circuits, incidents, API trace ids) readable by
/// every local user. SQLite gives `-wal` and `-shm` the database's mode.
pub(crate) fn create_owner_only(db: &Path) -> io::Result<()> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(db) {
        Ok(_) => std::fs::set_permissions(db, std::fs::Permissions::from_mode(0o600)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
