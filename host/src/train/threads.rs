//! How many threads each part of an epoch takes: all of them while they
//! seldom wait for one another, fewer while other programs keep some cores
//! busy, and no more than a small network keeps busy.
//!
//! The row split ([`rows`](super::rows)) gives every thread a fixed share
//! of each step and meets at a barrier several times a step, so a thread
//! that the operating system takes off its core for a time slice (another
//! program wants the core) stops all the others until it comes back. With
//! one busy program on a two-core machine, two threads took 1.6–2× as long
//! per epoch as one (`BENCHMARKS.md`): the threads spent 40–60 % of their
//! time waiting at the barriers, against under 10 % on idle cores.
//!
//! So an epoch runs as up to [`PARTS`] parts ([`part_count`], [`parts`]),
//! each carrying the loss sums of the parts before on, and the threads
//! measure their waiting, and when it passed [`WAIT_LIMIT`] of their time in
//! two parts in a row, [`ThreadChoice`] tries half the threads for the next
//! part, and keeps them unless that part was slower per sample (by more
//! than 5 %: fewer threads at about the same speed leave cores to the other
//! programs). Every so often (after 2, then 4, … [`MAX_BACKOFF`] parts) a
//! part tries twice as many again and keeps them if they are faster (by
//! more than 5 %). A try that is undone makes the next try of its kind wait
//! twice as long, so on a machine whose cores stay busy (or whose threads
//! wait for another reason, such as many threads on a small network) a
//! wrong try costs one part now and then.
//!
//! A network too small to keep several threads busy ([`useful`]: iris's
//! 4-64-3 takes 1.3–1.45× as long on two threads as on one) takes fewer from
//! the start.
//!
//! Only *who* computes what changes: the model is the same for every thread
//! count, and the parts carry the loss sums on in the same order (see
//! [`train`](super) and `host/tests/train.rs`). A count the user gives
//! (`--threads`) is taken as given, every epoch.

use std::ops::Range;

use super::observer::TrainError;

/// Multiply-adds of a step's forward pass that make one thread's share
/// worth its synchronisation: runs on fewer multiply-adds per step take
/// fewer threads ([`useful`]). Two threads against one, median epochs of
/// synthetic CSV data in batches of 32 (`BENCHMARKS.md`, eleventh round):
/// 1.3–1.45× as long for iris's 4-64-3 (14,000 per step), 1.05× for 16-16-4
/// (10,000), 0.92× for 32-32-4 (37,000), 0.78× for 128-64-4 (270,000).
pub const STEP_WORK_PER_THREAD: usize = 16_384;

/// How many threads a step of a network with these `widths` (inputs, hidden
/// layers, outputs) in batches of `batch` samples keeps busy: one per
/// [`STEP_WORK_PER_THREAD`] multiply-adds of its forward pass, at least one.
pub fn useful(widths: &[usize], batch: usize) -> usize {
    let per_sample: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
    (per_sample.saturating_mul(batch) / STEP_WORK_PER_THREAD).max(1)
}

/// The share of the threads' time spent waiting for one another above which
/// (two parts in a row) the next part tries half the threads. Idle cores
/// give under a tenth (`BENCHMARKS.md`); one preempted thread, 0.4 and more.
pub const WAIT_LIMIT: f64 = 1.0 / 3.0;

/// Most parts between two tries of fewer, or of more, threads.
pub const MAX_BACKOFF: usize = 16;

/// Parts an epoch runs as at most: the thread count may change between them.
pub const PARTS: usize = 4;

/// Steps a part takes at least: each part sets its threads up (the row
/// split copies out every thread's rows).
pub const MIN_PART_STEPS: usize = 64;

/// Seconds a part takes at least, judged by the epoch before: a part's time
/// must be long enough to compare with another's across the system's time
/// slices (a few milliseconds). The first epoch, whose time is not known
/// yet, is one part.
pub const MIN_PART_SECONDS: f64 = 0.05;

/// How many parts an epoch of `steps` steps runs as, after an epoch that
/// took `last` seconds (`None` for the first): up to [`PARTS`], each of at
/// least [`MIN_PART_STEPS`] steps and [`MIN_PART_SECONDS`].
pub fn part_count(steps: usize, last: Option<f64>) -> usize {
    let long = last.map_or(1, |seconds| (seconds / MIN_PART_SECONDS) as usize);
    (steps / MIN_PART_STEPS).min(long).clamp(1, PARTS)
}

