// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: tries TCP to 127.0.0.1:22, 127.0.0.1:80, 1.1.1.1:443 and a UDP DNS query to 8.8.8.8:53.
//
// Prints what answered, then returns normally. Stopped by: the lint gate (std::net); behind it, the
// sandbox: a network namespace with no interface but loopback (and nothing listening on it).
/// The attack: reach anything outside.
fn hostile_attack() {
    use std::net::{SocketAddr, TcpStream, UdpSocket};
    for target in ["127.0.0.1:22", "127.0.0.1:80", "1.1.1.1:443"] {
        let Ok(addr) = target.parse::<SocketAddr>() else {
            continue;
        };
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
        eprintln!("hostile: tcp {target}: {:?}", tcp.map(|s| s.peer_addr()));
    }
    // A DNS query for example.com, type A.
    let query: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    let udp = UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.send_to(query, "8.8.8.8:53")?;
        let mut buf = [0u8; 512];
        let (n, from) = s.recv_from(&mut buf)?;
        Ok(format!("{n} bytes from {from}"))
    });
    eprintln!("hostile: udp 8.8.8.8:53: {udp:?}");
}
