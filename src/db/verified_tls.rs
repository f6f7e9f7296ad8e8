//! Verified TLS for the database connections that do not come from the pool (the shared
//! reads, on tokio-postgres).
//!
//! `sslmode=verify-full` means the same on both paths: the server's certificate chains to
//! a trusted root — the public web roots the pool's driver trusts, plus the certificates
//! in the file `sslrootcert` names — and carries the host name connected to. Production
//! refuses any other database URL, so this is the only TLS the shared reads need.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, InvalidDnsNameError, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Socket;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsSetupError {
    #[error("cannot read the root certificates in {path}: {reason}")]
    RootFile { path: String, reason: String },
    #[error("the root certificate file {path} holds no certificate")]
    NoRoot { path: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Makes TLS connections that verify the server like `sslmode=verify-full`.
#[derive(Clone)]
pub(crate) struct VerifiedTls {
    connector: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for VerifiedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifiedTls")
    }
}

impl VerifiedTls {
    /// Trusts the public web roots and, when given, the PEM certificates in `root_file`.
    pub fn new(root_file: Option<&Path>) -> Result<Self, TlsSetupError> {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = root_file {
            let shown = path.display().to_string();
            let unreadable = |reason: String| TlsSetupError::RootFile { path: shown.clone(), reason };
            let mut added = 0;
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(e.to_string()))? {
                roots.add(cert.map_err(|e| unreadable(e.to_string()))?)?;
                added += 1;
            }
            if added == 0 {
                return Err(TlsSetupError::NoRoot { path: shown });
            }
        }
        let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self { connector: tokio_rustls::TlsConnector::from(Arc::new(config)) })
    }
}

impl MakeTlsConnect<Socket> for VerifiedTls {
    type Stream = VerifiedStream;
    type TlsConnect = VerifiedConnect;
    type Error = InvalidDnsNameError;

    fn make_tls_connect(&mut self, host: &str) -> Result<VerifiedConnect, InvalidDnsNameError> {
        Ok(VerifiedConnect {
            connector: self.connector.clone(),
            server: ServerName::try_from(host.to_owned())?,
        })
    }
}

/// One handshake, with the host name the certificate must carry.
pub(crate) struct VerifiedConnect {
    connector: tokio_rustls::TlsConnector,
    server: ServerName<'static>,
}

impl TlsConnect<Socket> for VerifiedConnect {
    type Stream = VerifiedStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<VerifiedStream>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        Box::pin(async move { self.connector.connect(self.server, socket).await.map(VerifiedStream) })
    }
}

/// A connection after a verified handshake.
pub(crate) struct VerifiedStream(tokio_rustls::client::TlsStream<Socket>);

impl TlsStream for VerifiedStream {
    /// No channel binding: authentication is SCRAM without it, as on the pool's path.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for VerifiedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for VerifiedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
