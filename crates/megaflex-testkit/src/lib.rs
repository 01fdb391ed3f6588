//! The one builder of megaflex configuration files for tests: the runtime's
//! tests parse its text, the CLI's tests write it for `megaflex run`. Both
//! start from the simulator's URLs and a store path and add what a test
//! needs (sources, `[http]`, `[servicenow]`, links, circuits). Values are
//! TOML text (`"2s"` with its quotes, `10`, `true`); a key set twice keeps
//! the last value, so a test states only what differs.
//!
//! It has no dependencies: callers pass the simulator's URLs as strings.

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// A TOML basic string: `s` quoted, with `\` and `"` escaped.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Keys of one table in the order first set; setting a key again replaces
/// its value in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table(Vec<(String, String)>);

impl Table {
    /// Sets `key = value` (`value` is TOML text).
    pub fn set(&mut self, key: &str, value: impl Display) {
        let value = value.to_string();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    fn write(&self, header: &str, out: &mut String) {
        out.push_str(header);
        out.push('\n');
        for (k, v) in &self.0 {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push('\n');
    }
}

/// One `[[link]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkToml {
    keys: Table,
    signals: Vec<String>,
}

impl LinkToml {
    /// A link named `name` without signals yet.
    pub fn new(name: &str) -> Self {
        let mut keys = Table::default();
        keys.set("name", quoted(name));
        Self { keys, signals: Vec::new() }
    }

    /// A link told by the syslog messages of `host` about `interface`.
    pub fn syslog(name: &str, host: &str, interface: &str) -> Self {
        Self::new(name).signal(format!(
            "{{ syslog = {{ host = {}, interface = {} }} }}",
            quoted(host),
            quoted(interface)
        ))
    }

    /// Adds a signal, as TOML text (`{ snmp = { agent = "...", if_index = 3 } }`).
    pub fn signal(mut self, signal: impl Display) -> Self {
        self.signals.push(signal.to_string());
        self
    }

    /// Sets a key (`flap`, ...).
    pub fn set(mut self, key: &str, value: impl Display) -> Self {
        self.keys.set(key, value);
        self
    }

    fn write(&self, out: &mut String) {
        let mut keys = self.keys.clone();
        keys.set("signals", format!("[ {} ]", self.signals.join(", ")));
        keys.write("[[link]]", out);
    }
}

/// One `[[circuit]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitToml(Table);

impl CircuitToml {
    /// Circuit `name` on VXC `vxc`: `normal_mbps`, `boost_mbps` while one of
    /// `links` is down.
    pub fn new(name: &str, vxc: &str, normal_mbps: u32, boost_mbps: u32, links: &[&str]) -> Self {
        let mut t = Table::default();
        t.set("name", quoted(name));
        t.set("vxc", quoted(vxc));
        t.set("normal_mbps", normal_mbps);
        t.set("boost_mbps", boost_mbps);
        t.set("boost_when_down", format!("[{}]", links.iter().map(|l| quoted(l)).collect::<Vec<_>>().join(", ")));
        Self(t)
    }

    /// Sets a key (`value` is TOML text).
    pub fn set(mut self, key: &str, value: impl Display) -> Self {
        self.0.set(key, value);
        self
    }

    /// `boost_after = "<duration>"`.
    pub fn boost_after(self, duration: &str) -> Self {
        self.set("boost_after", quoted(duration))
    }

    /// `restore_after = "<duration>"`.
    pub fn restore_after(self, duration: &str) -> Self {
        self.set("restore_after", quoted(duration))
    }

    /// `incident = true` (needs a `[servicenow]`).
    pub fn incident(self) -> Self {
        self.set("incident", true)
    }
}

/// A whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigToml {
    megaport: Table,
    engine: Table,
    store: Table,
    http: Option<Table>,
    servicenow: Option<Table>,
    sources: Vec<Table>,
    links: Vec<LinkToml>,
    circuits: Vec<CircuitToml>,
    raw: Vec<String>,
}

impl ConfigToml {
    /// Megaport is the simulator at `api_url` (tokens from `token_url`) and
    /// the engine follows its clock.
    pub fn simulator(api_url: &str, token_url: &str) -> Self {
        let mut c = Self::default();
        c.megaport
            .set("environment", format!("{{ api_url = {}, token_url = {} }}", quoted(api_url), quoted(token_url)));
        c.engine.set("clock", quoted("simulator"));
        c
    }

    /// Sets a `[megaport]` key.
    pub fn megaport(mut self, key: &str, value: impl Display) -> Self {
        self.megaport.set(key, value);
        self
    }

    /// Sets an `[engine]` key.
    pub fn engine(mut self, key: &str, value: impl Display) -> Self {
        self.engine.set(key, value);
        self
    }

    /// The store: SQLite at `path`.
    pub fn store(self, path: &Path) -> Self {
        self.store_key("url", quoted(&format!("sqlite://{}", path.display())))
    }

    /// Sets a `[store]` key.
    pub fn store_key(mut self, key: &str, value: impl Display) -> Self {
        self.store.set(key, value);
        self
    }

