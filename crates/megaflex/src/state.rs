//! This machine's memory between invocations, in the XDG state directory
//! (`$XDG_STATE_HOME/megaflex`, default `~/.local/state/megaflex`): the
//! service-update ledger and a journal of recent API calls (for `limits`,
//! `doctor` and `support-bundle`). Never holds a secret or a token.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use megaport::types::{EpochMillis, ProductUid};
use megaport::{CallObserver, CallRecord, LedgerFuture, UpdateLedger, UpdateOrigin};
use serde::{Deserialize, Serialize};

/// Journal entries kept.
const JOURNAL_KEEP: usize = 500;
/// Ledger entries older than this are dropped (the rules look back a month).
const LEDGER_KEEP_MS: i64 = 62 * 86_400_000;

#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    pub(crate) path: PathBuf,
}

impl StateDir {
    pub(crate) fn locate() -> Self {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(std::env::temp_dir);
        Self { path: base.join("megaflex") }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn ensure(&self) -> std::io::Result<()> {
        fs::create_dir_all(&self.path)
    }
}

/// Writes `bytes` to `path` through `tmp` (same directory), so that a crash
/// leaves the old file or the new one, never a torn one: the data is on disk
/// before the rename, and the rename is on disk before this returns.
fn write_atomic(path: &Path, tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_temp(tmp, bytes)?;
    commit(tmp, path)
}

/// The first half of [`write_atomic`]: the new contents, owner-only, synced.
fn write_temp(tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // A temp file left by a crash may have other modes: start afresh.
    match fs::remove_file(tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The second half of [`write_atomic`]: the rename, then the directory
/// synced so that the rename survives a power cut.
fn commit(tmp: &Path, path: &Path) -> std::io::Result<()> {
    fs::rename(tmp, path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::File::open(dir)?.sync_all()
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    /// UID -> [(epoch ms, origin)].
    services: BTreeMap<String, Vec<(i64, String)>>,
}

/// The update ledger as a JSON file, re-read on every use so consecutive
/// invocations see each other's updates.
///
/// Writers take an exclusive lock on `ledger.json.lock` for the whole
/// read-modify-write, so concurrent invocations (threads or processes)
/// cannot lose each other's entries; readers need none, as the file is only
/// ever replaced whole by a rename. The lock file is never renamed or
/// removed: a lock on the data file would be on the inode the rename drops.
#[derive(Debug)]
pub(crate) struct FileLedger {
    path: PathBuf,
    lock_path: PathBuf,
    tmp_path: PathBuf,
    dir: StateDir,
}

impl FileLedger {
    pub(crate) fn open(dir: &StateDir) -> Self {
        Self {
            path: dir.file("ledger.json"),
            lock_path: dir.file("ledger.json.lock"),
            // One name is enough: only the lock holder writes it.
            tmp_path: dir.file("ledger.json.tmp"),
            dir: dir.clone(),
        }
    }

    /// The exclusive write lock, released when the file is dropped.
    fn lock(&self) -> std::io::Result<fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        self.dir.ensure()?;
        let file = fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(&self.lock_path)?;
        file.lock()?;
        Ok(file)
    }

    fn load(&self) -> megaport::Result<LedgerFile> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                megaport::Error::Ledger(format!(
                    "{} is damaged ({e}); move it away to start a new ledger",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerFile::default()),
            Err(e) => Err(megaport::Error::Ledger(format!("cannot read {}: {e}", self.path.display()))),
        }
    }

    /// Every service with its updates, for `megaflex limits`.
    pub(crate) fn services(&self) -> megaport::Result<Vec<ProductUid>> {
        Ok(self.load()?.services.into_keys().map(ProductUid::new).collect())
    }
}

impl UpdateLedger for FileLedger {
    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> LedgerFuture<'a, Vec<EpochMillis>> {
        let result = self.load().map(|file| {
            file.services
                .get(uid.as_str())
                .map(|list| list.iter().map(|(t, _)| EpochMillis::from_millis(*t)).filter(|t| *t >= since).collect())
                .unwrap_or_default()
        });
        Box::pin(async move { result })
    }

    fn record<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis, origin: UpdateOrigin) -> LedgerFuture<'a, ()> {
        let result = (|| {
            let _lock = self
                .lock()
                .map_err(|e| megaport::Error::Ledger(format!("cannot lock {}: {e}", self.lock_path.display())))?;
            let mut file = self.load()?;
            let list = file.services.entry(uid.to_string()).or_default();
            list.push((at.as_millis(), origin.as_str().to_owned()));
            list.sort_unstable();
            let cutoff = at.as_millis() - LEDGER_KEEP_MS;
            for list in file.services.values_mut() {
                list.retain(|(t, _)| *t >= cutoff);
            }
            file.services.retain(|_, l| !l.is_empty());
            let bytes = serde_json::to_vec_pretty(&file).map_err(|e| megaport::Error::Ledger(e.to_string()))?;
            write_atomic(&self.path, &self.tmp_path, &bytes)
                .map_err(|e| megaport::Error::Ledger(format!("cannot write {}: {e}", self.path.display())))
        })();
        Box::pin(async move { result })
    }
}

