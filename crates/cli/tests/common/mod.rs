//! What the command-line tests share.

pub use guanxi_store::testing::fresh_postgres;
