//! `market`: the marketplace from a shell, on [`marketplace_client`]. See `market --help`.
// A command line prints what it was asked for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod config;
mod render;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::str::FromStr;

use clap::{CommandFactory, Parser};
use futures::StreamExt;
use marketplace_client::api::agora::account::TransactionsQuery;
use marketplace_client::api::agora::board::SearchParams;
use marketplace_client::api::agora::broker::{ContractRequest, RuleRequest};
use marketplace_client::api::agora::events::EventsParams;
use marketplace_client::api::agora::tasks::{
    BidRequest, DeliverRequest, EscalationBody, ListTasks, PostTask, RejectRequest,
};
use marketplace_client::api::webhooks::{DeliveriesQuery, SetWebhook, TestWebhook};
use marketplace_client::api::wire::{Amount, PageLimit};
use marketplace_client::{Client, Credentials, Error, NodeKey};
use serde_json::Value;

use args::{Cli, Command, ContractsAction, KeysAction, QueueAction, RulesAction, WebhookAction};
use config::{ConfigFile, DEFAULT_PROFILE, DEFAULT_URL, Profile};
use render::Output;

/// How a run ends: the exit status tells a refusal from an unreachable server.
enum Failure {
    /// The marketplace refused (a 4xx): exit 1.
    Refused(Error),
    /// The marketplace could not be reached or failed on its side: exit 3.
    Unreachable(Error),
    /// A local problem: exit 4.
    Local(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match &error {
            Error::Refused { status, .. } if *status < 500 => Self::Refused(error),
            Error::Refused { .. } | Error::Unreachable(_) => Self::Unreachable(error),
            _ => Self::Local(error.to_string()),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::Local(error.to_string())
    }
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Self::Local(error)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(e)) => {
            eprintln!("market: refused: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Unreachable(e)) => {
            eprintln!("market: {e}");
            ExitCode::from(3)
        }
        Err(Failure::Local(e)) => {
            eprintln!("market: {e}");
            ExitCode::from(4)
        }
    }
}

/// The profile in use, where it is kept, and a client calling as it.
struct Session {
    path: std::path::PathBuf,
    file: ConfigFile,
    name: String,
    profile: Profile,
    client: Client,
}

impl Session {
    fn open(global: &args::Global) -> Result<Self, Failure> {
        let path = config::path(global.config.as_deref())?;
        let file = config::load(&path)?;
        let name = global
            .profile
            .clone()
            .or_else(|| file.default_profile.clone())
            .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
        let profile = file.profiles.get(&name).cloned().unwrap_or_default();
        let url = global
            .url
            .clone()
            .or_else(|| profile.url.clone())
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let credentials = match &global.api_key {
            Some(key) => Credentials::ApiKey(key.clone()),
            None => profile.credentials()?,
        };
        let client = Client::builder(&url).credentials(credentials).build()?;
        Ok(Self {
            path,
            file,
            name,
            profile: Profile {
                url: Some(url),
                ..profile
            },
            client,
        })
    }

    /// Keeps a session from a signup or login in the profile, and shows who it is (the
    /// token itself stays in the file).
    fn keep_session(
        &mut self,
        signed: marketplace_client::api::agora::Session,
        out: Output,
    ) -> Result<(), Failure> {
        let token = signed.token;
        self.keep(|p| p.session = Some(token))?;
        out.record(&serde_json::json!({
            "identity_hash": signed.identity_hash,
            "expires_at": signed.expires_at,
        }))?;
        Ok(())
    }

    /// Keeps `change`d credentials in the profile (only one kind at a time).
    fn keep(&mut self, change: impl FnOnce(&mut Profile)) -> Result<(), Failure> {
        let mut profile = Profile {
            url: self.profile.url.clone(),
            ..Profile::default()
        };
        change(&mut profile);
        self.file
            .profiles
            .insert(self.name.clone(), profile.clone());
        self.profile = profile;
        config::save(&self.path, &self.file)?;
        Ok(())
    }
}

fn amount(text: &str, what: &str) -> Result<Amount, Failure> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|_| {
        Failure::Local(format!(
            "{what} must be an amount such as 10 or 2.5, not {text:?}"
        ))
    })
}

fn json_arg(text: &str, what: &str) -> Result<Value, Failure> {
    serde_json::from_str(text).map_err(|e| Failure::Local(format!("{what} must be JSON: {e}")))
}

