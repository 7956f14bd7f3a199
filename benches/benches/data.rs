//! Reading CSV files: what `host train --data file.csv` spends before the
//! first epoch.
//!
//! Three files of the shapes users bring, generated in memory (no disk in
//! the timing): sensor features (text labels, 600 values of four decimals
//! per row), the MNIST layout (784 pixels per row, kept as bytes) and the
//! sensor file with its labels quoted, which the reader parses as one stream
//! (a quote can hold a newline) instead of in blocks. Each is read on rayon
//! pools of one and two threads; throughput is bytes of text per second.
//!
//! `cargo bench -p benches --bench data`

use std::path::Path;

use benches::config;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use host::data::csv::parse_csv;
use host::data::DataOptions;
use tinymlp::Rng;

const CLASSES: [&str; 4] = ["walk", "run", "sit", "stand"];

/// `rows` lines of a label and `features` values, each written by `value`.
fn csv(
    rows: usize,
    features: usize,
    label: impl Fn(usize) -> String,
    value: impl Fn(&mut Rng) -> String,
) -> Vec<u8> {
    let mut rng = Rng::new(7);
    let mut text = String::from("label");
    for f in 0..features {
        text.push_str(&format!(",f{f}"));
    }
    text.push('\n');
    for r in 0..rows {
        text.push_str(&label(r));
        for _ in 0..features {
            text.push(',');
            text.push_str(&value(&mut rng));
        }
        text.push('\n');
    }
    text.into_bytes()
}

fn files() -> Vec<(&'static str, Vec<u8>)> {
    let sensor_value = |rng: &mut Rng| format!("{:.4}", rng.uniform(-2.0, 2.0));
    let pixel = |rng: &mut Rng| {
        let p = if rng.uniform(0.0, 1.0) < 0.8 {
            0
        } else {
            rng.below(256)
        };
        p.to_string()
    };
    vec![
        (
            "sensor_600",
            csv(3000, 600, |r| CLASSES[r % 4].to_owned(), sensor_value),
        ),
        (
            "pixels_784",
            csv(3000, 784, |r| (r % 10).to_string(), pixel),
        ),
        (
            "sensor_600_quoted",
            csv(
                3000,
                600,
                |r| format!("\"{}\"", CLASSES[r % 4]),
                sensor_value,
            ),
        ),
    ]
}

fn read_csv(c: &mut Criterion) {
    let mut group = c.benchmark_group("csv");
    let options = DataOptions::default();
    for (name, bytes) in files() {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            let id = BenchmarkId::new(name, format!("threads_{threads}"));
            group.bench_function(id, |b| {
                b.iter(|| {
                    pool.install(|| parse_csv(&bytes[..], Path::new("bench.csv"), &options))
                        .expect("valid CSV")
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = read_csv
}
criterion_main!(benches);
