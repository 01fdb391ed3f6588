//! Where the API is and who we are: environments, credentials and the order
//! they are looked up in (arguments, then the process environment, then a
//! `.env` file, including the seed blog's `MP_STAGE_API_KEY` form).

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// Production API.
pub const PRODUCTION_API_URL: &str = "https://api.megaport.com";
/// Production token endpoint.
pub const PRODUCTION_TOKEN_URL: &str = "https://auth-m2m.megaport.com/oauth2/token";
/// Staging API (reset from production every 24 hours; nothing is billed).
pub const STAGING_API_URL: &str = "https://api-staging.megaport.com";
/// Staging token endpoint.
pub const STAGING_TOKEN_URL: &str = "https://auth-m2m-staging.megaport.com/oauth2/token";
/// Where `megaflex sim` listens by default.
pub const SIMULATOR_API_URL: &str = "http://127.0.0.1:8480";

/// Which Megaport the client talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// The live system: you pay for what you change.
    Production,
    /// The test system.
    Staging,
    /// A local `megaflex sim` on its default address.
    Simulator,
    /// Explicit URLs (another simulator address, a proxy).
    Custom {
        /// API base URL, e.g. `http://127.0.0.1:8480`.
        api_url: String,
        /// Token endpoint URL.
        token_url: String,
    },
}

impl Environment {
    /// API base URL, without a trailing slash.
    pub fn api_url(&self) -> &str {
        match self {
            Self::Production => PRODUCTION_API_URL,
            Self::Staging => STAGING_API_URL,
            Self::Simulator => SIMULATOR_API_URL,
            Self::Custom { api_url, .. } => api_url.trim_end_matches('/'),
        }
    }

    /// Token endpoint URL.
    pub fn token_url(&self) -> String {
        match self {
            Self::Production => PRODUCTION_TOKEN_URL.to_owned(),
            Self::Staging => STAGING_TOKEN_URL.to_owned(),
            Self::Simulator => format!("{SIMULATOR_API_URL}/oauth2/token"),
            Self::Custom { token_url, .. } => token_url.clone(),
        }
    }

    /// Short name for display.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Staging => "staging",
            Self::Simulator => "simulator",
            Self::Custom { .. } => "custom",
        }
    }

    /// Parses `production`/`prod`, `staging`/`stage`, `simulator`/`sim`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Ok(Self::Production),
            "staging" | "stage" => Ok(Self::Staging),
            "simulator" | "sim" => Ok(Self::Simulator),
            other => Err(Error::Config(format!(
                "unknown Megaport environment {other:?}: use production, staging or simulator, or give an API URL and a token URL"
            ))),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the credentials came from (shown by `megaflex auth`, never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Passed in code or on the command line.
    Argument,
    /// `MEGAPORT_ACCESS_KEY` / `MEGAPORT_SECRET_KEY` in the environment.
    Environment,
    /// `MP_STAGE_API_KEY` / `MP_STAGE_API_KEY_SECRET` in the environment (selects staging).
    EnvironmentSeedStyle,
    /// A `.env` file with `MEGAPORT_*` names.
    DotEnv(PathBuf),
    /// A `.env` file in the seed blog's format (selects staging).
    DotEnvSeedStyle(PathBuf),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Argument => f.write_str("command-line arguments"),
            Self::Environment => f.write_str("environment (MEGAPORT_ACCESS_KEY, MEGAPORT_SECRET_KEY)"),
            Self::EnvironmentSeedStyle => f.write_str("environment (MP_STAGE_API_KEY, MP_STAGE_API_KEY_SECRET)"),
            Self::DotEnv(p) => write!(f, "{} (MEGAPORT_ACCESS_KEY, MEGAPORT_SECRET_KEY)", p.display()),
            Self::DotEnvSeedStyle(p) => write!(f, "{} (MP_STAGE_API_KEY, MP_STAGE_API_KEY_SECRET)", p.display()),
        }
    }
}

/// An API key and secret. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    /// The API key (client id). Not secret, but only shown shortened.
    pub access_key: String,
    /// The API key secret.
    pub secret_key: SecretString,
}

