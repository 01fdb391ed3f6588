//! The vendor classifier table: real lines and the canonical meaning each
//! must have. Shared by `syslog_classify.rs` (parsed directly) and
//! `syslog_relays.rs` (sent through real rsyslog and syslog-ng relays).

use megaflex_domain::event::{EventKind, EventState};

use EventKind::{BgpPeer, Link};
use EventState::{Down, Unknown, Up};

/// One line and what it means.
#[derive(Debug)]
pub struct Case {
    pub line: &'static str,
    pub host: Option<&'static str>,
    pub kind: EventKind,
    pub entity: &'static str,
    pub state: EventState,
    pub admin: bool,
}

const fn c(
    line: &'static str,
    host: Option<&'static str>,
    kind: EventKind,
    entity: &'static str,
    state: EventState,
    admin: bool,
) -> Case {
    Case { line, host, kind, entity, state, admin }
}

pub const CASES: &[Case] = &[
    // Cisco IOS / IOS-XE
    c(
        "<189>1432: test-switch1: Jun  1 12:50:26.172: %LINEPROTO-5-UPDOWN: Line protocol on Interface FastEthernet0/2, changed state to down",
        Some("test-switch1"),
        Link,
        "FastEthernet0/2",
        Down,
        false,
    ),
    c(
        "<189>1433: test-switch1: Jun  1 12:51:26.172: %LINEPROTO-5-UPDOWN: Line protocol on Interface FastEthernet0/2, changed state to up",
        Some("test-switch1"),
        Link,
        "FastEthernet0/2",
        Up,
        false,
    ),
    c(
        "<187>88: core-b1: *Mar  1 00:01:02.123: %LINK-3-UPDOWN: Interface TenGigabitEthernet0/1/0, changed state to down",
        Some("core-b1"),
        Link,
        "TenGigabitEthernet0/1/0",
        Down,
        false,
    ),
    c(
        "<189>521: router1: *Nov 14 08:30:56.699: %LINK-5-CHANGED: Interface GigabitEthernet2, changed state to administratively down",
        Some("router1"),
        Link,
        "GigabitEthernet2",
        Down,
        true,
    ),
    c(
        "<189>90: r1: Jun  1 12:00:00: %BGP-5-ADJCHANGE: neighbor 10.0.4.4 Up ",
        Some("r1"),
        BgpPeer,
        "10.0.4.4",
        Up,
        false,
    ),
    c(
        "<189>91: r1: Jun  1 12:00:01: %BGP-5-ADJCHANGE: neighbor 10.0.12.2 passive Down BGP Notification sent",
        Some("r1"),
        BgpPeer,
        "10.0.12.2",
        Down,
        false,
    ),
    c(
        "<189>92: r1: Jun  1 12:00:02: %BGP-5-ADJCHANGE: neighbor 192.0.2.9 vpn vrf CUST Down Interface flap",
        Some("r1"),
        BgpPeer,
        "192.0.2.9",
        Down,
        false,
    ),
    c(
        "<189>93: r1: Jun  1 12:00:03: %BGP-5-ADJCHANGE: neighbor 192.0.2.9 Down User reset",
        Some("r1"),
        BgpPeer,
        "192.0.2.9",
        Down,
        true,
    ),
    // IOS-XR
    c(
        "<187>94307: gw2.acy1 LC/0/2/CPU0:Jul  7 20:16:14.834 : ifmgr[214]: %PKT_INFRA-LINK-3-UPDOWN : Interface TenGigE0/2/0/4, changed state to Down",
        Some("gw2.acy1"),
        Link,
        "TenGigE0/2/0/4",
        Down,
        false,
    ),
    c(
        "<189>94310: gw2.acy1 RP/0/RSP0/CPU0:Jul  7 20:16:20.000 : bgp[1052]: %ROUTING-BGP-5-ADJCHANGE : neighbor 10.1.1.1 Down - Interface flap (VRF: default) (AS: 65000)",
        Some("gw2.acy1"),
        BgpPeer,
        "10.1.1.1",
        Down,
        false,
    ),
    // NX-OS
    c(
        "<190>2018 Apr 20 13:15:07 nexus-switch %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/33 is down (Link failure)",
        Some("nexus-switch"),
        Link,
        "Ethernet1/33",
        Down,
        false,
    ),
    c(
        "<190>2018 Apr 20 13:16:07 nexus-switch %ETHPORT-5-IF_UP: Interface Ethernet1/33 is up in mode trunk",
        Some("nexus-switch"),
        Link,
        "Ethernet1/33",
        Up,
        false,
    ),
    c(
        "<190>2018 Apr 20 13:17:07 nexus-switch %ETHPORT-5-IF_DOWN_ADMIN_DOWN: Interface Ethernet1/34 is down (Administratively down)",
        Some("nexus-switch"),
        Link,
        "Ethernet1/34",
        Down,
        true,
    ),
    // Junos
    c(
        "<28>Jul 20 21:45:59 vmx01 mib2d[2424]: SNMP_TRAP_LINK_DOWN: ifIndex 502, ifAdminStatus up(1), ifOperStatus down(2), ifName xe-0/0/0",
        Some("vmx01"),
        Link,
        "xe-0/0/0",
        Down,
        false,
    ),
    c(
        "<28>Jul 20 21:46:59 vmx01 mib2d[2424]: SNMP_TRAP_LINK_DOWN: ifIndex 503, ifAdminStatus down(2), ifOperStatus down(2), ifName xe-0/0/1",
        Some("vmx01"),
        Link,
        "xe-0/0/1",
        Down,
        true,
    ),
    c(
        "<28>Jul 20 21:47:59 vmx01 mib2d[2424]: SNMP_TRAP_LINK_UP: ifIndex 502, ifAdminStatus up(1), ifOperStatus up(1), ifName xe-0/0/0",
        Some("vmx01"),
        Link,
        "xe-0/0/0",
        Up,
        false,
    ),
    c(
        "<28>Jun 21 14:03:12  vmx01 rpd[2902]: RPD_BGP_NEIGHBOR_STATE_CHANGED: BGP peer 1.1.1.1 (External AS 2222) changed state from Established to Idle (event HoldTime) (instance master)",
        Some("vmx01"),
        BgpPeer,
        "1.1.1.1",
        Down,
        false,
    ),
    c(
        "<28>Jun 21 14:05:12 vmx01 rpd[2902]: BGP_NEIGHBOR_STATE_CHANGED: BGP peer 1.1.1.1 (External AS 2222) changed state from OpenConfirm to Established (event RecvKeepAlive) (instance master)",
        Some("vmx01"),
        BgpPeer,
        "1.1.1.1",
        Up,
        false,
    ),
    c(
        "<28>Jun 21 14:04:12 vmx01 rpd[2902]: RPD_BGP_NEIGHBOR_STATE_CHANGED: BGP peer 1.1.1.1 (External AS 2222) changed state from Idle to Connect (event Start) (instance master)",
        Some("vmx01"),
        BgpPeer,
        "1.1.1.1",
        Unknown,
        false,
    ),
    // Arista EOS
    c(
        "<165>Feb  6 09:42:36 veos01 Ebra: %LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet28, changed state to down",
        Some("veos01"),
        Link,
        "Ethernet28",
        Down,
        false,
    ),
    c(
        "<165>Feb  6 09:43:36 veos01 Ebra: %LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet28 (to core-b1), changed state to up",
        Some("veos01"),
        Link,
        "Ethernet28",
        Up,
        false,
    ),
    c(
        "<13>Dec 14 12:08:59 veos01 Bgp: %BGP-5-ADJCHANGE: peer 192.0.2.2 (VRF default AS 12345) old state Established event AdminReset new state Idle",
        Some("veos01"),
        BgpPeer,
        "192.0.2.2",
        Down,
        true,
    ),
    c(
        "<13>Dec 14 12:09:59 veos01 Bgp: %BGP-5-ADJCHANGE: peer 192.0.2.2 (VRF default AS 12345) old state OpenConfirm event RecvKeepAlive new state Established",
        Some("veos01"),
        BgpPeer,
        "192.0.2.2",
        Up,
        false,
    ),
    // FRR / SONiC
    c(
        "<166>1 2019-02-20T15:10:35.073589+00:00 ss12.00.lab bgpd 83 - -  %ADJCHANGE: neighbor 100.67.0.142(sp01.02.lab) in vrf Default Down Interface down",
        Some("ss12.00.lab"),
        BgpPeer,
        "100.67.0.142",
        Down,
        false,
    ),
    c(
        "<166>1 2019-02-20T15:12:35Z ss12.00.lab bgpd 83 - - %ADJCHANGE: neighbor 100.67.0.142(sp01.02.lab) in vrf Default Up",
        Some("ss12.00.lab"),
        BgpPeer,
        "100.67.0.142",
        Up,
        false,
    ),
    // FortiOS
    c(
        "<189>date=2019-05-10 time=11:50:48 devname=\"FGT-B1\" devid=\"FG100E\" logid=\"0100020099\" type=\"event\" subtype=\"system\" level=\"warning\" vd=\"root\" logdesc=\"Interface status changed\" action=\"interface-stat-change\" status=\"DOWN\" msg=\"Interface port1 is down\"",
        Some("FGT-B1"),
        Link,
        "port1",
        Down,
        false,
    ),
    c(
        "<189>date=2019-05-10 time=11:51:48 devname=\"FGT-B1\" logid=\"0100020090\" type=\"event\" logdesc=\"Interface link status changed\" intf=\"wan1\" status=\"UP\"",
        Some("FGT-B1"),
        Link,
        "wan1",
        Up,
        false,
    ),
    c(
        "<189>date=2019-05-10 time=11:52:48 devname=\"FGT-B1\" logid=\"0103020300\" type=\"event\" subtype=\"router\" logdesc=\"BGP neighbor status changed\" msg=\"BGP: %BGP-5-ADJCHANGE: neighbor 13.13.13.6 Up \"",
        Some("FGT-B1"),
        BgpPeer,
        "13.13.13.6",
        Up,
        false,
    ),
];