/// Recent API calls, one JSON object per line.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    dir: StateDir,
    write_failed: Mutex<bool>,
}

impl Journal {
    pub(crate) fn open(dir: &StateDir) -> Self {
        let journal = Self { path: dir.file("journal.jsonl"), dir: dir.clone(), write_failed: Mutex::new(false) };
        journal.trim();
        journal
    }

    /// Keeps the file from growing without bound.
    fn trim(&self) {
        let records = self.records();
        if records.len() > JOURNAL_KEEP * 2 {
            let keep = &records[records.len() - JOURNAL_KEEP..];
            let text: String = keep.iter().filter_map(|r| serde_json::to_string(r).ok()).map(|l| l + "\n").collect();
            let tmp = self.path.with_extension(format!("tmp.{}", std::process::id()));
            let _ = write_atomic(&self.path, &tmp, text.as_bytes());
        }
    }

    /// Every readable record, oldest first (a damaged line is skipped).
    pub(crate) fn records(&self) -> Vec<CallRecord> {
        fs::read_to_string(&self.path)
            .map(|text| text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
            .unwrap_or_default()
    }

    /// How long ago each call of the last `window` was made (by wall clock).
    pub(crate) fn recent_call_ages(&self, window: Duration) -> Vec<Duration> {
        let now = EpochMillis::now().as_millis();
        self.records()
            .iter()
            .map(|r| now - r.at.as_millis())
            .filter(|age| *age >= 0 && *age < window.as_millis() as i64)
            .map(|age| Duration::from_millis(age as u64))
            .collect()
    }
}

impl CallObserver for Journal {
    fn on_call(&self, record: &CallRecord) {
        let Ok(mut line) = serde_json::to_string(record) else { return };
        line.push('\n');
        let written = self.dir.ensure().and_then(|()| {
            fs::OpenOptions::new().create(true).append(true).open(&self.path)?.write_all(line.as_bytes())
        });
        if let Err(e) = written {
            let mut failed = self.write_failed.lock().unwrap_or_else(|e| e.into_inner());
            if !*failed {
                *failed = true;
                tracing::warn!(path = %self.path.display(), error = %e, "cannot write the call journal");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn state_dir(tag: &str) -> StateDir {
        let path = std::env::temp_dir().join(format!("megaflex-state-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        StateDir { path }
    }

    fn uid(i: usize) -> ProductUid {
        ProductUid::new(format!("00000000-0000-4000-8000-{i:012}"))
    }

    async fn times(ledger: &FileLedger, uid: &ProductUid) -> Vec<i64> {
        let all = ledger.updates_since(uid, EpochMillis::from_millis(0)).await.unwrap();
        all.iter().map(|t| t.as_millis()).collect()
    }

    #[tokio::test]
    async fn a_crash_between_write_and_rename_leaves_the_old_ledger() {
        let dir = state_dir("crash");
        let ledger = FileLedger::open(&dir);
        let now = EpochMillis::now().as_millis();
        ledger.record(&uid(1), EpochMillis::from_millis(now), UpdateOrigin::Made).await.unwrap();
        let before = fs::read(&ledger.path).unwrap();

        // A writer killed after writing its temp file and before the rename.
        write_temp(&ledger.tmp_path, b"{\"services\": {\"torn").unwrap();
        fs::set_permissions(&ledger.tmp_path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(fs::read(&ledger.path).unwrap(), before, "the ledger is untouched");
        let reopened = FileLedger::open(&dir);
        assert_eq!(times(&reopened, &uid(1)).await, [now], "the stale temp file is not read");

        // The next writer replaces the stale temp file and keeps the old entry.
        reopened.record(&uid(2), EpochMillis::from_millis(now + 1), UpdateOrigin::Made).await.unwrap();
        assert_eq!(times(&reopened, &uid(1)).await, [now]);
        assert_eq!(times(&reopened, &uid(2)).await, [now + 1]);
        assert!(!reopened.tmp_path.exists(), "renamed into place");
        let mode = fs::metadata(&reopened.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "owner-only, whatever the stale file had");
        let _ = fs::remove_dir_all(&dir.path);
    }

    #[test]
    fn writers_on_many_threads_lose_no_entry() {
        let dir = state_dir("threads");
        let now = EpochMillis::now().as_millis();
        std::thread::scope(|s| {
            for i in 0..16 {
                let dir = &dir;
                s.spawn(move || {
                    // Each thread its own ledger, as each process has: only the file lock is shared.
                    let ledger = FileLedger::open(dir);
                    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    for j in 0..5 {
                        let at = EpochMillis::from_millis(now + j);
                        rt.block_on(ledger.record(&uid(i), at, UpdateOrigin::Made)).unwrap();
                    }
                });
            }
        });
        let ledger = FileLedger::open(&dir);
        assert_eq!(ledger.services().unwrap().len(), 16);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for i in 0..16 {
            assert_eq!(rt.block_on(times(&ledger, &uid(i))).len(), 5, "service {i}");
        }
        let _ = fs::remove_dir_all(&dir.path);
    }
}
