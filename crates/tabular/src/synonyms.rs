//! Header synonyms per record kind: what people write at the top of a column
//! for each CRM field, in Chinese and English. Matching normalises case,
//! spaces, punctuation and full-width forms, so list each word once.

pub(crate) type FieldTable = &'static [(&'static str, &'static [&'static str])];

pub const KINDS: &[&str] = &["account", "contact", "lead", "product", "order"];

pub(crate) const CONTACT_FIELDS: &[&str] = &[
    "name",
    "mobile",
    "phone",
    "email",
    "wechat",
    "title",
    "department",
    "company",
    "gender",
    "birthday",
    "address",
    "province",
    "city",
    "district",
    "notes",
    "tags",
    "external_id",
];

pub(crate) const ACCOUNT_FIELDS: &[&str] = &[
    "name",
    "credit_code",
    "industry",
    "phone",
    "email",
    "website",
    "address",
    "province",
    "city",
    "district",
    "employees",
    "annual_revenue",
    "notes",
    "tags",
    "external_id",
    "kind",
    "relationship",
    "partner_type",
];

pub(crate) const LEAD_FIELDS: &[&str] = &[
    "name",
    "company",
    "mobile",
    "phone",
    "email",
    "source",
    "province",
    "city",
    "notes",
    "tags",
    "external_id",
    "title",
];

pub(crate) const PRODUCT_FIELDS: &[&str] = &[
    "sku",
    "name",
    "price",
    "unit",
    "category",
    "description",
    "active",
];

pub(crate) const ORDER_FIELDS: &[&str] = &[
    "number",
    "account",
    "ordered_at",
    "total",
    "currency",
    "status",
    "channel",
    "notes",
    "external_id",
];

const PERSON_NAME: &[&str] = &[
    "姓名",
    "名字",
    "联系人",
    "联系人姓名",
    "客户姓名",
    "Name",
    "Full name",
    "Contact",
    "Contact name",
];
const MOBILE: &[&str] = &[
    "手机",
    "手机号",
    "手机号码",
    "移动电话",
    "Mobile",
    "Cell",
    "Phone mobile",
    "Mobile phone",
    "Cell phone",
    "Mobile number",
];
const PHONE: &[&str] = &[
    "电话",
    "座机",
    "固定电话",
    "办公电话",
    "座机号码",
    "Phone",
    "Tel",
    "Telephone",
    "Office phone",
    "Work phone",
];
/// Could be a mobile or a landline: for kinds with both, these headers are
/// reported as ambiguous rather than guessed.
const ANY_PHONE: &[&str] = &[
    "联系电话",
    "电话号码",
    "联系方式",
    "Phone number",
    "Contact number",
];
const EMAIL: &[&str] = &[
    "邮箱",
    "电子邮箱",
    "邮件",
    "电子邮件",
    "邮箱地址",
    "电子邮件地址",
    "E-mail",
    "Email",
    "Email address",
    "Mail",
];
const WECHAT: &[&str] = &["微信", "微信号", "微信ID", "WeChat", "WeChat ID", "Weixin"];
const TITLE: &[&str] = &["职位", "职务", "头衔", "Title", "Job title", "Position"];
const DEPARTMENT: &[&str] = &["部门", "所属部门", "Department", "Dept"];
const COMPANY: &[&str] = &[
    "公司",
    "公司名称",
    "单位",
    "单位名称",
    "企业",
    "企业名称",
    "客户",
    "客户名称",
    "所属公司",
    "所属客户",
    "Company",
    "Company name",
    "Account",
    "Account name",
    "Organization",
    "Organisation",
];
const GENDER: &[&str] = &["性别", "Gender", "Sex"];
const BIRTHDAY: &[&str] = &[
    "生日",
    "出生日期",
    "Birthday",
    "Date of birth",
    "Birth date",
    "DOB",
];
const ADDRESS: &[&str] = &[
    "地址",
    "详细地址",
    "联系地址",
    "通讯地址",
    "办公地址",
    "Address",
    "Street",
    "Street address",
];
const PROVINCE: &[&str] = &["省", "省份", "所在省份", "Province", "State"];
const CITY: &[&str] = &["市", "城市", "所在城市", "City"];
const DISTRICT: &[&str] = &["区", "区县", "县区", "District", "County"];
const NOTES: &[&str] = &[
    "备注",
    "备注信息",
    "Notes",
    "Note",
    "Remark",
    "Remarks",
    "Comments",
];
const TAGS: &[&str] = &["标签", "Tags", "Tag", "Labels"];
const EXTERNAL_ID: &[&str] = &[
    "编号",
    "外部编号",
    "客户编号",
    "外部ID",
    "ID",
    "External ID",
    "Customer ID",
];
const LEAD_SOURCE: &[&str] = &["来源", "线索来源", "客户来源", "Source", "Lead source"];