impl Credentials {
    /// Builds credentials.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self { access_key: access_key.into(), secret_key: SecretString::from(secret_key.into()) }
    }

    /// The key with its middle hidden, for display.
    pub fn access_key_hint(&self) -> String {
        // By characters, not bytes: a byte slice of a multibyte key panicked.
        let chars: Vec<char> = self.access_key.chars().collect();
        if chars.len() <= 8 {
            return "*".repeat(chars.len());
        }
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}…{tail}")
    }

    pub(crate) fn basic_auth(&self) -> (&str, &str) {
        (&self.access_key, self.secret_key.expose_secret())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key_hint())
            .field("secret_key", &"[redacted]")
            .finish()
    }
}

/// What the caller knows up front; anything `None` is looked up.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `production`, `staging`, `simulator`.
    pub environment: Option<String>,
    /// Explicit API URL (with `token_url`, overrides the environment).
    pub api_url: Option<String>,
    /// Explicit token URL.
    pub token_url: Option<String>,
    /// API key.
    pub access_key: Option<String>,
    /// API secret.
    pub secret_key: Option<String>,
    /// `.env` file to read; default `./.env` when it exists.
    pub dotenv_path: Option<PathBuf>,
    /// Do not read any `.env` file.
    pub no_dotenv: bool,
}

/// The outcome of resolving [`Settings`].
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The environment.
    pub environment: Environment,
    /// The credentials.
    pub credentials: Credentials,
    /// Where they came from.
    pub source: CredentialSource,
}

impl Resolved {
    /// Where the credentials came from, for display.
    pub fn credentials_source_text(&self) -> String {
        self.source.to_string()
    }
}

