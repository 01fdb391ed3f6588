//! Syslog over TLS (RFC 5425): the server side's certificate, key and
//! optional client-certificate verification, read from PEM files, with
//! rustls on the `ring` provider. The TLS stack is the crate's default `tls`
//! feature: without it (the fuzz build) the paths still parse and check,
//! and starting a `tls://` listener says what is missing.

#[cfg(feature = "tls")]
use std::path::Path;
use std::path::PathBuf;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
use rustls::ServerConfig;
#[cfg(feature = "tls")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "tls")]
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
#[cfg(feature = "tls")]
use rustls::server::WebPkiClientVerifier;

/// What accepts TLS on a stream listener: rustls with the `tls` feature;
/// without it a type with no values, so no TLS connection can be served.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;
/// What accepts TLS on a stream listener: rustls with the `tls` feature;
/// without it a type with no values, so no TLS connection can be served.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum Acceptor {}

/// The files of a `tls://` listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA certificates (PEM) client certificates must chain to; `None`
    /// accepts any client, as RFC 5425 allows when the network is trusted.
    pub client_ca_file: Option<PathBuf>,
}

/// Why a TLS listener could not be set up. Names files, never their contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{what} {path}: {reason}")]
    File {
        /// Which file: "certificate", "private key", "client CA".
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the combination (e.g. a key that does not match the certificate).
    #[error("TLS settings refused: {0}")]
    Rustls(String),
    /// This build has no TLS stack.
    #[error("tls:// is not available: megaflex-sources was built without its `tls` feature")]
    NotBuilt,
}

#[cfg(feature = "tls")]
fn file_error(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File { what, path: path.to_owned(), reason: reason.to_string() }
}

#[cfg(feature = "tls")]
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// TLS files given where they cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsFilesError {
    /// The listener is not `tls://`.
    #[error("{0:?}: TLS files need a tls:// listener")]
    NotTls(String),
    /// A certificate without its key, or the other way round.
    #[error("{0:?}: give both tls_cert_file and tls_key_file")]
    Partial(String),
}

impl TlsFiles {
    /// The files of a `[[source]]` section: `None` without any, an error
    /// when given to a listener that is not `tls://` or given only in part.
    pub fn from_config(
        listen: &str,
        cert_file: &Option<PathBuf>,
        key_file: &Option<PathBuf>,
        client_ca_file: &Option<PathBuf>,
    ) -> Result<Option<Self>, TlsFilesError> {
        match (cert_file, key_file) {
            (None, None) if client_ca_file.is_none() => Ok(None),
            _ if !listen.starts_with("tls://") => Err(TlsFilesError::NotTls(listen.to_owned())),
            (Some(cert), Some(key)) => Ok(Some(Self {
                cert_file: cert.clone(),
                key_file: key.clone(),
                client_ca_file: client_ca_file.clone(),
            })),
            _ => Err(TlsFilesError::Partial(listen.to_owned())),
        }
    }

    /// The acceptor for these files (reads them now).
    pub(crate) fn acceptor(&self) -> Result<Acceptor, TlsError> {
        #[cfg(feature = "tls")]
        return Ok(tokio_rustls::TlsAcceptor::from(self.server_config()?));
        #[cfg(not(feature = "tls"))]
        Err(TlsError::NotBuilt)
    }

    /// Reads the files and builds the server's TLS settings (TLS 1.2 and 1.3).
    #[cfg(feature = "tls")]
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        let builder = match &self.client_ca_file {
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in certificates("client CA", path)? {
                    roots.add(cert).map_err(|e| file_error("client CA", path, e))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| file_error("client CA", path, e))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let certs = certificates("certificate", &self.cert_file)?;
        // The key's own error text could quote it: only say what is wrong.
        let key = PrivateKeyDer::from_pem_file(&self.key_file)
            .map_err(|_| file_error("private key", &self.key_file, "no readable PEM private key in it"))?;
        let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::Rustls(format!(
                "{} is not the key of the certificate in {}",
                self.key_file.display(),
                self.cert_file.display()
            )),
            other => TlsError::Rustls(other.to_string()),
        })?;
        // Nothing after the handshake: syslog senders never read (RFC 5425
        // is one-way), so TLS 1.3 session tickets would sit unread in the
        // sender's socket and turn its close into a RST, on which the kernel
        // drops whatever megaflex had not read yet (thousands of messages
        // at the end of a burst). Resumption buys nothing on connections
        // that last for hours.
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }
}
