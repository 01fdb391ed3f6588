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
