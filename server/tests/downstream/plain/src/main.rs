//! Downstream check (a): an echo server on the library with `default-features = false` (no TLS,
//! no crypto crate, no C compiler) serves one real round trip on 127.0.0.1.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = tcpserver::Server::builder("127.0.0.1:0").build()?;
    let addr = server.local_addr();
    let handle = server.handle();
    let serving = tokio::spawn(server.serve(|mut conn| async move {
        let _ = conn.echo().await;
    }));

    let round_trip = async {
        let mut client = TcpStream::connect(addr).await?;
        client.write_all(b"hello, plain tcp\n").await?;
        client.shutdown().await?;
        let mut echoed = Vec::new();
        client.read_to_end(&mut echoed).await?;
        Ok::<_, std::io::Error>(echoed)
    };
    let echoed = tokio::time::timeout(Duration::from_secs(60), round_trip).await??;
    assert_eq!(
        echoed, b"hello, plain tcp\n",
        "the server must echo what it received"
    );

    handle.shutdown(Duration::from_secs(10));
    tokio::time::timeout(Duration::from_secs(60), serving).await???;
    println!("downstream plain: echo round trip ok on {addr}");
    Ok(())
}