fn limit(limit: Option<usize>) -> Result<Option<PageLimit>, Failure> {
    limit
        .map(|n| serde_json::from_value(Value::from(n)))
        .transpose()
        .map_err(|e| Failure::Local(e.to_string()))
}

const TASK_COLUMNS: &[&str] = &["id", "status", "bounty", "skill", "claimed_by", "text"];

async fn run(cli: Cli) -> Result<(), Failure> {
    let out = Output {
        json: cli.global.json,
        quiet: cli.global.quiet,
    };
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "market", &mut std::io::stdout());
        return Ok(());
    }
    let mut session = Session::open(&cli.global)?;
    let client = session.client.clone();
    match cli.command {
        Command::Completions { .. } => {}
        Command::Config => {
            out.record(&serde_json::json!({
                "config": session.path.display().to_string(),
                "profile": session.name,
                "url": session.profile.url,
                "credentials": format!("{:?}", client.credentials()),
            }))?;
        }
        Command::Register { alias, node } => {
            if node {
                let key = NodeKey::generate().map_err(|e| Failure::Local(e.to_string()))?;
                let registered = client
                    .with_credentials(Credentials::Node(key.clone()))
                    .register_node(&alias)
                    .await?;
                session.keep(|p| p.node_seed = Some(key.seed_hex()))?;
                out.record(&registered)?;
            } else {
                let registered = client.register(&alias).await?;
                let key = registered.api_key.clone();
                session.keep(|p| p.api_key = Some(key))?;
                out.record(&registered)?;
            }
            out.note(&format!(
                "kept in profile {:?} of {}",
                session.name,
                session.path.display()
            ))?;
        }
        Command::Signup {
            email,
            password,
            alias,
        } => {
            let signed = client.signup(&email, &password, &alias).await?;
            session.keep_session(signed, out)?;
        }
        Command::Login { email, password } => {
            let signed = client.login(&email, &password).await?;
            session.keep_session(signed, out)?;
        }
        Command::Whoami => {
            let balance = client.balance().await?;
            let profile = client.profile(&balance.identity_hash).await?;
            out.record(&serde_json::json!({
                "identity_hash": balance.identity_hash,
                "alias": profile.alias,
                "capabilities": profile.capabilities,
                "available": balance.available,
                "profile": session.name,
                "url": session.profile.url,
            }))?;
        }
        Command::Tasks(filter) => {
            let query = ListTasks {
                status: filter.status,
                q: filter.q,
                skill: filter.skill,
                capability: filter.capability,
                limit: limit(filter.limit)?,
                before: None,
            };
            out.list(&client.tasks(&query).await?, TASK_COLUMNS)?;
        }
        Command::Search {
            query,
            kind,
            limit: n,
        } => {
            let params = SearchParams {
                q: query,
                kind,
                topic: None,
                limit: limit(n)?,
            };
            out.list(&client.search(&params).await?, &["type", "id", "text"])?;
        }
        Command::Show { id } => out.record(&client.task(&id).await?)?,
        Command::Post(post) => out.record(&client.post_task(&post_task(*post)?).await?)?,
        Command::Claim { id, note } => out.record(&client.claim(&id, note.as_deref()).await?)?,
        Command::Extend { id, secs } => out.record(&client.extend(&id, secs).await?)?,
        Command::Deliver {
            id,
            text,
            file,
            content_type,
            meta,
        } => {
            let mut delivery = DeliverRequest {
                text,
                ..DeliverRequest::default()
            };
            if let Some(meta) = meta {
                delivery.meta = serde_json::from_value(json_arg(&meta, "--meta")?)
                    .map_err(|e| Failure::Local(format!("--meta: {e}")))?;
            }
            if let Some(path) = file {
                let uploaded = upload(&client, &path, &content_type, out.json || out.quiet).await?;
                delivery.meta.artifact_hash = Some(uploaded);
            }
            out.record(&client.deliver(&id, &delivery).await?)?;
        }
        Command::Accept { id, rating } => out.record(&client.accept(&id, rating).await?)?,
        Command::Reject { id, category, text } => {
            let rejection = RejectRequest { text, category };
            out.record(&client.reject(&id, &rejection).await?)?;
        }
        Command::Cancel { id } => out.record(&client.cancel(&id).await?)?,
        Command::Queue { action } => match action {
            QueueAction::Join { id } => out.record(&client.join_queue(&id).await?)?,
            QueueAction::Leave { id } => out.record(&client.leave_queue(&id).await?)?,
        },
        Command::Bid {
            id,
            price,
            text,
            turnaround,
        } => {
            let bid = BidRequest {
                text,
                offered_price: amount(&price, "--price")?,
                turnaround_s: turnaround,
            };
            out.record(&client.bid(&id, &bid).await?)?;
        }
        Command::Award { id, bid } => out.record(&client.award(&id, &bid).await?)?,
        Command::Balance => out.record(&client.balance().await?)?,
        Command::Transactions { limit: n } => {
            let query = TransactionsQuery {
                limit: limit(n)?,
                ..TransactionsQuery::default()
            };
            out.list(
                &client.transactions(&query).await?,
                &["seq", "tx_type", "amount", "fee", "task_id", "created_at"],
            )?;
        }
        Command::Rules { action } => match action {
            None => out.list(
                &client.rules().await?,
                &["rule_id", "capabilities", "min_bounty", "max_concurrent"],
            )?,
            Some(RulesAction::Add {
                capabilities,
                min_bounty,
                max_concurrent,
            }) => {
                let rule = RuleRequest {
                    capabilities,
                    min_bounty: amount(&min_bounty, "--min-bounty")?,
                    max_concurrent,
                    min_poster_rep: Amount::default(),
                };
                out.record(&client.create_rule(&rule).await?)?;
            }
            Some(RulesAction::Delete { id }) => {
                out.record(&client.delete_rule(id.as_deref()).await?)?;
            }
        },
        Command::Contracts { action } => match action {
            None => out.list(
                &client.contracts().await?,
                &[
                    "id",
                    "status",
                    "poster",
                    "agent",
                    "price_per_task",
                    "tasks_used",
                    "max_tasks",
                ],
            )?,
            Some(ContractsAction::Propose {
                agent,
                price,
                max_tasks,
                capabilities,
            }) => {
                let contract = ContractRequest {
                    agent,
                    capabilities,
                    price_per_task: amount(&price, "--price")?,
                    max_tasks,
                };
                out.record(&client.propose_contract(&contract).await?)?;
            }
            Some(ContractsAction::Accept { id }) => {
                out.record(&client.contract_action(&id, "accept").await?)?;
            }
            Some(ContractsAction::Cancel { id }) => {
                out.record(&client.contract_action(&id, "cancel").await?)?;
            }
        },
        Command::Keys { action } => match action {
            None => out.list(
                &client.keys().await?,
                &["prefix", "created_at", "revoked_at"],
            )?,
            Some(KeysAction::Create) => out.record(&client.create_key().await?)?,
            Some(KeysAction::Revoke { prefix }) => {
                out.record(&client.revoke_key(&prefix).await?)?;
            }
        },
        Command::Webhook { action } => match action {
            WebhookAction::Set { url, events } => {
                let webhook = SetWebhook {
                    webhook_url: url,
                    events: (!events.is_empty()).then_some(events),
                    rotate_secret: false,
                };
                out.record(&client.agentmarket().set_webhook(&webhook).await?.data)?;
            }
            WebhookAction::Show => out.record(&client.agentmarket().webhook().await?.data)?,
            WebhookAction::Test => out.list(
                &client.test_webhook(&TestWebhook { channel: None }).await?,
                &["id", "event", "channel", "status", "created_at"],
            )?,
            WebhookAction::Deliveries => out.list(
                &client
                    .webhook_deliveries(&DeliveriesQuery::default())
                    .await?,
                &["id", "event", "channel", "status", "created_at"],
            )?,
            WebhookAction::Rotate => out.record(&client.rotate_webhook_secret().await?)?,
        },
        Command::Watch {
            skill,
            capability,
            after,
            count,
        } => {
            let params = EventsParams { skill, capability };
            let events = client.events(params, after).await?;
            futures::pin_mut!(events);
            let mut seen = 0;
            while count.is_none_or(|n| seen < n) {
                let Some(event) = events.next().await else {
                    break;
                };
                let event = event?;
                let mut stdout = std::io::stdout().lock();
                if out.json {
                    writeln!(
                        stdout,
                        "{}",
                        serde_json::to_string(&event).unwrap_or_default()
                    )?;
                } else {
                    let what = event.task.as_ref().map_or("", |t| t.text.as_str());
                    writeln!(
                        stdout,
                        "{} {} {} {}",
                        event.seq,
                        event.kind,
                        event.task_id.as_deref().unwrap_or("-"),
                        what.replace('\n', " ")
                    )?;
                }
                stdout.flush()?;
                seen += 1;
            }
        }
        Command::Mcp => bridge(&client).await?,
    }
    Ok(())
}

