//! The twelve envelope tags.

use std::fmt;

/// The kind of a WARP envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// Client: open a link; events from now on.
    Link,
    /// Client: open a link and receive the current state first.
    Sync,
    /// Client: close a link.
    Unlink,
    /// Either side: change a lane; the body is the change.
    Command,
    /// Server: the link is open.
    Linked,
    /// Server: the state has been sent.
    Synced,
    /// Server: the link is closed; the body is the reason.
    Unlinked,
    /// Server: a lane changed; the body is the event.
    Event,
    /// Client: authenticate; the body holds the credentials.
    Auth,
    /// Server: authentication succeeded.
    Authed,
    /// Client: drop authentication.
    Deauth,
    /// Server: authentication failed or was dropped.
    Deauthed,
}

impl Tag {
    /// Every tag, in protocol order.
    pub const ALL: [Tag; 12] = [
        Tag::Link,
        Tag::Sync,
        Tag::Unlink,
        Tag::Command,
        Tag::Linked,
        Tag::Synced,
        Tag::Unlinked,
        Tag::Event,
        Tag::Auth,
        Tag::Authed,
        Tag::Deauth,
        Tag::Deauthed,
    ];

    /// The tag as written after `@`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Link => "link",
            Tag::Sync => "sync",
            Tag::Unlink => "unlink",
            Tag::Command => "command",
            Tag::Linked => "linked",
            Tag::Synced => "synced",
            Tag::Unlinked => "unlinked",
            Tag::Event => "event",
            Tag::Auth => "auth",
            Tag::Authed => "authed",
            Tag::Deauth => "deauth",
            Tag::Deauthed => "deauthed",
        }
    }

    /// The tag for its name, if it is one of the twelve.
    pub fn from_name(name: &str) -> Option<Tag> {
        Tag::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// `true` for tags addressed to a lane (they carry `node` and `lane`).
    pub fn is_lane(self) -> bool {
        !matches!(self, Tag::Auth | Tag::Authed | Tag::Deauth | Tag::Deauthed)
    }

    /// `true` for tags that may carry `prio` and `rate`.
    pub fn has_rates(self) -> bool {
        matches!(self, Tag::Link | Tag::Sync | Tag::Linked)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
