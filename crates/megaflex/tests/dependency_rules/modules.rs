//! The module graph of one crate, at the granularity of files, and its
//! circles.
//!
//! How an edge is counted (file A -> file B, labelled with the names used):
//! - `use crate::b::Item;`, `use super::b::Item;`, `use b::Item;` (a child
//!   module `b`) and paths in code such as `crate::b::Item::new()` or
//!   `b::f()` after `use crate::b;` are edges to the file defining `Item`.
//!   A name re-exported by a module (`pub use x::Item` in `a/mod.rs`) is
//!   followed to the file that defines it, so `use crate::a::Item` is an edge
//!   to `a/x.rs`, not to the facade.
//! - `mod b;` is not an edge, and neither is a re-export of a descendant
//!   (`pub use b::Item;` in the parent of `b`, or in `lib.rs`) as long as the
//!   re-exporting file does not itself use the name: a facade is fine.
//! - Everything else counts, in both directions, parents and children alike:
//!   if `a/mod.rs` defines a trait that `a/x.rs` implements (x -> mod.rs) and
//!   `a/mod.rs` also calls into `a/x.rs` (mod.rs -> x), that is a circle.
//! - `use super::*;` counts as an edge to the parent, labelled `*`.
//! - `#[cfg(test)]` items, `tests.rs`, `*_tests.rs` and modules declared
//!   `#[cfg(test)] mod m;` are not scanned: the rule is about production code.
//! - Inline modules (`mod m { … }`) belong to their file; `super` inside them
//!   is resolved from the inline module.
//! - A circle is a strongly connected component of more than one file; it is
//!   reported with every edge inside it and the names that make the edge.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::lexer::{Tok, matching, strip_test_items, tokenize};

type ModPath = Vec<String>;

/// One circle: the files (relative to the crate's `src/`) and the edges between them.
#[derive(Debug, Clone)]
pub struct Circle {
    pub files: BTreeSet<String>,
    /// (from, to) -> names used
    pub edges: BTreeMap<(String, String), BTreeSet<String>>,
}

impl std::fmt::Display for Circle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files: Vec<&str> = self.files.iter().map(String::as_str).collect();
        writeln!(f, "circle of {} files: {}", files.len(), files.join(", "))?;
        for ((from, to), names) in &self.edges {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            writeln!(f, "    {from} -> {to}  ({})", names.join(", "))?;
        }
        Ok(())
    }
}

struct UseItem {
    scope: ModPath,
    segs: Vec<String>,
    /// The name bound in scope (None for a glob or `as _`).
    binding: Option<String>,
    glob: bool,
    public: bool,
}

struct FileScan {
    module: ModPath,
    uses: Vec<UseItem>,
    code_paths: Vec<(ModPath, Vec<String>)>,
    code_idents: HashSet<String>,
    /// Item names defined in the file, with the module (file or inline) defining them.
    defined: HashSet<(ModPath, String)>,
    inline_modules: Vec<ModPath>,
    test_modules: Vec<ModPath>,
}

/// Module path of a file relative to `src/`, given the crate root file name
/// (`lib.rs` or `main.rs`); None for files that are no module of this root.
pub fn module_of(rel: &str, root: &str) -> Option<ModPath> {
    if rel == root {
        return Some(Vec::new());
    }
    let stem = rel.strip_suffix(".rs")?;
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if (parts.len() == 1 && (parts[0] == "main" || parts[0] == "lib")) || parts[0] == "bin" {
        return None; // another target's root
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts)
}

fn is_test_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == "tests.rs" || name.ends_with("_tests.rs")
}