/// The sample ranges of an epoch of `samples` samples in batches of `batch`
/// cut into `count` parts of whole batches and about equal length.
pub fn parts(samples: usize, batch: usize, count: usize) -> impl Iterator<Item = Range<usize>> {
    let steps = samples.div_ceil(batch.max(1));
    let per = (steps.div_ceil(count.max(1)) * batch).max(1);
    (0..samples)
        .step_by(per)
        .map(move |start| start..(start + per).min(samples))
}

/// What one part of an epoch took: how many threads, the share of their
/// time they spent waiting for one another (`None` when that was not
/// measured: one thread, or the data-parallel epoch), and how long.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochThreads {
    /// Threads the part took.
    pub threads: usize,
    /// The share of their time they waited for one another.
    pub waiting: Option<f64>,
    /// Wall time of its steps per sample.
    pub seconds_per_sample: f64,
}

/// Chooses each part's thread count from the ones before (see the module
/// documentation).
#[derive(Clone, Debug)]
pub struct ThreadChoice {
    /// The most threads (the pool's size).
    most: usize,
    /// Whether to adapt at all (`false`: always `most`).
    adapt: bool,
    /// The count parts settle on, how long the last part with it took per
    /// sample, and how many parts in a row with it waited too long.
    settled: usize,
    time: f64,
    waited: usize,
    /// The next part's count.
    next: usize,
    /// Tries of fewer and of more threads.
    fewer: Backoff,
    more: Backoff,
}

/// A try is kept when it takes at most this many times the settled time
/// (fewer threads: about as fast leaves cores to the other programs), or
/// when the settled count takes more than this many times the try's (more
/// threads: clearly faster only), so that noise does not make the count swing.
const MARGIN: f64 = 1.05;

/// Parts between tries of one kind: 2 at first, doubled after each try
/// that was undone, up to [`MAX_BACKOFF`].
#[derive(Clone, Copy, Debug)]
struct Backoff {
    wait: usize,
    left: usize,
}

impl Backoff {
    const FIRST: Backoff = Backoff { wait: 2, left: 0 };

    fn undone(&mut self) {
        self.left = self.wait;
        self.wait = (self.wait * 2).min(MAX_BACKOFF);
    }

    fn tick(&mut self) {
        self.left = self.left.saturating_sub(1);
    }
}

impl ThreadChoice {
    /// Up to `most` threads; every part takes all of them unless `adapt`.
    pub fn new(most: usize, adapt: bool) -> Self {
        let most = most.max(1);
        Self {
            most,
            adapt,
            settled: most,
            time: f64::INFINITY,
            waited: 0,
            next: most,
            fewer: Backoff::FIRST,
            more: Backoff::FIRST,
        }
    }

    /// The next part's thread count.
    pub fn next(&self) -> usize {
        self.next
    }

    /// Records what the part just run took, and chooses the next count.
    pub fn record(&mut self, epoch: EpochThreads) {
        if !self.adapt {
            return;
        }
        self.fewer.tick();
        self.more.tick();
        let waited = epoch.waiting.is_some_and(|w| w > WAIT_LIMIT);
        if epoch.threads == self.settled {
            self.time = epoch.seconds_per_sample;
            self.waited = if waited { self.waited + 1 } else { 0 };
        } else {
            let fewer = epoch.threads < self.settled;
            let time = epoch.seconds_per_sample;
            let kept = if fewer {
                time <= self.time * MARGIN
            } else {
                time * MARGIN < self.time
            };
            let tried = if fewer {
                &mut self.fewer
            } else {
                &mut self.more
            };
            if kept {
                *tried = Backoff::FIRST;
                self.settled = epoch.threads;
                self.time = time;
                // Fewer threads that still wait: on down without another
                // part of evidence.
                self.waited = match (waited, fewer) {
                    (false, _) => 0,
                    (true, true) => 2,
                    (true, false) => 1,
                };
                if fewer {
                    // Not straight back up.
                    self.more.left = self.more.wait;
                }
            } else {
                tried.undone();
            }
        }
        // Two parts in a row: one alone may be a hiccup (the first part's
        // warm-up, a short part meeting another program's burst).
        self.next = if self.waited >= 2 && self.settled > 1 && self.fewer.left == 0 {
            self.settled / 2
        } else if self.waited == 0 && self.settled < self.most && self.more.left == 0 {
            (self.settled * 2).min(self.most)
        } else {
            self.settled
        };
    }
}

