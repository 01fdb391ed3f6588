//! megaflex's domain: what the daemon reasons about, with no I/O. Canonical
//! [`event::Event`]s change the state of [`links`]; [`circuits`] decide the
//! rate a VXC should have; [`reconcile::plan`] turns that and the VXC as read
//! into one action inside Megaport's update rules; [`incident`] turns
//! decisions into ServiceNow work. Every function here is pure (time is an
//! argument), so the rules are tested table-driven and replayed exactly.
#![deny(missing_docs)]

pub mod circuits;
pub mod duration;
pub mod event;
pub mod incident;
pub mod lease;
pub mod links;
pub mod reconcile;
pub mod signal;
