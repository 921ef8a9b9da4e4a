//! bombardier's command line, run for real: the seed project's line verbatim (with its `jq`
//! filter), every flag against the in-process responder or a server that records the request
//! bytes (over TCP or a Unix socket), and bombardier's own templates through `-o path:FILE`.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use clap::Parser;
use support::{json, loadgen, loadgen_ok};
use tcpserver_responder::{Responder, ResponderArgs};

fn responder(extra: &[&str]) -> Responder {
    let mut argv = vec!["responder", "--listen", "127.0.0.1:0", "--threads", "1"];
    argv.extend_from_slice(extra);
    Responder::start(ResponderArgs::parse_from(argv)).expect("start responder")
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// The seed's `bombardier -c $conns -d ${duration}s -pr -oj --fasthttp -k $url | jq
/// '.|select(.result.others==0) .result.rps.mean//0'`, with loadgen in bombardier's place.
#[test]
fn seed_line_verbatim_with_jq() {
    let server = responder(&[]);
    let url = format!("http://{}/", server.local_addr());
    let out = loadgen_ok(&[
        "-c",
        "100",
        "-d",
        "1s",
        "-pr",
        "-oj",
        "--fasthttp",
        "-k",
        &url,
    ]);
    let filter = ".|select(.result.others==0) .result.rps.mean//0";
    let rps: f64 = match Command::new("jq")
        .arg(filter)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(mut jq) => {
            jq.stdin.take().unwrap().write_all(&out.stdout).unwrap();
            let done = jq.wait_with_output().unwrap();
            assert!(done.status.success(), "jq failed");
            String::from_utf8_lossy(&done.stdout)
                .trim()
                .parse()
                .unwrap()
        }
        // No jq here (CI installs it): the same selection.
        Err(_) => {
            let v = json(&out);
            if v["result"]["others"] == 0 {
                v["result"]["rps"]["mean"].as_f64().unwrap_or(0.0)
            } else {
                0.0
            }
        }
    };
    assert!(
        rps > 0.0,
        "rps {rps}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["spec"]["numberOfConnections"], 100);
    assert_eq!(v["spec"]["testDurationSeconds"], 1.0);
}

#[test]
fn counts_prints_and_formats() {
    let server = responder(&[]);
    let url = format!("http://{}/", server.local_addr());
    // -n, -c, --threads, --cpus, -t, -m, long names.
    let out = loadgen_ok(&[
        "-n",
        "50",
        "-c",
        "2",
        "--threads",
        "1",
        "--cpus",
        "0",
        "-t",
        "5s",
        "-m",
        "GET",
        "-p",
        "r",
        "-o",
        "json",
        &url,
    ]);
    let v = json(&out);
    assert_eq!(v["result"]["req2xx"], 50);
    assert_eq!(v["spec"]["testType"], "number-of-requests");
    assert_eq!(v["spec"]["timeoutSeconds"], 5.0);
    let out = loadgen_ok(&[
        "--requests=20",
        "--connections=1",
        "--timeout=2s",
        "--method=GET",
        "--print=result",
        "--format=j",
        &url,
    ]);
    assert_eq!(json(&out)["result"]["req2xx"], 20);
    // -q / --no-print: nothing at all.
    for q in ["-q", "--no-print"] {
        let out = loadgen_ok(&["-n", "5", "-c", "1", q, &url]);
        assert!(out.stdout.is_empty(), "{q}");
    }
    // -p intro only; the default prints intro and result in plain text (-o pt, plain-text).
    let out = loadgen_ok(&["-n", "5", "-c", "1", "-p", "i", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("Bombarding") && !text.contains("Reqs/sec"),
        "{text}"
    );
    for format in ["pt", "plain-text"] {
        let out = loadgen_ok(&[
            "-n",
            "5",
            "-c",
            "1",
            "-o",
            format,
            "-p",
            "intro,progress,result",
            &url,
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Bombarding") && text.contains("Reqs/sec"),
            "{text}"
        );
    }
    // -l / --latencies: the distribution; combined short flags.
    for l in [&["-l"][..], &["--latencies"], &["-lk"]] {
        let mut args = vec!["-n", "5", "-c", "1", "-pr"];
        args.extend_from_slice(l);
        args.push(&url);
        let text = String::from_utf8_lossy(&loadgen_ok(&args).stdout).into_owned();
        assert!(text.contains("Latency Distribution"), "{l:?}: {text}");
    }
    // -d, -r, --warmup, --start-at, --http1.
    let out = loadgen_ok(&[
        "-d",
        "500ms",
        "-r",
        "200",
        "-c",
        "2",
        "--warmup",
        "100ms",
        "--start-at",
        "+0s",
        "--http1",
        "-p",
        "r",
        "-o",
        "j",
        &url,
    ]);
    let v = json(&out);
    assert_eq!(v["spec"]["rate"], 200.0);
    assert_eq!(v["spec"]["testDurationSeconds"], 0.5);
    assert!(v["result"]["req2xx"].as_u64().unwrap() > 0);
    let out = loadgen_ok(&[
        "--duration=300ms",
        "--rate=50",
        "--start-at=0",
        "-pr",
        "-oj",
        &url,
    ]);
    assert_eq!(json(&out)["spec"]["rate"], 50.0);
}

#[test]
fn https_with_insecure_and_client_certificate() {
    let server = responder(&["--tls"]);
    let url = format!("https://localhost:{}/", server.local_addr().port());
    let out = loadgen_ok(&["-n", "10", "-c", "1", "-k", "-pr", "-oj", &url]);
    assert_eq!(json(&out)["result"]["req2xx"], 10);
    let out = loadgen_ok(&["-n", "5", "-c", "1", "--insecure", "-pr", "-oj", &url]);
    assert_eq!(json(&out)["result"]["req2xx"], 5);
    // Without -k the self-signed certificate is refused.
    let refused = loadgen(&["-n", "3", "-c", "1", "-pr", "-oj", &url]);
    let r = json(&refused);
    assert_eq!(
        r["result"]["req2xx"], 0,
        "verified a self-signed certificate"
    );
    let key = rcgen::generate_simple_self_signed(vec!["client".into()]).unwrap();
    let cert = temp_file("client.pem", key.cert.pem().as_bytes());
    let pkey = temp_file("client.key", key.signing_key.serialize_pem().as_bytes());
    let (cert, pkey) = (cert.to_str().unwrap(), pkey.to_str().unwrap());
    let out = loadgen_ok(&[
        "-n", "5", "-c", "1", "-k", "--cert", cert, "--key", pkey, "-pr", "-oj", &url,
    ]);
    assert_eq!(json(&out)["result"]["req2xx"], 5);
}

/// A keep-alive HTTP/1.1 server, one thread per connection, that answers every request with a
/// `200` and `ok` and hands each request's bytes (head and body) to the test. `accept` takes the
/// next connection of the listener: a TCP or a Unix domain socket.
fn recording_server<L, S>(
    listener: L,
    accept: fn(&L) -> std::io::Result<S>,
) -> mpsc::Receiver<Vec<u8>>
where
    L: Send + 'static,
    S: Read + Write + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(mut conn) = accept(&listener) {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    got.extend_from_slice(&buf[..n]);
                    while let Some(len) = request_len(&got) {
                        let _ = tx.send(got.drain(..len).collect());
                        if conn
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            });
        }
    });
    rx
}

