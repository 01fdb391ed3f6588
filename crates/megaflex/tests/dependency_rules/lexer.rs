//! Just enough of a Rust lexer to find paths: comments, strings and chars
//! are dropped (a `use` in a doc comment or a format string is not an
//! import), lifetimes are kept apart from char literals, and `#[cfg(test)]`
//! items are cut out because the module rules concern production code.

/// One token: an identifier or keyword, `::`, or any other single character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

impl Tok {
    pub fn is_ident(&self, word: &str) -> bool {
        matches!(self, Tok::Ident(w) if w == word)
    }
    pub fn is_punct(&self, c: char) -> bool {
        matches!(self, Tok::Punct(p) if *p == c)
    }
}

pub fn tokenize(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i);
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if (c == 'r' || c == 'b' || c == 'c') && raw_or_byte_string_start(&chars, i).is_some() {
            i = raw_or_byte_string_start(&chars, i).unwrap();
        } else if c == '\'' {
            i = skip_char_or_lifetime(&chars, i);
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // `r#type` is the identifier `type`.
            toks.push(Tok::Ident(word.trim_start_matches("r#").to_string()));
        } else if c == ':' && next == Some(':') {
            toks.push(Tok::PathSep);
            i += 2;
        } else {
            toks.push(Tok::Punct(c));
            i += 1;
        }
    }
    toks
}

fn skip_block_comment(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// From just after the opening quote to just after the closing one.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// `r"…"`, `r#"…"#`, `b"…"`, `br#"…"#`, `c"…"`, `b'x'`: where the literal
/// ends, or None when the `r`/`b`/`c` starts an identifier instead.
fn raw_or_byte_string_start(chars: &[char], i: usize) -> Option<usize> {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    let mut j = i;
    if matches!(chars[j], 'b' | 'c') {
        j += 1;
        match chars.get(j) {
            Some('"') => return Some(skip_string(chars, j + 1)),
            Some('\'') if chars[i] == 'b' => return Some(skip_char_or_lifetime(chars, j)),
            Some('r') => {}
            _ => return None,
        }
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None; // `r#ident` or an identifier starting with r
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

/// `'a'`, `'\n'`, `'\u{1F600}'` are skipped; `'a` (a lifetime or label) too.
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    if chars.get(i + 1) == Some(&'\\') {
        let mut j = i + 3; // the escaped character may itself be a quote
        while j < chars.len() && chars[j] != '\'' {
            j += 1;
        }
        return j + 1;
    }
    if chars.get(i + 2) == Some(&'\'') {
        return i + 3;
    }
    let mut j = i + 1;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    j
}

/// Drops every item carrying `#[cfg(test)]` (or `#[cfg(all(test, …))]`) and
/// returns the names of out-of-line modules declared that way
/// (`#[cfg(test)] mod v3_tests;`), whose files are then not scanned.
pub fn strip_test_items(toks: &[Tok]) -> (Vec<Tok>, Vec<String>) {
    let mut out = Vec::with_capacity(toks.len());
    let mut test_modules = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some(end) = attribute_end(toks, i)
            && is_cfg_test(&toks[i..end])
        {
            let item_end = item_end(toks, end);
            if let Some(name) = out_of_line_module(&toks[end..item_end]) {
                test_modules.push(name);
            }
            i = item_end;
            continue;
        }
        out.push(toks[i].clone());
        i += 1;
    }
    (out, test_modules)
}

/// If `#[` or `#![` starts at `i`, the index after its closing `]`.
fn attribute_end(toks: &[Tok], i: usize) -> Option<usize> {
    if !toks[i].is_punct('#') {
        return None;
    }
    let mut j = i + 1;
    if toks.get(j).is_some_and(|t| t.is_punct('!')) {
        j += 1;
    }
    if !toks.get(j).is_some_and(|t| t.is_punct('[')) {
        return None;
    }
    Some(matching(toks, j, '[', ']') + 1)
}

fn is_cfg_test(attr: &[Tok]) -> bool {
    let words: Vec<String> = attr
        .iter()
        .map(|t| match t {
            Tok::Ident(w) => w.clone(),
            Tok::PathSep => "::".into(),
            Tok::Punct(c) => c.to_string(),
        })
        .collect();
    let text = words.join("");
    text == "#[cfg(test)]" || text.starts_with("#[cfg(all(test,")
}

/// Index after the item starting at `i`: through further attributes, then
/// to the first `;` or the matching `}` of the first `{`, whichever comes first.
fn item_end(toks: &[Tok], mut i: usize) -> usize {
    while let Some(end) = toks.get(i).and_then(|_| attribute_end(toks, i)) {
        i = end;
    }
    while i < toks.len() {
        if toks[i].is_punct(';') {
            return i + 1;
        }
        if toks[i].is_punct('{') {
            let close = matching(toks, i, '{', '}');
            // `struct S { … }` ends at `}`; `const X: T = T { … };` at `;`.
            return if toks.get(close + 1).is_some_and(|t| t.is_punct(';')) { close + 2 } else { close + 1 };
        }
        i += 1;
    }
    i
}

fn out_of_line_module(item: &[Tok]) -> Option<String> {
    let pos = item.iter().position(|t| t.is_ident("mod"))?;
    match (item.get(pos + 1), item.get(pos + 2)) {
        (Some(Tok::Ident(name)), Some(t)) if t.is_punct(';') => Some(name.clone()),
        _ => None,
    }
}

/// Index of the bracket closing the one opened at `open`.
pub fn matching(toks: &[Tok], open: usize, left: char, right: char) -> usize {
    let mut depth = 0usize;
    for (j, t) in toks.iter().enumerate().skip(open) {
        if t.is_punct(left) {
            depth += 1;
        } else if t.is_punct(right) {
            depth -= 1;
            if depth == 0 {
                return j;
            }
        }
    }
    toks.len()
}
