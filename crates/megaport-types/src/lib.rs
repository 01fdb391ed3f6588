//! Wire model of the Megaport API.
//!
//! Pure data: serde types for every request and response body megaflex uses,
//! typed product UIDs, the `{message, terms, data}` envelope and an
//! epoch-milliseconds time type, and Megaport's service-update rules as pure
//! functions ([`rules`]). No HTTP, no async, no database: the client
//! (`megaport`) and the simulator (`megaflex-sim`) both build on these types
//! but neither depends on the other.
//!
//! Response types are tolerant, like Go's `encoding/json` that Megaport's own
//! SDK uses: unknown keys are ignored, `null` where a value is expected reads
//! as the default, and the known spelling variants (`vxcpermitted` /
//! `vxcPermitted`, `csp_connection` as object or array, `vll` as `[]` on a
//! decommissioned VXC) decode. Request types serialise only the fields set.
//!
//! ```
//! use megaport_types::{Envelope, Vxc};
//! let body = r#"{"message":"ok","terms":"t","data":{"productUid":"61a2","productName":"x",
//!               "productType":"VXC","rateLimit":10,"provisioningStatus":"LIVE"}}"#;
//! let env: Envelope<Vxc> = serde_json::from_str(body).unwrap();
//! assert_eq!(env.data.rate_limit_mbps, 10);
//! assert!(env.data.provisioning_status.is_active());
//! ```
#![deny(missing_docs)]

mod de;
mod envelope;
mod events;
mod ids;
mod location;
mod misc;
mod pricing;
mod product;
pub mod rules;
mod status;
mod telemetry;
mod time;
mod vxc;

pub use envelope::{ACCEPTABLE_USE_TERMS, ApiErrorBody, Envelope, MessageOnly, TokenErrorBody, TokenResponse};
pub use events::{MaintenanceEvent, MaintenanceState, OutageEvent, OutageState};
pub use ids::ProductUid;
pub use location::{Address, DataCentre, Location, LocationDetail};
pub use misc::{BuyConfirmation, NetworkDesignBuyRequest, PartnerMegaport, ProductModified, ServiceKey, ValidFor};
pub use pricing::SpeedChangePrice;
pub use product::{AnyProduct, Ix, Product};
pub use rules::{
    MEGAPORT_UPDATE_INTERVAL, MEGAPORT_UPDATES_PER_MONTH, UpdateBudget, UpdateOrigin, UpdateRefusal, UpdateRule,
    UpdateRules, month_bounds, rate_in_force,
};
pub use status::{DistanceBand, ProductType, ProvisioningStatus};
pub use telemetry::{Sample, TelemetryProductType, TelemetryResponse, TelemetrySeries, TelemetryUnit, TimeFrame};
pub use time::EpochMillis;
pub use vxc::{CspConnection, Resources, Vll, Vxc, VxcApproval, VxcEnd, VxcUpdate};
