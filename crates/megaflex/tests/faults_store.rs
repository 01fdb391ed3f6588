//! Store faults seen from the command line, with the real binary: a store
//! it cannot write and a store another daemon holds are refused at start
//! with exit code 1 (a failure of the machine, not of the command line), a
//! store URL megaflex cannot use with exit code 2 (usage);
//! files are created owner-only whatever the umask; `megaflex resume`
//! never writes behind a live daemon; the CLI's own ledger on a full disk
//! says so and keeps every entry it had.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{
    Killed, clean_env, daemon_toml, free_tcp_port, frozen_sim, peer_present, sim_credentials, sim_env, sim_with,
    stderr, wait_for_port,
};
use megaflex_sim::SimHandle;
use megaflex_testkit::quoted;

fn temp_dir(tag: &str) -> PathBuf {
    common::temp_dir(&format!("fs-{tag}"))
}

/// A config on the simulator; `http` adds an `[http]` listener.
fn write_config(dir: &Path, db: &Path, sim: &SimHandle, http: Option<u16>) -> PathBuf {
    // The daemon's write routes need a token: both sides read it from the same variable.
    let toml = daemon_toml(sim, db).syslog("udp://127.0.0.1:0");
    let toml = match http {
        Some(p) => toml.http(format!("127.0.0.1:{p}")).http_key("token_env", quoted("MEGAFLEX_TEST_HTTP_TOKEN")),
        None => toml,
    };
    toml.write(dir)
}

fn megaflex(args: &[&str], config: &Path) -> Command {
    let mut c = common::megaflex();
    sim_credentials(c.args(args).arg("--config").arg(config))
        .env("MEGAFLEX_LOG", "info")
        .env("MEGAFLEX_TEST_HTTP_TOKEN", "resume-token-for-tests")
        .env("NO_COLOR", "1");
    c
}

/// Runs `cmd` to the end, or kills it and fails after 30 s: a command that
/// should be refused must not hang the test by running instead.
fn output(mut cmd: Command) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("still running after 30 s (it should have been refused): {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Undoes the read-only bind mount however the test ends.
struct Unmount(Option<PathBuf>);

impl Drop for Unmount {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = Command::new("umount").arg("-l").arg(p).status();
        }
    }
}