/// The circles between the files of one crate: `files` are (path relative
/// to `src/`, text), `root` is `lib.rs` or `main.rs`.
pub fn circles(files: &[(String, String)], root: &str) -> Vec<Circle> {
    let mut scans: Vec<(String, FileScan)> = Vec::new();
    for (rel, text) in files {
        if is_test_file(rel) {
            continue;
        }
        if let Some(module) = module_of(rel, root) {
            scans.push((rel.clone(), scan(module, text)));
        }
    }
    let test_modules: Vec<ModPath> = scans.iter().flat_map(|(_, s)| s.test_modules.clone()).collect();
    scans.retain(|(_, s)| !test_modules.iter().any(|t| s.module.starts_with(t)));

    let graph = Graph::new(&scans);
    let mut edges: BTreeMap<(usize, usize), BTreeSet<String>> = BTreeMap::new();
    for (from, (_, s)) in scans.iter().enumerate() {
        for (to, name) in graph.edges_of(s) {
            if to != from {
                edges.entry((from, to)).or_default().insert(name);
            }
        }
    }
    let components = strongly_connected(scans.len(), &edges);
    components
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| Circle {
            files: c.iter().map(|&i| scans[i].0.clone()).collect(),
            edges: edges
                .iter()
                .filter(|((a, b), _)| c.contains(a) && c.contains(b))
                .map(|((a, b), n)| ((scans[*a].0.clone(), scans[*b].0.clone()), n.clone()))
                .collect(),
        })
        .collect()
}

fn scan(module: ModPath, text: &str) -> FileScan {
    let (toks, test_mods) = strip_test_items(&tokenize(text));
    let mut s = FileScan {
        module: module.clone(),
        uses: Vec::new(),
        code_paths: Vec::new(),
        code_idents: HashSet::new(),
        defined: HashSet::new(),
        inline_modules: Vec::new(),
        test_modules: Vec::new(),
    };
    // Inline module stack: (name, brace depth inside it).
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let scope = |stack: &[(String, usize)]| -> ModPath {
        let mut m = module.clone();
        m.extend(stack.iter().map(|(n, _)| n.clone()));
        m
    };
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if stack.last().is_some_and(|(_, d)| *d == depth) {
                    stack.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(w) if w == "use" => {
                let end = (i..toks.len()).find(|&j| toks[j].is_punct(';')).unwrap_or(toks.len());
                let public = is_public(&toks, i);
                let mut items = Vec::new();
                let mut pos = i + 1;
                parse_tree(&toks[..end], &mut pos, Vec::new(), &mut items);
                for (segs, binding, glob) in items {
                    s.uses.push(UseItem { scope: scope(&stack), segs, binding, glob, public });
                }
                i = end + 1;
                continue;
            }
            Tok::Ident(w) if w == "mod" => {
                if let (Some(Tok::Ident(name)), Some(next)) = (toks.get(i + 1), toks.get(i + 2)) {
                    let mut m = scope(&stack);
                    m.push(name.clone());
                    if next.is_punct('{') {
                        s.inline_modules.push(m);
                        depth += 1;
                        stack.push((name.clone(), depth));
                        i += 3;
                        continue;
                    }
                }
            }
            Tok::Ident(w) => {
                s.code_idents.insert(w.clone());
                if let Some(name) = defined_name(&toks, i) {
                    s.defined.insert((scope(&stack), name));
                }
                let starts_path = i == 0 || toks[i - 1] != Tok::PathSep;
                if starts_path && toks.get(i + 1) == Some(&Tok::PathSep) {
                    let mut segs = vec![w.clone()];
                    let mut j = i + 1;
                    while toks.get(j) == Some(&Tok::PathSep) {
                        match toks.get(j + 1) {
                            Some(Tok::Ident(n)) => segs.push(n.clone()),
                            _ => break,
                        }
                        j += 2;
                    }
                    s.code_paths.push((scope(&stack), segs));
                }
            }
            _ => {}
        }
        i += 1;
    }
    s.test_modules = test_mods
        .into_iter()
        .map(|n| {
            let mut m = module.clone();
            m.push(n);
            m
        })
        .collect();
    s
}

fn is_public(toks: &[Tok], use_at: usize) -> bool {
    match use_at.checked_sub(1).map(|j| &toks[j]) {
        Some(t) if t.is_ident("pub") => true,
        Some(Tok::Punct(')')) => {
            let open = (0..use_at).rev().find(|&j| toks[j].is_punct('('));
            open.is_some_and(|o| o > 0 && toks[o - 1].is_ident("pub"))
        }
        _ => false,
    }
}

