//! One module per subcommand.

pub(crate) mod auth;
pub(crate) mod check;
pub(crate) mod demo;
pub(crate) mod doctor;
pub(crate) mod events;
pub(crate) mod limits;
pub(crate) mod price;
pub(crate) mod products;
pub(crate) mod replay;
pub(crate) mod resume;
pub(crate) mod run;
pub(crate) mod sim;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod support;
pub(crate) mod telemetry;
pub(crate) mod vxc;
