//! Starting, watching and stopping a contender's server process.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use crate::bench::contender::{Contender, ContenderKind, Placeholders};
use crate::bench::machine::ProcessStats;
use crate::bench::scenario::Scenario;
use crate::sys::{self, CpuSet, Signal};

/// How long a server may take to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// PEM files of the self-signed certificate all TLS contenders present.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Generates a certificate for localhost/127.0.0.1/::1 into `dir`.
    pub fn generate(dir: &Path) -> anyhow::Result<TlsFiles> {
        let generated = crate::bench::contender::self_signed()?;
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, generated.cert.pem())?;
        std::fs::write(&files.key, generated.signing_key.serialize_pem())?;
        Ok(files)
    }
}

/// What to start.
pub(crate) struct ServerSpec<'a> {
    pub contender: &'a Contender,
    pub scenario: &'a Scenario,
    pub threads: usize,
    /// CPUs the server process is restricted to.
    pub cpus: Vec<usize>,
    /// The loadgen executable (for `serve`).
    pub exe: &'a Path,
    pub tls: Option<&'a TlsFiles>,
    /// A directory for this run's files (configs, logs).
    pub workdir: &'a Path,
}

impl ServerSpec<'_> {
    /// The server's CPUs as a set, built before the fork. They were checked against the CPUs
    /// this process may use by [`Placement::decide`](super::Placement::decide), before the runner
    /// restricted itself to the client CPUs (so they need not be in its mask now).
    fn cpu_set(&self) -> anyhow::Result<CpuSet> {
        CpuSet::new(self.cpus.iter().copied()).context("server CPUs")
    }
}

/// A running server in its own process group.
pub(crate) struct ServerProcess {
    child: Option<Child>,
    pgid: u32,
    pub addr: SocketAddr,
    /// Where an external server's output goes.
    log: Option<PathBuf>,
    /// The command line, for messages.
    pub command: String,
}

impl ServerProcess {
    /// Starts the server pinned to `spec.cpus` and waits until it accepts connections.
    pub fn start(spec: &ServerSpec<'_>) -> anyhow::Result<ServerProcess> {
        match &spec.contender.kind {
            ContenderKind::Tcpserver { .. } | ContenderKind::Hyper => start_builtin(spec),
            ContenderKind::External { command, dir } => {
                start_external(spec, command, dir.as_deref())
            }
        }
    }

    /// CPU time and peak memory of the server's process group so far.
    pub fn stats(&self) -> ProcessStats {
        ProcessStats::of_process_group(self.pgid).unwrap_or_default()
    }

    /// Fails if the server has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = &mut self.child
            && let Some(status) = child.try_wait()?
        {
            bail!("server exited with {status}{}", self.log_tail());
        }
        Ok(())
    }

    /// SIGTERM to the process group, then SIGKILL after a grace period.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        sys::signal_process_group(self.pgid, Signal::Terminate);
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Stragglers of the group (workers of an external server), or the whole group on timeout.
        sys::signal_process_group(self.pgid, Signal::Kill);
        let _ = child.wait();
        sys::forget_group_on_interrupt(self.pgid);
        match status {
            Some(_) => Ok(()),
            None => Err(anyhow!(
                "server did not exit within {STOP_TIMEOUT:?} of SIGTERM and was killed"
            )),
        }
    }

    fn log_tail(&self) -> String {
        self.log.as_deref().map(log_tail).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sys::signal_process_group(self.pgid, Signal::Kill);
            let _ = child.wait();
            sys::forget_group_on_interrupt(self.pgid);
        }
    }
}

/// The responder flags for a scenario (shared by both built-in servers).
pub(crate) fn responder_flags(spec: &ServerSpec<'_>, listen: &str) -> Vec<String> {
    let s = spec.scenario;
    let mut args = vec![
        "--listen".to_string(),
        listen.to_string(),
        "--payload".into(),
        s.payload.to_string(),
        "--keep-alive".into(),
        if s.keep_alive { "on" } else { "off" }.into(),
        "--threads".into(),
        spec.threads.to_string(),
    ];
    if s.aes128 {
        args.push("--aes128".into());
    }
    if s.sleep_ms > 0 {
        args.extend(["--sleep-ms".into(), s.sleep_ms.to_string()]);
    }
    if let Some(tls) = spec.tls.filter(|_| s.tls) {
        args.extend([
            "--tls".into(),
            "--cert".into(),
            tls.cert.display().to_string(),
            "--key".into(),
            tls.key.display().to_string(),
        ]);
    }
    args
}