/// A recording server on TCP: its address, and the requests it receives.
fn recording_tcp_server() -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (
        addr,
        recording_server(listener, |l| l.accept().map(|(s, _)| s)),
    )
}

/// The length of the first complete request in `buf` (a `Content-Length` or chunked body).
fn request_len(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        let last = buf[end..].windows(5).position(|w| w == b"0\r\n\r\n")?;
        return Some(end + last + 5);
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= end + length).then_some(end + length)
}

fn first_request(args: &[&str]) -> String {
    let (addr, rx) = recording_tcp_server();
    let url = format!("http://{addr}/p");
    let mut argv = vec!["-n", "1", "-c", "1", "-q"];
    argv.extend_from_slice(args);
    argv.push(&url);
    loadgen_ok(&argv);
    String::from_utf8(rx.recv().unwrap()).unwrap()
}

#[test]
fn request_flags_shape_the_request() {
    let req = first_request(&[
        "-m", "PUT", "-H", "X-A: 1", "--header", "X-B: 2", "-b", "hello",
    ]);
    assert!(req.starts_with("PUT /p HTTP/1.1\r\n"), "{req}");
    assert!(
        req.contains("\r\nX-A: 1\r\n") && req.contains("\r\nX-B: 2\r\n"),
        "{req}"
    );
    assert!(
        req.contains("\r\nContent-Length: 5\r\n") && req.ends_with("\r\n\r\nhello"),
        "{req}"
    );
    let file = temp_file("body.txt", b"from a file");
    let req = first_request(&["-m", "POST", "-f", file.to_str().unwrap()]);
    assert!(req.ends_with("\r\n\r\nfrom a file"), "{req}");
    let req = first_request(&["--method=POST", "--body-file", file.to_str().unwrap(), "-s"]);
    assert!(req.contains("\r\nTransfer-Encoding: chunked\r\n"), "{req}");
    assert!(!req.contains("Content-Length"), "{req}");
    assert!(
        req.ends_with("\r\n\r\nb\r\nfrom a file\r\n0\r\n\r\n"),
        "{req}"
    );
    let req = first_request(&["--body", "x", "--stream"]);
    assert!(req.ends_with("\r\n\r\n1\r\nx\r\n0\r\n\r\n"), "{req}");
    for a in ["-a", "--disableKeepAlives", "--no-keep-alive"] {
        assert!(
            first_request(&[a]).contains("\r\nConnection: close\r\n"),
            "{a}"
        );
    }
    assert!(!first_request(&[]).contains("Connection: close"));
}

