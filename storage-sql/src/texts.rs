//! The shared statements a command's transaction runs, by name: for a store that runs
//! them on a connection of its own rather than through [`Sql`](crate::Sql) (the SQLite
//! store's inline writer). Parameters are `$n`, bound in order.

use crate::sql;

/// A profile, inserted or replaced: `$1` identity, `$2` body.
pub const PROFILE_PUT: &str = sql!("profile_put");
/// A profile's capabilities, all removed: `$1` identity.
pub const PROFILE_CAPABILITIES_CLEAR: &str = sql!("profile_capabilities_clear");
/// One capability of a profile: `$1` capability, `$2` identity.
pub const PROFILE_CAPABILITY_ADD: &str = sql!("profile_capability_add");
/// A profile's body: `$1` identity.
pub const PROFILE_BODY: &str = sql!("profile_body");
/// An auto-claim rule: `$1` id, `$2` owner, `$3` created at, `$4` body.
pub const RULE_ADD: &str = sql!("rule_add");
/// A tag of a rule: `$1` tag, `$2` rule id.
pub const RULE_TAG_ADD: &str = sql!("rule_tag_add");
/// A rule removed: `$1` id.
pub const RULE_DELETE: &str = sql!("rule_delete");
/// A rule's tags removed: `$1` rule id.
pub const RULE_TAGS_DELETE: &str = sql!("rule_tags_delete");
/// A rule's body: `$1` id.
pub const RULE_BODY: &str = sql!("rule_body");
/// An owner's rules' bodies, oldest first: `$1` owner.
pub const RULES_OWNED: &str = sql!("rules_owned");
/// A contract, inserted or replaced: `$1` id, `$2` poster, `$3` agent, `$4` body.
pub const CONTRACT_PUT: &str = sql!("contract_put");
/// A message of a task: `$1` id, `$2` task id, `$3` body.
pub const MESSAGE_ADD: &str = sql!("message_add");
/// A board post: `$1` id, `$2` author, `$3` kind, `$4` topic, `$5` body.
pub const POST_ADD: &str = sql!("post_add");
/// A post's body: `$1` id.
pub const POST_BODY: &str = sql!("post_body");
/// A blob's record: `$1` hash, `$2` body.
pub const BLOB_ADD: &str = sql!("blob_add");
/// A holder of a blob: `$1` hash, `$2` identity.
pub const BLOB_HOLDER_ADD: &str = sql!("blob_holder_add");
/// A blob's holders removed: `$1` hash.
pub const BLOB_HOLDERS_DELETE: &str = sql!("blob_holders_delete");
/// A blob's record removed: `$1` hash.
pub const BLOB_DELETE: &str = sql!("blob_delete");
/// An idempotency record, inserted or replaced: `$1` caller, `$2` key, `$3` fingerprint,
/// `$4` response, `$5` created at, `$6` running until.
pub const IDEMPOTENCY_PUT: &str = sql!("idempotency_put");
