//! Signing in: the one way every front end opens a session.

use crate::AppError;
use guanxi_domain::entities::{Locale, User};
use guanxi_domain::{Actor, Id};
use guanxi_store::throttle::FailedSignIns;
use guanxi_store::{Session, Store};

/// A user who signed in, with their new session.
pub struct SignedIn {
    pub user: Id,
    pub session: Session,
    /// Failed attempts on this account from other addresses since the user last heard.
    pub failed_elsewhere: Vec<FailedSignIns>,
    /// The language the user chose, for the pages.
    pub locale: Locale,
}

/// Check `email` and `password` from the client known as `client` (its throttling key)
/// and open a session lasting `lasts`.
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
    client: &str,
    lasts: chrono::Duration,
) -> Result<SignedIn, AppError> {
    let signed_in = store.login(email, password, client).await?;
    let session = store.open_session(signed_in.user, lasts).await?;
    // The user's own record, read for them before they have an actor: their language.
    let locale = store
        .get::<User>(&Actor::system(), signed_in.user)
        .await
        .map_or(Locale::ZhCn, |u| u.data.locale);
    Ok(SignedIn {
        user: signed_in.user,
        session,
        failed_elsewhere: signed_in.failed_elsewhere,
        locale,
    })
}
