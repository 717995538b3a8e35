//! Which addresses the marketplace never connects to on a user's behalf: loopback,
//! private, link-local, shared, documentation, benchmarking, multicast, reserved and
//! unspecified ranges, in IPv4 and IPv6 (an IPv4-mapped IPv6 address is judged by the IPv4
//! address it carries).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `(network, prefix length)` of every refused IPv4 range.
const V4_REFUSED: [([u8; 4], u8); 14] = [
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
];

/// `(network, prefix length)` of every refused IPv6 range; `::ffff:0:0/96` is judged by
/// its IPv4 address instead.
const V6_REFUSED: [(u128, u8); 10] = [
    (0, 128),                                        // ::
    (1, 128),                                        // ::1
    (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96), // 64:ff9b::/96 (NAT64)
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // 100::/64 (discard)
    (0x2001_0002_0000_0000_0000_0000_0000_0000, 48), // 2001:2::/48 (benchmarking)
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // 2001:db8::/32 (documentation)
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // unique local
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // link-local
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10), // site-local (deprecated)
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),  // multicast
];

fn in_v4(addr: Ipv4Addr, (net, len): ([u8; 4], u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(addr) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(addr: Ipv6Addr, (net, len): (u128, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(addr) & mask == net & mask
}

/// Whether outbound requests must not go to `addr`.
///
/// ```
/// use http_adapter::outbound::is_refused;
/// assert!(is_refused("127.0.0.1".parse().unwrap()));
/// assert!(is_refused("::ffff:10.0.0.1".parse().unwrap()));
/// assert!(!is_refused("93.184.215.14".parse().unwrap()));
/// ```
pub fn is_refused(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => V4_REFUSED.iter().any(|&range| in_v4(v4, range)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_refused(IpAddr::V4(v4)),
            None => V6_REFUSED.iter().any(|&range| in_v6(v6, range)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        is_refused(text.parse().unwrap())
    }

    #[test]
    fn every_listed_range_is_refused_at_both_ends() {
        for (net, len) in V4_REFUSED {
            let first = u32::from(Ipv4Addr::from(net));
            let last = first | (u32::MAX >> len);
            for a in [first, last] {
                assert!(is_refused(IpAddr::V4(a.into())), "{}", Ipv4Addr::from(a));
            }
        }
        for (net, len) in V6_REFUSED {
            let last = net | u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
            for a in [net, last] {
                assert!(is_refused(IpAddr::V6(a.into())), "{}", Ipv6Addr::from(a));
            }
        }
    }

    #[test]
    fn neighbours_of_the_ranges_are_allowed() {
        for text in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "::2",
            "fbff:ffff::1",
            "64:ff9a::1",
            "100:0:0:1::",
            "2001:1:ffff:ffff::1",
            "2001:3::",
            "2001:db7:ffff::1",
            "2001:db9::",
        ] {
            assert!(!refused(text), "{text}");
        }
    }

    #[test]
    fn mapped_addresses_are_judged_by_their_ipv4() {
        assert!(refused("::ffff:127.0.0.1"));
        assert!(refused("::ffff:192.168.1.1"));
        assert!(!refused("::ffff:8.8.8.8"));
        assert!(refused("64:ff9b::7f00:1"));
    }

    #[test]
    fn documentation_and_site_local_ipv6_are_refused() {
        for text in [
            "2001:db8::1",
            "2001:db8:ffff::",
            "fec0::1",
            "feff::1",
            "2001:2::1",
        ] {
            assert!(refused(text), "{text}");
        }
    }
}