/// The name an item keyword at `i` defines (`fn f`, `struct S`, `macro_rules! m`, …).
fn defined_name(toks: &[Tok], i: usize) -> Option<String> {
    const ITEM: &[&str] = &["fn", "struct", "enum", "trait", "type", "union", "const", "static"];
    let Tok::Ident(kw) = &toks[i] else { return None };
    let mut j = i + 1;
    if kw == "macro_rules" && toks.get(j).is_some_and(|t| t.is_punct('!')) {
        j += 1;
    } else if !ITEM.contains(&kw.as_str()) {
        return None;
    }
    if kw == "static" && toks.get(j).is_some_and(|t| t.is_ident("mut")) {
        j += 1;
    }
    match toks.get(j) {
        Some(Tok::Ident(n)) if !["fn", "unsafe", "async", "extern", "_"].contains(&n.as_str()) => Some(n.clone()),
        _ => None,
    }
}

/// Flattens a use tree into (segments, bound name, glob).
fn parse_tree(
    toks: &[Tok],
    pos: &mut usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>, bool)>,
) {
    if toks.get(*pos) == Some(&Tok::PathSep) {
        if prefix.is_empty() {
            prefix.push("::".into()); // `use ::extern_crate::…`: never crate-local
        }
        *pos += 1;
    }
    while let Some(t) = toks.get(*pos) {
        match t {
            Tok::Punct('{') => {
                let close = matching(toks, *pos, '{', '}');
                *pos += 1;
                while *pos < close {
                    parse_tree(&toks[..close], pos, prefix.clone(), out);
                    if toks.get(*pos).is_some_and(|t| t.is_punct(',')) {
                        *pos += 1;
                    }
                }
                *pos = close + 1;
                return;
            }
            Tok::Punct('*') => {
                *pos += 1;
                out.push((prefix, None, true));
                return;
            }
            Tok::Ident(seg) => {
                prefix.push(seg.clone());
                *pos += 1;
                if toks.get(*pos) == Some(&Tok::PathSep) {
                    *pos += 1;
                    continue;
                }
                let mut binding = Some(seg.clone());
                if toks.get(*pos).is_some_and(|t| t.is_ident("as")) {
                    binding = match toks.get(*pos + 1) {
                        Some(Tok::Ident(n)) => Some(n.clone()),
                        _ => None, // `as _`
                    };
                    *pos += 2;
                }
                if prefix.last().is_some_and(|s| s == "self") {
                    prefix.pop();
                    if binding.as_deref() == Some("self") {
                        binding = prefix.last().cloned();
                    }
                }
                out.push((prefix, binding, false));
                return;
            }
            _ => {
                *pos += 1;
                return;
            }
        }
    }
}

struct Graph<'a> {
    /// Module path (files and inline modules) -> index of the file.
    files: HashMap<ModPath, usize>,
    scans: &'a [(String, FileScan)],
}

impl<'a> Graph<'a> {
    fn new(scans: &'a [(String, FileScan)]) -> Self {
        let mut files = HashMap::new();
        for (i, (_, s)) in scans.iter().enumerate() {
            files.insert(s.module.clone(), i);
            for m in &s.inline_modules {
                files.insert(m.clone(), i);
            }
        }
        Graph { files, scans }
    }

    fn is_module(&self, m: &[String]) -> bool {
        self.files.contains_key(m)
    }

    /// Absolute path of `segs` seen from `scope`, or None when it leaves the crate.
    fn absolute(&self, file: &FileScan, scope: &[String], segs: &[String], in_code: bool) -> Option<ModPath> {
        let first = segs.first()?;
        let mut abs: ModPath = match first.as_str() {
            "crate" => Vec::new(),
            "self" => scope.to_vec(),
            "super" => {
                let supers = segs.iter().take_while(|s| *s == "super").count();
                let mut m = scope.to_vec();
                for _ in 0..supers {
                    m.pop()?;
                }
                m.extend(segs[supers..].iter().cloned());
                return Some(m);
            }
            _ => {
                let mut local = scope.to_vec();
                local.push(first.clone());
                if self.is_module(&local) {
                    local.extend(segs[1..].iter().cloned());
                    return Some(local);
                }
                if !in_code {
                    return None;
                }
                // A module imported by a `use` of this scope (`use crate::store;` then `store::X`).
                let u = file.uses.iter().find(|u| u.scope == scope && u.binding.as_deref() == Some(first.as_str()))?;
                let mut m = self.absolute(file, &u.scope, &u.segs, false)?;
                if !self.is_module(&m) {
                    return None;
                }
                m.extend(segs[1..].iter().cloned());
                return Some(m);
            }
        };
        abs.extend(segs[1..].iter().cloned());
        Some(abs)
    }

