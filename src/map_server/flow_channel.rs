//! A node's flows channel on the map (`Flows`): its table, signed, now and after every
//! change that alters it; what the node says of its flows (`Congested`) in return. And a
//! request to join (`Join`), answered on the channel it came on.

use std::sync::atomic::{AtomicU64, Ordering};

use protocols::map::flows::parts;
use protocols::map::Frame;
use tracing::debug;

use super::flows::{Flows, Joined};
use crate::flow_book::Role;
use crate::identity::PeerId;
use crate::transport::{Channel, ChannelError};

/// Serves `node`'s flows channel until it ends.
pub async fn serve(flows: &Flows, node: PeerId, mut ch: Channel) -> Result<(), ChannelError> {
    if !flows.enabled() {
        let refusal = Frame::Refused("this map defines no flows".into());
        ch.write(&refusal.encode()).await?;
        ch.finish();
        return Ok(());
    }
    static TOKENS: AtomicU64 = AtomicU64::new(0);
    let token = TOKENS.fetch_add(1, Ordering::Relaxed);
    flows.present(node, token);
    let result = send_tables(flows, node, ch).await;
    flows.absent(node, token);
    result
}

async fn send_tables(flows: &Flows, node: PeerId, ch: Channel) -> Result<(), ChannelError> {
    let mut changes = flows.changes();
    let (mut w, r) = ch.split();
    let mut frames = r.messages(Frame::decode);
    let mut sent = None;
    loop {
        if let Some(now) = flows.flows_of(node) {
            if sent.as_ref() != Some(&now) {
                let bytes = flows.sign(node, now.clone()).encode();
                for (last, part) in parts(&bytes) {
                    let part = part.to_vec();
                    w.write_all(&Frame::FlowTable { last, part }.encode())
                        .await?;
                }
                debug!("sent {node} its flow table ({} flows)", now.len());
                sent = Some(now);
            }
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            frame = frames.recv() => match frame {
                Some(Ok(Frame::Congested(list))) => flows.report(node, list),
                Some(Ok(other)) => {
                    let msg = format!("a flows channel takes Congested only, not {other:?}");
                    w.write_all(&Frame::Refused(msg).encode()).await?;
                    w.finish();
                    return Ok(());
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
        }
    }
}

/// The answer to `node`'s request to join `flow`.
pub async fn join(flows: &Flows, node: PeerId, (flow, role, name): (String, u8, String)) -> Frame {
    use protocols::map::flows::role as code;
    let role = match role {
        code::SEND => Role::Send,
        code::RECV => Role::Recv,
        code::BOTH => Role::Both,
        other => return Frame::Refused(format!("no role {other}")),
    };
    match flows.join(node, &flow, role, &name).await {
        Ok(Joined::Granted) => Frame::Joined(flow),
        Ok(Joined::Held(_)) => Frame::JoinHeld(flow),
        Err(e) => Frame::Refused(e.to_string()),
    }
}