#[test]
fn connect_to_keeps_the_host_header_of_the_url() {
    let (addr, rx) = recording_tcp_server();
    loadgen_ok(&[
        "-n",
        "1",
        "-c",
        "1",
        "-q",
        "--connect-to",
        &addr,
        "http://example.invalid:81/x",
    ]);
    let req = String::from_utf8(rx.recv().unwrap()).unwrap();
    assert!(
        req.starts_with("GET /x HTTP/1.1\r\nHost: example.invalid:81\r\n"),
        "{req}"
    );
    // Upper-case schemes are schemes.
    let (addr, rx) = recording_tcp_server();
    loadgen_ok(&["-n", "1", "-c", "1", "-q", &format!("HTTP://{addr}/u")]);
    assert!(
        String::from_utf8(rx.recv().unwrap())
            .unwrap()
            .starts_with("GET /u ")
    );
}

/// bombardier 1.2.5's built-in templates (templates.go), the documented examples of `-o
/// path:FILE` ("Examples of templates can be found in ... template.go", template/doc.go).
const BOMBARDIER_PLAIN_TEXT: &str = r#"
{{- printf "%10v %10v %10v %10v" "Statistics" "Avg" "Stdev" "Max" }}
{{ with .Result.RequestsStats (FloatsToArray 0.5 0.75 0.9 0.99) }}
	{{- printf "  %-10v %10.2f %10.2f %10.2f" "Reqs/sec" .Mean .Stddev .Max -}}
{{ else }}
	{{- print "  There wasn't enough data to compute statistics for requests." }}
{{ end }}
{{ with .Result.LatenciesStats (FloatsToArray 0.5 0.75 0.9 0.99) }}
	{{- printf "  %-10v %10v %10v %10v" "Latency" (FormatTimeUs .Mean) (FormatTimeUs .Stddev) (FormatTimeUs .Max) }}
	{{- if WithLatencies }}
  		{{- "\n  Latency Distribution" }}
		{{- range $pc, $lat := .Percentiles }}
			{{- printf "\n     %2.0f%% %10s" (Multiply $pc 100) (FormatTimeUsUint64 $lat) -}}
		{{ end -}}
	{{ end }}
{{ else }}
	{{- print "  There wasn't enough data to compute statistics for latencies." }}
{{ end -}}
{{ with .Result -}}
{{ "  HTTP codes:" }}
{{ printf "    1xx - %v, 2xx - %v, 3xx - %v, 4xx - %v, 5xx - %v" .Req1XX .Req2XX .Req3XX .Req4XX .Req5XX }}
	{{- printf "\n    others - %v" .Others }}
	{{- with .Errors }}
		{{- "\n  Errors:"}}
		{{- range . }}
			{{- printf "\n    %10v - %v" .Error .Count }}
		{{- end -}}
	{{ end -}}
{{ end }}
{{ printf "  %-10v %10v/s" "Throughput:" (FormatBinary .Result.Throughput)}}"#;

