//! The REST API and the CLI drive the same gates; what the API changes persists.

mod support;

use std::io::{Read, Write};

use support::{http, text, TestNode};

/// A POST with the owner's token and the given content type; the status and raw body.
fn raw_post(node: &TestNode, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", node.api_port)).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        node.api_port,
        node.api_token(),
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw)
}

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

    // Errors come back with a status that says what went wrong, and the reason: a peer
    // not in the book is 404.
    let (status, body) = http(
        &a,
        "POST",
        "/v1/gates/open",
        Some(r#"{"listen":"127.0.0.1:1","peer":"nobody","name":"web"}"#),
    );
    assert_eq!(status, 404);
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

#[test]
fn statuses_say_what_went_wrong_and_peers_and_offers_are_driven_too() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");

    // 404: what the call names does not exist.
    for (method, path) in [
        ("DELETE", "/v1/gates/expose/nothing"),
        ("DELETE", "/v1/flows/nothing"),
        ("DELETE", "/v1/peers/nobody"),
        ("POST", "/v1/offers/abcd/reject"),
    ] {
        let (status, body) = http(&a, method, path, None);
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }

    // Bodies that do not parse or fit, a wrong content type, an unknown path: JSON errors
    // with the status that says so.
    for (body, want) in [("{", 400), ("{}", 400), (r#"{"alias":1}"#, 400)] {
        let (status, reply) = http(&a, "POST", "/v1/peers", Some(body));
        assert_eq!(status, want, "{body}: {reply}");
        assert!(reply["error"].is_string(), "{body}: {reply}");
    }
    let (status, reply) = http(&a, "GET", "/v1/nothing", None);
    assert_eq!(status, 404, "{reply}");
    assert!(reply["error"].is_string(), "{reply}");
    let (status, reply) = raw_post(&a, "/v1/peers", "text/plain", "alias=x");
    assert_eq!(status, 415, "{reply}");
    assert!(reply.contains(r#""error""#), "{reply}");

    // Peers through the API; 409 for an alias taken by another key.
    let other = tempfile::tempdir().unwrap();
    let carol = text(&support::warp(other.path(), &["id"]))
        .trim()
        .to_string();
    let add = format!(r#"{{"alias":"carol","id":"{carol}","addrs":["127.0.0.1:9"]}}"#);
    let (status, body) = http(&a, "POST", "/v1/peers", Some(&add));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], carol.as_str());
    assert!(text(&a.warp(&["peers"])).contains("carol"));
    let taken = format!(r#"{{"alias":"bob","id":"{carol}"}}"#);
    let (status, body) = http(&a, "POST", "/v1/peers", Some(&taken));
    assert_eq!(status, 409, "{body}");
    let (status, body) = http(
        &a,
        "PUT",
        "/v1/peers/carol/policy",
        Some(r#"{"policy":"trust"}"#),
    );
    assert_eq!(
        (status, body["policy"].as_str()),
        (200, Some("trust")),
        "{body}"
    );
    let (status, _) = http(&a, "DELETE", "/v1/peers/carol", None);
    assert_eq!(status, 200);

    // 403: bob's gate serves carol only, and bob says so when alice opens it.
    let out = b.warp(&["peers", "add", "carol", &carol]);
    assert!(out.status.success(), "{}", text(&out));
    let out = b.warp(&[
        "gate",
        "expose",
        "web",
        "127.0.0.1:8080",
        "--allow",
        "carol",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let open = format!(
        r#"{{"listen":"{}","peer":"bob","name":"web"}}"#,
        support::free_tcp()
    );
    let (status, body) = http(&a, "POST", "/v1/gates/open", Some(&open));
    assert_eq!(status, 403, "{body}");

    // Offers: shared through the API, cancelled, and 409 when cancelled again.
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("notes.txt");
    std::fs::write(&file, b"api offer").unwrap();
    let (status, body) = http(
        &a,
        "POST",
        "/v1/offers",
        Some(r#"{"peer":"bob","paths":["notes.txt"]}"#),
    );
    assert_eq!(status, 400, "relative paths are refused: {body}");
    let share = format!(r#"{{"peer":"bob","paths":["{}"]}}"#, file.display());
    let (status, body) = http(&a, "POST", "/v1/offers", Some(&share));
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("awaiting")),
        "{body}"
    );
    let id = body["id"].as_str().unwrap().to_string();
    let (status, listed) = http(&a, "GET", "/v1/offers", None);
    assert_eq!(status, 200);
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    let cancel = format!("/v1/offers/{id}/cancel");
    let (status, body) = http(&a, "POST", &cancel, None);
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cancelled")),
        "{body}"
    );
    let (status, body) = http(&a, "POST", &cancel, None);
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("already"),
        "{body}"
    );
}
