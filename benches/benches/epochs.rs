//! Whole epochs of `host train`'s loop, the configurations *interleaved*:
//! one epoch of each in turn, repeated, then the median per configuration.
//! On a machine others are using, a ratio of two medians measured this way
//! is far steadier than two criterion groups run minutes apart.
//!
//! Configurations: 784-64-10 and 784-256-128-10 (MNIST defaults: batch 32,
//! ±1 px shifts, Nesterov SGD) with 1 thread, 2 threads splitting the rows
//! of every hidden layer (`Split::Auto`), and 2 threads with whole shards
//! per thread (`Split::Shards`, what deeper networks used before).
//!
//! `cargo bench -p benches --bench epochs [-- SAMPLES REPEATS]` (defaults
//! 12,000 images, 9 repeats).

use std::time::Instant;

use benches::mnist_train;
use host::model::HiddenLayers;
use host::train::{self, Quiet, Split, TrainConfig};

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let samples = args.next().unwrap_or(12_000);
    let repeats = args.next().unwrap_or(9);
    let train_set = mnist_train(samples);
    let eval_set = train_set.take(1);
    let mut configs = Vec::new();
    for hidden in [vec![64], vec![256, 128]] {
        for (threads, split) in [(1, Split::Auto), (2, Split::Auto), (2, Split::Shards)] {
            let config = TrainConfig {
                hidden: HiddenLayers(hidden.clone()),
                epochs: Some(1),
                threads,
                split,
                ..TrainConfig::default()
            };
            let widths: Vec<String> = hidden.iter().map(|w| w.to_string()).collect();
            let name = format!("784-{}-10 threads {threads} {split:?}", widths.join("-"));
            configs.push((name, config, Vec::new()));
        }
    }
    for _ in 0..repeats {
        for (_, config, times) in &mut configs {
            let started = Instant::now();
            train::train(config, &train_set, &eval_set, &mut Quiet).expect("training");
            times.push(started.elapsed().as_secs_f64());
        }
    }
    println!(
        "{samples} images, {repeats} interleaved repeats, median (min–max) seconds per epoch:"
    );
    for (name, _, times) in &mut configs {
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{name:40} {median:8.4} s  ({:.4}–{:.4})  {:>8.0} samples/s",
            times[0],
            times[times.len() - 1],
            samples as f64 / median
        );
    }
}