const BOMBARDIER_JSON: &str = r#"{"spec":{
{{- with .Spec -}}
"numberOfConnections":{{ .NumberOfConnections }}

{{- if .IsTimedTest -}}
,"testType":"timed","testDurationSeconds":{{ .TestDuration.Seconds }}
{{- else -}}
,"testType":"number-of-requests","numberOfRequests":{{ .NumberOfRequests }}
{{- end -}}

,"method":"{{ .Method }}","url":{{ .URL | printf "%q" }}

{{- with .Headers -}}
,"headers":[
{{- range $index, $header :=  . -}}
{{- if ne $index 0 -}},{{- end -}}
{"key":{{ .Key | printf "%q" }},"value":{{ .Value | printf "%q" }}}
{{- end -}}
]
{{- end -}}

{{- if .BodyFilePath -}}
,"bodyFilePath":{{ .BodyFilePath | printf "%q" }}
{{- else -}}
,"body":{{ .Body | printf "%q" }}
{{- end -}}

{{- if .CertPath -}}
,"certPath":{{ .CertPath | printf "%q" }}
{{- end -}}
{{- if .KeyPath -}}
,"keyPath":{{ .KeyPath | printf "%q" }}
{{- end -}}

,"stream":{{ .Stream }},"timeoutSeconds":{{ .Timeout.Seconds }}

{{- if .IsFastHTTP -}}
,"client":"fasthttp"
{{- end -}}
{{- if .IsNetHTTPV1 -}}
,"client":"net/http.v1"
{{- end -}}
{{- if .IsNetHTTPV2 -}}
,"client":"net/http.v2"
{{- end -}}

{{- with .Rate -}}
,"rate":{{ . }}
{{- end -}}
{{- end -}}
},

{{- with .Result -}}
"result":{"bytesRead":{{ .BytesRead -}}
,"bytesWritten":{{ .BytesWritten -}}
,"timeTakenSeconds":{{ .TimeTaken.Seconds -}}

,"req1xx":{{ .Req1XX -}}
,"req2xx":{{ .Req2XX -}}
,"req3xx":{{ .Req3XX -}}
,"req4xx":{{ .Req4XX -}}
,"req5xx":{{ .Req5XX -}}
,"others":{{ .Others -}}

{{- with .Errors -}}
,"errors":[
{{- range $index, $error :=  . -}}
{{- if ne $index 0 -}},{{- end -}}
{"description":{{ .Error | printf "%q" }},"count":{{ .Count }}}
{{- end -}}
]
{{- end -}}

{{- with .LatenciesStats (FloatsToArray 0.5 0.75 0.9 0.99) -}}
,"latency":{"mean":{{ .Mean -}}
,"stddev":{{ .Stddev -}}
,"max":{{ .Max -}}

{{- if WithLatencies -}}
,"percentiles":{
{{- range $pc, $lat := .Percentiles }}
{{- if ne $pc 0.5 -}},{{- end -}}
{{- printf "\"%2.0f\":%d" (Multiply $pc 100) $lat -}}
{{- end -}}
}
{{- end -}}

}
{{- end -}}

{{- with .RequestsStats (FloatsToArray 0.5 0.75 0.9 0.99) -}}
,"rps":{"mean":{{ .Mean -}}
,"stddev":{{ .Stddev -}}
,"max":{{ .Max -}}
,"percentiles":{
{{- range $pc, $rps := .Percentiles }}
{{- if ne $pc 0.5 -}},{{- end -}}
{{- printf "\"%2.0f\":%f" (Multiply $pc 100) $rps -}}
{{- end -}}
}}
{{- end -}}
}}
{{- end -}}"#;

