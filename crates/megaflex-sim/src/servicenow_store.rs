//! What the ServiceNow emulator holds: users, incidents, the journal, and
//! the OAuth clients and tokens. Data only, below `state`; the Table API
//! (`servicenow`) and `/oauth_token.do` (`servicenow_oauth`) work on it.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::config::SimConfig;
use crate::servicenow_record::JournalEntry;
use crate::world::ServiceNowOauthClient;

/// The emulated instance.
#[derive(Debug, Default)]
pub(crate) struct ServiceNow {
    pub(crate) users: Vec<(String, String)>,
    pub(crate) incidents: Vec<Map<String, Value>>,
    pub(crate) journal: Vec<JournalEntry>,
    pub(crate) next_number: u64,
    pub(crate) oauth: OAuth,
}

impl ServiceNow {
    pub(crate) fn new(config: &SimConfig) -> Self {
        let mut users: Vec<(String, String)> =
            config.world.servicenow_users.iter().map(|u| (u.user.clone(), u.password.clone())).collect();
        users.extend(config.extra_servicenow_users.iter().cloned());
        let oauth = OAuth::new(&config.world.servicenow_oauth_clients);
        Self { users, incidents: Vec::new(), journal: Vec::new(), next_number: 10_001, oauth }
    }
}

/// Access tokens live this long on the simulator's clock (the instance default).
pub(crate) const ACCESS_TOKEN_TTL_SECS: i64 = 1799;

/// The OAuth application registry and the tokens it issued.
#[derive(Debug, Default)]
pub(crate) struct OAuth {
    pub(crate) clients: Vec<(String, String)>,
    /// access token -> (user, expiry in sim epoch ms)
    pub(crate) access: HashMap<String, (String, i64)>,
    /// refresh token -> (user, client id)
    pub(crate) refresh: HashMap<String, (String, String)>,
}

impl OAuth {
    pub(crate) fn new(clients: &[ServiceNowOauthClient]) -> Self {
        Self {
            clients: clients.iter().map(|c| (c.client_id.clone(), c.client_secret.clone())).collect(),
            ..Self::default()
        }
    }

    pub(crate) fn user_of_access_token(&self, token: &str, now_ms: i64) -> Option<String> {
        self.access.get(token).filter(|(_, exp)| *exp > now_ms).map(|(u, _)| u.clone())
    }
}
