//! User templates (`-o path:FILE`): Go's text/template language (the `gtmpl` crate) over
//! bombardier's template data (`.Spec`, `.Result`) and helper functions (`WithLatencies`,
//! `FormatBinary`, `FormatTimeUs`, `FormatTimeUsUint64`, `FloatsToArray`, `Multiply`,
//! `StringToBytes`, `UUIDV1`, `UUIDV4`), so that a template written for bombardier renders the
//! same here. `printf` is Go's (gtmpl's own stores whole floats as integers and then refuses
//! `%f` for them).
//!
//! gtmpl lacks two things of Go's engine that bombardier's own templates use: methods with
//! arguments (`.Result.LatenciesStats (FloatsToArray 0.5 0.99)`) and `range` over a map in key
//! order. Before parsing, [`UserTemplate`] rewrites these two forms inside actions into
//! equivalent calls of helper functions (`LatenciesStats .Result (...)`, a `range` over
//! `SortedValues` with the key taken from `SortedKeys`); text outside actions is never touched.

use std::collections::HashMap;

use gtmpl::{Context, Func, FuncError, Template, Value};

use super::{Report, decode_histogram};

/// A checked user template.
///
/// ```
/// use loadgen::report::{Report, UserTemplate};
///
/// let t = UserTemplate::parse("{{ .Result.Req2XX }} ok, {{ FormatBinary 2048.0 }}").unwrap();
/// let mut report = Report::default();
/// report.result.req2xx = 7;
/// assert_eq!(t.render(&report, false).unwrap(), "7 ok, 2.00KB");
/// assert!(UserTemplate::parse("{{ .Result").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct UserTemplate {
    /// The template text after the rewrite described in the module documentation.
    text: String,
}

/// A template that does not parse, or fails while rendering.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

impl UserTemplate {
    /// Parses `text` (Go text/template syntax).
    pub fn parse(text: &str) -> Result<UserTemplate, TemplateError> {
        let t = UserTemplate {
            text: rewrite(text),
        };
        t.compile(false)?;
        Ok(t)
    }

    /// Renders the template for `report`; `latencies` is what `WithLatencies` returns (`-l`).
    pub fn render(&self, report: &Report, latencies: bool) -> Result<String, TemplateError> {
        self.compile(latencies)?
            .render(&Context::from(test_info(report)))
            .map_err(|e| TemplateError(e.to_string()))
    }

    fn compile(&self, latencies: bool) -> Result<Template, TemplateError> {
        let mut t = Template::default();
        let with_latencies: Func = if latencies { yes } else { no };
        t.add_funcs(&[
            ("printf", printf as Func),
            ("WithLatencies", with_latencies),
            ("FormatBinary", format_binary as Func),
            ("FormatTimeUs", format_time_us as Func),
            ("FormatTimeUsUint64", format_time_us as Func),
            ("FloatsToArray", floats_to_array as Func),
            ("Multiply", multiply as Func),
            ("StringToBytes", string_to_bytes as Func),
            ("UUIDV1", uuid_v1 as Func),
            ("UUIDV4", uuid_v4 as Func),
            ("LatenciesStats", latencies_stats as Func),
            ("RequestsStats", requests_stats as Func),
            ("SortedKeys", sorted_keys as Func),
            ("SortedValues", sorted_values as Func),
        ]);
        t.parse(&self.text)
            .map_err(|e| TemplateError(e.to_string()))?;
        Ok(t)
    }
}

// ---- the rewrite ----

/// Rewrites the actions of `text` (see the module documentation).
fn rewrite(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let action = &rest[open..];
        let end = action_end(action);
        out.push_str(&rewrite_action(&action[..end]));
        rest = &action[end..];
    }
    out.push_str(rest);
    out
}

/// Length of the action at the start of `s` (`{{ ... }}`), skipping string literals and
/// comments; the rest of the text if it never closes (the parser then reports it).
fn action_end(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 2;
    if s[2..].trim_start_matches(['-', ' ']).starts_with("/*") {
        return s
            .find("*/")
            .and_then(|c| s[c..].find("}}").map(|e| c + e + 2))
            .unwrap_or(s.len());
    }
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                let quote = b[i];
                i += 1;
                while i < b.len() && b[i] != quote {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return i + 2,
            _ => {}
        }
        i += 1;
    }
    s.len()
}