/// Reads `.env` pairs without touching the process environment.
fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>> {
    let iter =
        dotenvy::from_path_iter(path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    iter.map(|item| item.map_err(|e| Error::Config(format!("{}: {e}", path.display())))).collect()
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The environment variable names the client reads.
pub const ENV_VARS: [&str; 7] = [
    "MEGAPORT_ENVIRONMENT",
    "MEGAPORT_API_URL",
    "MEGAPORT_TOKEN_URL",
    "MEGAPORT_ACCESS_KEY",
    "MEGAPORT_SECRET_KEY",
    "MP_STAGE_API_KEY",
    "MP_STAGE_API_KEY_SECRET",
];

impl Settings {
    /// Resolves against the process environment and `.env`.
    pub fn resolve(&self) -> Result<Resolved> {
        let env: Vec<(String, String)> =
            ENV_VARS.iter().filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v))).collect();
        self.resolve_with(&env)
    }

    /// Resolves against the given environment pairs and `.env` (testable
    /// without touching the process environment).
    pub fn resolve_with(&self, env: &[(String, String)]) -> Result<Resolved> {
        let dotenv_path = match (&self.dotenv_path, self.no_dotenv) {
            (_, true) => None,
            (Some(p), false) => {
                if !p.exists() {
                    return Err(Error::Config(format!("the .env file {} does not exist", p.display())));
                }
                Some(p.clone())
            }
            (None, false) => Some(PathBuf::from(".env")).filter(|p| p.is_file()),
        };
        let dotenv = match &dotenv_path {
            Some(p) => read_dotenv(p)?,
            None => Vec::new(),
        };

        // Credentials: arguments, then MEGAPORT_* in the environment, then the
        // seed's names in the environment, then the same two in .env.
        let (credentials, source, seed_style) = if let (Some(k), Some(s)) = (&self.access_key, &self.secret_key) {
            (Credentials::new(k, s), CredentialSource::Argument, false)
        } else if let (Some(k), Some(s)) = (lookup(env, "MEGAPORT_ACCESS_KEY"), lookup(env, "MEGAPORT_SECRET_KEY")) {
            (Credentials::new(k, s), CredentialSource::Environment, false)
        } else if let (Some(k), Some(s)) = (lookup(env, "MP_STAGE_API_KEY"), lookup(env, "MP_STAGE_API_KEY_SECRET")) {
            (Credentials::new(k, s), CredentialSource::EnvironmentSeedStyle, true)
        } else if let (Some(k), Some(s), Some(p)) =
            (lookup(&dotenv, "MEGAPORT_ACCESS_KEY"), lookup(&dotenv, "MEGAPORT_SECRET_KEY"), &dotenv_path)
        {
            (Credentials::new(k, s), CredentialSource::DotEnv(p.clone()), false)
        } else if let (Some(k), Some(s), Some(p)) =
            (lookup(&dotenv, "MP_STAGE_API_KEY"), lookup(&dotenv, "MP_STAGE_API_KEY_SECRET"), &dotenv_path)
        {
            (Credentials::new(k, s), CredentialSource::DotEnvSeedStyle(p.clone()), true)
        } else {
            if self.access_key.is_some() != self.secret_key.is_some() {
                return Err(Error::Config("give both the access key and the secret key, not just one".into()));
            }
            return Err(Error::Config(
                "no Megaport API credentials: set MEGAPORT_ACCESS_KEY and MEGAPORT_SECRET_KEY (environment or .env), \
                 or MP_STAGE_API_KEY and MP_STAGE_API_KEY_SECRET in a .env file for staging; create a key in the \
                 Megaport Portal under Tools > API Key Generator"
                    .into(),
            ));
        };

        let pick = |key: &str, arg: &Option<String>| -> Option<String> {
            arg.clone()
                .or_else(|| lookup(env, key).map(str::to_owned))
                .or_else(|| lookup(&dotenv, key).map(str::to_owned))
        };
        let api_url = pick("MEGAPORT_API_URL", &self.api_url);
        let token_url = pick("MEGAPORT_TOKEN_URL", &self.token_url);
        let env_name = pick("MEGAPORT_ENVIRONMENT", &self.environment);
        let environment = match (api_url, token_url) {
            (Some(api_url), Some(token_url)) => {
                for (what, url) in [("API", &api_url), ("token", &token_url)] {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(Error::Config(format!(
                            "the {what} URL {url:?} must start with http:// or https://"
                        )));
                    }
                }
                Environment::Custom { api_url, token_url }
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::Config(
                    "give both an API URL and a token URL (MEGAPORT_API_URL and MEGAPORT_TOKEN_URL), or neither".into(),
                ));
            }
            (None, None) => match env_name {
                Some(name) => Environment::from_name(&name)?,
                // The seed's key names are staging keys; everything else defaults to production.
                None if seed_style => Environment::Staging,
                None => Environment::Production,
            },
        };
        Ok(Resolved { environment, credentials, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn arguments_win_then_environment() {
        let s = Settings {
            access_key: Some("a".into()),
            secret_key: Some("b".into()),
            no_dotenv: true,
            ..Default::default()
        };
        let r = s.resolve_with(&pairs(&[("MEGAPORT_ACCESS_KEY", "x"), ("MEGAPORT_SECRET_KEY", "y")])).unwrap();
        assert_eq!((r.credentials.access_key.as_str(), r.source), ("a", CredentialSource::Argument));
        assert_eq!(r.environment, Environment::Production);
        let s = Settings { no_dotenv: true, ..Default::default() };
        let r = s
            .resolve_with(&pairs(&[
                ("MEGAPORT_ACCESS_KEY", "x"),
                ("MEGAPORT_SECRET_KEY", "y"),
                ("MEGAPORT_ENVIRONMENT", "staging"),
            ]))
            .unwrap();
        assert_eq!((r.source, r.environment), (CredentialSource::Environment, Environment::Staging));
    }

    #[test]
    fn missing_credentials_name_the_variables() {
        let err = Settings { no_dotenv: true, ..Default::default() }.resolve_with(&[]).unwrap_err().to_string();
        assert!(err.contains("MEGAPORT_ACCESS_KEY") && err.contains("MP_STAGE_API_KEY"), "{err}");
    }

    #[test]
    fn half_a_url_pair_is_an_error() {
        let s = Settings { no_dotenv: true, api_url: Some("http://x".into()), ..Default::default() };
        let err = s.resolve_with(&pairs(&[("MEGAPORT_ACCESS_KEY", "x"), ("MEGAPORT_SECRET_KEY", "y")])).unwrap_err();
        assert!(err.to_string().contains("both an API URL and a token URL"));
    }

    #[test]
    fn hint_of_a_multibyte_key_does_not_panic() {
        for key in ["€€€€€€€€€€€€", "aéééééééééé", "ключ-доступа-очень-длинный", "🔑🔑🔑🔑🔑🔑🔑🔑🔑", "aé"]
        {
            let hint = Credentials::new(key, "s").access_key_hint();
            assert!(!hint.is_empty());
        }
        assert_eq!(Credentials::new("ключ-доступа-12", "s").access_key_hint(), "ключ…а-12");
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials::new("abcdefghijkl", "very-secret-value");
        let d = format!("{c:?}");
        assert!(!d.contains("very-secret-value") && !d.contains("abcdefghijkl"), "{d}");
    }
}
