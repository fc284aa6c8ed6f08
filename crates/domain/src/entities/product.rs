use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*, ImportDef};
use crate::headers::*;
use crate::{Money, ValidationErrors};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    pub list_price: Money,
    pub cost: Money,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Entity for Product {
    const DEF: &'static EntityDef = &EntityDef {
        name: "product",
        table: "products",
        scoped: false,
        fields: &[
            FieldDef::new("sku", Text),
            FieldDef::new("name", Text),
            FieldDef::new("category", Text),
            FieldDef::new("unit", Text),
            FieldDef::new("list_price", Money),
            FieldDef::new("cost", Money),
            FieldDef::new("active", Bool),
        ],
        collection: Some("products"),
        list_columns: &["sku", "name", "category", "list_price", "active"],
        import: Some(&ImportDef {
            keys: &["sku"],
            headers: HEADERS,
            company: None,
        }),
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.sku = self.sku.trim().to_string();
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("sku", &self.sku, 64);
        e.text("name", &self.name, 200);
        e.opt_text("category", &self.category, 100);
        e.non_negative("list_price", self.list_price.minor);
        e.non_negative("cost", self.cost.minor);
        if self.cost.currency != self.list_price.currency {
            e.add("cost", "invalid", "cost and list price share one currency");
        }
        e.into_result()
    }
}

/// What people write above the columns an import fills.
const HEADERS: HeaderTable = &[
    (
        "sku",
        &[
            "编码",
            "产品编码",
            "商品编码",
            "物料编码",
            "货号",
            "SKU",
            "Code",
            "Product code",
            "Item code",
        ],
    ),
    (
        "name",
        &[
            "产品名称",
            "商品名称",
            "名称",
            "品名",
            "产品",
            "商品",
            "Product",
            "Product name",
            "Name",
            "Item",
        ],
    ),
    (
        "price",
        &[
            "价格",
            "单价",
            "售价",
            "销售价",
            "零售价",
            "Price",
            "Unit price",
        ],
    ),
    ("unit", &["单位", "计量单位", "Unit", "UOM"]),
    (
        "category",
        &["类别", "分类", "产品分类", "商品分类", "类目", "Category"],
    ),
    (
        "description",
        &[
            "描述",
            "说明",
            "产品描述",
            "产品说明",
            "简介",
            "Description",
        ],
    ),
    ("active", &["是否启用", "启用", "Active", "Enabled"]),
];
