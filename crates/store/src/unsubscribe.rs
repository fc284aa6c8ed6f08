//! Unsubscribe tokens: the random part of the one-click unsubscribe address a contact's
//! marketing mail carries (RFC 8058). One per contact, made on its first marketing mail,
//! so every mail it received unsubscribes it, and the address names nobody.

use crate::db::{Kind, Val};
use crate::records::now;
use crate::{Result, Store};
use guanxi_domain::Id;
use rand::RngCore;
use std::collections::HashMap;

impl Store {
    /// The contact's token, made now if it has none.
    pub async fn unsubscribe_token(&self, contact_id: Id) -> Result<String> {
        Ok(self
            .unsubscribe_tokens(&[contact_id])
            .await?
            .remove(&contact_id)
            .expect("inserted or found in this transaction"))
    }

    /// The tokens of `contacts`, made now for those that have none, in one transaction.
    pub async fn unsubscribe_tokens(&self, contacts: &[Id]) -> Result<HashMap<Id, String>> {
        let mut out = HashMap::with_capacity(contacts.len());
        let mut tx = self.db.begin().await?;
        let at = now();
        // Three values a row, within every backend's parameter limit.
        for chunk in contacts.chunks(300) {
            let mut params = Vec::with_capacity(chunk.len() * 3);
            let mut rows = Vec::with_capacity(chunk.len());
            let mut marks = Vec::with_capacity(chunk.len());
            for (i, c) in chunk.iter().enumerate() {
                let mut bytes = [0u8; 24];
                rand::rng().fill_bytes(&mut bytes);
                params.extend([Val::Text(hex::encode(bytes)), Val::Uuid(c.0), Val::Ts(at)]);
                rows.push(format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3));
                marks.push(format!("${}", i + 1));
            }
            tx.exec(
                &format!(
                    "INSERT INTO unsubscribe_tokens (token, contact_id, created_at) VALUES {} \
                     ON CONFLICT (contact_id) DO NOTHING",
                    rows.join(", ")
                ),
                params,
            )
            .await?;
            let found = tx
                .fetch(
                    &format!(
                        "SELECT contact_id, token FROM unsubscribe_tokens WHERE contact_id IN ({})",
                        marks.join(", ")
                    ),
                    chunk.iter().map(|c| Val::Uuid(c.0)).collect(),
                    &[Kind::Uuid, Kind::Text],
                )
                .await?;
            for mut r in found {
                let token = r.swap_remove(1).into_text();
                if let (Some(id), Some(token)) = (r[0].as_uuid(), token) {
                    out.insert(Id(id), token);
                }
            }
        }
        tx.commit().await?;
        Ok(out)
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
