//! `loss=5%,delay=20ms,jitter=5ms,reorder=1%,duplicate=1%,rate=100mbit,seed=7`, and
//! `to=ADDR` (an IP, or an IP and port) to impair only what is sent there: one path.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// What to do to outgoing datagrams. Every field defaults to "nothing".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImpairSpec {
    /// Fraction of datagrams dropped, 0..=1.
    pub loss: f64,
    /// Fixed delay added to every datagram.
    pub delay: Duration,
    /// Each datagram's delay varies uniformly by up to this much either way.
    pub jitter: Duration,
    /// Fraction of datagrams held back so that later ones overtake them, 0..=1.
    pub reorder: f64,
    /// Fraction of datagrams sent twice, 0..=1.
    pub duplicate: f64,
    /// Bits per second the link carries; `None` for unlimited.
    pub rate: Option<u64>,
    /// Seed of the random choices, so a run can be reproduced.
    pub seed: u64,
    /// Only datagrams to this address (and port, when given); `None` for every datagram.
    pub to: Option<Target>,
}

/// Where a scoped impairment applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The destination IP.
    pub ip: IpAddr,
    /// The destination port; `None` for any.
    pub port: Option<u16>,
}

impl Target {
    /// Whether a datagram to `to` is covered.
    pub fn covers(&self, to: SocketAddr) -> bool {
        // An IPv4 peer reached through a dual-stack socket shows as ::ffff:a.b.c.d.
        let ip = match to.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(to.ip(), IpAddr::V4),
            v4 => v4,
        };
        ip == self.ip && self.port.is_none_or(|p| p == to.port())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}", SocketAddr::new(self.ip, p)),
            None => write!(f, "{}", self.ip),
        }
    }
}

impl ImpairSpec {
    /// Whether datagrams to `to` go through this spec.
    pub fn covers(&self, to: SocketAddr) -> bool {
        self.to.is_none_or(|t| t.covers(to))
    }
}

/// A bad `--impair` string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--impair: {0} (expected e.g. loss=5%,delay=20ms,jitter=5ms,reorder=1%,duplicate=1%,rate=100mbit,seed=7, optionally to=10.2.0.2)")]
pub struct BadSpec(String);

fn percent(v: &str) -> Result<f64, BadSpec> {
    let n: f64 = v
        .strip_suffix('%')
        .ok_or_else(|| BadSpec(format!("{v:?} is not a percentage")))?
        .parse()
        .map_err(|_| BadSpec(format!("{v:?} is not a percentage")))?;
    if !(0.0..=100.0).contains(&n) {
        return Err(BadSpec(format!("{v:?} is not between 0% and 100%")));
    }
    Ok(n / 100.0)
}

fn duration(v: &str) -> Result<Duration, BadSpec> {
    let bad = || BadSpec(format!("{v:?} is not a duration such as 20ms or 1.5s"));
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(bad());
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !(0.0..=60.0 / scale).contains(&n) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(n * scale))
}

fn target(v: &str) -> Result<Target, BadSpec> {
    if let Ok(addr) = v.parse::<SocketAddr>() {
        return Ok(Target {
            ip: addr.ip(),
            port: Some(addr.port()),
        });
    }
    v.parse::<IpAddr>()
        .map(|ip| Target { ip, port: None })
        .map_err(|_| BadSpec(format!("to={v:?} is not an IP address or IP:port")))
}

