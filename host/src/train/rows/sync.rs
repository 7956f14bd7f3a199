//! What the threads of an epoch share: the barrier, and the rows each
//! publishes for the others.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::fkernel::Floats;

/// A barrier for a fixed number of threads that spins briefly, then yields.
///
/// If a thread panics, its [`PanicGuard`] poisons the barrier and the threads
/// waiting at it panic too, instead of waiting forever.
pub(super) struct SpinBarrier {
    arrived: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
    threads: usize,
}

impl SpinBarrier {
    pub(super) fn new(threads: usize) -> Self {
        Self {
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
            threads,
        }
    }

    /// Waits until every thread has arrived; returns how long this thread
    /// waited.
    pub(super) fn wait(&self) -> Duration {
        self.arrive().wait()
    }

    /// The first half of [`wait`](Self::wait): counts this thread in and
    /// returns at once, so it can do work of its own (that no other thread
    /// waits for) before [`Arrival::wait`]. Nothing the other threads do
    /// after the barrier is visible before `Arrival::wait` returns.
    pub(super) fn arrive(&self) -> Arrival<'_> {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return Arrival {
                barrier: self,
                generation: None,
            };
        }
        Arrival {
            barrier: self,
            generation: Some(generation),
        }
    }
}

/// A thread counted in at a [`SpinBarrier`], not yet through it.
#[must_use = "a thread that arrived must wait before it reads what the others wrote"]
pub(super) struct Arrival<'a> {
    barrier: &'a SpinBarrier,
    /// The generation to wait out; `None` when this thread was the last in.
    generation: Option<usize>,
}

impl Arrival<'_> {
    /// Waits until every thread has arrived; returns how long this thread
    /// waited (zero, unmeasured, when it did not have to).
    pub(super) fn wait(self) -> Duration {
        let barrier = self.barrier;
        let passed = |generation| barrier.generation.load(Ordering::Acquire) != generation;
        let Some(generation) = self.generation.filter(|&g| !passed(g)) else {
            return Duration::ZERO;
        };
        let started = Instant::now();
        let mut spins = 0u32;
        while !passed(generation) {
            assert!(
                !barrier.poisoned.load(Ordering::Relaxed),
                "another training thread panicked"
            );
            if spins < 2000 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        started.elapsed()
    }
}

/// Poisons the barrier when its thread unwinds.
pub(super) struct PanicGuard<'a>(pub(super) &'a SpinBarrier);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Ordering::Relaxed);
        }
    }
}

/// No stop requested (see [`Shared::stop_at`]).
pub(super) const NO_STOP: usize = usize::MAX;

/// One thread's rows of one exchanged quantity, double-buffered by step
/// parity (`[step % 2]`): samples of that thread's row count, written by the
/// thread before a barrier and read by the others after it. With one barrier
/// per step a fast thread can be writing the next step's values while a slow
/// one still reads these, hence the two buffers.
pub(super) type Slots = [Mutex<Vec<f32>>; 2];

/// State shared by the threads of one epoch.
pub(super) struct Shared {
    pub(super) barrier: SpinBarrier,
    /// The step at which the observer asked to stop (thread 0 stores it
    /// before that step's first barrier; every thread checks it after that
    /// barrier). A step number rather than a flag, so that a thread that is
    /// slow to leave the previous barrier cannot see a stop meant for the
    /// next step.
    pub(super) stop_at: AtomicUsize,
    /// `ranges[l][j]`: thread `j`'s rows of hidden layer `l`.
    pub(super) ranges: Vec<Vec<Range<usize>>>,
    /// `weights[l][j]`: thread `j`'s rows of hidden layer `l`'s weights. Only
    /// thread `j` writes them, in the update after the step's last barrier;
    /// every thread reads them in the backward pass, between barriers. So the
    /// locks are never contended: they only make the sharing safe to write.
    pub(super) weights: Vec<Vec<RwLock<Floats>>>,
    /// `acts[l][j]`: thread `j`'s rows of hidden layer `l`'s activations.
    pub(super) acts: Vec<Vec<Slots>>,
    /// `deltas[l][j]`: thread `j`'s rows of the gradient of hidden layer `l`'s
    /// pre-activations (empty for `l = 0`: nothing goes below the first layer).
    pub(super) deltas: Vec<Vec<Slots>>,
    /// Nanoseconds the threads spent waiting at the barrier, summed (each
    /// adds its own when its epoch ends).
    pub(super) waited: AtomicU64,
}

