//! Converting a qualified lead: an account (new, or one that exists), a contact and,
//! optionally, a deal, in one step.

use super::fields;
use super::page::{self, Page, Posted, WebUser, render, render_status};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_domain::entities::Lead;
use guanxi_domain::money::{Currency, Money};
use guanxi_domain::{Id, Record};
use guanxi_store::{Conversion, Store};

#[derive(Template)]
#[template(path = "convert.html")]
struct ConvertPage {
    p: Page,
    lead: Record<Lead>,
    account_id: String,
    deal_name: String,
    amount: String,
    error: Option<String>,
}

fn page_for(
    u: &WebUser,
    lead: Record<Lead>,
    form: Option<&page::FormData>,
    error: Option<String>,
) -> ConvertPage {
    let t = u.t();
    let text = |k: &str, default: String| form.map_or(default, |f| f.text(k).to_string());
    ConvertPage {
        p: u.page(t.s("lead.convert")),
        account_id: text("account_id", String::new()),
        deal_name: text("deal_name", lead.data.company.clone().unwrap_or_default()),
        amount: text("amount", String::new()),
        lead,
        error,
    }
}

/// `GET /leads/{id}/convert`
pub async fn convert_page(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    match store.get::<Lead>(&u.actor, id).await {
        Ok(lead) => render(&page_for(&u, lead, None, None)),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

/// `POST /leads/{id}/convert`: `account_id` (optional: an existing account), `deal_name` and
/// `amount` (optional: a deal), `_version`.
pub async fn convert(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let t = u.t();
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(t, StatusCode::NOT_FOUND, "");
    };
    let lead = match store.get::<Lead>(&u.actor, id).await {
        Ok(l) => l,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let again = |msg: String| {
        render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page_for(&u, lead.clone(), Some(&form), Some(msg)),
        )
    };
    let account_id = match form.text("account_id") {
        "" => None,
        raw => match Id::parse(raw) {
            Ok(a) => Some(a),
            Err(_) => return again(t.s("error.code.no_such_record").into()),
        },
    };
    let opportunity = match (form.text("deal_name"), form.text("amount")) {
        ("", _) => None,
        (name, amount) => {
            let amount = if amount.is_empty() { "0" } else { amount };
            match Money::parse_decimal(&amount.replace(',', ""), Currency::CNY) {
                Ok(m) => Some((name.to_string(), m)),
                Err(_) => return again(t.s("error.code.not_an_amount").into()),
            }
        }
    };
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    match store
        .convert_lead(
            &u.actor,
            id,
            version,
            Conversion {
                account_id,
                opportunity,
            },
        )
        .await
    {
        Ok(done) => page::done(
            &format!("/accounts/{}", done.account_id),
            t.s("lead.converted"),
        ),
        Err(e) => {
            let p = crate::Problem::from(e);
            let msg = p
                .errors
                .first()
                .map_or(p.detail.clone(), |e| fields::message(t, e));
            again(msg)
        }
    }
}