fn rate(v: &str) -> Result<u64, BadSpec> {
    let bad = || {
        BadSpec(format!(
            "{v:?} is not a rate such as 100mbit, 512kbit or 1gbit"
        ))
    };
    let lower = v.to_ascii_lowercase();
    let (num, scale) = if let Some(n) = lower.strip_suffix("gbit") {
        (n.to_string(), 1e9)
    } else if let Some(n) = lower.strip_suffix("mbit") {
        (n.to_string(), 1e6)
    } else if let Some(n) = lower.strip_suffix("kbit") {
        (n.to_string(), 1e3)
    } else if let Some(n) = lower.strip_suffix("bit") {
        (n.to_string(), 1.0)
    } else {
        return Err(bad());
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let bits = n * scale;
    if !(bits >= 1000.0 && bits.is_finite()) {
        return Err(BadSpec(format!("{v:?} is below 1kbit")));
    }
    Ok(bits as u64)
}

impl FromStr for ImpairSpec {
    type Err = BadSpec;
    fn from_str(s: &str) -> Result<ImpairSpec, BadSpec> {
        let mut spec = ImpairSpec::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| BadSpec(format!("{part:?} is not key=value")))?;
            match key {
                "loss" => spec.loss = percent(value)?,
                "delay" => spec.delay = duration(value)?,
                "jitter" => spec.jitter = duration(value)?,
                "reorder" => spec.reorder = percent(value)?,
                "duplicate" => spec.duplicate = percent(value)?,
                "rate" => spec.rate = Some(rate(value)?),
                "seed" => {
                    spec.seed = value
                        .parse()
                        .map_err(|_| BadSpec(format!("seed {value:?} is not a number")))?
                }
                "to" => spec.to = Some(target(value)?),
                other => return Err(BadSpec(format!("unknown setting {other:?}"))),
            }
        }
        Ok(spec)
    }
}

impl fmt::Display for ImpairSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loss={}%,delay={}ms,jitter={}ms,reorder={}%,duplicate={}%",
            self.loss * 100.0,
            self.delay.as_secs_f64() * 1000.0,
            self.jitter.as_secs_f64() * 1000.0,
            self.reorder * 100.0,
            self.duplicate * 100.0
        )?;
        if let Some(r) = self.rate {
            write!(f, ",rate={}kbit", r / 1000)?;
        }
        write!(f, ",seed={}", self.seed)?;
        match self.to {
            Some(t) => write!(f, ",to={t}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let s: ImpairSpec = "loss=5%,delay=20ms,jitter=5ms,reorder=1%,duplicate=1%,rate=100mbit"
            .parse()
            .unwrap();
        assert_eq!(s.loss, 0.05);
        assert_eq!(s.delay, Duration::from_millis(20));
        assert_eq!(s.jitter, Duration::from_millis(5));
        assert_eq!(s.reorder, 0.01);
        assert_eq!(s.duplicate, 0.01);
        assert_eq!(s.rate, Some(100_000_000));
        assert_eq!(s.to_string().parse::<ImpairSpec>().unwrap(), s);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for bad in [
            "loss=5",
            "loss=150%",
            "delay=5",
            "rate=fast",
            "colour=red",
            "loss",
            "seed=x",
            "rate=10bit",
        ] {
            assert!(bad.parse::<ImpairSpec>().is_err(), "{bad}");
        }
        assert_eq!("".parse::<ImpairSpec>().unwrap(), ImpairSpec::default());
        assert!("to=somewhere".parse::<ImpairSpec>().is_err());
    }

    #[test]
    fn a_scoped_spec_covers_its_address_only() {
        let s: ImpairSpec = "delay=40ms,rate=20mbit,to=10.2.0.2".parse().unwrap();
        assert_eq!(s.to_string().parse::<ImpairSpec>().unwrap(), s);
        assert!(s.covers("10.2.0.2:7470".parse().unwrap()));
        assert!(s.covers("[::ffff:10.2.0.2]:9".parse().unwrap()));
        assert!(!s.covers("10.2.0.3:7470".parse().unwrap()));
        let p: ImpairSpec = "loss=1%,to=127.0.0.1:5000".parse().unwrap();
        assert!(p.covers("127.0.0.1:5000".parse().unwrap()));
        assert!(!p.covers("127.0.0.1:5001".parse().unwrap()));
        assert!(ImpairSpec::default().covers("192.0.2.1:1".parse().unwrap()));
    }
}
