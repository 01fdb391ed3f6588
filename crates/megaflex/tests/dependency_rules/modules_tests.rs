//! The circle detector on small in-memory crates, one per shape the
//! project has had, and the shapes it must not call a circle.

use std::collections::BTreeSet;

use super::modules::{Circle, circles};

fn run(files: &[(&str, &str)]) -> Vec<Circle> {
    let files: Vec<(String, String)> = files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
    circles(&files, "lib.rs")
}

fn files_of(c: &Circle) -> Vec<&str> {
    c.files.iter().map(String::as_str).collect()
}

fn names(c: &Circle, from: &str, to: &str) -> Vec<String> {
    c.edges.get(&(from.to_string(), to.to_string())).map(|n| n.iter().cloned().collect()).unwrap_or_default()
}

/// source/syslog/server.rs <-> udp.rs: siblings through `use super::…`.
#[test]
fn siblings_using_each_other_through_super_are_a_circle() {
    let found = run(&[
        ("lib.rs", "pub mod source;"),
        ("source/mod.rs", "pub mod syslog;"),
        ("source/syslog/mod.rs", "mod server;\nmod udp;\npub use server::SyslogSource;"),
        (
            "source/syslog/server.rs",
            "use super::udp::UdpReceiver;\npub struct SyslogSource;\npub(super) struct Handler;\n\
             fn f() { let _ = UdpReceiver::spawn(); }",
        ),
        ("source/syslog/udp.rs", "use super::server::Handler;\npub struct UdpReceiver { h: Handler }"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(files_of(&found[0]), ["source/syslog/server.rs", "source/syslog/udp.rs"]);
    assert_eq!(names(&found[0], "source/syslog/udp.rs", "source/syslog/server.rs"), ["Handler"]);
    assert_eq!(names(&found[0], "source/syslog/server.rs", "source/syslog/udp.rs"), ["UdpReceiver"]);
}

/// circuits.rs -> links.rs -> store/mod.rs -> circuits.rs, one edge being a
/// path in code rather than a `use`.
#[test]
fn a_chain_through_a_module_directory_and_a_path_in_code_is_a_circle() {
    let found = run(&[
        ("lib.rs", "pub mod circuits;\npub mod links;\npub mod store;"),
        ("circuits.rs", "use crate::links::LinkStatus;\npub enum Pending { A }"),
        ("links.rs", "pub enum LinkStatus { Up }\nfn row() -> crate::store::LinkRow { crate::store::LinkRow }"),
        (
            "store/mod.rs",
            "mod sqlite;\npub use sqlite::SqliteStore;\nuse crate::circuits::Pending;\npub struct LinkRow;",
        ),
        ("store/sqlite.rs", "use super::LinkRow;\npub struct SqliteStore;"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(files_of(&found[0]), ["circuits.rs", "links.rs", "store/mod.rs"]);
    assert_eq!(names(&found[0], "links.rs", "store/mod.rs"), ["LinkRow"]);
}

/// a/mod.rs defines a trait that a/x.rs implements: a circle only when
/// mod.rs also uses x's items; re-exporting them is a facade.
#[test]
fn parent_and_child_are_a_circle_only_when_the_parent_uses_the_child() {
    let child = ("a/x.rs", "pub struct X;\nimpl super::Source for X {}\npub fn make() -> X { X }");
    let facade =
        run(&[("lib.rs", "pub mod a;"), ("a/mod.rs", "mod x;\npub use x::{X, make};\npub trait Source {}"), child]);
    assert!(facade.is_empty(), "a facade re-export is no edge: {facade:?}");

    let uses_child = run(&[
        ("lib.rs", "pub mod a;"),
        ("a/mod.rs", "mod x;\npub trait Source {}\npub fn all() { x::make(); }"),
        child,
    ]);
    assert_eq!(uses_child.len(), 1);
    assert_eq!(files_of(&uses_child[0]), ["a/mod.rs", "a/x.rs"]);
    assert_eq!(names(&uses_child[0], "a/x.rs", "a/mod.rs"), ["Source"]);
    assert_eq!(names(&uses_child[0], "a/mod.rs", "a/x.rs"), ["make"]);

    // Re-exported and also used by the parent itself: an edge.
    let reexport_used = run(&[
        ("lib.rs", "pub mod a;"),
        ("a/mod.rs", "mod x;\npub use x::X;\npub trait Source {}\nfn f(_: X) {}"),
        child,
    ]);
    assert_eq!(reexport_used.len(), 1);
}

/// The simulator's state -> faults -> http -> state and state <-> servicenow,
/// all through `crate::` paths, with `lib.rs` only declaring and re-exporting.
#[test]
fn crate_paths_between_top_level_modules_form_one_circle_without_the_facade_root() {
    let found = run(&[
        (
            "lib.rs",
            "mod faults;\nmod http;\nmod servicenow;\nmod state;\npub use state::SimState;\npub use faults::Fault;",
        ),
        (
            "state.rs",
            "use crate::faults::Fault;\nuse crate::servicenow::ServiceNow;\npub struct SimState;\npub fn lock() {}",
        ),
        (
            "faults.rs",
            "use crate::http::ApiError;\nuse crate::state::{SimState, lock};\npub struct Fault;\npub fn apply() {}",
        ),
        ("http.rs", "use crate::state::SimState;\npub struct ApiError;\nfn f() { crate::faults::apply(); }"),
        ("servicenow.rs", "use crate::state::{SimState as S, lock};\npub struct ServiceNow;"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(files_of(&found[0]), ["faults.rs", "http.rs", "servicenow.rs", "state.rs"]);
    assert_eq!(names(&found[0], "faults.rs", "state.rs"), ["SimState", "lock"]);
    assert_eq!(names(&found[0], "http.rs", "faults.rs"), ["apply"]);
}

/// A root that defines an item its children use and also calls into them
/// (the simulator's `SimConfig` in lib.rs) is part of the circle.
#[test]
fn a_root_defining_what_children_use_and_using_them_is_in_the_circle() {
    let found = run(&[
        ("lib.rs", "mod state;\npub struct SimConfig;\npub fn spawn() { state::SimState::new(); }"),
        ("state.rs", "use crate::SimConfig;\npub struct SimState;"),
    ]);
    assert_eq!(found.len(), 1);
    assert_eq!(files_of(&found[0]), ["lib.rs", "state.rs"]);
}

/// Re-exports are followed to the defining file; module imports make the
/// paths that go through them edges.
#[test]
fn reexports_are_followed_and_imported_modules_resolve_paths() {
    let found = run(&[
        ("lib.rs", "pub mod engine;\npub mod store;\npub mod record;\npub use engine::Engine;"),
        ("engine.rs", "use crate::store;\npub struct Engine;\nfn f() { store::open(); }"),
        ("store.rs", "use crate::record::{self as rec};\npub fn open() { rec::Shape; }"),
        ("record.rs", "use crate::Engine;\npub struct Shape;"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(files_of(&found[0]), ["engine.rs", "record.rs", "store.rs"]);
    assert_eq!(names(&found[0], "record.rs", "engine.rs"), ["Engine"]);
    assert_eq!(names(&found[0], "engine.rs", "store.rs"), ["open"]);
    assert_eq!(names(&found[0], "store.rs", "record.rs"), ["Shape"]);
}

/// Test code, comments, strings and test files are no production edges.
#[test]
fn test_code_comments_and_strings_make_no_edge() {
    let found = run(&[
        ("lib.rs", "mod a;\nmod b;\n#[cfg(test)]\nmod helpers;"),
        ("a.rs", "use crate::b::B;\npub struct A;"),
        (
            "b.rs",
            "pub struct B;\n// use crate::a::A;\n/* crate::a::A /* nested */ crate::a::A */\n\
             const S: &str = \"crate::a::A\";\nconst R: &str = r#\"crate::a::A \"quoted\"\"#;\n\
             const C: char = '\"'; fn f<'a>(x: &'a str) -> &'a str { x }\n\
             #[cfg(test)]\nmod tests {\n    use super::super::a::A;\n}\n\
             #[cfg(test)]\nmod b_tests;\n#[cfg(test)]\nfn helper() { crate::a::A; }",
        ),
        ("b_tests.rs", "use crate::a::A;"),
        ("tests.rs", "use crate::a::A;"),
        ("helpers.rs", "use crate::a::A;\nuse crate::b::B;"),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

/// `super` inside an inline module is relative to that module.
#[test]
fn super_in_an_inline_module_is_resolved_from_it() {
    let same_file = run(&[
        ("lib.rs", "mod a;\nmod b;"),
        ("a.rs", "use crate::b::B;\npub struct A;"),
        ("b.rs", "pub struct B;\nmod inner {\n    use super::B;\n}"),
    ]);
    assert!(same_file.is_empty(), "{same_file:?}");
    let other_file = run(&[
        ("lib.rs", "mod a;\nmod b;"),
        ("a.rs", "use crate::b::B;\npub struct A;"),
        ("b.rs", "pub struct B;\nmod inner {\n    use super::super::a::A;\n}"),
    ]);
    assert_eq!(other_file.len(), 1);
    let files: BTreeSet<&str> = other_file[0].files.iter().map(String::as_str).collect();
    assert_eq!(files, BTreeSet::from(["a.rs", "b.rs"]));
}

/// A sibling's glob import counts, labelled `*`; external paths never do.
#[test]
fn glob_imports_count_and_external_crates_do_not() {
    let found = run(&[
        ("lib.rs", "mod a;\nmod b;"),
        ("a.rs", "use super::b::*;\nuse std::collections::HashMap;\nuse tokio::sync::mpsc;"),
        ("b.rs", "use crate::a::A;\npub struct B;\nfn f() { std::mem::drop(1); }"),
    ]);
    assert_eq!(found.len(), 1);
    assert_eq!(names(&found[0], "a.rs", "b.rs"), ["*"]);
}
