//! `megaflex check --offline` against configurations that parse but are
//! wrong: each must exit 2 with `file:line:column` naming the bad line, and
//! no input may make the binary panic.

mod common;

use std::path::Path;
use std::process::Output;

use common::{TempDir, clean_env};

fn example() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/megaflex.toml")).unwrap()
}

fn megaflex(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = common::megaflex();
    clean_env(c.args(args), dir).stdin(std::process::Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// `(case, the file's text, text on the line the error must name (`[[source]] X`: the
/// `[[source]]` line above X), words of the message)`.
fn cases() -> Vec<(&'static str, String, &'static str, &'static str)> {
    let ex = example();
    let webhook = "[[source]]\ntype = \"webhook\"\nlisten = \"127.0.0.1:9180\"\ntoken_env = \"MEGAFLEX_WEBHOOK_TOKEN\"";
    let snmp_user = "{ name = \"megaflex\", engine_id = \"0x8000000001020304\", auth = \"SHA\", auth_password_env = \"SNMP_AUTH_PASSWORD\", privacy = \"AES\", privacy_password_env = \"SNMP_PRIV_PASSWORD\" }";
    let servicenow = "\n[servicenow]\ninstance = \"https://example.service-now.com\"\n";
    vec![
        (
            "invalid [http] listen",
            format!("{ex}\n[http]\nlisten = \"localhost:port\"\n"),
            "localhost:port",
            "[http] listen",
        ),
        (
            "max_message_bytes = 1e12",
            ex.replace(
                "listen = \"udp://127.0.0.1:5514\"",
                "listen = \"udp://127.0.0.1:5514\"\nmax_message_bytes = 1e12",
            ),
            "[[source]] type = \"syslog\"",
            "",
        ),
        (
            "max_message_bytes absurd",
            ex.replace(
                "listen = \"udp://127.0.0.1:5514\"",
                "listen = \"udp://127.0.0.1:5514\"\nmax_message_bytes = 1000000000000",
            ),
            "[[source]] type = \"syslog\"",
            "max_message_bytes",
        ),
        ("reconcile_every = 0s", format!("{ex}\n[engine]\nreconcile_every = \"0s\"\n"), "reconcile_every", "at least"),
        (
            "overflowing duration",
            ex.replace("restore_after = \"10m\"", "restore_after = \"768614336404564651d\""),
            "768614336404564651d",
            "invalid duration",
        ),
        ("impact = 99", format!("{ex}{servicenow}impact = 99\n"), "impact = 99", "1 (high)"),
        ("instance = ftp://x", format!("{ex}\n[servicenow]\ninstance = \"ftp://x\"\n"), "ftp://x", "instance"),
        (
            "unknown SNMP auth protocol",
            ex.replace("auth = \"SHA\"", "auth = \"SHA-999\""),
            "[[source]] type = \"snmp_trap\"",
            "unknown auth",
        ),
        (
            "unknown SNMP privacy protocol",
            ex.replace("privacy = \"AES\"", "privacy = \"ROT13\""),
            "[[source]] type = \"snmp_trap\"",
            "unknown privacy",
        ),
        (
            "over-long engine ID",
            ex.replace(snmp_user, &snmp_user.replace("0x8000000001020304", &format!("0x{}", "ab".repeat(33)))),
            "[[source]] type = \"snmp_trap\"",
            "5 to 32 bytes",
        ),
        (
            "circuit name with ^",
            ex.replace("name = \"bne-mel-backup\"", "name = \"bne^active=false\""),
            "bne^active",
            "circuit name",
        ),
        (
            "circuit name with =",
            ex.replace("name = \"bne-mel-backup\"", "name = \"a=b\""),
            "name = \"a=b\"",
            "circuit name",
        ),
        ("empty file", String::new(), "", "no [[circuit]]"),
        (
            "webhook without auth",
            ex.replace(webhook, "[[source]]\ntype = \"webhook\"\nlisten = \"127.0.0.1:9180\""),
            "[[source]] type = \"webhook\"",
            "allow_unauthenticated",
        ),
        (
            "read_requires_token without a token",
            format!("{ex}\n[http]\nlisten = \"127.0.0.1:9181\"\nread_requires_token = true\n"),
            "read_requires_token = true",
            "token_env",
        ),
    ]
}

#[test]
fn wrong_configurations_fail_check_with_file_line_and_column() {
    let dir = TempDir::new("check-bad");
    let good = dir.0.join("good.toml");
    std::fs::write(&good, example()).unwrap();
    let out = megaflex(&dir.0, &["check", "--offline", "--config", good.to_str().unwrap()], &[]);
    assert!(out.status.success(), "the example must pass: {}", String::from_utf8_lossy(&out.stderr));
    let mut failures = Vec::new();
    for (case, text, needle, words) in cases() {
        let path = dir.0.join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let out = megaflex(&dir.0, &["check", "--offline", "--config", path.to_str().unwrap()], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // Fields of a [[source]] have no position of their own: the error names the table.
        let line = match needle.strip_prefix("[[source]] ") {
            _ if needle.is_empty() => 1,
            Some(inner) => text.lines().position(|l| l.contains(inner)).unwrap(),
            None => text.lines().position(|l| l.contains(needle)).unwrap() + 1,
        };
        let place = regex::Regex::new(&format!(r"bad\.toml:{line}:[1-9][0-9]*: ")).unwrap();
        let ok = out.status.code() == Some(2)
            && place.is_match(&stderr)
            && stderr.contains(words)
            && !stderr.contains("panicked");
        if !ok {
            failures.push(format!("{case}: exit {:?}, wanted bad.toml:{line}:COL and {words:?}: {stderr}", out.status));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases().len(), failures.join("\n"));
}

#[test]
fn support_bundle_with_a_multibyte_access_key_does_not_panic() {
    let dir = TempDir::new("check-bundle");
    // 3-byte characters, and a 1-byte one before 2-byte ones: byte 4 and
    // len - 4 fall inside a character.
    for key in ["€€€€€€€€€€€€", "aéééééééééé", "ключ-доступа-очень-длинный", "aé"]
    {
        let out = megaflex(
            &dir.0,
            &["support-bundle", "-f", "bundle.json"],
            &[
                ("MEGAPORT_ACCESS_KEY", key),
                ("MEGAPORT_SECRET_KEY", "secret-value"),
                ("MEGAPORT_API_URL", "http://127.0.0.1:9"),
                ("MEGAPORT_TOKEN_URL", "http://127.0.0.1:9/token"),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked") && out.status.code() != Some(101), "{key}: {stderr}");
        let bundle = std::fs::read_to_string(dir.0.join("bundle.json")).unwrap_or_default();
        assert!(!bundle.contains("secret-value"), "the secret leaked into the bundle");
    }
}
