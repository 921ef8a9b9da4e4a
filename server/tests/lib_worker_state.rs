//! Per-worker state in the per-core model: `init` runs once per worker thread, and its
//! (non-`Send`) result is handed to every connection of that worker.

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{join_thread, reuseport_server, within};
use tcpserver::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_keeps_its_own_rc_refcell_across_awaits() {
    let inits = Arc::new(AtomicUsize::new(0));
    let server = reuseport_server(2).build().unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let counted = inits.clone();
    let thread = std::thread::spawn(move || {
        server.serve_per_core_with(
            move |worker| {
                counted.fetch_add(1, Ordering::SeqCst);
                Rc::new(RefCell::new((worker, 0u64)))
            },
            |mut conn: Connection, state: Rc<RefCell<(usize, u64)>>| async move {
                let mut go = [0u8; 1];
                // The Rc is held across this await: fine, the future stays on its worker.
                let _ = conn.read_exact(&mut go).await;
                let (worker, n) = {
                    let mut s = state.borrow_mut();
                    s.1 += 1;
                    *s
                };
                tokio::task::yield_now().await;
                let _ = conn
                    .write_all(format!("{worker} {n} {}", Rc::strong_count(&state)).as_bytes())
                    .await;
            },
        )
    });
    let mut seen: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for _ in 0..20 {
        let mut s = within(TcpStream::connect(addr)).await.unwrap();
        s.write_all(b"x").await.unwrap();
        let mut out = String::new();
        within(s.read_to_string(&mut out)).await.unwrap();
        let parts: Vec<u64> = out.split(' ').map(|p| p.parse().unwrap()).collect();
        assert!(parts[2] >= 2, "the worker keeps its own reference");
        seen.entry(parts[0] as usize).or_default().push(parts[1]);
    }
    handle.shutdown(std::time::Duration::ZERO);
    join_thread(thread).await.unwrap();
    assert_eq!(inits.load(Ordering::SeqCst), 2, "init runs once per worker");
    for (worker, counts) in &seen {
        let expect: Vec<u64> = (1..=counts.len() as u64).collect();
        assert_eq!(
            counts, &expect,
            "worker {worker} counts its own connections"
        );
    }
    assert_eq!(seen.values().map(Vec::len).sum::<usize>(), 20);
}
