//! One step of a pairing: a frame awaited from the other side, and why none came.

use std::time::Duration;

use crate::transport::ChannelError;

/// How long each step may wait for the other side.
pub const STEP_WITHIN: Duration = Duration::from_secs(30);

/// Why a pairing step got no frame.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The channel failed or carried a malformed frame.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The other side did not answer in time.
    #[error("no answer within {} s", STEP_WITHIN.as_secs())]
    TimedOut,
}
