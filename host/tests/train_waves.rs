//! Batches larger than the shard buffers are computed in waves; the model is
//! the same bits whatever the thread count (and so whatever the waves).

use std::path::Path;

use host::data::{load, DataOptions, Role};
use host::model::HiddenLayers;
use host::train::{train, Quiet, Split, TrainConfig};

fn digits() -> host::data::Dataset {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/digits-8x8/digits-train.csv"
    ));
    load(path, &DataOptions::default(), Role::Train).unwrap()
}

fn params(threads: usize, batch_size: usize, hidden: &[usize]) -> Vec<u32> {
    params_split(threads, batch_size, hidden, Split::Shards)
}

fn params_split(threads: usize, batch_size: usize, hidden: &[usize], split: Split) -> Vec<u32> {
    let data = digits();
    let config = TrainConfig {
        hidden: HiddenLayers(hidden.to_vec()),
        epochs: Some(2),
        batch_size,
        threads,
        // Every epoch on these threads, however small the network.
        adapt_threads: false,
        split,
        ..TrainConfig::default()
    };
    let trained = train(&config, &data, &data.take(50), &mut Quiet).unwrap();
    trained
        .model
        .net
        .params()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn waves_of_shards_give_the_bits_of_one_pass() {
    // 200 samples: 13 shards; 1 thread keeps 2 buffers, 2 threads 3, 3 threads 4.
    for hidden in [&[24, 12][..], &[]] {
        let one = params(1, 200, hidden);
        assert_eq!(params(2, 200, hidden), one, "2 threads, hidden {hidden:?}");
        assert_eq!(params(3, 200, hidden), one, "3 threads, hidden {hidden:?}");
        // 12 threads keep 13 buffers: the whole batch in one pass, no waves.
        assert_eq!(params(12, 200, hidden), one, "one pass, hidden {hidden:?}");
    }
    // The row split (one or two hidden layers), the same bits again.
    for hidden in [&[40][..], &[24, 12]] {
        let one = params(1, 64, hidden);
        assert_eq!(params_split(2, 64, hidden, Split::Auto), one, "{hidden:?}");
        assert_eq!(
            params_split(3, 200, hidden, Split::Auto),
            params(1, 200, hidden)
        );
    }
}
