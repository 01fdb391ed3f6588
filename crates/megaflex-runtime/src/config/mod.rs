//! The daemon's configuration file (TOML), compiled once before anything
//! starts: [`file`] is the TOML as written (with positions), `compile`
//! checks it and builds [`Config`] (the types in [`settings`]) in one step.
//! Unknown keys, bad durations, references to links that do not exist,
//! `normal_mbps >= boost_mbps` and the like are errors that name the file,
//! line and column. The runtime reads only the compiled values.

mod compile;
pub mod file;
pub mod settings;
mod store;

pub use compile::{ConfigError, MAX_HTTP_CONNECTIONS, MAX_MESSAGE_BYTES};
pub use file::{Dur, MIN_RECONCILE_SECS};
pub use megaflex_domain::circuits::OutsideChange;
pub use megaflex_domain::duration::{DurationError, parse_duration};
pub use megaflex_domain::signal::Signal;
pub use settings::{
    CircuitConfig, ClockSetting, Config, EngineConfig, EnvironmentSetting, HttpConfig, LinkConfig, MegaportConfig,
    ServiceNowConfig, SnmpListener, SnmpUserConfig, SourceConfig, StoreConfig, SyslogListener, WebhookListener,
};

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    const GOOD: &str = r#"
[megaport]
environment = "staging"
requests_per_5m = 400

[[source]]
type = "syslog"
listen = "udp://127.0.0.1:5514"

[[source]]
type = "snmp_trap"
listen = "udp://127.0.0.1:1162"
communities = ["public"]

[[link]]
name = "bne-mel-primary"
signals = [
  { syslog = { host = "core-b1", interface = "TenGigabitEthernet0/1/0" } },
  { snmp = { agent = "10.0.0.1", if_index = 3 } },
  { alert = { alertname = "BneMelPrimaryDown" } },
]

