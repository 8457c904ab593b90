//! Pairing by code over the tunnel: the `pair` channel service of the node that printed
//! a code (it takes the code, runs its side of the key exchange, makes the offer) and the
//! receiving side, which finds that node on the local network by the code's number and
//! runs the other side. Each side checks the other's confirmation, which binds the code
//! to both node ids as the tunnel authenticated them. Frames: `docs/pairing.md`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocols::channel::ChannelReply;
use protocols::pair::{Code, Exchange, Frame, Role};
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use super::conns::ReachError;
use super::pair_codes::PairFailure;
use super::pair_step::{StepError, STEP_WITHIN};
use super::service_error::ServiceError;
use super::Node;
use crate::bond_mode::Mode;
use crate::identity::PeerId;
use crate::store::{PeerEntry, Policy};
use crate::transport::{Channel, ChannelError};

/// The channel service name.
pub const SERVICE: &str = "pair";
/// Its version.
pub const VERSION: u16 = 1;

/// The refusal of a confirmation that does not match.
const MISMATCH: &str = "the code does not match";
/// How long the receiver looks for the node that printed the code.
const FIND_WITHIN: Duration = Duration::from_secs(15);

/// Why `warp receive` got no offer.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// This node neither looks on the local network nor uses a map.
    #[error("this node neither looks for others on the local network (it listens on loopback only, or runs with --no-lan / lan = false) nor uses a map (--map), so it cannot find the node that printed the code")]
    NoDiscovery,
    /// No node announces the code's number.
    #[error("no node waiting with code number {0} was found on the local network or the maps within {1} s: is `warp share` still running on the other machine, with the same map or on this network?")]
    NotFound(u16, u64),
    /// The key exchange did not confirm.
    #[error("the code does not match the sender's; a code works once: ask for a new one")]
    WrongCode,
    /// The sender refused.
    #[error("the sender refused: {0}")]
    Refused(String),
    /// The sender broke the protocol.
    #[error("the pairing broke off: {0}")]
    Broken(String),
    /// A step got no answer.
    #[error("the pairing broke off: {0}")]
    Step(#[from] StepError),
    /// The sender could not be reached.
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// The pairing channel failed.
    #[error("the pairing channel: {0}")]
    Channel(#[from] ChannelError),
}

/// Reads the next frame within [`STEP_WITHIN`]; `None` when the channel ended.
async fn next(ch: &mut Channel) -> Result<Option<Frame>, StepError> {
    match tokio::time::timeout(STEP_WITHIN, ch.read(Frame::decode)).await {
        Ok(f) => Ok(f?),
        Err(_) => Err(StepError::TimedOut),
    }
}

/// Serves a `pair` channel from `peer`: the code holder's side.
pub async fn serve(node: Arc<Node>, peer: PeerId, mut ch: Channel) -> Result<(), ServiceError> {
    ch.write(&ChannelReply::Accepted.encode()).await?;
    let Ok(Some(Frame::Pake { nameplate, msg })) = next(&mut ch).await else {
        let refusal = Frame::Refused("a pairing begins with a key exchange".into());
        return Ok(ch.write(&refusal.encode()).await?);
    };
    let Some(waiting) = node.pairings.take(nameplate) else {
        let refusal = Frame::Refused(format!("no code numbered {nameplate} waits on this node"));
        return Ok(ch.write(&refusal.encode()).await?);
    };
    node.announce_pairs();
    info!("{peer} tries pairing code number {nameplate}");
    let super::pair_codes::Waiting {
        code,
        paths,
        wait,
        done,
    } = waiting;
    if let Err(why) = confirm(&node, peer, &code, &msg, &mut ch).await {
        warn!("pairing code number {nameplate} with {peer}: {why}");
        let _ = done.send(Err(why));
        return Ok(());
    }
    info!("paired with {peer} by code number {nameplate}");
    node.pairings.pair(peer);
    let events = node.drive().subscribe();
    match node.drive().share_for(&peer.to_string(), paths, wait).await {
        Ok(offer) => {
            tokio::spawn(unpair_when_done(
                node.clone(),
                peer,
                offer.id.clone(),
                events,
            ));
            let sent = ch.write(&Frame::Offered(offer.id.clone()).encode()).await;
            ch.finish();
            let _ = done.send(Ok((peer, offer)));
            Ok(sent?)
        }
        Err(e) => {
            node.pairings.unpair(&peer);
            let _ = ch.write(&Frame::Refused(e.to_string()).encode()).await;
            let _ = done.send(Err(PairFailure::Share(e)));
            Ok(())
        }
    }
}

/// The code holder's side of the key exchange, after the receiver's `Pake` (`msg`):
/// answers it with its own and a confirmation, and checks the receiver's.
async fn confirm(
    node: &Node,
    peer: PeerId,
    code: &Code,
    msg: &[u8],
    ch: &mut Channel,
) -> Result<(), PairFailure> {
    let (me, them) = (node.id.to_string(), peer.to_string());
    let (mut x, mine) = Exchange::start(
        code,
        Role::Sender,
        me.as_bytes(),
        them.as_bytes(),
        rand::rngs::OsRng,
    );
    let tag = match x.take_pake(msg) {
        Ok(t) => t,
        Err(e) => {
            let _ = ch.write(&Frame::Refused(e.to_string()).encode()).await;
            return Err(PairFailure::Broken(e.to_string()));
        }
    };
    let mut out = Frame::Pake {
        nameplate: code.nameplate,
        msg: mine,
    }
    .encode();
    out.extend(Frame::Confirm(tag).encode());
    ch.write(&out)
        .await
        .map_err(|e| PairFailure::Broken(e.to_string()))?;
    match next(ch).await? {
        Some(Frame::Confirm(t)) if x.confirm(&t).is_ok() => Ok(()),
        Some(Frame::Confirm(_)) => {
            let _ = ch.write(&Frame::Refused(MISMATCH.into()).encode()).await;
            Err(PairFailure::WrongCode)
        }
        // The receiver refuses when our confirmation does not match its code.
        Some(Frame::Refused(_)) => Err(PairFailure::WrongCode),
        other => Err(PairFailure::Broken(format!("unexpected {other:?}"))),
    }
}

/// Ends what the pairing let `peer` do once offer `id` has ended.
async fn unpair_when_done(
    node: Arc<Node>,
    peer: PeerId,
    id: String,
    mut events: tokio::sync::broadcast::Receiver<warpdrive::Offer>,
) {
    let ended = |o: &warpdrive::Offer| o.status.is_final();
    if node.drive().find(&id).map_or(true, |o| ended(&o)) {
        node.pairings.unpair(&peer);
        return;
    }
    loop {
        match events.recv().await {
            Ok(o) if o.id == id && ended(&o) => break,
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => break,
        }
    }
    node.pairings.unpair(&peer);
}

/// The receiving side: finds the node waiting with `code` on the local network, pairs
/// with it and returns its id and the id of the offer it made.
pub async fn receive(node: &Arc<Node>, code: &Code) -> Result<(PeerId, String), ReceiveError> {
    if node.lan.is_none() && !node.maps.any() {
        return Err(ReceiveError::NoDiscovery);
    }
    let deadline = Instant::now() + FIND_WITHIN;
    let mut asked_maps: Option<Instant> = None;
    let found = loop {
        let mut found = node
            .lan
            .as_ref()
            .map(|l| l.pairing(code.nameplate))
            .unwrap_or_default();
        // The maps, once a second.
        if node.maps.any() && asked_maps.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            asked_maps = Some(Instant::now());
            for (id, addrs) in node.code_holders(code.nameplate).await {
                if !found.iter().any(|(f, _)| *f == id) {
                    found.push((id, addrs));
                }
            }
        }
        if !found.is_empty() {
            break found;
        }
        if Instant::now() >= deadline {
            return Err(ReceiveError::NotFound(
                code.nameplate,
                FIND_WITHIN.as_secs(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut last = None;
    for (id, _) in found {
        match pair_with(node, code, id).await {
            // Another node with the same number that no longer waits with it.
            Err(ReceiveError::Refused(r)) => last = Some(ReceiveError::Refused(r)),
            other => return other.map(|offer| (id, offer)),
        }
    }
    Err(last.unwrap_or(ReceiveError::NotFound(
        code.nameplate,
        FIND_WITHIN.as_secs(),
    )))
}

/// Pairs with the node `id` (found on the local network or a map) by `code`; the
/// offer's id.
async fn pair_with(node: &Arc<Node>, code: &Code, id: PeerId) -> Result<String, ReceiveError> {
    // No addresses of its own: those the local network and the maps gave are used (and a
    // map then introduces this node to the sender, whose NAT lets it in).
    let entry = PeerEntry {
        alias: id.to_string(),
        id: id.to_string(),
        addrs: Vec::new(),
        policy: Policy::Ask,
        links: Default::default(),
    };
    let mut ch =
        super::conns::open_channel(node, &entry, (SERVICE, VERSION), Mode::Aggregate).await?;
    let (me, them) = (node.id.to_string(), id.to_string());
    let (mut x, mine) = Exchange::start(
        code,
        Role::Receiver,
        them.as_bytes(),
        me.as_bytes(),
        rand::rngs::OsRng,
    );
    let pake = Frame::Pake {
        nameplate: code.nameplate,
        msg: mine,
    };
    ch.write(&pake.encode()).await?;
    let tag = match next(&mut ch).await? {
        Some(Frame::Pake { msg, .. }) => x
            .take_pake(&msg)
            .map_err(|e| ReceiveError::Broken(e.to_string()))?,
        Some(Frame::Refused(r)) => return Err(ReceiveError::Refused(r)),
        other => return Err(ReceiveError::Broken(format!("unexpected {other:?}"))),
    };
    match next(&mut ch).await? {
        Some(Frame::Confirm(t)) if x.confirm(&t).is_ok() => {}
        Some(Frame::Confirm(_)) => {
            let refusal = Frame::Refused(MISMATCH.into());
            let _ = ch.write(&refusal.encode()).await;
            return Err(ReceiveError::WrongCode);
        }
        other => return Err(ReceiveError::Broken(format!("unexpected {other:?}"))),
    }
    // Its offer may arrive before the frame that names it.
    node.pairings.pair(id);
    ch.write(&Frame::Confirm(tag).encode()).await?;
    let answer = next(&mut ch).await;
    match answer {
        Ok(Some(Frame::Offered(offer))) => {
            info!("paired with {id}; its offer is {offer}");
            Ok(offer)
        }
        Ok(Some(Frame::Refused(r))) if r == MISMATCH => {
            node.pairings.unpair(&id);
            Err(ReceiveError::WrongCode)
        }
        Ok(Some(Frame::Refused(r))) => {
            node.pairings.unpair(&id);
            Err(ReceiveError::Refused(r))
        }
        Ok(other) => {
            node.pairings.unpair(&id);
            Err(ReceiveError::Broken(format!("unexpected {other:?}")))
        }
        Err(e) => {
            node.pairings.unpair(&id);
            Err(ReceiveError::Step(e))
        }
    }
}

/// Keeps what the pairing let the sender `id` do until offer `offer` ends.
pub fn hold_until_done(node: &Arc<Node>, id: PeerId, offer: String) {
    let events = node.drive().subscribe();
    tokio::spawn(unpair_when_done(node.clone(), id, offer, events));
}
