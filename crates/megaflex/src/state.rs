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

/// Writes `bytes` to `path` atomically (temp file + rename).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    /// UID -> [(epoch ms, origin)].
    services: BTreeMap<String, Vec<(i64, String)>>,
}

/// The update ledger as a JSON file, re-read on every use so consecutive
/// invocations see each other's updates.
#[derive(Debug)]
pub(crate) struct FileLedger {
    path: PathBuf,
    dir: StateDir,
    lock: Mutex<()>,
}

impl FileLedger {
    pub(crate) fn open(dir: &StateDir) -> Self {
        Self { path: dir.file("ledger.json"), dir: dir.clone(), lock: Mutex::new(()) }
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
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
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
            self.dir
                .ensure()
                .and_then(|()| write_atomic(&self.path, &bytes))
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
            let _ = write_atomic(&self.path, text.as_bytes());
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
