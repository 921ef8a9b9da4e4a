//! Response parser throughput: `cargo bench -p loadgen --bench attack_parse`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use loadgen::attack::response::{Progress, ResponseParser};

fn parse_all(parser: &mut ResponseParser, wire: &[u8]) -> u16 {
    parser.reset();
    match parser.parse(wire) {
        Ok(Progress::Complete { response, .. }) => response.status,
        _ => 0,
    }
}

fn bench(c: &mut Criterion) {
    let mut fixed = b"HTTP/1.1 200 OK\r\nServer: floor\r\nDate: Thu, 26 Nov 2026 23:00:00 GMT\r\n\
        Content-Type: text/plain\r\nContent-Length: 1024\r\n\r\n"
        .to_vec();
    fixed.resize(fixed.len() + 1024, b'x');
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        400\r\n"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'x', 1024))
        .chain(b"\r\n0\r\n\r\n".iter().copied())
        .collect::<Vec<u8>>();
    let mut group = c.benchmark_group("response");
    for (name, wire) in [("content_length_1k", &fixed), ("chunked_1k", &chunked)] {
        group.throughput(Throughput::Elements(1));
        let mut parser = ResponseParser::new(false);
        group.bench_function(name, |b| b.iter(|| parse_all(&mut parser, black_box(wire))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
