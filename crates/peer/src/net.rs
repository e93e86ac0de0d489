//! The network seam: every socket this crate opens goes through [`Net`].
//!
//! Why: cluster logic (the RPC transport, SWIM membership) should run both
//! over real sockets and inside a deterministic simulator, where a test owns
//! the clock, the random seed and the links between hosts, and can cut and
//! heal them at exact simulated instants. [`Net::Os`] is the operating
//! system's TCP and UDP through Tokio; [`Net::Sim`] (cargo feature `sim`) is
//! [turmoil](https://docs.rs/turmoil)'s simulated network, usable only inside
//! a turmoil host.
//!
//! The seam is an enum rather than a generic parameter or a trait object on
//! purpose: production code keeps concrete Tokio sockets (owned split
//! halves, vectored writes, no extra allocation or lock per poll), the public
//! types of the crate stay free of type parameters, and without the `sim`
//! feature each `match` has one arm that the compiler removes.
//!
//! Time needs no seam of its own here: the crate reads only Tokio's clock,
//! which a simulator (or `tokio::time::pause`) drives. Randomness comes from
//! [`crate::MembershipConfig::seed`].

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Which network the sockets of a transport or membership node live on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Net {
    /// The operating system's network, through Tokio.
    #[default]
    Os,
    /// turmoil's simulated network; only valid inside a turmoil host.
    #[cfg(feature = "sim")]
    Sim,
}

/// The read half of a TCP connection, owned by a reader task (after the
/// handshake, which reads and writes on the halves too).
pub(crate) enum ReadHalf {
    Os(tokio::net::tcp::OwnedReadHalf),
    #[cfg(feature = "sim")]
    Sim(turmoil::net::tcp::OwnedReadHalf),
}

/// The write half of a TCP connection, owned by a writer task.
pub(crate) enum WriteHalf {
    Os(tokio::net::tcp::OwnedWriteHalf),
    #[cfg(feature = "sim")]
    Sim(turmoil::net::tcp::OwnedWriteHalf),
}

/// A bound TCP listener.
pub(crate) enum Listener {
    Os(tokio::net::TcpListener),
    #[cfg(feature = "sim")]
    Sim(turmoil::net::TcpListener),
}

/// A bound UDP socket.
pub(crate) enum Datagrams {
    Os(tokio::net::UdpSocket),
    #[cfg(feature = "sim")]
    Sim(turmoil::net::UdpSocket),
}

impl Net {
    /// Opens a TCP connection to `addr`, with Nagle's algorithm off, split
    /// into its owned halves.
    pub(crate) async fn connect(self, addr: SocketAddr) -> io::Result<(ReadHalf, WriteHalf)> {
        match self {
            Net::Os => Ok(split_os(tokio::net::TcpStream::connect(addr).await?)),
            #[cfg(feature = "sim")]
            Net::Sim => Ok(split_sim(turmoil::net::TcpStream::connect(addr).await?)),
        }
    }

    /// Binds a TCP listener at `addr` without waiting, so a caller outside
    /// async code can report a bind error at once.
    pub(crate) fn listen(self, addr: SocketAddr) -> io::Result<Listener> {
        match self {
            Net::Os => {
                // std's bind sets SO_REUSEADDR on Unix, so a restarted server
                // can take its port back while old connections sit in
                // TIME_WAIT. Registering with Tokio needs a runtime context.
                let std_listener = std::net::TcpListener::bind(addr)?;
                std_listener.set_nonblocking(true)?;
                Ok(Listener::Os(tokio::net::TcpListener::from_std(
                    std_listener,
                )?))
            }
            #[cfg(feature = "sim")]
            Net::Sim => ready_now(turmoil::net::TcpListener::bind(sim_bind_addr(addr)))
                .ok_or_else(|| io::Error::other("simulated bind did not complete at once"))?
                .map(Listener::Sim),
        }
    }

    /// Binds a UDP socket at `addr`.
    pub(crate) async fn bind_udp(self, addr: SocketAddr) -> io::Result<Datagrams> {
        match self {
            Net::Os => Ok(Datagrams::Os(tokio::net::UdpSocket::bind(addr).await?)),
            #[cfg(feature = "sim")]
            Net::Sim => Ok(Datagrams::Sim(
                turmoil::net::UdpSocket::bind(sim_bind_addr(addr)).await?,
            )),
        }
    }
}

/// A simulated host has exactly one address, and turmoil binds only the
/// unspecified address (or loopback): binding the host's own address is
/// binding the unspecified one, so callers bind the address they announce
/// on either network.
#[cfg(feature = "sim")]
fn sim_bind_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        return addr;
    }
    let any: std::net::IpAddr = match addr {
        SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    SocketAddr::new(any, addr.port())
}

/// Polls `f` once; turmoil's binds finish without waiting on anything.
#[cfg(feature = "sim")]
fn ready_now<F: std::future::Future>(f: F) -> Option<F::Output> {
    let f = std::pin::pin!(f);
    match f.poll(&mut Context::from_waker(std::task::Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Turns Nagle's algorithm off and splits an OS connection.
fn split_os(s: tokio::net::TcpStream) -> (ReadHalf, WriteHalf) {
    let _ = s.set_nodelay(true);
    let (r, w) = s.into_split();
    (ReadHalf::Os(r), WriteHalf::Os(w))
}

#[cfg(feature = "sim")]
fn split_sim(s: turmoil::net::TcpStream) -> (ReadHalf, WriteHalf) {
    let (r, w) = s.into_split();
    (ReadHalf::Sim(r), WriteHalf::Sim(w))
}

impl Listener {
    /// Accepts one connection, split into its owned halves.
    pub(crate) async fn accept(&self) -> io::Result<((ReadHalf, WriteHalf), SocketAddr)> {
        match self {
            Listener::Os(l) => {
                let (s, peer) = l.accept().await?;
                Ok((split_os(s), peer))
            }
            #[cfg(feature = "sim")]
            Listener::Sim(l) => {
                let (s, peer) = l.accept().await?;
                Ok((split_sim(s), peer))
            }
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Os(l) => l.local_addr(),
            #[cfg(feature = "sim")]
            Listener::Sim(l) => l.local_addr(),
        }
    }
}

impl Datagrams {
    pub(crate) async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        match self {
            Datagrams::Os(s) => s.send_to(buf, to).await,
            #[cfg(feature = "sim")]
            Datagrams::Sim(s) => s.send_to(buf, to).await,
        }
    }

    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match self {
            Datagrams::Os(s) => s.recv_from(buf).await,
            #[cfg(feature = "sim")]
            Datagrams::Sim(s) => s.recv_from(buf).await,
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Datagrams::Os(s) => s.local_addr(),
            #[cfg(feature = "sim")]
            Datagrams::Sim(s) => s.local_addr(),
        }
    }
}

/// Forwards a poll to whichever variant `$self` holds.
macro_rules! each_variant {
    ($ty:ident, $self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            $ty::Os($s) => $e,
            #[cfg(feature = "sim")]
            $ty::Sim($s) => $e,
        }
    };
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_variant!(ReadHalf, self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_variant!(WriteHalf, self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_variant!(WriteHalf, self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WriteHalf::Os(s) => s.is_write_vectored(),
            #[cfg(feature = "sim")]
            WriteHalf::Sim(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_variant!(WriteHalf, self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_variant!(WriteHalf, self, s => Pin::new(s).poll_shutdown(cx))
    }
}
