//! Local servers that gates and flows lead to in tests and benchmarks: an echo and a
//! sink, each on a loopback port of its own, served by threads until the process ends.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

/// A server on a loopback port of its own that runs `handle` on each connection, in a
/// thread of its own, until the process ends. Its address.
pub fn tcp_server(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let handle = handle.clone();
            std::thread::spawn(move || handle(conn));
        }
    });
    addr
}

/// An echo server that copies each connection back (with `TCP_NODELAY`, so one byte
/// comes straight back) until the client half-closes, then half-closes too. Its address.
pub fn echo_server() -> String {
    tcp_server(|mut conn| {
        let _ = conn.set_nodelay(true);
        let mut buf = [0u8; 16 * 1024];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = conn.shutdown(Shutdown::Write);
    })
}

/// A sink that counts what each connection sends and, once the sender half-closes,
/// answers the count (8 bytes, big-endian). Its address.
pub fn sink_server() -> String {
    tcp_server(|mut conn| {
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        while let Ok(k) = conn.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        let _ = conn.write_all(&n.to_be_bytes());
    })
}
