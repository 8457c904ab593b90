//! The REST API and the CLI drive the same gates; what the API changes persists.

mod support;

use support::{http, text, TestNode};

#[test]
fn the_api_and_the_cli_agree_and_api_changes_persist() {
    let mut a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");

    let (status, _) = http(
        &a,
        "POST",
        "/v1/gates/expose",
        Some(r#"{"name":"web","target":"127.0.0.1:8080","allow":["bob"]}"#),
    );
    assert_eq!(status, 201);
    let listing = text(&a.warp(&["gate"]));
    assert!(
        listing.contains("exposed  web") && listing.contains("127.0.0.1:8080  (bob)"),
        "{listing}"
    );

    assert!(a
        .warp(&["gate", "expose", "ssh", "127.0.0.1:22"])
        .status
        .success());
    let (status, body) = http(&a, "GET", "/v1/gates", None);
    assert_eq!(status, 200);
    let names: Vec<&str> = body["exposed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ssh", "web"]);

    let listen = support::free_tcp();
    // Opening asks bob whether his gate exists: he has one.
    assert!(b
        .warp(&["gate", "expose", "web", "127.0.0.1:8080"])
        .status
        .success());
    let (status, _) = http(
        &a,
        "POST",
        "/v1/gates/open",
        Some(&format!(
            r#"{{"listen":"{listen}","peer":"bob","name":"web"}}"#
        )),
    );
    assert_eq!(status, 201);
    assert!(text(&a.warp(&["gate"])).contains(&format!("open     tcp {listen}")));

    // Refusals come back as 400 with the reason.
    let (status, body) = http(
        &a,
        "POST",
        "/v1/gates/open",
        Some(r#"{"listen":"127.0.0.1:1","peer":"nobody","name":"web"}"#),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("unknown peer"),
        "{body}"
    );
    let (status, _) = http(&a, "POST", "/v1/gates/expose", Some(r#"{"name":"x"}"#));
    assert!((400..500).contains(&status), "{status}");

    let (status, peers) = http(&a, "GET", "/v1/peers", None);
    assert_eq!(status, 200);
    assert_eq!(peers[0]["entry"]["alias"], "bob");

    // Persisted: a restarted node still has them.
    a.kill();
    a.spawn();
    let (_, body) = http(&a, "GET", "/v1/gates", None);
    assert_eq!(body["exposed"].as_array().unwrap().len(), 2);
    assert_eq!(body["opened"][0]["listen"], listen.as_str());

    let (status, _) = http(&a, "DELETE", "/v1/gates/expose/web", None);
    assert_eq!(status, 200);
    let (status, _) = http(
        &a,
        "DELETE",
        &format!("/v1/gates/open?listen={listen}"),
        None,
    );
    assert_eq!(status, 200);
    let listing = text(&a.warp(&["gate"]));
    assert!(!listing.contains("web"), "{listing}");

    let (status, spec) = http(&a, "GET", "/openapi.json", None);
    assert_eq!(status, 200);
    assert_eq!(spec["openapi"], "3.0.3");
    assert!(spec["paths"]["/v1/gates/open"]["delete"].is_object());
}

#[test]
fn the_root_says_what_the_api_is_and_info_names_the_node() {
    let a = TestNode::start();
    let (status, body) = http(&a, "GET", "/", None);
    assert_eq!(status, 200);
    assert_eq!(body["openapi"], "/openapi.json");
    let (status, body) = http(&a, "GET", "/v1/info", None);
    assert_eq!(status, 200);
    assert_eq!(body["id"], a.id.as_str());
    assert_eq!(body["quic"], a.addr().as_str());
    assert_eq!(body["ws"], format!("127.0.0.1:{}", a.ws_port).as_str());
}
