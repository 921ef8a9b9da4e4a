//! Temporary accept errors (EMFILE) back off instead of spinning or failing, and the server
//! recovers once descriptors are free. This binary holds exactly one test, because it lowers
//! RLIMIT_NOFILE for the whole process.
#![cfg(target_os = "linux")]

mod support;

use std::io::Read;
use std::time::Duration;

use support::within;
use tcpserver::Server;
use tokio::io::AsyncWriteExt;

fn cpu_time() -> Duration {
    // SAFETY: rusage is plain data filled in by the kernel.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn highest_open_fd() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap()
}

fn set_nofile_soft(soft: u64) -> u64 {
    // SAFETY: plain rlimit calls on a local struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        let old = lim.rlim_cur;
        lim.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        old
    }
}

#[test]
fn emfile_backs_off_and_recovers() {
    let logs = support::Logs::install("warn");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = Server::builder("127.0.0.1:0").loops(2).build().unwrap();
        let addr = server.local_addr();
        let handle = server.handle();
        let task = tokio::spawn(server.serve(|mut conn| async move {
            let _ = conn.write_all(b"ok").await;
        }));
        assert_eq!(within(support::read_all(addr)).await.unwrap(), b"ok");

        // The client socket exists before the limit; connecting it needs no new descriptor.
        let client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let mut padding: Vec<std::fs::File> = (0..8)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        let old = set_nofile_soft(highest_open_fd() + 1);
        // Fill the holes below the limit too: now no descriptor at all can be created.
        while let Ok(f) = std::fs::File::open("/dev/null") {
            padding.push(f);
        }

        client.connect(&addr.into()).unwrap();
        let cpu_before = cpu_time();
        // Negative check: for a while, the server cannot accept (EMFILE) and must not spin.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let cpu = cpu_time() - cpu_before;
        assert_eq!(
            handle.accepted_connections(),
            1,
            "nothing accepted while out of fds"
        );
        assert!(!task.is_finished(), "the server keeps running");
        assert!(
            cpu < Duration::from_millis(300),
            "backing off, not spinning: {cpu:?}"
        );

        // Free descriptors: the next retry (at most 1 s later) accepts and serves the client.
        drop(padding);
        let mut client: std::net::TcpStream = client.into();
        client.set_read_timeout(Some(support::PATIENCE)).unwrap();
        let got = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            client.read_to_end(&mut out).map(|_| out)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(got, b"ok");
        set_nofile_soft(old);

        support::stop_shared(&handle, task).await;
    });
    let text = logs.text();
    assert!(
        text.contains("temporary accept error, backing off"),
        "logged: {text}"
    );
    assert!(
        text.contains("backoff=10ms") && text.contains("backoff=20ms"),
        "doubling: {text}"
    );
}