/// Runs `work(k)` for every thread `k < count` at once, each on a thread of
/// its own, and returns thread 0's result (the others' are dropped; a panic
/// in any is resumed here after all have ended).
///
/// On a rayon pool of at least `count` threads (the trainer's: its loop runs
/// on one of them) the pool's own threads take the parts
/// (`rayon::broadcast`; threads past `count` return at once). The pool's
/// threads stay where they ran the epoch before. A thread spawned per epoch
/// was now and then started on the core of the thread that spawned it while
/// the pool's idle thread still held the other core, and the two spinning
/// threads then shared one core for the whole epoch: 600-32-4 epochs of
/// 0.025–0.04 s among epochs of 0.006 s on a 2-vCPU Zen 5 (`BENCHMARKS.md`).
/// Elsewhere (on no pool, or a smaller one) it spawns scoped threads.
pub(super) fn run_threads<R: Send>(count: usize, work: impl Fn(usize) -> R + Sync) -> R {
    if count <= 1 {
        return work(0);
    }
    if rayon::current_thread_index().is_some() && rayon::current_num_threads() >= count {
        let mut results = rayon::broadcast(|ctx| (ctx.index() < count).then(|| work(ctx.index())));
        return results
            .swap_remove(0)
            .expect("thread 0 of the pool ran part 0");
    }
    let work = &work;
    std::thread::scope(|scope| {
        for k in 1..count {
            scope.spawn(move || work(k));
        }
        work(0)
    })
}

/// Copies the columns `own` of every sample of `full` (samples of `width`
/// values) into `slot`.
pub(super) fn publish(slot: &Mutex<Vec<f32>>, full: &[f32], width: usize, own: &Range<usize>) {
    if own.is_empty() {
        return;
    }
    let mut slot = slot.lock().expect("no thread panics holding it");
    for (p, s) in slot
        .chunks_exact_mut(own.len())
        .zip(full.chunks_exact(width))
    {
        p.copy_from_slice(&s[own.clone()]);
    }
}

/// Copies every other thread's published columns into `full`.
pub(super) fn gather(
    slots: &[Slots],
    ranges: &[Range<usize>],
    (k, parity): (usize, usize),
    full: &mut [f32],
    width: usize,
) {
    for (j, range) in ranges.iter().enumerate() {
        if j == k || range.is_empty() {
            continue;
        }
        let slot = slots[j][parity]
            .lock()
            .expect("no thread panics holding it");
        for (s, p) in full
            .chunks_exact_mut(width)
            .zip(slot.chunks_exact(range.len()))
        {
            s[range.clone()].copy_from_slice(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `run_threads(count, …)` where every part waits (up to ten
    /// seconds, so that a wrong implementation fails instead of hanging) for
    /// all `count` parts to have started: true only if they ran at once.
    /// Returns that, each part's thread and whether it was a rayon thread.
    fn parts_at_once(count: usize) -> (bool, Vec<(std::thread::ThreadId, bool)>, usize) {
        let started = AtomicUsize::new(0);
        let seen = Mutex::new(vec![None; count]);
        let all_met = AtomicBool::new(true);
        let first = run_threads(count, |k| {
            started.fetch_add(1, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(10);
            while started.load(Ordering::SeqCst) < count && Instant::now() < deadline {
                std::hint::spin_loop();
            }
            if started.load(Ordering::SeqCst) < count {
                all_met.store(false, Ordering::SeqCst);
            }
            let on_pool = rayon::current_thread_index().is_some();
            let mut seen = seen.lock().unwrap();
            assert!(seen[k].is_none(), "part {k} ran twice");
            seen[k] = Some((std::thread::current().id(), on_pool));
            k
        });
        let seen: Vec<_> = seen
            .into_inner()
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        (all_met.into_inner(), seen, first)
    }

    fn distinct(threads: &[(std::thread::ThreadId, bool)]) -> bool {
        let mut ids: Vec<_> = threads.iter().map(|t| format!("{:?}", t.0)).collect();
        ids.sort();
        ids.dedup();
        ids.len() == threads.len()
    }

    #[test]
    fn parts_run_at_once_on_the_pools_own_threads() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for count in [2, 3] {
            let (met, threads, first) = pool.install(|| parts_at_once(count));
            assert!(met, "{count} parts did not run at once");
            assert!(distinct(&threads), "{count} parts shared a thread");
            assert!(threads.iter().all(|&(_, on_pool)| on_pool), "{threads:?}");
            assert_eq!(first, 0, "the result is part 0's");
        }
    }

    #[test]
    fn parts_run_at_once_on_spawned_threads_off_a_pool_or_on_a_smaller_one() {
        let (met, threads, first) = parts_at_once(3);
        assert!(met && distinct(&threads) && first == 0, "{threads:?}");
        assert!(threads[1..].iter().all(|&(_, on_pool)| !on_pool));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (met, threads, first) = pool.install(|| parts_at_once(3));
        assert!(met && distinct(&threads) && first == 0, "{threads:?}");
    }

    #[test]
    fn no_thread_passes_before_all_arrived_even_with_work_in_between() {
        let (threads, rounds) = (3, 2000);
        let barrier = SpinBarrier::new(threads);
        let arrived = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for k in 0..threads {
                let (barrier, arrived) = (&barrier, &arrived);
                scope.spawn(move || {
                    for round in 0..rounds {
                        arrived.fetch_add(1, Ordering::Relaxed);
                        let arrival = barrier.arrive();
                        // Uneven work between arriving and waiting.
                        for _ in 0..(round + k) % 7 * 50 {
                            std::hint::spin_loop();
                        }
                        arrival.wait();
                        let seen = arrived.load(Ordering::Relaxed);
                        assert!(seen >= threads * (round + 1), "round {round}: {seen}");
                        barrier.wait();
                    }
                });
            }
        });
        assert_eq!(arrived.into_inner(), threads * rounds);
    }
}
