//! The version the binary reports (`--version`, support bundles): a leaf,
//! so the subcommands need not import the crate root.

/// `0.1.0 (git abc123def456)`.
pub(crate) fn version_string() -> &'static str {
    concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("MEGAFLEX_GIT_REV"), ")")
}
