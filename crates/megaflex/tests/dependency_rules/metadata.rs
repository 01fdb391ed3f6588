//! The resolved dependency graph from `cargo metadata`.
//!
//! The graph is the lock file's, for the host platform, with the features of
//! the whole workspace unified (what `cargo build --workspace` compiles): a
//! crate can reach something through a feature another member turns on.
//! That over-approximates per-crate builds, which is the safe side for a
//! "must not reach" rule.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

#[derive(Debug)]
pub struct Package {
    pub name: String,
    /// (target kind, root source file): `lib`/`proc-macro` or `bin`.
    pub roots: Vec<(String, PathBuf)>,
}

#[derive(Debug)]
pub struct Metadata {
    pub packages: HashMap<String, Package>,
    pub workspace: Vec<String>,
    /// Package id -> its resolved dependencies.
    pub deps: HashMap<String, Vec<Dep>>,
}

#[derive(Debug, Clone)]
pub struct Dep {
    pub pkg: String,
    /// A normal or build dependency (what ends up compiled for the crate).
    pub normal_or_build: bool,
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string())
}

fn host_triple() -> String {
    let out = Command::new(cargo()).arg("-vV").output().expect("run cargo -vV");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("cargo -vV prints the host").to_string()
}

/// Runs `cargo metadata` once per test binary.
pub fn load() -> &'static Metadata {
    static METADATA: std::sync::OnceLock<Metadata> = std::sync::OnceLock::new();
    METADATA.get_or_init(run_cargo_metadata)
}

fn run_cargo_metadata() -> Metadata {
    let workspace_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // --offline: the test must not touch the network; the crates it needs
    // are present after the build that runs this test. --filter-platform:
    // other platforms' packages are not downloaded, so --offline can resolve.
    let out = Command::new(cargo())
        .current_dir(&workspace_dir)
        .args(["metadata", "--format-version", "1", "--offline", "--locked", "--filter-platform"])
        .arg(host_triple())
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");

    let mut packages = HashMap::new();
    for p in json["packages"].as_array().expect("packages") {
        let roots = p["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .filter_map(|t| {
                let kinds: Vec<&str> = t["kind"].as_array()?.iter().filter_map(Value::as_str).collect();
                let kind = kinds.iter().find(|k| matches!(**k, "lib" | "proc-macro" | "bin"))?;
                Some((kind.to_string(), PathBuf::from(t["src_path"].as_str()?)))
            })
            .collect();
        let package = Package { name: p["name"].as_str().expect("name").to_string(), roots };
        packages.insert(p["id"].as_str().expect("id").to_string(), package);
    }
    let workspace = json["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .map(|v| v.as_str().expect("member id").to_string())
        .collect();
    let mut deps = HashMap::new();
    for node in json["resolve"]["nodes"].as_array().expect("resolve.nodes") {
        let list = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .map(|d| {
                let kinds = d["dep_kinds"].as_array().expect("dep_kinds");
                let normal_or_build = kinds.iter().any(|k| k["kind"].is_null() || k["kind"] == "build");
                Dep { pkg: d["pkg"].as_str().expect("pkg").to_string(), normal_or_build }
            })
            .collect();
        deps.insert(node["id"].as_str().expect("node id").to_string(), list);
    }
    Metadata { packages, workspace, deps }
}

impl Metadata {
    pub fn name(&self, id: &str) -> &str {
        &self.packages[id].name
    }

    pub fn workspace_id(&self, name: &str) -> Option<&str> {
        self.workspace.iter().find(|id| self.name(id) == name).map(String::as_str)
    }

    pub fn is_package(&self, name: &str) -> bool {
        self.packages.values().any(|p| p.name == name)
    }

    /// Workspace crates `id` depends on directly through normal or build edges.
    pub fn direct_workspace_deps(&self, id: &str) -> Vec<&str> {
        self.deps[id]
            .iter()
            .filter(|d| d.normal_or_build && self.workspace.contains(&d.pkg))
            .map(|d| self.name(&d.pkg))
            .collect()
    }

    /// Every package reached from `id` over normal and build edges, each with
    /// the chain of crate names that reaches it (for the failure message).
    pub fn reachable(&self, id: &str) -> BTreeMap<String, Vec<String>> {
        let mut via: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([id]);
        let mut out = BTreeMap::new();
        while let Some(at) = queue.pop_front() {
            for d in self.deps[at].iter().filter(|d| d.normal_or_build) {
                if d.pkg == id || via.contains_key(d.pkg.as_str()) {
                    continue;
                }
                via.insert(&d.pkg, at);
                queue.push_back(&d.pkg);
                let mut chain = vec![self.name(&d.pkg).to_string()];
                let mut back = at;
                while back != id {
                    chain.push(self.name(back).to_string());
                    back = via[back];
                }
                chain.push(self.name(id).to_string());
                chain.reverse();
                out.entry(self.name(&d.pkg).to_string()).or_insert(chain);
            }
        }
        out
    }
}
