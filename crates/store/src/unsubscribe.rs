//! Unsubscribe tokens: the random part of the one-click unsubscribe address a contact's
//! marketing mail carries (RFC 8058). One per contact, made on its first marketing mail,
//! so every mail it received unsubscribes it, and the address names nobody.

use crate::db::{Kind, Val};
use crate::records::now;
use crate::{Result, Store};
use guanxi_domain::Id;
use rand::RngCore;

impl Store {
    /// The contact's token, made now if it has none.
    pub async fn unsubscribe_token(&self, contact_id: Id) -> Result<String> {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let fresh = hex::encode(bytes);
        let mut tx = self.db.begin().await?;
        tx.exec(
            "INSERT INTO unsubscribe_tokens (token, contact_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (contact_id) DO NOTHING",
            vec![Val::Text(fresh), Val::Uuid(contact_id.0), Val::Ts(now())],
        )
        .await?;
        let token = tx
            .fetch(
                "SELECT token FROM unsubscribe_tokens WHERE contact_id = $1",
                vec![Val::Uuid(contact_id.0)],
                &[Kind::Text],
            )
            .await?
            .into_iter()
            .next()
            .and_then(|mut r| r.swap_remove(0).into_text())
            .expect("inserted or found in this transaction");
        tx.commit().await?;
        Ok(token)
    }

    /// The contact a token stands for.
    pub async fn unsubscribe_contact(&self, token: &str) -> Result<Option<Id>> {
        Ok(self
            .db
            .fetch(
                "SELECT contact_id FROM unsubscribe_tokens WHERE token = $1",
                vec![Val::Text(token.to_string())],
                &[Kind::Uuid],
            )
            .await?
            .into_iter()
            .next()
            .and_then(|r| r[0].as_uuid())
            .map(Id))
    }
}
