//! ServiceNow Table API emulator state (users for now; incidents arrive
//! with the incident lifecycle).

use crate::SimConfig;

// The Table API routes that read `users` arrive with the incident lifecycle.
#[allow(dead_code)]
#[derive(Debug, Default)]
pub(crate) struct ServiceNow {
    pub(crate) users: Vec<(String, String)>,
}

impl ServiceNow {
    pub(crate) fn new(config: &SimConfig) -> Self {
        let mut users: Vec<(String, String)> =
            config.world.servicenow_users.iter().map(|u| (u.user.clone(), u.password.clone())).collect();
        users.extend(config.extra_servicenow_users.iter().cloned());
        Self { users }
    }
}
