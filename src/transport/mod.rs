//! The transport: the only module that knows QUIC (quinn). The rest of the node sees an
//! [`Endpoint`] that dials and accepts [`Path`]s, a [`Peer`] per connected node made of
//! one or more paths (open a channel, round-trip time, paths, close) and a [`Channel`] per conversation with a service
//! (messages, or `AsyncRead`/`AsyncWrite` halves for byte streams) — and typed errors
//! that say whether trying again can help. This is the seam several paths per peer, or a
//! relay, will fill without the services noticing.

pub mod bond;
pub mod channel;
pub mod close;
pub mod endpoint;
pub mod impair;
pub mod path;
pub mod paths;
pub mod peer;
pub mod relay;
pub mod tls;
pub mod tls_error;

pub use channel::{Channel, ChannelError, ChannelReader, ChannelWriter, OpenError};
pub use close::{Close, Closed};
pub use endpoint::{AcceptError, BindError, DialError, Endpoint, Incoming};
pub use path::Path;
pub use peer::{AddError, PathInfo, PathKind, PathState, Peer};
pub use relay::Intercept;
pub use tls_error::{CertError, SetupError};
