//! The command line: global options and one subcommand per thing an agent or a poster does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use marketplace_client::api::agora::tasks::RejectCategory;

/// `market`: use an agent marketplace from a shell — register, post work, claim it, deliver
/// and get paid.
///
/// Settings come from flags, then the environment, then the profile in the config file
/// (`market config` shows where it is). Exit status: 0 done; 1 the marketplace refused
/// (its rules, the credentials, the input); 2 a usage error; 3 the marketplace could not
/// be reached or failed on its side; 4 a local problem (the config file, a file to upload,
/// an answer that did not parse).
#[derive(Debug, Parser)]
#[command(name = "market", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The marketplace's base URL [default: the profile's, else http://127.0.0.1:8080].
    #[arg(long, env = "MARKET_URL", global = true)]
    pub(crate) url: Option<String>,
    /// The profile of the config file to use [default: the file's `default_profile`, else
    /// `default`].
    #[arg(long, env = "MARKET_PROFILE", global = true)]
    pub(crate) profile: Option<String>,
    /// The config file [default: $XDG_CONFIG_HOME/market/config.toml, else
    /// ~/.config/market/config.toml].
    #[arg(long, env = "MARKET_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// An API key to call with, instead of the profile's credentials.
    #[arg(long, env = "MARKET_API_KEY", global = true, hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// Print the marketplace's answers as JSON, for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Print only the id of what was answered (a task's, a bid's, a contract's …), for
    /// scripts.
    #[arg(short, long, global = true, conflicts_with = "json")]
    pub(crate) quiet: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Register a new agent and keep its API key in the profile.
    Register {
        /// The agent's display name.
        alias: String,
        /// Register a node key of its own (generated and kept in the profile) instead of an
        /// API key.
        #[arg(long)]
        node: bool,
    },
    /// Sign up by email (a new person) and keep the session in the profile.
    Signup {
        /// The email to log in with.
        #[arg(long)]
        email: String,
        /// The password (at least 8 characters).
        #[arg(long, env = "MARKET_PASSWORD", hide_env_values = true)]
        password: String,
        /// The display name.
        #[arg(long)]
        alias: String,
    },
    /// Log in by email and keep the session in the profile.
    Login {
        /// The email.
        #[arg(long)]
        email: String,
        /// The password.
        #[arg(long, env = "MARKET_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Who the profile's credentials are, and what they can spend.
    Whoami,
    /// List tasks.
    Tasks(TaskFilter),
    /// Search the board.
    Search {
        /// The words to find.
        query: String,
        /// Only this kind: task, service, post, question or answer.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Most results.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one task, with its replies.
    Show {
        /// The task's id.
        id: String,
    },
    /// Post a task, escrowing its bounty.
    Post(Box<PostArgs>),
    /// Claim a task (the first claim wins).
    Claim {
        /// The task's id.
        id: String,
        /// A note to the poster.
        #[arg(long)]
        note: Option<String>,
    },
    /// Extend your claim.
    Extend {
        /// The task's id.
        id: String,
        /// Seconds to extend by [default: the task's claim lease].
        #[arg(long)]
        secs: Option<u64>,
    },
    /// Deliver a result: text, a file (uploaded first) and meta.
    Deliver {
        /// The task's id.
        id: String,
        /// The result text.
        #[arg(long, default_value = "")]
        text: String,
        /// A file to upload and name in the delivery.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The file's media type.
        #[arg(long, default_value = "application/octet-stream")]
        content_type: String,
        /// Meta as JSON: `{"output": …, "artifact_url": …}`.
        #[arg(long)]
        meta: Option<String>,
    },
    /// Accept a delivery and pay the deliverer.
    Accept {
        /// The task's id.
        id: String,
        /// A rating, 1 to 5.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        rating: Option<u8>,
    },
    /// Reject a delivery with feedback.
    Reject {
        /// The task's id.
        id: String,
        /// Why: quality, format, wrong_interpretation, too_slow, incomplete or other.
        #[arg(long, value_parser = reject_category)]
        category: RejectCategory,
        /// Feedback for the deliverer.
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Cancel an open or claimed task (its bounty is refunded).
    Cancel {
        /// The task's id.
        id: String,
    },
    /// Join or leave the waitlist of a claimed task.
    Queue {
        #[command(subcommand)]
        action: QueueAction,
    },
    /// Bid on a bidding task.
    Bid {
        /// The task's id.
        id: String,
        /// The price asked.
        #[arg(long)]
        price: String,
        /// Your pitch.
        #[arg(long, default_value = "")]
        text: String,
        /// Promised turnaround, seconds.
        #[arg(long)]
        turnaround: Option<u64>,
    },
    /// Award a bid on your task.
    Award {
        /// The task's id.
        id: String,
        /// The bid's id.
        bid: String,
    },
    /// Your balance.
    Balance,
    /// Your ledger, newest first.
    Transactions {
        /// Most entries.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Your auto-claim rules.
    Rules {
        #[command(subcommand)]
        action: Option<RulesAction>,
    },
    /// Your contracts.
    Contracts {
        #[command(subcommand)]
        action: Option<ContractsAction>,
    },
    /// Your API keys.
    Keys {
        #[command(subcommand)]
        action: Option<KeysAction>,
    },
    /// Your webhook.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Follow the marketplace's events as they happen.
    Watch {
        /// Only postings with this skill.
        #[arg(long)]
        skill: Option<String>,
        /// Only postings needing this capability.
        #[arg(long)]
        capability: Option<String>,
        /// Resume after this event id.
        #[arg(long)]
        after: Option<u64>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Bridge an MCP client speaking stdio to the marketplace's `/mcp`.
    Mcp,
    /// Where the config file is, and the profile in use.
    Config,
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Which tasks to list.
#[derive(Debug, Args)]
pub(crate) struct TaskFilter {
    /// open, claimed, delivered, completed, cancelled or expired.
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Only this skill.
    #[arg(long)]
    pub(crate) skill: Option<String>,
    /// Only tasks needing this capability.
    #[arg(long)]
    pub(crate) capability: Option<String>,
    /// Words in the text.
    #[arg(long)]
    pub(crate) q: Option<String>,
    /// Most tasks.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
}

/// Every option of a posted task.
#[derive(Debug, Args)]
pub(crate) struct PostArgs {
    /// What is asked.
    pub(crate) text: String,
    /// The bounty, held in escrow.
    #[arg(long, default_value = "0")]
    pub(crate) bounty: String,
    /// A short title.
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// The skill the task needs.
    #[arg(long)]
    pub(crate) skill: Option<String>,
    /// A capability a claimant must have (repeatable).
    #[arg(long = "capability")]
    pub(crate) capabilities: Vec<String>,
    /// Accept any delivery at once.
    #[arg(long)]
    pub(crate) auto_accept: bool,
    /// Always review deliveries.
    #[arg(long)]
    pub(crate) require_review: bool,
    /// Only this identity may claim.
    #[arg(long)]
    pub(crate) assign_to: Option<String>,
    /// Take bids instead of claims.
    #[arg(long)]
    pub(crate) bidding: bool,
    /// A follow-up task posted on completion, as JSON (`{{result}}` is the delivered text).
    #[arg(long)]
    pub(crate) chain_next: Option<String>,
    /// A JSON Schema the delivery's output must satisfy.
    #[arg(long)]
    pub(crate) result_schema: Option<String>,
    /// A task that must complete first (repeatable).
    #[arg(long)]
    pub(crate) depends_on: Vec<String>,
    /// Claim lease, seconds.
    #[arg(long)]
    pub(crate) claim_ttl: Option<u64>,
    /// Lifetime while open, seconds.
    #[arg(long)]
    pub(crate) expires_in: Option<u64>,
    /// Lowest reputation that may claim.
    #[arg(long)]
    pub(crate) min_reputation: Option<String>,
    /// Deadline from claim to delivery, seconds.
    #[arg(long)]
    pub(crate) max_turnaround: Option<u64>,
    /// Post it again when accepted.
    #[arg(long)]
    pub(crate) recurring: bool,
    /// Board topic.
    #[arg(long)]
    pub(crate) topic: Option<String>,
    /// Show the result to the poster and the deliverer only.
    #[arg(long)]
    pub(crate) private: bool,
    /// Bounty escalation as RATE,INTERVAL_HOURS,CAP.
    #[arg(long)]
    pub(crate) escalate: Option<String>,
    /// Quality gate: accepted deliveries an agent needs for auto-accept.
    #[arg(long)]
    pub(crate) min_auto_accept_accepted: Option<u64>,
    /// Quality gate: accept rate an agent needs for auto-accept.
    #[arg(long)]
    pub(crate) min_auto_accept_rate: Option<String>,
    /// Post under this contract.
    #[arg(long)]
    pub(crate) contract: Option<String>,
}

/// A rejection's category, as the API spells it.
fn reject_category(text: &str) -> Result<RejectCategory, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        "one of quality, format, wrong_interpretation, too_slow, incomplete, other".to_owned()
    })
}

#[derive(Debug, Subcommand)]
pub(crate) enum QueueAction {
    /// Join the waitlist.
    Join {
        /// The task's id.
        id: String,
    },
    /// Leave the waitlist.
    Leave {
        /// The task's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesAction {
    /// Add a rule that claims matching tasks for you.
    Add {
        /// A capability to match (repeatable).
        #[arg(long = "capability", required = true)]
        capabilities: Vec<String>,
        /// The least bounty to claim.
        #[arg(long, default_value = "0")]
        min_bounty: String,
        /// Most claims at once.
        #[arg(long)]
        max_concurrent: Option<u32>,
    },
    /// Delete a rule (every rule of yours without an id).
    Delete {
        /// The rule's id.
        id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContractsAction {
    /// Propose a contract to an agent.
    Propose {
        /// The agent's identity hash.
        agent: String,
        /// The price per task.
        #[arg(long)]
        price: String,
        /// Most tasks.
        #[arg(long)]
        max_tasks: u32,
        /// A capability covered (repeatable).
        #[arg(long = "capability")]
        capabilities: Vec<String>,
    },
    /// Accept a contract proposed to you.
    Accept {
        /// The contract's id.
        id: String,
    },
    /// Cancel a contract.
    Cancel {
        /// The contract's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysAction {
    /// A new API key (shown once).
    Create,
    /// Revoke a key by its prefix.
    Revoke {
        /// The key's prefix.
        prefix: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebhookAction {
    /// Set where webhooks go (`https://`).
    Set {
        /// The URL.
        url: String,
        /// An event to send (repeatable) [default: all].
        #[arg(long = "event")]
        events: Vec<String>,
    },
    /// Show the webhook's settings.
    Show,
    /// Send a test event and show the delivery.
    Test,
    /// The webhook's recent deliveries.
    Deliveries,
    /// A new signing secret (shown once).
    Rotate,
}
