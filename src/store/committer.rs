//! The writer thread of a store: group commit (journaled and flushed when the store is durable),
//! then publish, then answer; and the compactions it starts, each on a thread of its own.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::journal::{Journal, JournalError};
use super::state::State;
use super::{publish, Tx};

/// A write waiting for the journal thread; what it returns answers the caller once durable.
type Job = Box<dyn for<'a> FnOnce(&mut Tx<'a>) -> Reply + Send>;
type Reply = Box<dyn FnOnce() + Send>;

/// Jobs taken into one group commit at most.
const MAX_BATCH: usize = 1024;

/// The handle the store keeps on its journal thread.
pub(super) struct Committer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    durable: bool,
}

#[derive(Default)]
struct Counters {
    flushes: AtomicU64,
    compactions: AtomicU64,
}

impl Committer {
    /// Starts the writer thread on `working`, the version `published` already holds; with a
    /// journal, every change is journaled and flushed before it is published.
    pub fn start(
        journal: Option<Journal>,
        working: State,
        published: Arc<Mutex<Arc<State>>>,
    ) -> Result<Self, JournalError> {
        let (jobs, queue) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let durable = journal.is_some();
        let dir = journal
            .as_ref()
            .map_or_else(Default::default, |journal| journal.dir().to_owned());
        let thread = std::thread::Builder::new()
            .name("blog-api-writer".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| {
                    commit_loop(working, &published, journal, &queue, &shared)
                });
                if std::panic::catch_unwind(run).is_err() {
                    // The working version may hold a half-applied change: never publish it.
                    tracing::error!("the store's writer thread panicked; stopping the process");
                    std::process::abort();
                }
            })
            .map_err(|source| JournalError::Io { path: dir, source })?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
            counters,
            durable,
        })
    }

    /// Whether changes are journaled.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// Queues a write; the receiver answers once it is durable and published.
    pub fn submit<R: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&mut Tx<'a>) -> R + Send + 'static,
    ) -> impl std::future::Future<Output = R> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |tx| {
            let result = f(tx);
            Box::new(move || {
                let _ = answer.send(result);
            })
        });
        // The journal thread lives as long as the store and aborts the process if it fails, so
        // neither of these can fail while a request is being served.
        self.jobs
            .as_ref()
            .expect("the store is open")
            .send(job)
            .expect("the journal thread is running");
        async move {
            answered
                .await
                .expect("the journal thread answers every write")
        }
    }

    pub fn flushes(&self) -> u64 {
        self.counters.flushes.load(Ordering::Relaxed)
    }

    pub fn compactions(&self) -> u64 {
        self.counters.compactions.load(Ordering::Relaxed)
    }
}

impl Drop for Committer {
    /// Closes the journal: the thread finishes the writes it has and any compaction under way,
    /// then releases the directory lock, so a new store can open the directory as soon as this
    /// one is gone.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A snapshot being written on its own thread.
struct Compaction {
    thread: JoinHandle<()>,
    done: Arc<AtomicBool>,
}

fn commit_loop(
    mut working: State,
    published: &Mutex<Arc<State>>,
    mut journal: Option<Journal>,
    queue: &mpsc::Receiver<Job>,
    counters: &Arc<Counters>,
) {
    let mut compaction: Option<Compaction> = None;
    while let Ok(first) = queue.recv() {
        let jobs: Vec<Job> = std::iter::once(first)
            .chain(queue.try_iter().take(MAX_BATCH - 1))
            .collect();
        let mut batch = journal.as_ref().map(Journal::batch);
        let mut changed = false;
        let replies: Vec<Reply> = jobs
            .into_iter()
            .map(|job| {
                let mut tx = Tx {
                    state: &mut working,
                    journal: batch.as_mut(),
                    changed: false,
                };
                let reply = job(&mut tx);
                changed |= tx.changed;
                reply
            })
            .collect();
        if let (Some(journal), Some(batch)) = (journal.as_mut(), batch) {
            if !batch.is_empty() {
                counters.flushes.fetch_add(1, Ordering::Relaxed);
            }
            if let Err(error) = journal.commit(batch) {
                // The working version holds changes that are not on disk. Answering would
                // acknowledge them; publishing would show them. Stop; the journal replays what
                // was flushed.
                tracing::error!(%error, "writing the journal failed; stopping the process");
                std::process::abort();
            }
        }
        if changed {
            publish(published, &working);
        }
        for reply in replies {
            reply();
        }

        if compaction
            .as_ref()
            .is_some_and(|c| c.done.load(Ordering::Acquire))
        {
            let _ = compaction.take().map(|c| c.thread.join());
        }
        if let Some(journal) = journal.as_mut() {
            if compaction.is_none() && journal.wants_compaction() {
                compaction = start_compaction(journal, published, counters);
            }
        }
    }
    if let Some(compaction) = compaction {
        let _ = compaction.thread.join();
    }
}

/// Moves the journal aside and writes a snapshot of the published version (exactly what the
/// journal holds) on a thread of its own; writers append to a fresh journal meanwhile.
fn start_compaction(
    journal: &mut Journal,
    published: &Mutex<Arc<State>>,
    counters: &Arc<Counters>,
) -> Option<Compaction> {
    let sealed = match journal.seal() {
        Ok(sealed) => sealed,
        Err(error) => {
            // Most likely an earlier snapshot failed and left journal.old: nothing is lost (the
            // journal keeps every write), but trying again at every write would only flood the
            // log. The next start finishes that compaction.
            journal.stop_compacting();
            tracing::error!(%error, "could not start compacting the journal; compaction stops until the next start (the journal keeps growing, nothing is lost)");
            return None;
        }
    };
    let frozen = Arc::clone(&published.lock());
    let done = Arc::new(AtomicBool::new(false));
    let finished = SetOnDrop(Arc::clone(&done));
    let counters = Arc::clone(counters);
    let thread = std::thread::Builder::new()
        .name("blog-api-snapshot".into())
        .spawn(move || {
            // Marks the compaction over even if writing it panics.
            let _finished = finished;
            lower_priority();
            let started = std::time::Instant::now();
            match sealed.write_snapshot(&frozen) {
                Ok(()) => {
                    counters.compactions.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        seq = sealed.seq(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "journal compacted into a snapshot"
                    )
                }
                Err(error) => tracing::error!(
                    %error,
                    "compacting the journal failed; the old journal stays until the next start"
                ),
            }
        });
    match thread {
        Ok(thread) => Some(Compaction { thread, done }),
        Err(error) => {
            tracing::error!(%error, "could not start the snapshot thread");
            None
        }
    }
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A snapshot yields the CPU to requests: its thread runs at nice 10. On a machine with few
/// cores, writing a large snapshot at full priority took a core from the readers and showed in
/// their p99 (docs/benchmarks.md).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours; on Linux,
    // PRIO_PROCESS with a thread id sets the nice value of that one thread.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, 10);
    }
}