pub(crate) const CONTACT: FieldTable = &[
    ("name", PERSON_NAME),
    ("mobile", MOBILE),
    ("mobile", ANY_PHONE),
    ("phone", PHONE),
    ("phone", ANY_PHONE),
    ("email", EMAIL),
    ("wechat", WECHAT),
    ("title", TITLE),
    ("department", DEPARTMENT),
    ("company", COMPANY),
    ("gender", GENDER),
    ("birthday", BIRTHDAY),
    ("address", ADDRESS),
    ("province", PROVINCE),
    ("city", CITY),
    ("district", DISTRICT),
    ("notes", NOTES),
    ("tags", TAGS),
    ("external_id", EXTERNAL_ID),
];

pub(crate) const ACCOUNT: FieldTable = &[
    (
        "name",
        &[
            "公司",
            "公司名称",
            "客户名称",
            "企业名称",
            "单位名称",
            "名称",
            "客户",
            "Name",
            "Company",
            "Company name",
            "Account",
            "Account name",
            "Customer",
            "Customer name",
        ],
    ),
    (
        "credit_code",
        &[
            "统一社会信用代码",
            "社会信用代码",
            "信用代码",
            "税号",
            "纳税人识别号",
            "Credit code",
            "USCC",
            "Tax ID",
        ],
    ),
    ("industry", &["行业", "所属行业", "Industry"]),
    ("phone", PHONE),
    ("phone", ANY_PHONE),
    ("email", EMAIL),
    (
        "website",
        &[
            "网址",
            "网站",
            "官网",
            "公司网址",
            "Website",
            "URL",
            "Web",
            "Homepage",
        ],
    ),
    ("address", ADDRESS),
    ("province", PROVINCE),
    ("city", CITY),
    ("district", DISTRICT),
    (
        "employees",
        &[
            "员工数",
            "人数",
            "员工人数",
            "Employees",
            "Headcount",
            "Number of employees",
        ],
    ),
    (
        "annual_revenue",
        &[
            "年营业额",
            "营收",
            "年营收",
            "营业收入",
            "Annual revenue",
            "Revenue",
        ],
    ),
    ("notes", NOTES),
    ("tags", TAGS),
    ("external_id", EXTERNAL_ID),
    (
        "kind",
        &[
            "类型",
            "客户类型",
            "客户类别",
            "Type",
            "Account type",
            "Customer type",
        ],
    ),
    (
        "relationship",
        &["关系", "关系类型", "客户关系", "往来关系", "Relationship"],
    ),
    (
        "partner_type",
        &["伙伴类型", "合作伙伴类型", "合作类型", "Partner type"],
    ),
];

pub(crate) const LEAD: FieldTable = &[
    ("name", PERSON_NAME),
    ("company", COMPANY),
    ("mobile", MOBILE),
    ("mobile", ANY_PHONE),
    ("phone", PHONE),
    ("phone", ANY_PHONE),
    ("email", EMAIL),
    ("source", LEAD_SOURCE),
    ("province", PROVINCE),
    ("city", CITY),
    ("notes", NOTES),
    ("tags", TAGS),
    ("external_id", EXTERNAL_ID),
    ("title", TITLE),
];

pub(crate) const PRODUCT: FieldTable = &[
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

pub(crate) const ORDER: FieldTable = &[
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

pub(crate) fn table(kind: &str) -> Option<(FieldTable, &'static [&'static str])> {
    match kind {
        "contact" => Some((CONTACT, CONTACT_FIELDS)),
        "account" => Some((ACCOUNT, ACCOUNT_FIELDS)),
        "lead" => Some((LEAD, LEAD_FIELDS)),
        "product" => Some((PRODUCT, PRODUCT_FIELDS)),
        "order" => Some((ORDER, ORDER_FIELDS)),
        _ => None,
    }
}
