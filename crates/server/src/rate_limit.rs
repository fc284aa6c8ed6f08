//! Sign-in attempts per client address, counted in memory before any password is hashed:
//! a flood from one address costs it a 429, not the server its CPU. The throttle that
//! slows password guessing over time, across instances, is the store's
//! ([`guanxi_store::throttle`]).

use crate::deployment::Deployment;
use crate::problem::Problem;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// A burst of this many attempts per address, then one more every [`REFILL_SECS`] seconds:
/// enough for an office behind one NAT address at nine in the morning.
pub const LOGIN_BURST: u32 = 20;
const REFILL_SECS: u64 = 3;
/// Forget idle addresses once the table holds this many, so memory stays bounded.
const MAX_TRACKED: usize = 10_000;

#[derive(Clone)]
pub struct LoginLimiter(Arc<DefaultKeyedRateLimiter<IpAddr>>);

impl Default for LoginLimiter {
    fn default() -> Self {
        let quota = Quota::with_period(std::time::Duration::from_secs(REFILL_SECS))
            .expect("a non-zero period")
            .allow_burst(NonZeroU32::new(LOGIN_BURST).expect("a non-zero burst"));
        LoginLimiter(Arc::new(RateLimiter::hashmap(quota)))
    }
}

impl LoginLimiter {
    /// One attempt from `ip`: allowed, or a 429 saying when to try again.
    pub fn check(&self, ip: IpAddr) -> Result<(), Problem> {
        if self.0.len() > MAX_TRACKED {
            self.0.retain_recent();
        }
        self.0.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut p = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many sign-in attempts from this address; wait and try again",
            );
            p.retry_after = Some(wait.as_secs().max(1));
            p
        })
    }
}

/// The address the request came from: the TCP peer, or the client a trusted proxy names
/// ([`Deployment::client_ip`]). Unknown (unspecified) in in-process tests.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Ipv4Addr::UNSPECIFIED.into(), |c| c.0.ip());
        let ip = match parts.extensions.get::<Deployment>() {
            Some(d) => d.client_ip(peer, &parts.headers),
            None => peer,
        };
        Ok(ClientIp(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_429_per_address() {
        let limiter = LoginLimiter::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..LOGIN_BURST {
            limiter.check(a).unwrap();
        }
        let p = limiter.check(a).unwrap_err();
        assert_eq!(p.status, 429);
        assert!(
            p.retry_after
                .is_some_and(|s| (1..=REFILL_SECS).contains(&s))
        );
        // Another address is not held back by the first.
        limiter.check(b).unwrap();
    }
}