/// Picks each part's thread count from what the parts before took
/// ([`ThreadChoice`]; tests script it).
pub(super) trait ChooseThreads {
    fn next(&self) -> usize;
    fn record(&mut self, epoch: EpochThreads);

    /// How many parts an epoch of `steps` steps runs as ([`part_count`]).
    fn parts(&self, steps: usize, last: Option<f64>) -> usize {
        part_count(steps, last)
    }
}

impl<C: ChooseThreads> ChooseThreads for &mut C {
    fn next(&self) -> usize {
        (**self).next()
    }

    fn parts(&self, steps: usize, last: Option<f64>) -> usize {
        (**self).parts(steps, last)
    }

    fn record(&mut self, epoch: EpochThreads) {
        (**self).record(epoch);
    }
}

impl ChooseThreads for ThreadChoice {
    fn next(&self) -> usize {
        ThreadChoice::next(self)
    }

    fn record(&mut self, epoch: EpochThreads) {
        ThreadChoice::record(self, epoch);
    }
}

/// Pools of fewer threads than the run's, built when an epoch of the
/// data-parallel split first takes that many ([`ThreadChoice`]).
#[derive(Default)]
pub(super) struct SmallerPools(Vec<(usize, rayon::ThreadPool)>);

impl SmallerPools {
    /// Runs `f` on `count` threads: on the current pool when that is its size
    /// (`threads`) or on the calling thread for one, else on a pool of
    /// `count` (handing an epoch to another pool costs about as much as an
    /// epoch of iris).
    pub(super) fn on<R: Send>(
        &mut self,
        count: usize,
        threads: usize,
        f: impl FnOnce() -> R + Send,
    ) -> Result<R, TrainError> {
        if count == threads || count == 1 {
            return Ok(f());
        }
        if !self.0.iter().any(|(c, _)| *c == count) {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(count)
                .build()
                .map_err(|e| TrainError::Config(format!("cannot start {count} threads: {e}")))?;
            self.0.push((count, pool));
        }
        let (_, pool) = self
            .0
            .iter()
            .find(|(c, _)| *c == count)
            .expect("just built");
        Ok(pool.install(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts of `epochs` epochs on a machine where `machine(threads)`
    /// gives an epoch's seconds and whether its threads waited.
    fn run(
        choice: &mut ThreadChoice,
        epochs: usize,
        machine: impl Fn(usize) -> (f64, bool),
    ) -> Vec<usize> {
        (0..epochs)
            .map(|_| {
                let threads = choice.next();
                let (seconds, waited) = machine(threads);
                let waiting = (threads > 1).then_some(if waited { 0.5 } else { 0.05 });
                choice.record(EpochThreads {
                    threads,
                    waiting,
                    seconds_per_sample: seconds,
                });
                threads
            })
            .collect()
    }

    /// Idle cores: each thread adds speed, and threads seldom wait.
    fn idle(threads: usize) -> (f64, bool) {
        (1.0 / threads as f64, false)
    }

    /// `free` cores free, the others busy: more threads than that wait, and
    /// take twice as long as one.
    fn busy(free: usize) -> impl Fn(usize) -> (f64, bool) {
        move |threads| {
            if threads <= free {
                (1.0 / threads as f64, false)
            } else {
                (2.0, true)
            }
        }
    }

    #[test]
    fn idle_cores_keep_every_thread() {
        let mut choice = ThreadChoice::new(8, true);
        assert_eq!(run(&mut choice, 20, idle), vec![8; 20]);
    }

    #[test]
    fn a_given_count_is_kept_however_long_the_threads_wait() {
        let mut choice = ThreadChoice::new(4, false);
        assert_eq!(run(&mut choice, 6, busy(1)), vec![4; 6]);
    }

    #[test]
    fn busy_cores_halve_the_threads_and_tries_of_more_back_off() {
        let mut choice = ThreadChoice::new(8, true);
        // Two epochs of 8 wait; 4 is no slower, so kept, and waits; 2 is
        // faster. Then tries of 4 after 3 epochs of 2 (the first of them 2's
        // try), then after 2, 4, 8 and 16.
        let counts = run(&mut choice, 60, busy(2));
        let mut expected = vec![8, 8, 4];
        for wait in [3, 2, 4, 8, 16, 16, 16] {
            expected.extend(std::iter::repeat_n(2, wait));
            expected.push(4);
        }
        assert_eq!(counts, expected[..60]);
    }

    #[test]
    fn freed_cores_are_taken_back() {
        let mut choice = ThreadChoice::new(4, true);
        let mut counts = run(&mut choice, 7, busy(1));
        // The other program ends: the next try of more is faster, and so is
        // the one right after it.
        counts.extend(run(&mut choice, 9, idle));
        assert_eq!(counts, [4, 4, 2, 1, 1, 1, 2, 1, 1, 2, 4, 4, 4, 4, 4, 4]);
    }

    #[test]
    fn fewer_threads_that_are_slower_are_undone() {
        // Many threads on a small network wait for one another even on idle
        // cores, and are still the fastest: tries of half of them back off.
        let mut choice = ThreadChoice::new(16, true);
        let counts = run(&mut choice, 40, |threads| (1.0 / threads as f64, true));
        let tries: Vec<usize> = (0..40).filter(|&e| counts[e] == 8).collect();
        assert_eq!(tries, [2, 5, 10, 19, 36]);
        assert!(counts.iter().all(|&c| c == 16 || c == 8), "{counts:?}");
    }

    #[test]
    fn one_epoch_that_waited_alone_changes_nothing() {
        let mut choice = ThreadChoice::new(2, true);
        let first = std::cell::Cell::new(true);
        let counts = run(&mut choice, 6, |threads| {
            let hiccup = first.replace(false);
            (if hiccup { 1.0 } else { 0.5 } / threads as f64, hiccup)
        });
        assert_eq!(counts, vec![2; 6]);
    }

    #[test]
    fn epochs_run_as_up_to_four_parts_of_whole_batches() {
        let all = |samples: usize, batch| {
            let count = part_count(samples.div_ceil(batch), Some(1.0));
            parts(samples, batch, count).collect::<Vec<_>>()
        };
        // MNIST: 1,875 steps, four parts of 469 (the last 468).
        assert_eq!(
            all(60_000, 32),
            [0..15_008, 15_008..30_016, 30_016..45_024, 45_024..60_000]
        );
        // 375 steps: four parts; iris's 4 steps: one; 200 steps: three of
        // 67, 67 and 66.
        assert_eq!(all(12_000, 32).len(), 4);
        assert_eq!(all(111, 32), vec![(0..111)]);
        assert_eq!(all(6_400, 32), [0..2_144, 2_144..4_288, 4_288..6_400]);
        assert!(all(0, 32).is_empty());
        // Parts of at least 0.05 s by the epoch before; the first is one part.
        let count = |last| part_count(1875, last);
        assert_eq!(
            [None, Some(0.04), Some(0.12), Some(0.3)].map(count),
            [1, 1, 2, 4]
        );
    }

    #[test]
    fn small_networks_keep_fewer_threads_busy() {
        // iris 4-8-3, 16-16-4, 32-32-4 and MNIST's 784-64-10, batches of 32.
        assert_eq!(useful(&[4, 8, 3], 32), 1);
        assert_eq!(useful(&[16, 16, 4], 32), 1);
        assert_eq!(useful(&[32, 32, 4], 32), 2);
        assert_eq!(useful(&[784, 64, 10], 32), 99);
        assert_eq!(useful(&[4, 8, 3], 4096), 14);
        assert_eq!(useful(&[1, 1], 1), 1);
    }

    #[test]
    fn one_thread_never_waits_and_stays_one() {
        let mut choice = ThreadChoice::new(1, true);
        assert_eq!(run(&mut choice, 5, busy(0)), vec![1; 5]);
    }
}
