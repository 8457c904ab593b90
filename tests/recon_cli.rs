//! `warp recon` as a user runs it: a real process, real files and pipes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn warp(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warp"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warp starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("warp exits")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

const FRAME: &str = "@event(node:\"/unit/1\", lane: info)  { temp: 21.5, tags: {a, b} }\n";

#[test]
fn prints_compact_recon_from_stdin() {
    let o = warp(&["recon"], FRAME);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        "@event(node:\"/unit/1\",lane:info){temp:21.5,tags:{a,b}}\n"
    );
}

#[test]
fn prints_pretty_recon() {
    let long =
        "{name:\"a long enough name to wrap around\",ports:{80,443,8080},more:{x:1,y:2,z:3}}";
    let o = warp(&["recon", "--pretty", "-"], long);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        "{\n  name: \"a long enough name to wrap around\"\n  ports: {80,443,8080}\n  more: {x:1,y:2,z:3}\n}\n"
    );
}

#[test]
fn prints_json_in_item_order() {
    let o = warp(&["recon", "--json"], FRAME);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        "{\"@event\":{\"node\":\"/unit/1\",\"lane\":\"info\"},\"temp\":21.5,\"tags\":[\"a\",\"b\"]}\n"
    );
}

#[test]
fn bad_input_exits_1_with_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.recon");
    std::fs::write(&path, "{a:1,\n b: c d}").unwrap();
    let o = warp(&["recon", path.to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(
        err,
        format!(
            "{}:2:7: expected ',', ';', a newline or '}}', found 'd'\n",
            path.display()
        )
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn stdin_errors_are_named_stdin_and_missing_files_fail() {
    let o = warp(&["recon"], "@link(node:");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.starts_with("<stdin>:1:12: expected"), "{err}");

    let o = warp(&["recon", "/definitely/not/here.recon"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8(o.stderr).unwrap().contains("cannot read"));
}
