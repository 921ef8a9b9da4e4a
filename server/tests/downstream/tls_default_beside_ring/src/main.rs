//! Downstream check (b2): the library on its default provider (aws-lc-rs) beside an application
//! that uses rustls's `ring`. Both providers are compiled, so rustls cannot pick one by itself
//! (its `ClientConfig::builder()` panics); the library must still build its configuration:
//! first with its own provider (no process default installed), then with the application's ring
//! once the application installs it as the process default. A full TLS handshake and an echo
//! round trip each time.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

#[path = "../../tls_echo.rs"]
mod tls_echo;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ring = Arc::new(rustls::crypto::ring::default_provider());
    let cert = tls_echo::self_signed()?;
    let client = || -> Result<rustls::ClientConfig, Box<dyn std::error::Error>> {
        Ok(rustls::ClientConfig::builder_with_provider(ring.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(cert.roots()?)
            .with_no_client_auth())
    };

    // The situation this check is about: both providers are in the build.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let ambiguous = std::panic::catch_unwind(|| {
        let _ = rustls::ClientConfig::builder();
    });
    std::panic::set_hook(quiet);
    if ambiguous.is_ok() {
        return Err(
            "expected both aws-lc-rs and ring in the build (rustls's builder() \
                    did not panic): this check tests nothing"
                .into(),
        );
    }

    // No process default: the library's own provider (aws-lc-rs), without a panic.
    assert!(CryptoProvider::get_default().is_none());
    let server = cert.server_config()?;
    tls_echo::echo_round_trip(server, client()?).await?;

    // The application installs ring: the library follows it.
    CryptoProvider::install_default((*ring).clone()).map_err(|_| "a default was installed")?;
    let server = cert.server_config()?;
    let installed = CryptoProvider::get_default().ok_or("no default after install")?;
    if !Arc::ptr_eq(server.crypto_provider(), installed) {
        return Err("server_config did not use the installed process default".into());
    }
    tls_echo::echo_round_trip(server, client()?).await?;

    println!("downstream tls_default_beside_ring: no panic with both providers; TLS echo ok twice");
    Ok(())
}
