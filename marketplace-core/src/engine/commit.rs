//! Group commit's lanes: a marketplace's commands decided and written in batches, each
//! batch one transaction made durable by one commit (see [`GroupCommit`]).

use std::sync::Arc;

use crate::command::Outcome;
use crate::error::Error;
use crate::store::{Store, StoreError, Transaction};

use super::batch::{
    Batcher, Counters, GroupCommit, GroupCommitStats, Job, Lane, Submission, take_in,
};
use super::load::Step;
use super::market::Marketplace;

impl<S: Store + Clone> Marketplace<S> {
    /// This marketplace with group commit: its commands are batched into shared commits by
    /// `config.lanes` lanes, each a future started with `spawn` now, running until every
    /// clone of the returned marketplace is dropped. See [`GroupCommit`] for what a
    /// batch guarantees.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
    /// use marketplace_core::*;
    /// let market = Marketplace::new(MemoryStore::new(), Policy::agentmarket())
    ///     .with_group_commit(GroupCommit::default(), |lane| {
    ///         tokio::spawn(lane);
    ///     });
    /// let alice = IdentityId::from_public_key(b"alice");
    /// market.register(&alice, ProfileUpdate::alias("alice")).await.unwrap();
    /// # });
    /// ```
    pub fn with_group_commit(mut self, config: GroupCommit, spawn: impl Fn(Lane)) -> Self {
        let config = GroupCommit {
            max_commands: config.max_commands.max(1),
            lanes: config.lanes.max(1),
            ..config
        };
        let (jobs, queue) = flume::unbounded();
        let stats = Arc::new(Counters::default());
        // The lanes' own marketplace has no batcher: it runs what they take, and its clones
        // do not keep the queue open.
        self.batcher = None;
        for _ in 0..config.lanes {
            let lane = lane(self.clone(), queue.clone(), config, stats.clone());
            spawn(Box::pin(lane));
        }
        self.batcher = Some(Arc::new(Batcher { jobs, stats }));
        self
    }
}

impl<S: Store> Marketplace<S> {
    /// What group commit has done so far; `None` when it is off.
    pub fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        self.batcher.as_ref().map(|b| b.stats())
    }

    /// Executes `submissions` as one batch: in one transaction, in order, each seeing the
    /// effects of those before it, made durable by one commit. Answers each, in order, as
    /// [`GroupCommit`] describes. The lanes of [`Marketplace::with_group_commit`] run
    /// their batches through here; it runs the batch given, whether or not group commit is
    /// on.
    pub async fn execute_batch(&self, submissions: Vec<Submission>) -> Vec<Result<Outcome, Error>> {
        let jobs: Vec<Job> = submissions
            .into_iter()
            .map(|submission| Job {
                submission,
                seed: self.ids.next_seed(),
                answer: None,
            })
            .collect();
        let (_, answers) = self.decide_batch(jobs, None).await;
        answers
    }

    /// Hands a command to the lanes and waits for its answer. Should the lanes be gone (a
    /// runtime shut down under them), gives back the seed it drew, for the command to run
    /// alone.
    pub(super) async fn submit(
        &self,
        batcher: &Batcher,
        submission: Submission,
    ) -> Result<Result<Outcome, Error>, u64> {
        let seed = self.ids.next_seed();
        let (answer, answered) = flume::bounded(1);
        let job = Job {
            submission,
            seed,
            answer: Some(answer),
        };
        if batcher.jobs.send(job).is_err() {
            return Err(seed);
        }
        Ok(answered.recv_async().await.unwrap_or_else(|_| {
            Err(
                StoreError::Unavailable("the command's lane stopped before answering".into())
                    .into(),
            )
        }))
    }

    /// A command on its own: its transaction, retried on lost races.
    async fn alone(&self, submission: &Submission, seed: u64) -> Result<Outcome, Error> {
        let s = submission;
        self.run(s.actor.as_ref(), &s.command, s.key.as_deref(), Some(seed))
            .await
    }

    /// Decides `jobs` (and, with a queue, the commands that arrive meanwhile, within the
    /// bounds) in one transaction and commits it. Returns the jobs taken and their answers,
    /// in order.
    async fn decide_batch(
        &self,
        mut jobs: Vec<Job>,
        queue: Option<(&flume::Receiver<Job>, &GroupCommit)>,
    ) -> (Vec<Job>, Vec<Result<Outcome, Error>>) {
        let opened = self.now();
        let mut answers = Vec::with_capacity(jobs.len());
        let Ok(mut tx) = self.store.begin().await else {
            return self.one_by_one(jobs).await;
        };
        let mut broken = false;
        loop {
            if answers.len() == jobs.len() {
                match queue.and_then(|(queue, bounds)| {
                    take_in(queue, bounds, jobs.len(), opened, self.now())
                }) {
                    Some(job) => jobs.push(job),
                    None => break,
                }
                if jobs.len() == 2 {
                    tx.holds_batch();
                }
            }
            let job = &jobs[answers.len()];
            let s = &job.submission;
            let decided = self
                .decide_in(
                    &mut tx,
                    s.actor.as_ref(),
                    &s.command,
                    s.key.as_deref(),
                    self.now(),
                    job.seed,
                )
                .await;
            match decided {
                Ok(Step::Commit(outcome) | Step::Replay(outcome)) => answers.push(Ok(outcome)),
                Err(Error::Storage(_)) => {
                    broken = true;
                    break;
                }
                // Refused before it wrote anything: alone.
                Err(refused) => answers.push(Err(refused)),
            }
        }
        if broken {
            let _ = tx.rollback().await;
            return self.one_by_one(jobs).await;
        }
        match tx.commit().await {
            Ok(()) => (jobs, answers),
            // The store says the transaction lost a race and was rolled back.
            Err(StoreError::Conflict(_)) => self.one_by_one(jobs).await,
            Err(failed) => {
                let answers = answers
                    .into_iter()
                    .map(|answer| match answer {
                        Ok(_) => Err(failed.clone().into()),
                        refused => refused,
                    })
                    .collect();
                (jobs, answers)
            }
        }
    }

    /// Runs each job alone, in order: a batch that failed before it committed.
    async fn one_by_one(&self, jobs: Vec<Job>) -> (Vec<Job>, Vec<Result<Outcome, Error>>) {
        let mut answers = Vec::with_capacity(jobs.len());
        for job in &jobs {
            answers.push(self.alone(&job.submission, job.seed).await);
        }
        (jobs, answers)
    }
}

/// A lane: takes the first command waiting, decides it and those that arrive meanwhile in
/// one transaction, commits, answers them; until the queue is closed.
async fn lane<S: Store + Clone>(
    market: Marketplace<S>,
    queue: flume::Receiver<Job>,
    config: GroupCommit,
    stats: Arc<Counters>,
) {
    while let Ok(first) = queue.recv_async().await {
        let (jobs, answers) = market
            .decide_batch(vec![first], Some((&queue, &config)))
            .await;
        stats.committed(jobs.len());
        for (job, answer) in jobs.into_iter().zip(answers) {
            // A caller that stopped waiting no longer hears its answer; the command stands.
            if let Some(to) = job.answer {
                let _ = to.send(answer);
            }
        }
    }
}