#[test]
fn bombardier_templates_render() {
    let server = responder(&[]);
    let url = format!("http://{}/", server.local_addr());
    let json_tmpl = temp_file("json.template", BOMBARDIER_JSON.as_bytes());
    let spec = format!("path:{}", json_tmpl.display());
    // A request count over in less than one rps window: no "rps" (bombardier's `with` skips it).
    let out = loadgen_ok(&[
        "-n", "200", "-c", "2", "-l", "-H", "X-A: 1", "-p", "r", "-o", &spec, &url,
    ]);
    let v = json(&out);
    assert_eq!(v["spec"]["numberOfConnections"], 2);
    assert_eq!(v["spec"]["testType"], "number-of-requests");
    assert_eq!(v["spec"]["numberOfRequests"], 200);
    assert_eq!(v["spec"]["headers"][0]["key"], "X-A");
    assert_eq!(v["spec"]["client"], "fasthttp");
    assert_eq!(v["result"]["req2xx"], 200);
    let pcs = v["result"]["latency"]["percentiles"].as_object().unwrap();
    assert_eq!(
        pcs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["50", "75", "90", "99"]
    );
    let out = loadgen_ok(&["-d", "1s", "-c", "2", "-pr", "-o", &spec, &url]);
    let v = json(&out);
    assert_eq!(v["spec"]["testType"], "timed");
    assert_eq!(v["spec"]["testDurationSeconds"], 1);
    assert!(
        v["result"]["latency"].get("percentiles").is_none(),
        "without -l"
    );
    assert!(v["result"]["rps"]["mean"].as_f64().unwrap() > 0.0);
    let rps = v["result"]["rps"]["percentiles"].as_object().unwrap();
    assert_eq!(rps.len(), 4);

    let plain = temp_file("plain.template", BOMBARDIER_PLAIN_TEXT.as_bytes());
    let spec = format!("path:{}", plain.display());
    let out = loadgen_ok(&[
        "-d",
        "500ms",
        "-c",
        "1",
        "--latencies",
        "-pr",
        "--format",
        &spec,
        &url,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("Statistics        Avg      Stdev        Max\n"),
        "{text}"
    );
    assert!(text.contains("\n  Reqs/sec   "), "{text}");
    assert!(text.contains("\n  Latency    "), "{text}");
    let order: Vec<usize> = ["     50% ", "     75% ", "     90% ", "     99% "]
        .iter()
        .map(|p| text.find(p).unwrap_or_else(|| panic!("{p}: {text}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains("\n    1xx - 0, 2xx - "), "{text}");
    assert!(
        text.contains(", 3xx - 0, 4xx - 0, 5xx - 0\n    others - 0\n"),
        "{text}"
    );
    assert!(text.contains("  Throughput:"), "{text}");
    // A template that does not parse is a command-line error.
    let bad = temp_file("bad.template", b"{{ .Result");
    let out = loadgen(&["-o", &format!("path:{}", bad.display()), &url]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--unix-socket`: the recording server on a Unix socket gets the requests; the Host header is
/// the URL's.
#[test]
fn unix_socket_with_the_host_header_of_the_url() {
    use std::os::unix::net::UnixListener;
    let path = std::env::temp_dir().join(format!("loadgen-cli-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let rx = recording_server(listener, |l| l.accept().map(|(s, _)| s));
    let socket = path.to_str().unwrap();
    let out = loadgen_ok(&[
        "-n",
        "20",
        "-c",
        "2",
        "--unix-socket",
        socket,
        "-pr",
        "-oj",
        "http://localhost:8080/u",
    ]);
    let v = json(&out);
    assert_eq!(v["result"]["req2xx"], 20);
    let first = String::from_utf8(rx.recv().unwrap()).unwrap();
    assert!(
        first.starts_with("GET /u HTTP/1.1\r\nHost: localhost:8080\r\n"),
        "{first}"
    );
    // https over a Unix socket, or a path that is not a socket: command-line errors.
    for args in [
        &["--unix-socket", socket, "https://localhost/"][..],
        &["--unix-socket", "/dev/null", "http://localhost/"],
    ] {
        let out = loadgen(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let _ = std::fs::remove_file(&path);
}