[[circuit]]
name = "bne-mel-backup"
vxc = "61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5"
normal_mbps = 10
boost_mbps = 500
boost_when_down = ["bne-mel-primary"]
boost_after = "30s"
restore_after = "10m"
"#;

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    fn err(text: &str) -> ConfigError {
        Config::parse(Path::new("megaflex.toml"), text).unwrap_err()
    }

    #[test]
    fn good_config_loads_with_defaults() {
        let c = Config::parse(Path::new("megaflex.toml"), GOOD).unwrap();
        let circuit = &c.circuits[0];
        assert_eq!(circuit.boost_after, Duration::from_secs(30));
        assert_eq!(circuit.restore_after, Duration::from_secs(600));
        assert_eq!(circuit.max_updates_per_month, 60);
        assert_eq!(c.engine.reconcile_every, Duration::from_secs(60));
        assert_eq!(c.sources.len(), 2);
        let SourceConfig::SnmpTrap(snmp) = &c.sources[1] else { panic!("{:?}", c.sources[1]) };
        assert_eq!(snmp.addr, "127.0.0.1:1162".parse().unwrap());
        assert_eq!(c.store.url, "sqlite://megaflex.db");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let text = GOOD.replace("boost_after = \"30s\"", "boost_after = \"soon\"");
        let e = err(&text);
        assert_eq!((e.line, e.column, e.file.to_str()), (line_of(&text, "soon"), 15, Some("megaflex.toml")), "{e}");
        assert!(e.message.contains("invalid duration \"soon\""), "{e}");
        let text = GOOD.replace("normal_mbps = 10", "normal_mbps = 10\nnormal_mpbs = 5");
        let e = err(&text);
        assert!(e.message.contains("unknown field `normal_mpbs`"), "{e}");
        assert_eq!(e.line, line_of(&text, "normal_mpbs"));
        let text = GOOD.replace("boost_when_down = [\"bne-mel-primary\"]", "boost_when_down = [\"bne-syd\"]");
        let e = err(&text);
        assert!(e.message.contains("watches link \"bne-syd\", which is not defined"), "{e}");
        assert_eq!((e.line, e.column), (line_of(&text, "bne-syd"), 20));
        let e = err(&GOOD.replace("boost_mbps = 500", "boost_mbps = 10"));
        assert!(e.message.contains("must be greater than normal_mbps"), "{e}");
        let e = err(&GOOD.replace("listen = \"udp://127.0.0.1:5514\"", "listen = \"udp://nowhere\""));
        assert!(e.message.contains("not an IP address and port"), "{e}");
        let e = err(&GOOD.replace("requests_per_5m = 400", "requests_per_5m = 900"));
        assert!(e.message.contains("1..=500"), "{e}");
        let e = err(&format!(
            "{GOOD}\n[[circuit]]\nname = \"x\"\nvxc = \"61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5\"\nnormal_mbps = 1\nboost_mbps = 2\nboost_when_down = [\"bne-mel-primary\"]\n"
        ));
        assert!(e.message.contains("managed by two circuits"), "{e}");
        assert!(e.to_string().starts_with("megaflex.toml:"), "{e}");
    }

    /// What the runtime reads is built in the same step as the checks: the
    /// values come out typed, with the file's values and the defaults.
    #[test]
    fn compiled_sections_are_typed_values() {
        let text = format!(
            "{GOOD}
[http]
listen = \"127.0.0.1:9100\"
allowed_hosts = [\"Prom.Example\"]
idle_timeout = \"30s\"

[[source]]
type = \"syslog\"
listen = \"tcp://127.0.0.1:6514\"
max_connections = 8
read_timeout = \"5s\"

[[source]]
type = \"webhook\"
listen = \"127.0.0.1:9000\"
token_env = \"HOOK_TOKEN\"
dedupe_max_entries = 50

[[pattern]]
name = \"p\"
regex = \"(?P<entity>\\\\S+) is (?P<state>up|down)\"
"
        );
        let c = Config::parse(Path::new("megaflex.toml"), &text).unwrap();
        let http = c.http.as_ref().unwrap();
        assert_eq!(http.listen, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(http.allowed_hosts, ["prom.example"]);
        assert_eq!((http.limits.max_connections, http.limits.idle_timeout), (128, Duration::from_secs(30)));
        let SourceConfig::Syslog(udp) = &c.sources[0] else { panic!("{:?}", c.sources[0]) };
        assert_eq!(udp.settings.listen, megaflex_sources::syslog::Listen::Udp("127.0.0.1:5514".parse().unwrap()));
        let SourceConfig::Syslog(tcp) = &c.sources[2] else { panic!("{:?}", c.sources[2]) };
        assert_eq!((tcp.settings.max_connections, tcp.settings.read_timeout), (8, Duration::from_secs(5)));
        assert_eq!(tcp.settings.idle_timeout, Duration::from_secs(3600), "the default");
        let SourceConfig::Webhook(hook) = &c.sources[3] else { panic!("{:?}", c.sources[3]) };
        assert_eq!((hook.settings.listen, hook.settings.dedupe_max_entries), ("127.0.0.1:9000".parse().unwrap(), 50));
        assert_eq!((hook.token_env.as_deref(), hook.settings.token.as_deref()), (Some("HOOK_TOKEN"), None));
        assert_eq!(c.patterns.len(), 1);
        assert_eq!(c.links[0].signals.len(), 3);
        assert_eq!(c.circuits[0].vxc, megaport::types::ProductUid::new("61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5"));
        assert_eq!(c.circuits[0].policy().links, ["bne-mel-primary"]);
        assert_eq!(c.megaport.requests_per_5m, 400);
    }

    #[test]
    fn snmp_engine_ids_are_checked_with_a_position() {
        let at = "communities = [\"public\"]";
        let ok = GOOD.replace(at, &format!("{at}\nengine_id = \"0x80000000050102030405\""));
        Config::parse(Path::new("megaflex.toml"), &ok).unwrap();
        let text = GOOD.replace(at, &format!("{at}\nengine_id = \"0x8000\""));
        let e = err(&text);
        assert!(e.message.contains("engine_id") && e.message.contains("5 to 32 bytes"), "{e}");
        // Fields of a [[source]] carry no span of their own: the error points at its table.
        assert_eq!(e.line, line_of(&text, "type = \"snmp_trap\"") - 1, "{e}");
        let text = GOOD.replace(
            at,
            &format!("{at}\n[[source.users]]\nname = \"u\"\nengine_id = \"nothex00000\"\nauth = \"SHA\"\nauth_password_env = \"X\""),
        );
        assert!(err(&text).message.contains("user u: engine_id"), "{}", err(&text));
    }
}