    /// Longest module prefix of `abs` and the first name after it.
    fn split(&self, abs: &[String]) -> (ModPath, Option<String>) {
        for n in (0..=abs.len()).rev() {
            if self.is_module(&abs[..n]) {
                return (abs[..n].to_vec(), abs.get(n).cloned());
            }
        }
        (Vec::new(), abs.first().cloned())
    }

    /// The module that defines `name` as seen in module `m`, following re-exports.
    fn defining(&self, m: &ModPath, name: &str, hops: usize) -> ModPath {
        let Some(&fi) = self.files.get(m) else { return m.clone() };
        let file = &self.scans[fi].1;
        if hops > 8 || file.defined.contains(&(m.clone(), name.to_string())) {
            return m.clone();
        }
        let scoped = file.uses.iter().filter(|u| u.scope == *m);
        for u in scoped {
            let Some(abs) = self.absolute(file, &u.scope, &u.segs, false) else { continue };
            if u.binding.as_deref() == Some(name) && !u.glob {
                return match self.split(&abs) {
                    (target, Some(item)) => self.defining(&target, &item, hops + 1),
                    (target, None) => target,
                };
            }
            if u.glob && u.public && self.is_module(&abs) {
                let target = self.defining(&abs, name, hops + 1);
                if target != abs || self.defines(&abs, name) {
                    return target;
                }
            }
        }
        m.clone()
    }

    fn defines(&self, m: &ModPath, name: &str) -> bool {
        self.files.get(m).is_some_and(|&fi| self.scans[fi].1.defined.contains(&(m.clone(), name.to_string())))
    }

    fn edges_of(&self, s: &FileScan) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let mut add = |m: ModPath, name: String| {
            if let Some(&to) = self.files.get(&m) {
                out.push((to, name));
            }
        };
        for u in &s.uses {
            let Some(abs) = self.absolute(s, &u.scope, &u.segs, false) else { continue };
            let (target, item) = self.split(&abs);
            let reexport = u.public
                && target.starts_with(&s.module)
                && u.binding.as_ref().is_none_or(|b| !s.code_idents.contains(b));
            if reexport {
                continue;
            }
            match item {
                Some(item) => add(self.defining(&target, &item, 0), item),
                None if u.glob => add(target, "*".into()),
                None => {} // a module imported for its paths; those are edges below
            }
        }
        for (scope, segs) in &s.code_paths {
            let Some(abs) = self.absolute(s, scope, segs, true) else { continue };
            if let (target, Some(item)) = self.split(&abs) {
                add(self.defining(&target, &item, 0), item);
            }
        }
        out
    }
}

/// Tarjan's strongly connected components over nodes 0..n.
fn strongly_connected(n: usize, edges: &BTreeMap<(usize, usize), BTreeSet<String>>) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges.keys() {
        adj[a].push(b);
    }
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, adj: &[Vec<usize>], st: &mut State) {
        st.index[v] = Some(st.next);
        st.low[v] = st.next;
        st.next += 1;
        st.stack.push(v);
        st.on_stack[v] = true;
        for &w in &adj[v] {
            match st.index[w] {
                None => {
                    visit(w, adj, st);
                    st.low[v] = st.low[v].min(st.low[w]);
                }
                Some(iw) if st.on_stack[w] => st.low[v] = st.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(st.low[v]) == st.index[v] {
            let mut component = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            st.out.push(component);
        }
    }
    let mut st = State {
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if st.index[v].is_none() {
            visit(v, &adj, &mut st);
        }
    }
    st.out
}