fn rewrite_action(action: &str) -> String {
    let action = rewrite_methods(action);
    rewrite_range(&action).unwrap_or(action)
}

/// `X.LatenciesStats` → `LatenciesStats X` (and `RequestsStats`), `X` being the field chain or
/// variable before it (`.` when there is none).
fn rewrite_methods(action: &str) -> String {
    let mut out = action.to_string();
    for method in ["LatenciesStats", "RequestsStats"] {
        let pattern = format!(".{method}");
        let mut from = 0;
        while let Some(found) = out[from..].find(&pattern).map(|i| i + from) {
            let after = found + pattern.len();
            if out[after..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                from = after;
                continue;
            }
            let start = out[..found]
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '$'))
                .map_or(0, |i| i + 1);
            let receiver = match &out[start..found] {
                "" => ".".to_string(),
                chain => chain.to_string(),
            };
            let call = format!("{method} {receiver}");
            out.replace_range(start..after, &call);
            from = start + call.len();
        }
    }
    out
}

/// `{{ range $k, $v := PIPE }}` → `{{ $m := PIPE }}{{ range $i, $v := SortedValues $m }}{{ $k
/// := index (SortedKeys $m) $i }}` (one variable or none: only `SortedValues (PIPE)`), so that
/// maps are ranged in key order as in Go, with dot the element.
fn rewrite_range(action: &str) -> Option<String> {
    let inner = action.strip_prefix("{{")?.strip_suffix("}}")?;
    let (open_trim, inner) = match inner.strip_prefix("- ") {
        Some(rest) => ("{{- ", rest),
        None => ("{{", inner),
    };
    let (inner, close_trim) = match inner.strip_suffix(" -") {
        Some(rest) => (rest, " -}}"),
        None => (inner, "}}"),
    };
    let body = inner.trim_start().strip_prefix("range")?;
    if !body.starts_with(char::is_whitespace) {
        return None;
    }
    let (vars, pipe) = match body.split_once(":=") {
        Some((vars, pipe)) if vars.trim().starts_with('$') => (vars.trim(), pipe.trim()),
        _ => ("", body.trim()),
    };
    let names: Vec<&str> = vars
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let values = format!("SortedValues ({pipe})");
    Some(match names.as_slice() {
        [] => format!("{open_trim}range {values}{close_trim}"),
        [value] => format!("{open_trim}range {value} := {values}{close_trim}"),
        // PIPE is evaluated once, before the loop (inside, dot is the element).
        [key, value] => format!(
            "{open_trim}$loadgenRange := {pipe}}}}}\
             {{{{range $loadgenIndex, {value} := SortedValues $loadgenRange}}}}\
             {{{{{key} := index (SortedKeys $loadgenRange) $loadgenIndex{close_trim}"
        ),
        _ => return None,
    })
}

// ---- the data ----

fn obj<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn seconds(s: f64) -> Value {
    obj([
        ("Seconds", Value::from(s)),
        ("Milliseconds", Value::from((s * 1e3) as u64)),
        ("Microseconds", Value::from((s * 1e6) as u64)),
        ("Nanoseconds", Value::from((s * 1e9) as u64)),
    ])
}

