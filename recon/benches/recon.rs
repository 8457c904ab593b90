//! Parse and print a ~1 MiB document of WARP bodies, next to serde_json parsing the
//! equivalent JSON (`recon::to_json` of the same values) in the same run.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

/// One realistic WARP body: lane events, map updates, commands, as SwimOS apps send them.
fn body(i: usize) -> String {
    match i % 4 {
        0 => format!(
            "@update(key:\"sensor-{i}\"){{id:{i},name:\"Sensor {i}\",temperature:{}.{},humidity:0.{},online:true,tags:{{indoor,\"floor {}\"}}}}",
            15 + i % 20,
            i % 10,
            40 + i % 50,
            i % 7
        ),
        1 => format!(
            "{{from:\"/unit/{i}\",kind:alert,level:{},message:\"threshold exceeded on unit {i}, check the cooling loop\",ts:{}}}",
            i % 5,
            1_700_000_000_000u64 + i as u64 * 37
        ),
        2 => format!("@remove(key:\"sensor-{}\")", i / 2),
        _ => format!(
            "{{lat:{}.{:06},lng:-{}.{:06},speed:{}.{},heading:{},ok:false}}",
            37 + i % 3,
            i * 7919 % 1_000_000,
            122 + i % 2,
            i * 104_729 % 1_000_000,
            i % 120,
            i % 10,
            i % 360
        ),
    }
}

fn document() -> String {
    let mut doc = String::new();
    let mut i = 0;
    while doc.len() < 1 << 20 {
        doc.push_str(&body(i));
        doc.push('\n');
        i += 1;
    }
    doc
}

fn bench(c: &mut Criterion) {
    let doc = document();
    let value = recon::parse(&doc).expect("the document parses");
    let json = serde_json::to_string(&recon::to_json(&value)).expect("json");
    let compact = recon::to_compact_string(&value);

    let mut g = c.benchmark_group("recon_vs_json");
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("recon_parse", |b| {
        b.iter(|| recon::parse(black_box(&doc)).unwrap())
    });
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_function("serde_json_value_parse", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&json)).unwrap())
    });
    g.throughput(Throughput::Bytes(compact.len() as u64));
    g.bench_function("recon_print_compact", |b| {
        b.iter(|| recon::to_compact_string(black_box(&value)))
    });
    let frames: Vec<String> = (0..1000)
        .map(|i| format!("@event(node:\"/unit/{i}\",lane:info){}", body(i)))
        .collect();
    g.throughput(Throughput::Bytes(
        frames.iter().map(|f| f.len() as u64).sum(),
    ));
    g.bench_function("recon_peel_header", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(recon::peel_header(f).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
