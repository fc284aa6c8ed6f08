//! One TLS crypto provider for the process.

/// reqwest is built without a provider of its own (its default, aws-lc-rs, needs cmake
/// and a long C build): install ring, which lettre uses too, unless someone installed
/// one already.
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Deprecated since rustls 0.23.48 for lacking post-quantum key exchange, which
        // only aws-lc-rs offers; classical TLS 1.3 is what mail relays and webhook
        // receivers speak today. Losing a race to another installer is fine.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
