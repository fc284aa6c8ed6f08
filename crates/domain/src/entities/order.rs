use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*, ImportDef};
use crate::headers::*;
use crate::{Currency, Id, Money, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    pub enum OrderStatus {
        Draft = "draft",
        Confirmed = "confirmed",
        Shipped = "shipped",
        Delivered = "delivered",
        Closed = "closed",
        Cancelled = "cancelled",
    }
}

impl OrderStatus {
    /// The steps an order may take: forward one step at a time, or cancelled before delivery.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Draft, Confirmed)
                | (Confirmed, Shipped)
                | (Shipped, Delivered)
                | (Delivered, Closed)
                | (Draft | Confirmed | Shipped, Cancelled)
        )
    }

    /// Orders in these states count as revenue.
    pub fn is_revenue(self) -> bool {
        !matches!(self, OrderStatus::Draft | OrderStatus::Cancelled)
    }
}

/// Prices are in the order's currency, in minor units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    #[serde(default)]
    pub product_id: Option<Id>,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub unit_cost: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
    pub by: Id,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The human order number (SO-2026-000123), unique.
    pub number: String,
    pub account_id: Id,
    #[serde(default)]
    pub contact_id: Option<Id>,
    #[serde(default)]
    pub opportunity_id: Option<Id>,
    pub status: OrderStatus,
    pub ordered_at: DateTime<Utc>,
    #[serde(default)]
    pub currency: Currency,
    pub lines: Vec<OrderLine>,
    /// Σ quantity × unit price; computed, never trusted from input.
    #[serde(default)]
    pub total: i64,
    /// Σ quantity × unit cost; computed.
    #[serde(default)]
    pub cost_total: i64,
    #[serde(default)]
    pub status_history: Vec<StatusChange>,
}

impl Order {
    pub fn total_money(&self) -> Money {
        Money::new(self.total, self.currency)
    }

    pub fn margin(&self) -> i64 {
        self.total - self.cost_total
    }

    /// Take the next step, recording it in the status history.
    pub fn advance(
        &mut self,
        next: OrderStatus,
        by: Id,
        at: DateTime<Utc>,
    ) -> Result<(), ValidationErrors> {
        if !self.status.can_become(next) {
            return Err(ValidationErrors::single(
                "status",
                "invalid_transition",
                format!("an order cannot go from {} to {next}", self.status),
            ));
        }
        self.status = next;
        self.status_history.push(StatusChange {
            status: next,
            at,
            by,
        });
        Ok(())
    }
}

impl Entity for Order {
    const DEF: &'static EntityDef = &EntityDef {
        name: "order",
        table: "orders",
        scoped: true,
        fields: &[
            FieldDef::new("number", Text),
            FieldDef::new("account_id", Ref("accounts")),
            FieldDef::new("contact_id", Ref("contacts")),
            FieldDef::new("opportunity_id", Ref("opportunities")),
            FieldDef::new("status", Enum(OrderStatus::VALUES)),
            FieldDef::new("ordered_at", Timestamp),
            FieldDef::new("currency", Text),
            FieldDef::new("lines", Json),
            FieldDef::new("total", Int),
            FieldDef::new("cost_total", Int),
            FieldDef::new("status_history", Json),
        ],
        collection: Some("orders"),
        title: &["number"],
        list_columns: &["number", "account_id", "status", "ordered_at", "total"],
        import: Some(&ImportDef {
            keys: &["number"],
            headers: HEADERS,
            company: Some("account"),
        }),
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        // Saturating: an absurd line is reported by validate, not by an overflow panic.
        let sum = |f: fn(&OrderLine) -> i64| {
            self.lines.iter().fold(0i64, |acc, l| {
                acc.saturating_add(l.quantity.saturating_mul(f(l)))
            })
        };
        self.total = sum(|l| l.unit_price);
        self.cost_total = sum(|l| l.unit_cost);
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("number", &self.number, 64);
        if self.lines.is_empty() && self.status != OrderStatus::Draft {
            e.add("lines", "required", "only a draft order may have no lines");
        }
        for (i, l) in self.lines.iter().enumerate() {
            let f = |n: &str| format!("lines[{i}].{n}");
            e.text(&f("sku"), &l.sku, 64);
            e.text(&f("name"), &l.name, 200);
            e.range(&f("quantity"), l.quantity, 1, 1_000_000_000);
            e.range(&f("unit_price"), l.unit_price, 0, 1_000_000_000_000);
            e.range(&f("unit_cost"), l.unit_cost, 0, 1_000_000_000_000);
        }
        e.into_result()
    }
}

/// What people write above the columns an import fills.
const HEADERS: HeaderTable = &[
    (
        "number",
        &[
            "订单号",
            "单号",
            "订单编号",
            "Order number",
            "Order no",
            "Order ID",
        ],
    ),
    (
        "account",
        &[
            "客户",
            "公司",
            "客户名称",
            "公司名称",
            "Customer",
            "Customer name",
            "Account",
            "Company",
        ],
    ),
    (
        "ordered_at",
        &[
            "下单时间",
            "订单日期",
            "下单日期",
            "订单时间",
            "日期",
            "Order date",
            "Date",
            "Ordered at",
        ],
    ),
    (
        "total",
        &[
            "金额",
            "总额",
            "订单金额",
            "总金额",
            "合计",
            "Total",
            "Amount",
            "Order total",
        ],
    ),
    ("currency", &["币种", "货币", "Currency"]),
    ("status", &["状态", "订单状态", "Status"]),
    ("channel", &["渠道", "销售渠道", "Channel"]),
    ("notes", NOTES),
    ("external_id", EXTERNAL_ID),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_computed_and_steps_enforced() {
        let by = Id::new();
        let mut o = Order {
            number: "SO-1".into(),
            account_id: Id::new(),
            contact_id: None,
            opportunity_id: None,
            status: OrderStatus::Draft,
            ordered_at: Utc::now(),
            currency: Currency::CNY,
            lines: vec![
                OrderLine {
                    product_id: None,
                    sku: "A".into(),
                    name: "A".into(),
                    quantity: 2,
                    unit_price: 150,
                    unit_cost: 100,
                },
                OrderLine {
                    product_id: None,
                    sku: "B".into(),
                    name: "B".into(),
                    quantity: 1,
                    unit_price: 1000,
                    unit_cost: 400,
                },
            ],
            total: 999_999,
            cost_total: 0,
            status_history: vec![],
        };
        o.normalize();
        assert_eq!((o.total, o.cost_total, o.margin()), (1300, 600, 700));
        o.advance(OrderStatus::Confirmed, by, Utc::now()).unwrap();
        assert!(o.advance(OrderStatus::Delivered, by, Utc::now()).is_err());
        o.advance(OrderStatus::Cancelled, by, Utc::now()).unwrap();
        assert!(o.advance(OrderStatus::Confirmed, by, Utc::now()).is_err());
        assert_eq!(o.status_history.len(), 2);
    }
}
