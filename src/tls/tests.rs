//! The CA and the certificates it issues, checked by a real TLS handshake (rustls client and
//! server over a loopback socket) rather than by reading fields back.

use super::*;
use ecl_net::{Conn, TlsPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one connection with `config` on a loopback port and echoes one line back.
async fn echo_server(config: Arc<rustls::ServerConfig>, required: bool) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let policy = TlsPolicy::new(config, required);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let policy = policy.clone();
            tokio::spawn(async move {
                let Some(mut conn) = ecl_net::accept(Some(&policy), stream).await else {
                    return;
                };
                let mut buf = [0u8; 5];
                if conn.read_exact(&mut buf).await.is_ok() {
                    let _ = conn.write_all(&buf).await;
                    let _ = conn.flush().await;
                }
            });
        }
    });
    addr
}

async fn roundtrip(conn: &mut Conn) -> Vec<u8> {
    conn.write_all(b"hello").await.expect("write");
    conn.flush().await.expect("flush");
    let mut buf = vec![0u8; 5];
    conn.read_exact(&mut buf).await.expect("read");
    buf
}

#[tokio::test]
async fn issued_certificate_verifies_for_its_ip_against_the_ca() {
    let ca = LocalCa::ephemeral().expect("ca");
    let addr = echo_server(ca.server_config(&["127.0.0.1".into()]).expect("cfg"), true).await;
    let mut conn = ecl_net::connect(addr, Some(&ca.client_config().expect("client")))
        .await
        .expect("handshake verifies the IP SAN against the CA");
    assert!(conn.is_tls());
    assert_eq!(roundtrip(&mut conn).await, b"hello");
}

#[tokio::test]
async fn another_ca_does_not_verify() {
    let ca = LocalCa::ephemeral().expect("ca");
    let other = LocalCa::ephemeral().expect("other ca");
    let addr = echo_server(ca.server_config(&["127.0.0.1".into()]).expect("cfg"), true).await;
    let err = ecl_net::connect(addr, Some(&other.client_config().expect("client"))).await;
    assert!(
        err.is_err(),
        "a certificate from another CA must be refused"
    );
}

#[tokio::test]
async fn required_closes_plaintext_and_preferred_serves_it() {
    let ca = LocalCa::ephemeral().expect("ca");
    let required = echo_server(ca.server_config(&[]).expect("cfg"), true).await;
    let mut plain = ecl_net::connect(required, None).await.expect("tcp connect");
    plain.write_all(b"hello").await.expect("write");
    let mut buf = Vec::new();
    let n = plain.read_to_end(&mut buf).await.unwrap_or(0);
    assert_eq!(
        n, 0,
        "required: the server closes a plaintext connection unanswered"
    );

    let preferred = echo_server(ca.server_config(&[]).expect("cfg"), false).await;
    let mut plain = ecl_net::connect(preferred, None)
        .await
        .expect("tcp connect");
    assert_eq!(roundtrip(&mut plain).await, b"hello");
    let mut tls = ecl_net::connect(preferred, Some(&ca.client_config().expect("client")))
        .await
        .expect("tls on the same port");
    assert_eq!(roundtrip(&mut tls).await, b"hello");
}

#[tokio::test]
async fn a_ca_saved_in_the_data_dir_is_reused_and_still_verifies() {
    let dir = std::env::temp_dir().join(format!(
        "ecl-ca-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let first = LocalCa::in_dir(&dir).expect("create");
    let saved = std::fs::read_to_string(dir.join("ca.pem")).expect("ca.pem written");
    assert_eq!(saved, first.cert_pem());
    let second = LocalCa::in_dir(&dir).expect("reload");
    assert_eq!(
        second.cert_pem(),
        first.cert_pem(),
        "the same CA after a restart"
    );
    // A certificate issued after the reload chains to the CA clients saved before it.
    let addr = echo_server(
        second.server_config(&["127.0.0.1".into()]).expect("cfg"),
        true,
    )
    .await;
    let mut conn = ecl_net::connect(addr, Some(&first.client_config().expect("client")))
        .await
        .expect("handshake with the reloaded CA's certificate");
    assert_eq!(roundtrip(&mut conn).await, b"hello");
    let _ = std::fs::remove_dir_all(&dir);
}