fn spawn(config: &Path, umask: Option<&str>) -> Killed {
    let mut c = match umask {
        Some(m) => {
            let mut sh = Command::new("sh");
            sh.arg("-c").arg(format!("umask {m}; exec \"$0\" \"$@\"")).arg(env!("CARGO_BIN_EXE_megaflex"));
            sh.args(["run", "--config"]).arg(config);
            sim_credentials(&mut sh).env("MEGAFLEX_TEST_HTTP_TOKEN", "resume-token-for-tests");
            sh
        }
        None => megaflex(&["run"], config),
    };
    Killed(c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
}

/// Waits until the daemon `pid` has claimed the store at `db`: its row is
/// in the instance table (written after the lock is taken).
async fn claimed_by(db: &Path, pid: u32) {
    for _ in 0..1500 {
        if db.exists()
            && let Ok(pool) = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display())).await
        {
            let row: Option<i64> =
                sqlx::query_scalar("SELECT pid FROM instance WHERE id = 1").fetch_optional(&pool).await.unwrap_or(None);
            pool.close().await;
            if row == Some(i64::from(pid)) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("daemon {pid} never claimed {}", db.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_exits_1_naming_the_first() {
    let sim = frozen_sim().await;
    let dir = temp_dir("second");
    let db = dir.join("megaflex.db");
    let config = write_config(&dir, &db, &sim, None);
    let first = spawn(&config, None);
    claimed_by(&db, first.0.id()).await;
    let second = output(megaflex(&["run"], &config));
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let err = stderr(&second);
    assert!(err.contains("in use by megaflex") && err.contains(&format!("pid {}", first.0.id())), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_written_is_refused_with_exit_1() {
    let sim = frozen_sim().await;
    let dir = temp_dir("readonly");
    let db = dir.join("megaflex.db");
    let config = write_config(&dir, &db, &sim, None);
    {
        let first = spawn(&config, None);
        claimed_by(&db, first.0.id()).await;
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    // Root ignores file modes: a read-only bind mount of the file is what
    // stops it (the directory stays writable).
    let mount = |args: &[&str]| Command::new("mount").args(args).arg(&db).arg(&db).status().is_ok_and(|s| s.success());
    let locked = if root {
        mount(&["--bind"]) && mount(&["-o", "remount,bind,ro"])
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o400)).is_ok()
    };
    let how = "apt-get install mount; in a container, run it with CAP_SYS_ADMIN";
    if !peer_present(locked, "a read-only bind mount (mount --bind, as root)", how) {
        return;
    }
    let _unmount = Unmount(root.then(|| db.clone()));
    let out = output(megaflex(&["run"], &config));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be written"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_directory_and_database_are_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let sim = frozen_sim().await;
    let dir = temp_dir("perms");
    let state = dir.join("state");
    let db = state.join("megaflex.db");
    let config = write_config(&dir, &db, &sim, None);
    let d = spawn(&config, Some("000"));
    claimed_by(&db, d.0.id()).await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700, "state directory");
    for name in ["megaflex.db", "megaflex.db-wal", "megaflex.db-shm", "megaflex.db.lock"] {
        let p = state.join(name);
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_never_writes_behind_a_live_daemon() {
    let sim = frozen_sim().await;
    // No [http]: nobody to ask, so it refuses and writes nothing.
    let dir = temp_dir("resume");
    let db = dir.join("megaflex.db");
    let config = write_config(&dir, &db, &sim, None);
    let d = spawn(&config, None);
    claimed_by(&db, d.0.id()).await;
    let mut resume = megaflex(&["resume"], &config);
    resume.arg("backup");
    let out = output(resume);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("pid {}", d.0.id())) && stderr(&out).contains("no [http]"),
        "{}",
        stderr(&out)
    );
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display())).await.unwrap();
    let resumed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM decisions WHERE action = 'resumed'").fetch_one(&pool).await.unwrap();
    assert_eq!(resumed, 0, "resume wrote behind the daemon");
    drop(d);

    // With [http]: it asks the daemon.
    let dir = temp_dir("resume-http");
    let db = dir.join("megaflex.db");
    let port = free_tcp_port();
    let config = write_config(&dir, &db, &sim, Some(port));
    let d = spawn(&config, None);
    claimed_by(&db, d.0.id()).await;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for_port(addr, Duration::from_secs(5));
    let mut resume = megaflex(&["resume"], &config);
    resume.arg("backup");
    let out = output(resume);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("resumed by the running daemon"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_opened_exits_1_and_a_wrong_store_url_exits_2() {
    let sim = frozen_sim().await;
    let dir = temp_dir("unopenable");
    // A file where the database's directory should be: nobody, root
    // included, can create the store there. The machine's state, not the
    // command line, is at fault.
    let blocker = dir.join("not-a-directory");
    std::fs::write(&blocker, b"").unwrap();
    let config = write_config(&dir, &blocker.join("megaflex.db"), &sim, None);
    for cmd in ["status", "run"] {
        let out = output(megaflex(&[cmd], &config));
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        assert!(stderr(&out).contains("not-a-directory"), "{cmd}: {}", stderr(&out));
    }
    // A store URL megaflex cannot use is the configuration's fault.
    let text = std::fs::read_to_string(&config).unwrap();
    let sqlite_url = format!("sqlite://{}", blocker.join("megaflex.db").display());
    std::fs::write(&config, text.replace(&sqlite_url, "mysql://db.example/mf")).unwrap();
    for cmd in ["status", "run", "check"] {
        let out = output(megaflex(&[cmd], &config));
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        assert!(stderr(&out).contains("unsupported store URL"), "{cmd}: {}", stderr(&out));
    }
    // A PostgreSQL password belongs in the environment: the file is refused
    // at the URL's line, and the password is not repeated.
    std::fs::write(&config, text.replace(&sqlite_url, "postgres://megaflex:hunter2@db.example/mf")).unwrap();
    let line = text.lines().position(|l| l.contains(&sqlite_url)).unwrap() + 1;
    for cmd in ["check", "status", "run"] {
        let out = output(megaflex(&[cmd], &config));
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("megaflex.toml:{line}:")) && err.contains("password_env"), "{cmd}: {err}");
        assert!(!err.contains("hunter2"), "{cmd}: {err}");
    }
}

/// The CLI's state directory on a full disk (a 1 MiB tmpfs as
/// `XDG_STATE_HOME`, filled with `dd`): an update made while the ledger cannot
/// be written is reported naming the file and the cause, the ledger keeps
/// every entry it had (the old file, whole), and once there is room again the
/// next entry is written beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_ledger_on_a_full_disk_says_so_and_keeps_every_entry() {
    let dir = temp_dir("cli-full");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&state)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !peer_present(
        mounted,
        "a tmpfs mount (mount -t tmpfs, as root)",
        "run as root; in a container, with CAP_SYS_ADMIN",
    ) {
        return;
    }
    let _unmount = Unmount(Some(state.clone()));
    let sim =
        sim_with(|c| c.world = megaflex_sim::default_world_with_vxcs(megaport::types::EpochMillis::now(), 3)).await;
    let uids: Vec<String> = (0..3).map(megaflex_sim::extra_vxc_uid).collect();
    let speed = |uid: &str| {
        let mut c = common::megaflex();
        sim_env(clean_env(c.args(["vxc", "speed", uid, "500", "--yes"]), &dir), &sim).env("XDG_STATE_HOME", &state);
        output(c)
    };
    let ledger = state.join("megaflex/ledger.json");
    let recorded = |path: &Path| -> Vec<String> {
        let file: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).expect("a whole ledger");
        file["services"].as_object().unwrap().keys().cloned().collect()
    };

    let out = speed(&uids[0]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(recorded(&ledger), [uids[0].clone()]);
    let before = std::fs::read(&ledger).unwrap();

    let fill = state.join("fill");
    let dd = Command::new("dd").arg("if=/dev/zero").arg(format!("of={}", fill.display())).arg("bs=64k").output();
    assert!(!dd.unwrap().status.success(), "dd should stop at a full disk");
    let out = speed(&uids[1]);
    assert_eq!(sim.state().stats().updates.len(), 2, "the update was made: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not recorded in the ledger")
            && err.contains(&ledger.display().to_string())
            && err.contains("No space left on device"),
        "a clear error naming the file and the cause: {err}"
    );
    assert_eq!(std::fs::read(&ledger).unwrap(), before, "the ledger on disk is the old one, whole");

    std::fs::remove_file(&fill).unwrap();
    let out = speed(&uids[2]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut expected = vec![uids[0].clone(), uids[2].clone()];
    expected.sort();
    assert_eq!(recorded(&ledger), expected, "the earlier entry kept, the new one beside it");
}
