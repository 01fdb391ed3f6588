//! The live world: products built from the world file, their state over
//! time (rate history, transient CONFIGURED windows, the update ledger), and
//! their rendering into API objects.

use std::collections::HashMap;

use megaport_types::{
    EpochMillis, Location, LocationDetail, Product, ProductType, ProductUid, ProvisioningStatus, Resources, Vll, Vxc,
    VxcEnd,
};

use crate::world::{PortSpec, VxcSpec, WorldFile};

/// A port, MCR or MVE.
#[derive(Debug, Clone)]
pub(crate) struct PortState {
    pub(crate) spec: PortSpec,
}

/// A VXC and what happened to it.
#[derive(Debug, Clone)]
pub(crate) struct VxcState {
    pub(crate) spec: VxcSpec,
    /// `(from_ms, mbps)`, ascending: the rate in force from each moment.
    pub(crate) rate_history: Vec<(i64, u32)>,
    /// Until then the status reads CONFIGURED (an update is settling).
    pub(crate) configured_until_ms: i64,
    /// Until then a new rate is not yet in force and the status reads CONFIGURING.
    pub(crate) pending_until_ms: i64,
}

impl VxcState {
    /// The rate in force at `at_ms`, or `None` before the VXC existed.
    pub(crate) fn rate_at(&self, at_ms: i64) -> Option<u32> {
        rate_in_history(&self.rate_history, at_ms)
    }

    pub(crate) fn status_at(&self, now_ms: i64) -> ProvisioningStatus {
        if self.spec.status.is_active() && now_ms < self.pending_until_ms {
            ProvisioningStatus::Configuring
        } else if self.spec.status.is_active() && now_ms < self.configured_until_ms {
            ProvisioningStatus::Configured
        } else {
            self.spec.status.clone()
        }
    }
}

/// The rate in force at `at_ms` in an ascending `(from_ms, mbps)` history.
pub(crate) fn rate_in_history(history: &[(i64, u32)], at_ms: i64) -> Option<u32> {
    let idx = history.partition_point(|(from, _)| *from <= at_ms);
    idx.checked_sub(1).map(|i| history[i].1)
}

/// Lookup result for any UID.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Found {
    Port(usize),
    Vxc(usize),
}

#[derive(Debug)]
pub(crate) struct World {
    pub(crate) file: WorldFile,
    pub(crate) ports: Vec<PortState>,
    pub(crate) vxcs: Vec<VxcState>,
    index: HashMap<String, Found>,
    vxcs_by_port: HashMap<String, Vec<usize>>,
    /// Every accepted service update per UID (ms), for the 5-minute and monthly rules.
    pub(crate) update_log: HashMap<String, Vec<i64>>,
}

const DEFAULT_AGE_MS: i64 = 400 * 86_400_000;

impl World {
    pub(crate) fn new(file: WorldFile, now: EpochMillis) -> Self {
        let ports = file.ports.iter().cloned().map(|spec| PortState { spec }).collect::<Vec<_>>();
        let vxcs = file
            .vxcs
            .iter()
            .cloned()
            .map(|spec| {
                let created = spec.create_date.map_or(now.as_millis() - DEFAULT_AGE_MS, EpochMillis::as_millis);
                VxcState {
                    rate_history: vec![(created, spec.rate_limit_mbps)],
                    configured_until_ms: 0,
                    pending_until_ms: 0,
                    spec,
                }
            })
            .collect::<Vec<_>>();
        let mut world =
            Self { file, ports, vxcs, index: HashMap::new(), vxcs_by_port: HashMap::new(), update_log: HashMap::new() };
        world.rebuild_index();
        world
    }

