//! TLS 1.3 for QUIC, bound to the nodes' Ed25519 keys.
//!
//! Each node presents a self-signed certificate made from its identity key. The dialer
//! accepts the server only if the certificate's key is the peer id it meant to reach; the
//! listener requires a client certificate and learns the caller's peer id from its key.
//! Signatures in the handshake are checked against those keys, so a peer is who its key
//! says and nothing else (no CA, no names).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::tls_error::{CertError, SetupError};
use crate::identity::{Identity, PeerId};

/// The ALPN protocol of warp tunnels.
pub const ALPN: &[u8] = b"warp/1";

/// The peer id in an Ed25519 certificate, or why there is none.
pub fn peer_id_of(cert: &CertificateDer<'_>) -> Result<PeerId, CertError> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(cert.as_ref())
        .map_err(|e| CertError::Unreadable(e.to_string()))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_SIG_ED25519 {
        return Err(CertError::NotEd25519);
    }
    let key: [u8; 32] = spki
        .subject_public_key
        .data
        .as_ref()
        .try_into()
        .map_err(|_| CertError::KeyLength)?;
    Ok(PeerId(key))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate and key this node presents.
struct Credentials {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn credentials(identity: &Identity) -> Result<Credentials, SetupError> {
    let der = identity.pkcs8_der();
    let pkcs8 = PrivatePkcs8KeyDer::from(der.clone());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
        .map_err(SetupError::Key)?;
    let params =
        rcgen::CertificateParams::new(vec!["warp".to_string()]).map_err(SetupError::Cert)?;
    let cert = params.self_signed(&key_pair).map_err(SetupError::Cert)?;
    Ok(Credentials {
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
    })
}

/// The rustls server configuration: TLS 1.3, client certificates required.
pub fn server_config(identity: &Identity) -> Result<rustls::ServerConfig, SetupError> {
    let provider = provider();
    let creds = credentials(identity)?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(AnyPeer { provider }))
        .with_single_cert(vec![creds.cert], creds.key)?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

/// The key a server presented in place of the one expected, once a dial saw it.
pub type Presented = Arc<std::sync::OnceLock<PeerId>>;

/// The rustls client configuration for dialing `expected`: the server must prove that key.
/// A server that proves another key is refused (TLS alert access_denied), and the key it
/// presented is kept in `presented` for the error message. With no key expected (a map,
/// known by its address), any server that proves an Ed25519 key is taken, and its key is
/// kept in `presented`.
pub fn client_config(
    identity: &Identity,
    expected: Option<PeerId>,
    presented: Presented,
) -> Result<rustls::ClientConfig, SetupError> {
    let provider = provider();
    let creds = credentials(identity)?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ExpectedPeer {
            expected,
            presented,
            provider,
        }))
        .with_client_auth_cert(vec![creds.cert], creds.key)?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

fn tls13_signature(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls13_signature(
        message,
        cert,
        dss,
        &provider.signature_verification_algorithms,
    )
}

/// A certificate that carries no usable key, as a certificate error (TLS alert
/// bad_certificate).
fn no_key(why: CertError) -> rustls::Error {
    tracing::warn!("peer certificate refused: {why}");
    rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
}

/// Accepts a server only if its key is the expected peer id (any key when none is).
#[derive(Debug)]
struct ExpectedPeer {
    expected: Option<PeerId>,
    presented: Presented,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ExpectedPeer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = peer_id_of(end_entity).map_err(no_key)?;
        if self.expected.is_none() {
            let _ = self.presented.set(got);
        } else if Some(got) != self.expected {
            // Sent as the TLS alert access_denied: the peer learns its key was refused,
            // not that something broke inside this node.
            let _ = self.presented.set(got);
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not used by warp".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls13_signature(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// Accepts any client that proves an Ed25519 key; policy is applied after the handshake.
#[derive(Debug)]
struct AnyPeer {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyPeer {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        peer_id_of(end_entity).map_err(no_key)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not used by warp".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls13_signature(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}
