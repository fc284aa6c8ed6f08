//! What people write at the top of a spreadsheet column for each CRM field, in Chinese
//! and English. Each importable entity lists its fields with these words in its
//! [`ImportDef`](crate::entity::ImportDef); header matching (in `guanxi-tabular`) normalises
//! case, spaces, punctuation and full-width forms, so list each word once.

/// Each field a column can fill, with the headers that name it. A field may appear twice:
/// a header listed for two fields is ambiguous and left to a person to decide.
pub type HeaderTable = &'static [(&'static str, &'static [&'static str])];

/// The fields of a table, once each, in the order it lists them.
pub fn fields(table: HeaderTable) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::with_capacity(table.len());
    for (field, _) in table {
        if !out.contains(field) {
            out.push(field);
        }
    }
    out
}

pub const PERSON_NAME: &[&str] = &[
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
pub const MOBILE: &[&str] = &[
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
pub const PHONE: &[&str] = &[
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
pub const ANY_PHONE: &[&str] = &[
    "联系电话",
    "电话号码",
    "联系方式",
    "Phone number",
    "Contact number",
];
pub const EMAIL: &[&str] = &[
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
pub const WECHAT: &[&str] = &["微信", "微信号", "微信ID", "WeChat", "WeChat ID", "Weixin"];
pub const TITLE: &[&str] = &["职位", "职务", "头衔", "Title", "Job title", "Position"];
pub const DEPARTMENT: &[&str] = &["部门", "所属部门", "Department", "Dept"];
pub const COMPANY: &[&str] = &[
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
pub const GENDER: &[&str] = &["性别", "Gender", "Sex"];
pub const BIRTHDAY: &[&str] = &[
    "生日",
    "出生日期",
    "Birthday",
    "Date of birth",
    "Birth date",
    "DOB",
];
pub const ADDRESS: &[&str] = &[
    "地址",
    "详细地址",
    "联系地址",
    "通讯地址",
    "办公地址",
    "Address",
    "Street",
    "Street address",
];
pub const PROVINCE: &[&str] = &["省", "省份", "所在省份", "Province", "State"];
pub const CITY: &[&str] = &["市", "城市", "所在城市", "City"];
pub const DISTRICT: &[&str] = &["区", "区县", "县区", "District", "County"];
pub const NOTES: &[&str] = &[
    "备注",
    "备注信息",
    "Notes",
    "Note",
    "Remark",
    "Remarks",
    "Comments",
];
pub const TAGS: &[&str] = &["标签", "Tags", "Tag", "Labels"];
pub const EXTERNAL_ID: &[&str] = &[
    "编号",
    "外部编号",
    "客户编号",
    "外部ID",
    "ID",
    "External ID",
    "Customer ID",
];
pub const LEAD_SOURCE: &[&str] = &["来源", "线索来源", "客户来源", "Source", "Lead source"];
