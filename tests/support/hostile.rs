//! A hostile peer: its own Ed25519 key and its own QUIC client (quinn with a TLS setup of
//! its own, not the node's code), speaking the wire protocol directly and sending whatever
//! a test tells it to — the peer a node must survive.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A connected hostile peer.
pub struct Hostile {
    /// Its peer id (lowercase base32 of its public key), to put in a victim's book.
    pub id: String,
    conn: quinn::Connection,
    _endpoint: quinn::Endpoint,
}

/// Trusts any server: the hostile peer does not care who it talks to.
#[derive(Debug)]
struct AnyServer;

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// A fresh key and its self-signed certificate.
fn credentials() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["hostile".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let raw: [u8; 32] = key.public_key_raw().try_into().unwrap();
    let id = data_encoding::BASE32_NOPAD
        .encode(&raw)
        .to_ascii_lowercase();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (id, cert.der().clone(), der)
}

/// A fresh key, not yet connected: its id (to put in a victim's book first) and a way
/// to connect with it.
pub struct HostileKey {
    /// The peer id of the key.
    pub id: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl HostileKey {
    /// A new key.
    pub fn new() -> HostileKey {
        let (id, cert, key) = credentials();
        HostileKey { id, cert, key }
    }

    /// The key of the node whose data directory is `home` (read from its identity
    /// file): a second client that is that node, as far as any peer can tell.
    pub fn of_node(home: &std::path::Path) -> HostileKey {
        let identity = warp::identity::Identity::load_or_create(home).unwrap();
        let pkcs8 = PrivatePkcs8KeyDer::from(identity.pkcs8_der());
        let key =
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["warp".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        HostileKey {
            id: identity.peer_id().to_string(),
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.pkcs8_der())),
        }
    }

    /// Connects to the node at `addr`.
    pub async fn connect(self, addr: SocketAddr) -> Result<Hostile, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer))
            .with_client_auth_cert(vec![self.cert], self.key)
            .unwrap();
        tls.alpn_protocols = vec![b"warp/1".to_vec()];
        let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
        let conn = endpoint
            .connect(addr, "warp")
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        Ok(Hostile {
            id: self.id,
            conn,
            _endpoint: endpoint,
        })
    }
}

impl Hostile {
    /// Opens a channel to `service`: the stream pair and the node's reply.
    pub async fn channel(
        &self,
        service: &str,
        version: u16,
    ) -> Result<
        (
            quinn::SendStream,
            quinn::RecvStream,
            protocols::channel::ChannelReply,
        ),
        String,
    > {
        let (mut send, mut recv) = self.conn.open_bi().await.map_err(|e| e.to_string())?;
        let header = protocols::channel::ChannelOpen::new(service, version).unwrap();
        send.write_all(&header.encode())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        loop {
            if let Some((reply, n)) =
                protocols::channel::ChannelReply::decode(&buf).map_err(|e| e.to_string())?
            {
                // Nothing follows a reply before we speak: `n` is the whole buffer.
                assert_eq!(n, buf.len());
                return Ok((send, recv, reply));
            }
            let mut chunk = [0u8; 1024];
            match recv.read(&mut chunk).await.map_err(|e| e.to_string())? {
                Some(k) => buf.extend_from_slice(&chunk[..k]),
                None => return Err("the node ended the channel without a reply".into()),
            }
        }
    }

    /// Whether the connection has been closed, and why.
    pub fn closed(&self) -> Option<String> {
        self.conn.close_reason().map(|r| r.to_string())
    }
}