/// bombardier's `internal.TestInfo` for `report`.
fn test_info(report: &Report) -> Value {
    let s = &report.spec;
    let r = &report.result;
    let timed = s.test_type != "number-of-requests";
    let spec = obj([
        ("NumberOfConnections", Value::from(s.number_of_connections)),
        ("TestType", Value::from(if timed { 1u64 } else { 2 })),
        (
            "NumberOfRequests",
            Value::from(s.number_of_requests.unwrap_or(0)),
        ),
        (
            "TestDuration",
            seconds(s.test_duration_seconds.unwrap_or(0.0)),
        ),
        ("Method", Value::from(s.method.clone())),
        ("URL", Value::from(s.url.clone())),
        (
            "Headers",
            Value::Array(
                s.headers
                    .iter()
                    .map(|h| {
                        obj([
                            ("Key", Value::from(h.key.clone())),
                            ("Value", Value::from(h.value.clone())),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("Body", Value::from(s.body.clone())),
        ("BodyFilePath", Value::from("")),
        ("CertPath", Value::from("")),
        ("KeyPath", Value::from("")),
        ("Stream", Value::from(s.stream)),
        ("Timeout", seconds(s.timeout_seconds)),
        ("ClientType", Value::from(0u64)),
        ("Rate", s.rate.map_or(Value::Nil, Value::from)),
        ("IsTimedTest", Value::from(timed)),
        ("IsTestWithNumberOfReqs", Value::from(!timed)),
        ("IsFastHTTP", Value::from(true)),
        ("IsNetHTTPV1", Value::from(false)),
        ("IsNetHTTPV2", Value::from(false)),
    ]);
    let time_taken = r.time_taken_seconds;
    let throughput = if time_taken > 0.0 {
        (r.bytes_read + r.bytes_written) as f64 / time_taken
    } else {
        0.0
    };
    let errors = r
        .error_classes
        .error_list()
        .into_iter()
        .chain(if r.error_classes.total() == 0 {
            r.errors.clone()
        } else {
            Vec::new()
        })
        .map(|e| {
            obj([
                ("Error", Value::from(e.description)),
                ("Count", Value::from(e.count)),
            ])
        })
        .collect();
    let result = obj([
        ("BytesRead", Value::from(r.bytes_read)),
        ("BytesWritten", Value::from(r.bytes_written)),
        ("TimeTaken", seconds(time_taken)),
        ("Req1XX", Value::from(r.req1xx)),
        ("Req2XX", Value::from(r.req2xx)),
        ("Req3XX", Value::from(r.req3xx)),
        ("Req4XX", Value::from(r.req4xx)),
        ("Req5XX", Value::from(r.req5xx)),
        ("Others", Value::from(r.others)),
        ("Errors", Value::Array(errors)),
        ("Throughput", Value::from(throughput)),
        ("Latencies", obj([("Count", Value::from(r.requests))])),
        (
            "Requests",
            obj([("Count", Value::from(r.rps_samples.len() as u64))]),
        ),
        // What LatenciesStats and RequestsStats compute from.
        ("loadgenHistogram", Value::from(r.histogram.clone())),
        ("loadgenLatencyMean", Value::from(r.latency.mean)),
        ("loadgenLatencyStddev", Value::from(r.latency.stddev)),
        ("loadgenLatencyMax", Value::from(r.latency.max)),
        (
            "loadgenRps",
            Value::Array(
                window_rates(&r.rps_samples, r.rps_window_ms)
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            ),
        ),
        ("loadgenRpsMean", Value::from(r.rps.mean)),
        ("loadgenRpsStddev", Value::from(r.rps.stddev)),
        ("loadgenRpsMax", Value::from(r.rps.max)),
    ]);
    obj([("Spec", spec), ("Result", result)])
}

fn window_rates(samples: &[u64], window_ms: u64) -> Vec<f64> {
    let per_second = if window_ms > 0 {
        1000.0 / window_ms as f64
    } else {
        1.0
    };
    samples.iter().map(|&n| n as f64 * per_second).collect()
}

// ---- the functions ----

fn number(v: &Value) -> Result<f64, FuncError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .or_else(|| n.as_u64().map(|u| u as f64))
            .or_else(|| n.as_i64().map(|i| i as f64))
            .ok_or(FuncError::UnableToConvertFromValue),
        Value::String(s) => s.parse().map_err(|_| FuncError::UnableToConvertFromValue),
        _ => Err(FuncError::UnableToConvertFromValue),
    }
}

fn one<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, FuncError> {
    match args {
        [a] => Ok(a),
        _ => Err(FuncError::ExactlyXArgs(name.into(), 1)),
    }
}

/// Go's `printf` (gtmpl's keeps whole floats as integers and then refuses `%f` for them):
/// verbs `v s q d f F e g x t %`, flags `- + 0 space`, width and precision.
fn printf(args: &[Value]) -> Result<Value, FuncError> {
    let Some((Value::String(format), mut rest)) = args.split_first().map(|(f, r)| (f, r.iter()))
    else {
        return Err(FuncError::AtLeastXArgs("printf".into(), 1));
    };
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut plus, mut zero, mut space) = (false, false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(
                    n.unwrap_or(0)
                        .saturating_mul(10)
                        .saturating_add(d as usize)
                        .min(1000),
                );
                chars.next();
            }
            n
        };
        let width = number(&mut chars);
        let precision = if chars.peek() == Some(&'.') {
            chars.next();
            Some(number(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = rest.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let num = number_of(arg);
        let mut text = match (verb, num) {
            ('d', Some(n)) => format!("{}", n.trunc() as i64),
            ('f' | 'F', Some(n)) => format!("{n:.*}", precision.unwrap_or(6)),
            ('e', Some(n)) => format!("{n:.*e}", precision.unwrap_or(6)),
            ('g', Some(n)) => format!("{n}"),
            ('x', Some(n)) => format!("{:x}", n.trunc() as i64),
            ('q', _) => go_quote(&plain(arg)),
            ('x', None) => plain(arg).bytes().map(|b| format!("{b:02x}")).collect(),
            ('v' | 's' | 't', _) => {
                let s = plain(arg);
                match precision {
                    Some(p) if verb == 's' => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            (_, _) => format!("%!{verb}({})", plain(arg)),
        };
        if num.is_some_and(|n| n >= 0.0) && "dfFeg".contains(verb) {
            if plus {
                text.insert(0, '+');
            } else if space {
                text.insert(0, ' ');
            }
        }
        let pad = width.unwrap_or(0).saturating_sub(text.chars().count());
        if left {
            text.push_str(&" ".repeat(pad));
        } else if zero && num.is_some() && "dfFegx".contains(verb) {
            let sign = text.starts_with(['-', '+', ' ']);
            text.insert_str(usize::from(sign), &"0".repeat(pad));
        } else {
            text.insert_str(0, &" ".repeat(pad));
        }
        out.push_str(&text);
    }
    Ok(Value::from(out))
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(_) => number(v).ok(),
        _ => None,
    }
}

/// A value as Go's `%v` prints it.
fn plain(v: &Value) -> String {
    match v {
        Value::Nil | Value::NoValue => "<nil>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(plain).collect::<Vec<_>>().join(" ")),
        Value::Map(m) | Value::Object(m) => {
            let mut entries: Vec<String> =
                m.iter().map(|(k, v)| format!("{k}:{}", plain(v))).collect();
            entries.sort();
            format!("map[{}]", entries.join(" "))
        }
        other => other.to_string(),
    }
}

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn yes(_: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::from(true))
}

fn no(_: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::from(false))
}

/// bombardier's `formatUnits`: divide while at least 85% of the next unit.
fn format_units(n: f64, scale: f64, base: &str, units: &[&str]) -> String {
    let (mut amount, mut unit) = (n, base);
    for u in units {
        if amount < scale * 0.85 {
            break;
        }
        amount /= scale;
        unit = u;
    }
    format!("{amount:.2}{unit}")
}

fn format_binary(args: &[Value]) -> Result<Value, FuncError> {
    let n = number(one("FormatBinary", args)?)?;
    Ok(Value::from(format_units(
        n,
        1024.0,
        "",
        &["KB", "MB", "GB", "TB", "PB"],
    )))
}

fn format_time_us(args: &[Value]) -> Result<Value, FuncError> {
    let n = number(one("FormatTimeUs", args)?)?;
    Ok(Value::from(if n >= 1e6 {
        format_units(n / 1e6, 60.0, "s", &["m", "h"])
    } else {
        format_units(n, 1000.0, "us", &["ms", "s"])
    }))
}

fn floats_to_array(args: &[Value]) -> Result<Value, FuncError> {
    args.iter()
        .map(|a| number(a).map(Value::from))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn multiply(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [a, b] => Ok(Value::from(number(a)? * number(b)?)),
        _ => Err(FuncError::ExactlyXArgs("Multiply".into(), 2)),
    }
}

fn string_to_bytes(args: &[Value]) -> Result<Value, FuncError> {
    match one("StringToBytes", args)? {
        Value::String(s) => Ok(Value::Array(s.bytes().map(Value::from).collect())),
        _ => Err(FuncError::UnableToConvertFromValue),
    }
}

fn format_uuid(b: [u8; 16]) -> Value {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Value::from(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// RFC 4122 version 1: the time in 100 ns steps since 1582-10-15, a random clock sequence and a
/// random node id with the multicast bit set (RFC 4122 4.5: no MAC address is read).
fn uuid_v1(_: &[Value]) -> Result<Value, FuncError> {
    const GREGORIAN_TO_UNIX_100NS: u64 = 0x01B2_1DD2_1381_4000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| FuncError::Generic(e.to_string()))?;
    let t = GREGORIAN_TO_UNIX_100NS + (now.as_nanos() / 100) as u64;
    let mut b: [u8; 16] = rand::random();
    b[0..4].copy_from_slice(&((t & 0xFFFF_FFFF) as u32).to_be_bytes());
    b[4..6].copy_from_slice(&(((t >> 32) & 0xFFFF) as u16).to_be_bytes());
    b[6..8].copy_from_slice(&((((t >> 48) & 0x0FFF) as u16) | 0x1000).to_be_bytes());
    b[8] = (b[8] & 0x3F) | 0x80;
    b[10] |= 0x01;
    Ok(format_uuid(b))
}

/// RFC 4122 version 4: random.
fn uuid_v4(_: &[Value]) -> Result<Value, FuncError> {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    Ok(format_uuid(b))
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, FuncError> {
    match v {
        Value::Object(o) | Value::Map(o) => o
            .get(name)
            .ok_or_else(|| FuncError::Generic(format!("{name} is not a field of .Result"))),
        _ => Err(FuncError::Generic("expected .Result".into())),
    }
}

fn percentile_list(v: &Value) -> Result<Vec<f64>, FuncError> {
    match v {
        Value::Array(a) => a.iter().map(number).collect(),
        _ => Err(FuncError::Generic(
            "expected a list of percentiles (FloatsToArray 0.5 0.99)".into(),
        )),
    }
}

/// The percentile map bombardier's stats carry: keys are the fractions asked for.
fn percentile_map(ps: &[f64], value: impl Fn(f64) -> Value) -> Value {
    let map: HashMap<String, Value> = ps
        .iter()
        .filter(|p| (0.0..=1.0).contains(*p))
        .map(|&p| (p.to_string(), value(p)))
        .collect();
    Value::Map(map)
}

/// `.Result.LatenciesStats PERCENTILES` (rewritten to `LatenciesStats .Result PERCENTILES`): nil
/// when nothing was measured, else `.Mean .Stddev .Max` and `.Percentiles` in µs.
fn latencies_stats(args: &[Value]) -> Result<Value, FuncError> {
    let [result, ps] = args else {
        return Err(FuncError::ExactlyXArgs("LatenciesStats".into(), 2));
    };
    let ps = percentile_list(ps)?;
    let histogram = match field(result, "loadgenHistogram")? {
        Value::String(s) if !s.is_empty() => {
            decode_histogram(s).map_err(|e| FuncError::Generic(e.to_string()))?
        }
        _ => return Ok(Value::Nil),
    };
    if histogram.is_empty() {
        return Ok(Value::Nil);
    }
    Ok(obj([
        ("Mean", field(result, "loadgenLatencyMean")?.clone()),
        ("Stddev", field(result, "loadgenLatencyStddev")?.clone()),
        ("Max", field(result, "loadgenLatencyMax")?.clone()),
        (
            "Percentiles",
            percentile_map(&ps, |p| Value::from(histogram.value_at_quantile(p))),
        ),
    ]))
}

/// `.Result.RequestsStats PERCENTILES`: nil when there are no samples, else req/s
/// `.Mean .Stddev .Max` and `.Percentiles` over the sampling windows (bombardier's rank rule).
fn requests_stats(args: &[Value]) -> Result<Value, FuncError> {
    let [result, ps] = args else {
        return Err(FuncError::ExactlyXArgs("RequestsStats".into(), 2));
    };
    let ps = percentile_list(ps)?;
    let mut rates = match field(result, "loadgenRps")? {
        Value::Array(a) => a.iter().map(number).collect::<Result<Vec<f64>, _>>()?,
        _ => Vec::new(),
    };
    if rates.is_empty() {
        return Ok(Value::Nil);
    }
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    Ok(obj([
        ("Mean", field(result, "loadgenRpsMean")?.clone()),
        ("Stddev", field(result, "loadgenRpsStddev")?.clone()),
        ("Max", field(result, "loadgenRpsMax")?.clone()),
        (
            "Percentiles",
            percentile_map(&ps, |p| {
                let rank = ((p * n as f64 + 0.5) as usize).clamp(1, n);
                Value::from(rates[rank - 1])
            }),
        ),
    ]))
}

/// A map's keys in order (numeric keys numerically and as numbers, as Go sorts float keys), or
/// an array's indices.
fn sorted_keys(args: &[Value]) -> Result<Value, FuncError> {
    let entries = sorted(one("SortedKeys", args)?)?;
    Ok(Value::Array(entries.into_iter().map(|(k, _)| k).collect()))
}

/// A map's values in key order, or an array's elements.
fn sorted_values(args: &[Value]) -> Result<Value, FuncError> {
    let entries = sorted(one("SortedValues", args)?)?;
    Ok(Value::Array(entries.into_iter().map(|(_, v)| v).collect()))
}

fn sorted(v: &Value) -> Result<Vec<(Value, Value)>, FuncError> {
    match v {
        Value::Map(m) | Value::Object(m) => {
            let numeric = m.keys().all(|k| k.parse::<f64>().is_ok());
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            let key = |k: &String| k.parse::<f64>().unwrap_or(0.0);
            if numeric {
                entries.sort_by(|a, b| key(a.0).total_cmp(&key(b.0)));
            } else {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            Ok(entries
                .into_iter()
                .map(|(k, v)| {
                    let k = if numeric {
                        Value::from(key(k))
                    } else {
                        Value::from(k.clone())
                    };
                    (k, v.clone())
                })
                .collect())
        }
        Value::Array(a) => Ok(a
            .iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i as u64), v.clone()))
            .collect()),
        Value::Nil | Value::NoValue => Ok(Vec::new()),
        other => Err(FuncError::Generic(format!("cannot range over {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_actions() {
        assert_eq!(
            rewrite("a.LatenciesStats {{ with .Result.LatenciesStats (FloatsToArray 0.5) }}"),
            "a.LatenciesStats {{ with LatenciesStats .Result (FloatsToArray 0.5) }}"
        );
        assert_eq!(
            rewrite("{{ .RequestsStats $p }}"),
            "{{ RequestsStats . $p }}"
        );
        assert_eq!(
            rewrite("{{- range $pc, $lat := .Percentiles }}x"),
            "{{- $loadgenRange := .Percentiles}}\
             {{range $loadgenIndex, $lat := SortedValues $loadgenRange}}\
             {{$pc := index (SortedKeys $loadgenRange) $loadgenIndex}}x"
        );
        assert_eq!(
            rewrite("{{ range $v := .A -}} y"),
            "{{range $v := SortedValues (.A) -}} y"
        );
        assert_eq!(rewrite("{{ range .A }}"), "{{range SortedValues (.A)}}");
        assert_eq!(
            rewrite("{{ \"}}\" }}{{/* }} */}}"),
            "{{ \"}}\" }}{{/* }} */}}"
        );
    }

    #[test]
    fn printf_is_gos() {
        let p = |args: Vec<Value>| printf(&args).unwrap().to_string();
        let f = |s: &str| Value::from(s);
        assert_eq!(
            p(vec![
                f("%10v|%-6v|%5.2f|%2.0f%%"),
                f("a"),
                f("b"),
                Value::from(750.0),
                Value::from(50.0)
            ]),
            "         a|b     |750.00|50%"
        );
        assert_eq!(
            p(vec![
                f("%q %d %f"),
                f("a\"b"),
                Value::from(7u64),
                Value::from(0.5)
            ]),
            "\"a\\\"b\" 7 0.500000"
        );
        assert_eq!(
            p(vec![
                f("%05d|%+d|%v"),
                Value::from(42u64),
                Value::from(3u64)
            ]),
            "00042|+3|%!v(MISSING)"
        );
    }

    #[test]
    fn formats_like_bombardier() {
        let f = |n: f64| format_time_us(&[Value::from(n)]).unwrap().to_string();
        assert_eq!(f(512.0), "512.00us");
        assert_eq!(f(1500.0), "1.50ms");
        assert_eq!(f(2_500_000.0), "2.50s");
        assert_eq!(f(90_000_000.0), "1.50m");
        let b = |n: f64| format_binary(&[Value::from(n)]).unwrap().to_string();
        assert_eq!(b(100.0), "100.00");
        assert_eq!(b(1024.0 * 1024.0), "1.00MB");
    }

    #[test]
    fn uuids_have_their_version() {
        let v1 = uuid_v1(&[]).unwrap().to_string();
        let v4 = uuid_v4(&[]).unwrap().to_string();
        assert_eq!((v1.len(), &v1[14..15]), (36, "1"));
        assert_eq!((v4.len(), &v4[14..15]), (36, "4"));
    }
}