fn start_builtin(spec: &ServerSpec<'_>) -> anyhow::Result<ServerProcess> {
    let mut args = vec!["serve".to_string()];
    match &spec.contender.kind {
        ContenderKind::Tcpserver { runtime } => {
            args.push("tcpserver".into());
            args.extend(responder_flags(spec, "127.0.0.1:0"));
            args.extend(["--runtime".into(), runtime.to_string()]);
            // One worker per CPU: pin them one to one.
            if *runtime == "per-core" && spec.threads == spec.cpus.len() {
                args.extend([
                    "--pin-cpus".into(),
                    crate::units::format_cpu_list_commas(&spec.cpus),
                ]);
            }
        }
        _ => {
            args.push("hyper".into());
            args.extend(responder_flags(spec, "127.0.0.1:0"));
        }
    }
    let command = format!("{} {}", spec.exe.display(), args.join(" "));
    let mut cmd = Command::new(spec.exe);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    sys::isolate_child(&mut cmd, spec.cpu_set()?);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting `{command}`"))?;
    let pgid = child.id();
    sys::kill_group_on_interrupt(pgid);
    let stdout = child.stdout.take().context("server stdout")?;
    let (tx, rx) = mpsc::channel();
    // Reads the `listening on` line, then keeps draining stdout so the server never blocks on it.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.trim().strip_prefix("listening on ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let mut server = ServerProcess {
        child: Some(child),
        pgid,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        log: None,
        command,
    };
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(addr) => {
            server.addr = addr
                .parse()
                .with_context(|| format!("server announced an invalid address `{addr}`"))?;
            Ok(server)
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // Stdout closed: the server is exiting; give it a moment to report its status.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                server.check_alive()?;
                std::thread::sleep(Duration::from_millis(20));
            }
            bail!("server closed its stdout without printing `listening on <addr>`")
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            bail!("server did not print `listening on <addr>` within {READY_TIMEOUT:?}")
        }
    }
}

/// Substitution values for an external command.
pub(crate) fn placeholders(
    spec: &ServerSpec<'_>,
    addr: SocketAddr,
    dir: Option<&Path>,
) -> Placeholders {
    let s = spec.scenario;
    let tls = spec.tls.filter(|_| s.tls);
    Placeholders {
        values: vec![
            ("addr", addr.to_string()),
            ("host", addr.ip().to_string()),
            ("port", addr.port().to_string()),
            ("scheme", if s.tls { "https" } else { "http" }.into()),
            ("payload", s.payload.to_string()),
            ("keepalive", if s.keep_alive { "on" } else { "off" }.into()),
            ("keepalive01", if s.keep_alive { "1" } else { "0" }.into()),
            ("aes128", s.aes128.to_string()),
            ("sleep_ms", s.sleep_ms.to_string()),
            ("tls", s.tls.to_string()),
            ("threads", spec.threads.to_string()),
            ("cpus", crate::units::format_cpu_list_commas(&spec.cpus)),
            (
                "cert",
                tls.map(|t| t.cert.display().to_string())
                    .unwrap_or_default(),
            ),
            (
                "key",
                tls.map(|t| t.key.display().to_string()).unwrap_or_default(),
            ),
            ("workdir", spec.workdir.display().to_string()),
            (
                "dir",
                dir.map(|d| d.display().to_string())
                    .unwrap_or_else(|| ".".into()),
            ),
            ("bin", spec.exe.display().to_string()),
        ],
    }
}

fn start_external(
    spec: &ServerSpec<'_>,
    template: &str,
    dir: Option<&Path>,
) -> anyhow::Result<ServerProcess> {
    // Reserve a free port: bind port 0, note it, release it for the server.
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let command = placeholders(spec, addr, dir)
        .substitute(template)
        .map_err(|e| anyhow!("contender {}: {e}", spec.contender.name))?;
    let log = spec.workdir.join("server.log");
    let log_file = std::fs::File::create(&log)?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&command)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    sys::isolate_child(&mut cmd, spec.cpu_set()?);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting `sh -c {command}`"))?;
    let pgid = child.id();
    sys::kill_group_on_interrupt(pgid);
    let mut server = ServerProcess {
        pgid,
        child: Some(child),
        addr,
        log: Some(log),
        command,
    };
    // An external server gives no signal: poll for connections, bounded.
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        server.check_alive()?;
        if TcpStream::connect_timeout(&addr, Duration::from_millis(250)).is_ok() {
            return Ok(server);
        }
        if Instant::now() >= deadline {
            bail!(
                "`{}` did not accept connections on {addr} within {READY_TIMEOUT:?}{}",
                server.command,
                server.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last lines of a log file, for error messages.
fn log_tail(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(2000)));
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    if text.trim().is_empty() {
        String::new()
    } else {
        format!("\n--- {} (tail) ---\n{}", path.display(), text.trim_end())
    }
}
