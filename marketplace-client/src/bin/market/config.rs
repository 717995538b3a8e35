//! The config file: named profiles, each a server and an identity.
//!
//! ```toml
//! default_profile = "local"
//!
//! [profiles.local]
//! url = "http://127.0.0.1:8080"
//! api_key = "ak_…"
//!
//! [profiles.prod-node]
//! url = "https://market.example.com"
//! node_seed = "…64 hex digits…"
//! ```
//!
//! The file holds secrets: it is written readable by its owner only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use marketplace_client::{Credentials, NodeKey};
use serde::{Deserialize, Serialize};

/// The profile used when none is named.
pub(crate) const DEFAULT_PROFILE: &str = "default";
/// The server used when no flag, variable or profile names one.
pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The whole file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// The profile used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default_profile: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, Profile>,
}

/// A server and the identity to call it as.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    /// The marketplace's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    /// An API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api_key: Option<String>,
    /// A session token from an email login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) session: Option<String>,
    /// A node's ed25519 seed, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) node_seed: Option<String>,
}

impl Profile {
    /// The credentials the profile holds: a node key first, then an API key, then a session.
    pub(crate) fn credentials(&self) -> Result<Credentials, String> {
        if let Some(seed) = &self.node_seed {
            let key = NodeKey::from_seed_hex(seed)
                .ok_or("the profile's node_seed must be 64 hex digits")?;
            return Ok(Credentials::Node(key));
        }
        Ok(match (&self.api_key, &self.session) {
            (Some(key), _) => Credentials::ApiKey(key.clone()),
            (None, Some(token)) => Credentials::Session(token.clone()),
            (None, None) => Credentials::Anonymous,
        })
    }
}

/// Where the config file is: `explicit`, else `$XDG_CONFIG_HOME/market/config.toml`, else
/// `~/.config/market/config.toml`.
pub(crate) fn path(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| PathBuf::from(home).join(".config"))
            .ok_or("no config file: set --config, MARKET_CONFIG or HOME")?,
    };
    Ok(base.join("market").join("config.toml"))
}

/// The most bytes of config file read.
const CONFIG_BYTES_MAX: u64 = 1 << 20;

/// The file at `path` (empty when it does not exist).
pub(crate) fn load(path: &Path) -> Result<ConfigFile, String> {
    let text = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
        Ok(meta) if meta.len() > CONFIG_BYTES_MAX => {
            return Err(format!(
                "{}: larger than {CONFIG_BYTES_MAX} bytes",
                path.display()
            ));
        }
        Ok(_) => std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
    };
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `config` to `path`, readable by its owner only.
pub(crate) fn save(path: &Path, config: &ConfigFile) -> Result<(), String> {
    let text = toml::to_string(config).map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let temporary = path.with_extension("toml.new");
    write_private(&temporary, text.as_bytes())
        .map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