/// The task `market post` describes.
fn post_task(post: args::PostArgs) -> Result<PostTask, Failure> {
    let escalation = post
        .escalate
        .map(|text| -> Result<EscalationBody, Failure> {
            let parts: Vec<&str> = text.split(',').collect();
            let [rate, hours, cap] = parts.as_slice() else {
                return Err(Failure::Local(
                    "--escalate is RATE,INTERVAL_HOURS,CAP".into(),
                ));
            };
            Ok(EscalationBody {
                rate: amount(rate, "the escalation's rate")?,
                interval_hours: u32::from_str(hours.trim()).map_err(|_| {
                    Failure::Local("the escalation's interval is whole hours".into())
                })?,
                cap: amount(cap, "the escalation's cap")?,
            })
        })
        .transpose()?;
    let chain_next = post
        .chain_next
        .map(|text| {
            serde_json::from_value::<PostTask>(json_arg(&text, "--chain-next")?)
                .map_err(|e| Failure::Local(format!("--chain-next: {e}")))
        })
        .transpose()?;
    Ok(PostTask {
        text: post.text,
        bounty: amount(&post.bounty, "--bounty")?,
        title: post.title,
        skill: post.skill,
        required_capabilities: post.capabilities,
        auto_accept: post.auto_accept,
        require_review: post.require_review,
        assign_to: post.assign_to,
        bidding: post.bidding,
        chain_next: chain_next.map(Box::new),
        result_schema: post
            .result_schema
            .map(|s| json_arg(&s, "--result-schema"))
            .transpose()?,
        depends_on: post.depends_on,
        claim_ttl: post.claim_ttl,
        expires_in: post.expires_in,
        min_reputation: post
            .min_reputation
            .map(|a| amount(&a, "--min-reputation"))
            .transpose()?,
        max_turnaround_s: post.max_turnaround,
        recurring: post.recurring,
        topic: post.topic,
        delivery: if post.private {
            marketplace_client::api::agora::tasks::DeliveryMode::Private
        } else {
            marketplace_client::api::agora::tasks::DeliveryMode::Public
        },
        bounty_escalation: escalation,
        min_auto_accept_accepted: post.min_auto_accept_accepted,
        min_auto_accept_rate: post
            .min_auto_accept_rate
            .map(|a| amount(&a, "--min-auto-accept-rate"))
            .transpose()?,
        contract: post.contract,
    })
}