    /// `[http] listen = "<listen>"`.
    pub fn http(self, listen: impl Display) -> Self {
        self.http_key("listen", quoted(&listen.to_string()))
    }

    /// Sets an `[http]` key (the table is written once one is set).
    pub fn http_key(mut self, key: &str, value: impl Display) -> Self {
        self.http.get_or_insert_with(Table::default).set(key, value);
        self
    }

    /// `[servicenow] instance = "<instance>"`.
    pub fn servicenow(self, instance: &str) -> Self {
        self.servicenow_key("instance", quoted(instance))
    }

    /// Sets a `[servicenow]` key.
    pub fn servicenow_key(mut self, key: &str, value: impl Display) -> Self {
        self.servicenow.get_or_insert_with(Table::default).set(key, value);
        self
    }

    /// Adds a `[[source]]` of `kind` on `listen`, with more `keys` (TOML text).
    pub fn source(mut self, kind: &str, listen: impl Display, keys: &[(&str, &str)]) -> Self {
        let mut t = Table::default();
        t.set("type", quoted(kind));
        t.set("listen", quoted(&listen.to_string()));
        for (k, v) in keys {
            t.set(k, v);
        }
        self.sources.push(t);
        self
    }

    /// A syslog source on `listen` (`udp://127.0.0.1:0`, `tcp://...`).
    pub fn syslog(self, listen: impl Display) -> Self {
        self.source("syslog", listen, &[])
    }

    /// An SNMP trap source on `udp://<addr>`.
    pub fn snmp_trap(self, addr: impl Display, keys: &[(&str, &str)]) -> Self {
        self.source("snmp_trap", format!("udp://{addr}"), keys)
    }

    /// A webhook source on `addr`.
    pub fn webhook(self, addr: impl Display, keys: &[(&str, &str)]) -> Self {
        self.source("webhook", addr, keys)
    }

    /// Sets a key of every source (e.g. the only one's `listen`).
    pub fn sources_key(mut self, key: &str, value: impl Display) -> Self {
        let value = value.to_string();
        for s in &mut self.sources {
            s.set(key, &value);
        }
        self
    }

    /// Adds a link.
    pub fn link(mut self, link: LinkToml) -> Self {
        self.links.push(link);
        self
    }

    /// Adds a circuit.
    pub fn circuit(mut self, circuit: CircuitToml) -> Self {
        self.circuits.push(circuit);
        self
    }

    /// Changes every link (tests with one link change that one).
    pub fn map_links(mut self, f: impl Fn(LinkToml) -> LinkToml) -> Self {
        self.links = self.links.into_iter().map(f).collect();
        self
    }

    /// Changes every circuit.
    pub fn map_circuits(mut self, f: impl Fn(CircuitToml) -> CircuitToml) -> Self {
        self.circuits = self.circuits.into_iter().map(f).collect();
        self
    }

    /// Appends TOML text as written (tables the builder has no words for,
    /// or a deliberately broken line).
    pub fn raw(mut self, text: &str) -> Self {
        self.raw.push(text.to_owned());
        self
    }

    /// The file's text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.megaport.write("[megaport]", &mut out);
        self.engine.write("[engine]", &mut out);
        self.store.write("[store]", &mut out);
        if let Some(http) = &self.http {
            http.write("[http]", &mut out);
        }
        if let Some(sn) = &self.servicenow {
            sn.write("[servicenow]", &mut out);
        }
        for s in &self.sources {
            s.write("[[source]]", &mut out);
        }
        for l in &self.links {
            l.write(&mut out);
        }
        for c in &self.circuits {
            c.0.write("[[circuit]]", &mut out);
        }
        for r in &self.raw {
            out.push_str(r);
            out.push('\n');
        }
        out
    }

    /// Writes the text to `dir/megaflex.toml` and returns that path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("megaflex.toml");
        std::fs::write(&path, self.text()).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_set_again_keeps_its_place_and_the_last_value() {
        let text = ConfigToml::simulator("http://127.0.0.1:1", "http://127.0.0.1:1/token")
            .store(Path::new("/tmp/x.db"))
            .syslog("udp://127.0.0.1:0")
            .link(LinkToml::syslog("a", "core-b1", "Te0/1/0"))
            .circuit(CircuitToml::new("c", "vxc-1", 10, 500, &["a"]).boost_after("30s"))
            .map_circuits(|c| c.boost_after("2s"))
            .engine("clock", quoted("system"))
            .text();
        assert!(text.contains("clock = \"system\"\n") && !text.contains("simulator\"\n"), "{text}");
        assert_eq!(text.matches("boost_after").count(), 1, "{text}");
        assert!(text.contains("boost_after = \"2s\""), "{text}");
        assert!(text.contains("signals = [ { syslog = { host = \"core-b1\", interface = \"Te0/1/0\" } } ]"), "{text}");
        assert!(text.find("[[source]]") < text.find("[[link]]") && text.find("[[link]]") < text.find("[[circuit]]"));
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
