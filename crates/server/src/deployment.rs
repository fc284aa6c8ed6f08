//! How the server is reached: the public address users open and the reverse proxies in
//! front of it. Behind a TLS proxy the socket sees plain HTTP from the proxy's address, so
//! both facts come from the configuration, never from what a client claims. The mail relay
//! is part of how the server reaches the outside, so its settings travel here too, and so
//! do the SMS and WeChat providers'.

use axum::http::HeaderMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// Where users reach the CRM (`https://crm.example.cn`); with `https` the session
    /// cookie is `Secure`.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// The relay mail goes out through; none: sending mail fails, saying so.
    pub smtp: Option<guanxi_outbound::SmtpConfig>,
    /// Where bounces and complaints are received over SMTP; none: not received.
    pub bounce_listen: Option<std::net::SocketAddr>,
    /// The provider SMS campaigns go out through; none: they are not launched.
    pub sms: Option<guanxi_outbound::HttpProviderConfig>,
    /// The provider WeChat campaigns go out through; none: they are not launched.
    pub wechat: Option<guanxi_outbound::HttpProviderConfig>,
}

impl Deployment {
    /// The text channels a campaign may be launched on here.
    pub fn providers(&self) -> guanxi_app::campaigns::Providers {
        guanxi_app::campaigns::Providers {
            sms: self.sms.is_some(),
            wechat: self.wechat.is_some(),
        }
    }

    /// Whether users reach the server over TLS.
    pub fn https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// The client's address: the socket's peer; when that peer is a trusted proxy, the
    /// nearest address in `X-Forwarded-For` that is not one (each proxy appends the address
    /// it heard from, so entries further left are the client's own word).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|a| a.trim().parse::<IpAddr>())
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in forwarded.into_iter().rev() {
            match hop {
                Ok(ip) if self.trusted_proxies.contains(&ip) => client = ip,
                Ok(ip) => return ip,
                // A hop we cannot read: stop believing what lies beyond it.
                Err(_) => return client,
            }
        }
        client
    }
}

/// The key sign-in throttling counts an address under: an IPv4 address, or the /64 an
/// IPv6 address belongs to (one subscriber gets a whole /64 and can change the rest).
pub fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let d = Deployment {
            trusted_proxies: vec![proxy],
            ..Deployment::default()
        };
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(d.client_ip(proxy, &xff("203.0.113.7")), client);
        // A client's own forged entries sit to the left of what the proxy appended.
        assert_eq!(d.client_ip(proxy, &xff("10.9.9.9, 203.0.113.7")), client);
        assert_eq!(d.client_ip(proxy, &xff("garbage, 203.0.113.7")), client);
        assert_eq!(d.client_ip(proxy, &HeaderMap::new()), proxy);
        // Anyone else's header is ignored.
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(d.client_ip(stranger, &xff("203.0.113.7")), stranger);
        assert_eq!(
            Deployment::default().client_ip(proxy, &xff("1.2.3.4")),
            proxy
        );
    }

    #[test]
    fn https_follows_the_public_url() {
        let at = |u: &str| Deployment {
            public_url: Some(u.into()),
            ..Deployment::default()
        };
        assert!(at("https://crm.example.cn").https());
        assert!(at("HTTPS://crm.example.cn/").https());
        assert!(!at("http://127.0.0.1:8080").https());
        assert!(!Deployment::default().https());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = throttle_key("2001:db8:1:2::1".parse().unwrap());
        let b = throttle_key("2001:db8:1:2:ffff::9".parse().unwrap());
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, throttle_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            throttle_key("::ffff:203.0.113.7".parse().unwrap()),
            "203.0.113.7"
        );
        assert_eq!(throttle_key("203.0.113.7".parse().unwrap()), "203.0.113.7");
    }
}
