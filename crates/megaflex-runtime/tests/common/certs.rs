//! Test certificates made with the `openssl` command at test time: a CA, a
//! server certificate for localhost/127.0.0.1, a client certificate from
//! the same CA, and one from another CA (the "wrong" client).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The PEM files of one test PKI.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub wrong_cert: PathBuf,
    pub wrong_key: PathBuf,
}

/// Whether `openssl` is there (one line and `false` when not, a panic
/// under `MEGAFLEX_REQUIRE_PEERS=1`).
pub fn openssl_available() -> bool {
    peers::peer_present(Command::new("openssl").arg("version").output().is_ok(), "openssl", "apt-get install openssl")
}

// Each helper file brings the shared rule along, so a test crate may include
// several of them: the copies are the same stateless functions.
#[allow(clippy::duplicate_mod)]
#[path = "../../../../testing/peers.rs"]
mod peers;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn leaf(dir: &Path, name: &str, ca: &str, cn: &str, ext: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

/// Makes the PKI in `dir`.
pub fn make(dir: &Path) -> Pki {
    ca(dir, "ca");
    ca(dir, "other-ca");
    let server_ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";
    let client_ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=DNS:relay.example\n";
    leaf(dir, "server", "ca", "localhost", server_ext);
    leaf(dir, "client", "ca", "relay.example", client_ext);
    leaf(dir, "wrong", "other-ca", "relay.example", client_ext);
    let p = |f: &str| dir.join(f);
    Pki {
        ca: p("ca.pem"),
        server_cert: p("server.pem"),
        server_key: p("server.key"),
        client_cert: p("client.pem"),
        client_key: p("client.key"),
        wrong_cert: p("wrong.pem"),
        wrong_key: p("wrong.key"),
    }
}
