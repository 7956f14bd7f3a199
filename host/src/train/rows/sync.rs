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