/// Uploads `path`, showing a progress bar on a terminal: the stored artifact's hash.
async fn upload(
    client: &Client,
    path: &std::path::Path,
    content_type: &str,
    quiet: bool,
) -> Result<String, Failure> {
    let bar = indicatif::ProgressBar::new(0);
    if quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message(format!("hashing {}", path.display()));
    let uploaded = client
        .upload_file(path, content_type, |read, size| {
            bar.set_length(size);
            bar.set_position(read);
        })
        .await?;
    bar.finish_and_clear();
    Ok(uploaded.hash)
}

/// `market mcp`: each line on stdin is a JSON-RPC message for the marketplace's `/mcp`;
/// each message of its answers goes to stdout as a line. The session the server opens on
/// `initialize` is kept for the rest.
async fn bridge(client: &Client) -> Result<(), Failure> {
    let (lines, mut incoming) = tokio::sync::mpsc::channel::<String>(16);
    // Stdin is read on its own thread: a blocking read must not stall the runtime.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut session: Option<String> = None;
    while let Some(line) = incoming.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        let message = json_arg(&line, "a message on stdin")?;
        let reply = client.mcp(&message, session.as_deref()).await?;
        session = reply.session;
        let mut stdout = std::io::stdout().lock();
        for message in reply.messages {
            writeln!(stdout, "{message}")?;
        }
        stdout.flush()?;
    }
    Ok(())
}
