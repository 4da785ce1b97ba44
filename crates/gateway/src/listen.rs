//! Where the gateway listens: loopback by default; beyond loopback only over
//! TLS and for the hosts listed. A TLS gateway also listens on a loopback
//! port of its own, in plain HTTP, for the CLI and the clients of its machine.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    Error, GatewayConfig, Result,
    http::{HostCheck, tls::TlsListener},
};

/// The bound listeners, before they serve.
pub(crate) struct Bound {
    public: Public,
    /// Where this machine's CLI and clients reach the gateway.
    pub local_addr: SocketAddr,
    /// The https address clients elsewhere use, when TLS is on.
    pub public_addr: Option<SocketAddr>,
    pub hosts: HostCheck,
}

enum Public {
    /// Plain HTTP on loopback: the only listener.
    Plain(TcpListener),
    /// TLS on the configured address, plus plain HTTP on a loopback port.
    Tls {
        tls: TlsListener,
        local: TcpListener,
    },
}

/// Checks the configuration's listening rules and binds.
pub(crate) async fn bind(config: &GatewayConfig) -> Result<Bound> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })
    };
    let local_of = |listener: &TcpListener, addr: SocketAddr| {
        listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })
    };
    match &config.tls {
        None => {
            if !config.listen.ip().is_loopback() {
                return Err(Error::NotLoopback(config.listen));
            }
            if !config.allowed_hosts.is_empty() {
                return Err(Error::HostsWithoutTls);
            }
            let listener = bind(config.listen).await?;
            let local_addr = local_of(&listener, config.listen)?;
            Ok(Bound {
                public: Public::Plain(listener),
                local_addr,
                public_addr: None,
                hosts: HostCheck::loopback(),
            })
        }
        Some(files) => {
            if config.allowed_hosts.is_empty() && !config.listen.ip().is_loopback() {
                return Err(Error::NoAllowedHosts(config.listen));
            }
            let acceptor = files.acceptor()?;
            let tcp = bind(config.listen).await?;
            let public_addr = local_of(&tcp, config.listen)?;
            let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
            let local = bind(loopback).await?;
            let local_addr = local_of(&local, loopback)?;
            let tls = TlsListener::new(tcp, acceptor).map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
            Ok(Bound {
                public: Public::Tls { tls, local },
                local_addr,
                public_addr: Some(public_addr),
                hosts: HostCheck::with_hosts(&config.allowed_hosts),
            })
        }
    }
}

impl Bound {
    /// Serves `app` on every listener until `shutdown`.
    pub(crate) fn serve(
        self,
        app: axum::Router,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<std::io::Result<()>> {
        use axum::serve::ListenerExt as _;
        tokio::spawn(async move {
            // Without TCP_NODELAY the last chunk of each SSE response can wait
            // for a delayed ACK (~40 ms a call behind keep-alive proxies).
            let nodelay = |tcp: &mut tokio::net::TcpStream| {
                let _ = tcp.set_nodelay(true);
            };
            match self.public {
                Public::Plain(listener) => {
                    axum::serve(listener.tap_io(nodelay), app)
                        .with_graceful_shutdown(shutdown.cancelled_owned())
                        .await
                }
                Public::Tls { tls, local } => {
                    let plain = axum::serve(local.tap_io(nodelay), app.clone())
                        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
                    let secure =
                        axum::serve(tls, app).with_graceful_shutdown(shutdown.cancelled_owned());
                    let (plain, secure) = tokio::join!(plain.into_future(), secure.into_future());
                    plain.and(secure)
                }
            }
        })
    }
}
