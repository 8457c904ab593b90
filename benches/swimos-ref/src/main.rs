//! The reference SwimOS server for `cargo bench --bench links`: agents at `/unit/:id`
//! with a value lane `info` holding a `Stamp`.
use swimos::{
    agent::{agent_model::AgentModel, lanes::ValueLane, lifecycle, AgentLaneModel},
    route::RoutePattern,
    server::{until_termination, Server, ServerBuilder},
};
use swimos_form::Form;

#[derive(Clone, Debug, Default, Form)]
pub struct Stamp {
    s: u64,
    t: u64,
}

#[derive(AgentLaneModel)]
struct UnitAgent {
    info: ValueLane<Stamp>,
}

#[derive(Default, Clone, Copy)]
struct UnitLifecycle;

#[lifecycle(UnitAgent)]
impl UnitLifecycle {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).ok_or("usage: swimos-ref PORT")?.parse()?;
    let model = AgentModel::new(UnitAgent::default, UnitLifecycle.into_lifecycle());
    let server = ServerBuilder::with_plane_name("reference")
        .set_bind_addr(format!("127.0.0.1:{port}").parse()?)
        .add_route(RoutePattern::parse_str("/unit/:id")?, model)
        .build()
        .await?;
    let (task, handle) = server.run();
    let (a, b) = tokio::join!(until_termination(handle, None), task);
    a?;
    b?;
    Ok(())
}