    pub(crate) fn rebuild_index(&mut self) {
        self.index.clear();
        self.vxcs_by_port.clear();
        for (i, p) in self.ports.iter().enumerate() {
            self.index.insert(p.spec.uid.clone(), Found::Port(i));
        }
        for (i, v) in self.vxcs.iter().enumerate() {
            self.index.insert(v.spec.uid.clone(), Found::Vxc(i));
            for end in [&v.spec.a_end.product_uid, &v.spec.b_end.product_uid] {
                let list = self.vxcs_by_port.entry(end.clone()).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
    }

    pub(crate) fn find(&self, uid: &str) -> Option<Found> {
        self.index.get(uid).copied()
    }

    pub(crate) fn port_by_uid(&self, uid: &str) -> Option<&PortState> {
        match self.find(uid)? {
            Found::Port(i) => Some(&self.ports[i]),
            Found::Vxc(_) => None,
        }
    }

    fn location(&self, id: i64) -> Option<&Location> {
        self.file.locations.iter().find(|l| l.id == id)
    }

    fn location_detail(&self, id: i64) -> Option<LocationDetail> {
        self.location(id).map(|l| LocationDetail {
            name: l.name.clone(),
            city: l.address.as_ref().and_then(|a| a.city.clone()).or_else(|| l.metro.clone()),
            metro: l.metro.clone(),
            country: l.address.as_ref().and_then(|a| a.country.clone()),
        })
    }

    /// The highest VXC rate the product at `uid` can carry, in Mbps.
    pub(crate) fn port_capacity_mbps(&self, uid: &str) -> Option<(String, u32)> {
        self.port_by_uid(uid).map(|p| (p.spec.name.clone(), p.spec.speed_mbps))
    }

    fn render_end(&self, end: &crate::world::EndSpec) -> VxcEnd {
        let port = self.port_by_uid(&end.product_uid).map(|p| &p.spec);
        VxcEnd {
            owner_uid: Some(self.file.company.uid.clone()),
            product_uid: ProductUid::new(end.product_uid.clone()),
            product_name: port.map(|p| p.name.clone()),
            location_id: port.map(|p| p.location_id),
            location: port.and_then(|p| self.location(p.location_id)).map(|l| l.name.clone()),
            location_detail: port.and_then(|p| self.location_detail(p.location_id)),
            vlan: end.vlan,
            inner_vlan: end.inner_vlan,
            v_nic_index: None,
            secondary_name: None,
            connect_type: Some("DEFAULT".to_owned()),
            diversity_zone: port.and_then(|p| p.diversity_zone.clone()),
        }
    }

    pub(crate) fn render_vxc(&self, i: usize, now: EpochMillis) -> Vxc {
        let v = &self.vxcs[i];
        let s = &v.spec;
        let now_ms = now.as_millis();
        let status = v.status_at(now_ms);
        let rate = v.rate_at(now_ms).unwrap_or(s.rate_limit_mbps);
        let created = v.rate_history.first().map(|(t, _)| EpochMillis::from_millis(*t));
        let term_ms = i64::from(s.contract_term_months) * 30 * 86_400_000;
        let vll = if status == ProvisioningStatus::Decommissioned {
            None
        } else {
            Some(Vll {
                a_vlan: s.a_end.vlan,
                b_vlan: s.b_end.vlan,
                rate_limit_mbps: Some(rate),
                resource_name: Some("vll".to_owned()),
                resource_type: Some("vll".to_owned()),
                shutdown: Some(s.shutdown),
                up: Some(i64::from(status.is_active() && !s.shutdown)),
                ..Vll::default()
            })
        };
        Vxc {
            product_id: s.product_id,
            product_uid: ProductUid::new(s.uid.clone()),
            n_service_id: Some(s.product_id + 100_000),
            product_name: s.name.clone(),
            product_type: ProductType::Vxc,
            rate_limit_mbps: rate,
            maximum_rate_mbps: Some(s.maximum_rate_mbps),
            distance_band: s.distance_band.clone(),
            provisioning_status: status.clone(),
            usage_algorithm: Some(s.usage_algorithm.clone()),
            created_by: Some("8f3c2a1b-6d5e-4f70-9a8b-7c6d5e4f3a2b".to_owned()),
            create_date: created,
            live_date: created.map(|c| c.plus_millis(32_372)),
            terminate_date: None,
            secondary_name: s.secondary_name.clone(),
            cost_centre: s.cost_centre.clone(),
            company_uid: Some(self.file.company.uid.clone()),
            company_name: Some(self.file.company.name.clone()),
            deal_uid: None,
            contract_start_date: created.map(|c| c.plus_millis(31_688)),
            contract_end_date: created.map(|c| c.plus_millis(31_688 + term_ms)),
            contract_term_months: Some(s.contract_term_months),
            auto_renew_term: Some(false),
            locked: s.locked,
            admin_locked: s.admin_locked,
            cancelable: Some(status.is_active()),
            shutdown: s.shutdown,
            up: Some(status.is_active() && !s.shutdown),
            attribute_tags: Some(serde_json::json!({})),
            vxc_approval: Some(s.approval.clone().unwrap_or_default()),
            a_end: Some(self.render_end(&s.a_end)),
            b_end: Some(self.render_end(&s.b_end)),
            resources: Some(Resources { vll, ..Resources::default() }),
        }
    }

    /// Whether VXC `v` shows in `port`'s `associatedVxcs`. A live port lists
    /// its live VXCs; a cancelled or decommissioned VXC is listed under its
    /// cancelled or decommissioned ends, or under both ends when it has none
    /// (so it is always somewhere). *Why*: the seed blog counts the VXCs of
    /// every live port without looking at their status and gets 12 on an
    /// account with inactive VXCs, so the real API does not show them there.
    fn listed_under(&self, v: usize, port: &PortSpec, now: EpochMillis) -> bool {
        let vxc = &self.vxcs[v];
        if port.status.is_inactive() || !vxc.status_at(now.as_millis()).is_inactive() {
            return true;
        }
        let inactive_end = |uid: &str| self.port_by_uid(uid).is_some_and(|p| p.spec.status.is_inactive());
        !(inactive_end(&vxc.spec.a_end.product_uid) || inactive_end(&vxc.spec.b_end.product_uid))
    }

    pub(crate) fn render_port(&self, i: usize, now: EpochMillis, with_vxcs: bool) -> Product {
        let s = &self.ports[i].spec;
        let created = s.create_date;
        let term_ms = i64::from(s.contract_term_months) * 30 * 86_400_000;
        let associated_vxcs = if with_vxcs {
            self.vxcs_by_port.get(&s.uid).map_or_else(Vec::new, |list| {
                list.iter().filter(|&&v| self.listed_under(v, s, now)).map(|&v| self.render_vxc(v, now)).collect()
            })
        } else {
            Vec::new()
        };
        let is_port = s.product_type == ProductType::Megaport;
        Product {
            product_id: s.product_id,
            product_uid: ProductUid::new(s.uid.clone()),
            product_name: s.name.clone(),
            product_type: s.product_type.clone(),
            provisioning_status: s.status.clone(),
            port_speed_mbps: if s.product_type == ProductType::Mve { None } else { Some(s.speed_mbps) },
            max_vxc_speed_mbps: if is_port { None } else { Some(s.speed_mbps) },
            location_id: Some(s.location_id),
            location_detail: self.location_detail(s.location_id),
            market: self.file.company.market.clone(),
            usage_algorithm: Some(if is_port {
                "NOT_POST_PAID".to_owned()
            } else {
                "POST_PAID_HOURLY_SPEED_MCR2".to_owned()
            }),
            created_by: Some("8f3c2a1b-6d5e-4f70-9a8b-7c6d5e4f3a2b".to_owned()),
            create_date: created,
            live_date: created.map(|c| c.plus_millis(86_400_000)),
            terminate_date: None,
            marketplace_visibility: Some(false),
            vxc_permitted: Some(true),
            vxc_auto_approval: Some(false),
            secondary_name: None,
            lag_primary: Some(false),
            lag_id: None,
            aggregation_id: None,
            company_uid: Some(self.file.company.uid.clone()),
            company_name: Some(self.file.company.name.clone()),
            cost_centre: s.cost_centre.clone(),
            contract_start_date: created,
            contract_end_date: created.map(|c| c.plus_millis(term_ms)),
            contract_term_months: Some(s.contract_term_months),
            attribute_tags: None,
            is_virtual: Some(!is_port),
            buyout_port: Some(false),
            locked: s.locked,
            admin_locked: false,
            cancelable: Some(s.status.is_active()),
            diversity_zone: s.diversity_zone.clone(),
            connect_type: match s.product_type {
                ProductType::Mcr2 => Some("VROUTER".to_owned()),
                ProductType::Mve => Some("MVE".to_owned()),
                _ => None,
            },
            up: Some(s.status.is_active()),
            vendor: None,
            mve_size: None,
            mve_label: None,
            vnics: None,
            resources: is_port.then(|| Resources {
                interface: Some(serde_json::json!({
                    "demarcation": "", "description": "", "id": s.product_id, "loa_template": "megaport",
                    "media": "LR4", "name": s.name, "port_speed": s.speed_mbps,
                    "resource_name": "interface", "resource_type": "interface", "up": i32::from(s.status.is_active())
                })),
                ..Resources::default()
            }),
            associated_vxcs,
            associated_ixs: Vec::new(),
        }
    }

    /// The world as it is now, as a world file (for `/_sim/world`).
    pub(crate) fn snapshot(&self) -> WorldFile {
        let mut file = self.file.clone();
        file.ports = self.ports.iter().map(|p| p.spec.clone()).collect();
        file.vxcs = self
            .vxcs
            .iter()
            .map(|v| {
                let mut spec = v.spec.clone();
                spec.create_date = v.rate_history.first().map(|(t, _)| EpochMillis::from_millis(*t));
                spec.rate_limit_mbps = v.rate_history.last().map_or(spec.rate_limit_mbps, |r| r.1);
                spec
            })
            .collect();
        file
    }
}
