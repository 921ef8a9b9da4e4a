//! Downstream check (b1): the library on its `ring` feature beside an application that uses
//! rustls's `ring` provider. Only ring is compiled, so rustls can pick it by itself: the
//! application's own `ClientConfig::builder()` works, and the library's `server_config` uses
//! ring too. One full TLS handshake and an echo round trip.

#[path = "../../tls_echo.rs"]
mod tls_echo;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cert = tls_echo::self_signed()?;
    let server = cert.server_config()?;
    // The application's own configuration, with the provider rustls determines from its
    // features: this panics if the library brought aws-lc-rs into the build.
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(cert.roots()?)
        .with_no_client_auth();
    tls_echo::echo_round_trip(server, client).await?;
    println!("downstream tls_ring: TLS handshake and echo ok (ring only)");
    Ok(())
}
