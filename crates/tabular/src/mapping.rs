//! Column mapping: which CRM field each column of a spreadsheet fills.
//!
//! `suggest` guesses from header texts using an entity's [`HeaderTable`];
//! `Mapping::from_spec` parses a mapping written by a person
//! ("姓名=name,手机=mobile,备注=").

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TabularError};

/// Each field a column can fill, with the headers people write for it. The entity registry
/// (`guanxi-domain`) holds one per importable entity; a field listed twice shares headers
/// with another field, which makes them ambiguous.
pub type HeaderTable = &'static [(&'static str, &'static [&'static str])];

/// For each column, the field it fills (`None`: ignored), plus the columns
/// that need a person's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub columns: Vec<Option<String>>,
    /// Columns whose header fits several fields (with those fields), or whose
    /// field an earlier column already took (with that one field).
    pub ambiguous: Vec<(usize, Vec<String>)>,
    /// Columns whose header matches no field. Columns with an empty header
    /// are ignored without being listed here.
    pub unknown: Vec<usize>,
}

/// Guess the field of `table` each header names.
pub fn suggest(table: HeaderTable, headers: &[String]) -> Mapping {
    let index = HeaderIndex::build(table);
    let mut m = Mapping {
        columns: vec![None; headers.len()],
        ..Mapping::default()
    };
    let mut taken: HashMap<&'static str, usize> = HashMap::new();
    for (i, header) in headers.iter().enumerate() {
        if normalize(header).is_empty() {
            continue;
        }
        let candidates = index.lookup(header);
        match candidates.as_slice() {
            [] => m.unknown.push(i),
            [field] if taken.contains_key(field) => {
                m.ambiguous.push((i, vec![field.to_string()]));
            }
            [field] => {
                taken.insert(field, i);
                m.columns[i] = Some(field.to_string());
            }
            many => m
                .ambiguous
                .push((i, many.iter().map(|f| f.to_string()).collect())),
        }
    }
    m
}

impl Mapping {
    /// True if no column needs a decision (unknown columns are just ignored).
    pub fn is_unambiguous(&self) -> bool {
        self.ambiguous.is_empty()
    }

    /// The column that fills `field`, if any.
    pub fn column_of(&self, field: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|f| f.as_deref() == Some(field))
    }

    /// The field filled by column `index`, if any.
    pub fn field_of(&self, index: usize) -> Option<&str> {
        self.columns.get(index)?.as_deref()
    }

    /// Parse a mapping written by a person: parts separated by commas (or
    /// `，`, `;`, new lines), each `column=field`. The column is a header
    /// text or a 1-based column number; an empty field ignores the column.
    /// Columns not mentioned are ignored and listed in `unknown`.
    ///
    /// `姓名=name, 手机=mobile, 3=email, 备注=`
    ///
    /// `kind` names the records in messages; `table` says which fields there are.
    pub fn from_spec(
        kind: &str,
        table: HeaderTable,
        headers: &[String],
        spec: &str,
    ) -> Result<Mapping> {
        let mut valid: Vec<&str> = Vec::with_capacity(table.len());
        for (f, _) in table {
            if !valid.contains(f) {
                valid.push(f);
            }
        }
        let mut columns: Vec<Option<String>> = vec![None; headers.len()];
        let mut mentioned = vec![false; headers.len()];
        let err = |part: &str, reason: String| TabularError::MappingSpec {
            part: part.to_string(),
            reason,
        };
        for part in spec
            .split([',', '，', ';', '；', '\n'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((lhs, rhs)) = part.split_once(['=', '＝']) else {
                return Err(err(
                    part,
                    "expected column=field, for example 手机=mobile".into(),
                ));
            };
            let col = resolve_column(headers, lhs.trim()).map_err(|r| err(part, r))?;
            if mentioned[col] {
                return Err(err(
                    part,
                    format!("column {} is mapped more than once", describe(headers, col)),
                ));
            }
            mentioned[col] = true;
            let field = rhs.trim().to_ascii_lowercase();
            if field.is_empty() {
                continue;
            }
            let Some(&field) = valid.iter().find(|f| **f == field) else {
                return Err(err(
                    part,
                    format!(
                        "“{}” is not a {kind} field; the fields are: {}",
                        rhs.trim(),
                        valid.join(", ")
                    ),
                ));
            };
            if let Some(other) = columns.iter().position(|f| f.as_deref() == Some(field)) {
                return Err(err(
                    part,
                    format!(
                        "field {field} is already filled by column {}",
                        describe(headers, other)
                    ),
                ));
            }
            columns[col] = Some(field.to_string());
        }
        let unknown = (0..headers.len())
            .filter(|&i| !mentioned[i] && !headers[i].trim().is_empty())
            .collect();
        Ok(Mapping {
            columns,
            ambiguous: Vec::new(),
            unknown,
        })
    }

    /// The mapping written the way `from_spec` reads it, for saving as a template: each
    /// mapped column by its header, or by its number where the header would not name it
    /// alone (empty, repeated, or holding a separator). Unmapped columns are left out,
    /// which ignores them. Fails only for a column that neither names: a repeated header
    /// whose number another column has as its header.
    pub fn to_spec(&self, headers: &[String]) -> Result<String> {
        let name = |i: usize| {
            let h = headers.get(i).map_or("", |h| h.trim());
            let plain = !h.contains([',', '，', ';', '；', '\n', '\r', '=', '＝']);
            if plain && resolve_column(headers, h) == Ok(i) {
                return Ok(h.to_string());
            }
            let number = (i + 1).to_string();
            if resolve_column(headers, &number) == Ok(i) {
                return Ok(number);
            }
            Err(TabularError::MappingSpec {
                part: number,
                reason: format!(
                    "column {} can be named neither by its header nor by its number",
                    describe(headers, i)
                ),
            })
        };
        let mut parts = vec![];
        for (i, field) in self.columns.iter().enumerate() {
            if let Some(field) = field {
                parts.push(format!("{}={field}", name(i)?));
            }
        }
        Ok(parts.join(","))
    }
}

fn describe(headers: &[String], col: usize) -> String {
    match headers.get(col).map(|h| h.trim()) {
        Some(h) if !h.is_empty() => format!("{} (“{h}”)", col + 1),
        _ => (col + 1).to_string(),
    }
}

/// A header text (exact, then normalised) or a 1-based column number.
fn resolve_column(headers: &[String], lhs: &str) -> std::result::Result<usize, String> {
    if lhs.is_empty() {
        return Err("the column name before = is missing".into());
    }
    let exact: Vec<usize> = (0..headers.len())
        .filter(|&i| headers[i].trim() == lhs)
        .collect();
    match exact.as_slice() {
        [i] => return Ok(*i),
        [_, _, ..] => {
            return Err(format!(
                "{} columns are headed “{lhs}”; use the column number instead",
                exact.len()
            ));
        }
        [] => {}
    }
    if lhs.bytes().all(|b| b.is_ascii_digit()) {
        return match lhs.parse::<usize>() {
            Ok(n) if (1..=headers.len()).contains(&n) => Ok(n - 1),
            _ => Err(format!(
                "there is no column {lhs}; the file has {} columns",
                headers.len()
            )),
        };
    }
    let norm = normalize(lhs);
    let loose: Vec<usize> = (0..headers.len())
        .filter(|&i| !norm.is_empty() && normalize(&headers[i]) == norm)
        .collect();
    match loose.as_slice() {
        [i] => Ok(*i),
        [] => Err(format!(
            "no column is headed “{lhs}”; the headers are: {}",
            headers
                .iter()
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Err(format!(
            "several columns match “{lhs}”; use the column number instead"
        )),
    }
}

/// Lower case, full-width folded to half-width, and only letters and digits
/// kept: "E-mail" = "email", "手机号码：" = "手机号码", "ＷｅＣｈａｔ" = "wechat".
pub fn normalize(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    for c in header.chars().map(fold_width) {
        for lc in c.to_lowercase() {
            if lc.is_alphanumeric() {
                out.push(lc);
            }
        }
    }
    out
}

fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Drop bracketed notes: "手机号码(必填)", "金额【元】", "Email (work)".
fn strip_brackets(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut depth = 0usize;
    for c in header.chars().map(fold_width) {
        match c {
            '(' | '[' | '{' | '【' | '〔' | '《' | '<' => depth += 1,
            ')' | ']' | '}' | '】' | '〕' | '》' | '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

struct HeaderIndex {
    exact: HashMap<String, Vec<&'static str>>,
    /// Chinese synonyms of two or more characters: a header ending in one
    /// ("联系人手机", "公司地址") names the same thing, as the head noun of a
    /// Chinese compound comes last.
    suffixes: Vec<(String, &'static str)>,
}

impl HeaderIndex {
    fn build(table: HeaderTable) -> Self {
        let mut exact: HashMap<String, Vec<&'static str>> = HashMap::new();
        let mut suffixes = Vec::new();
        for (field, words) in table {
            for w in *words {
                let n = normalize(w);
                let entry = exact.entry(n.clone()).or_default();
                if !entry.contains(field) {
                    entry.push(field);
                }
                if n.chars().count() >= 2 && n.chars().all(is_cjk) {
                    suffixes.push((n, *field));
                }
            }
        }
        HeaderIndex { exact, suffixes }
    }

    fn lookup(&self, header: &str) -> Vec<&'static str> {
        let full = normalize(header);
        if let Some(f) = self.exact.get(&full) {
            return f.clone();
        }
        let stripped = normalize(&strip_brackets(header));
        if let Some(f) = self.exact.get(&stripped) {
            return f.clone();
        }
        // "电话2", "手机号码1": numbered repeats of a column.
        let undigited = stripped.trim_end_matches(|c: char| c.is_ascii_digit());
        if let Some(f) = self.exact.get(undigited) {
            return f.clone();
        }
        let mut best_len = 0;
        let mut found: Vec<&'static str> = Vec::new();
        for (syn, field) in &self.suffixes {
            if undigited.len() > syn.len() && undigited.ends_with(syn.as_str()) {
                if syn.len() > best_len {
                    best_len = syn.len();
                    found.clear();
                }
                if syn.len() == best_len && !found.contains(field) {
                    found.push(field);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry's headers of an importable entity.
    fn table(kind: &str) -> HeaderTable {
        guanxi_domain::entity::def_by_name(kind)
            .unwrap()
            .import
            .unwrap()
            .headers
    }

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn cols(m: &Mapping) -> Vec<Option<&str>> {
        m.columns.iter().map(|c| c.as_deref()).collect()
    }

    #[test]
    fn to_spec_names_columns_by_header_and_by_number_where_the_header_cannot() {
        let headers = h(&["姓名", "手机", "备注", "电话", "电话", ""]);
        let m = Mapping {
            columns: vec![
                Some("name".into()),
                Some("mobile".into()),
                None,
                Some("phone".into()),
                None,
                Some("email".into()),
            ],
            ..Mapping::default()
        };
        let spec = m.to_spec(&headers).unwrap();
        assert_eq!(spec, "姓名=name,手机=mobile,4=phone,6=email");
        assert_eq!(
            Mapping::from_spec("contact", table("contact"), &headers, &spec)
                .unwrap()
                .columns,
            m.columns
        );
    }

    #[test]
    fn chinese_contact_headers() {
        let m = suggest(
            table("contact"),
            &h(&[
                "姓名",
                "手机号码",
                "座机",
                "电子邮箱",
                "微信号",
                "职务",
                "部门",
                "公司名称",
                "性别",
                "出生日期",
                "地址",
                "省份",
                "城市",
                "区县",
                "备注",
                "标签",
                "客户编号",
            ]),
        );
        assert_eq!(
            cols(&m),
            CONTACT_ORDER.iter().map(|f| Some(*f)).collect::<Vec<_>>()
        );
        assert!(m.is_unambiguous());
        assert!(m.unknown.is_empty());
    }

    const CONTACT_ORDER: &[&str] = &[
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

    #[test]
    fn english_headers_any_case_and_punctuation() {
        let m = suggest(
            table("contact"),
            &h(&[
                "Full Name",
                "E-mail",
                "phone_mobile",
                "TEL",
                "Job Title",
                "Company",
            ]),
        );
        assert_eq!(
            cols(&m),
            [
                Some("name"),
                Some("email"),
                Some("mobile"),
                Some("phone"),
                Some("title"),
                Some("company")
            ]
        );
    }

    #[test]
    fn full_width_brackets_and_suffixes() {
        let m = suggest(
            table("contact"),
            &h(&[
                "ＥＭＡＩＬ",
                "手机号码（必填）",
                "*姓名",
                "联系人手机",
                "公司地址",
                "电话2",
            ]),
        );
        assert_eq!(
            cols(&m),
            [
                Some("email"),
                Some("mobile"),
                Some("name"),
                None, // a second mobile column: ambiguous
                Some("address"),
                Some("phone"),
            ]
        );
        assert_eq!(m.ambiguous, vec![(3, vec!["mobile".to_string()])]);
    }

    #[test]
    fn ambiguous_and_unknown() {
        let m = suggest(
            table("contact"),
            &h(&["姓名", "联系电话", "爱好", "", "手机", "手机号"]),
        );
        assert_eq!(
            cols(&m),
            [Some("name"), None, None, None, Some("mobile"), None]
        );
        assert_eq!(
            m.ambiguous,
            vec![
                (1, vec!["mobile".to_string(), "phone".to_string()]),
                (5, vec!["mobile".to_string()]),
            ]
        );
        assert_eq!(m.unknown, vec![2]);
        assert!(!m.is_unambiguous());
    }

    #[test]
    fn other_kinds() {
        let m = suggest(
            table("account"),
            &h(&[
                "客户名称",
                "统一社会信用代码",
                "行业",
                "联系电话",
                "官网",
                "年营业额",
                "客户类型",
            ]),
        );
        assert_eq!(
            cols(&m),
            [
                Some("name"),
                Some("credit_code"),
                Some("industry"),
                Some("phone"),
                Some("website"),
                Some("annual_revenue"),
                Some("kind")
            ]
        );
        let m = suggest(
            table("product"),
            &h(&["货号", "品名", "单价", "单位", "分类", "说明", "是否启用"]),
        );
        assert_eq!(m.columns.iter().flatten().count(), 7);
        assert_eq!(m.column_of("price"), Some(2));
        let m = suggest(
            table("order"),
            &h(&[
                "Order No.",
                "Customer",
                "Order Date",
                "金额(元)",
                "币种",
                "状态",
                "渠道",
            ]),
        );
        assert_eq!(
            cols(&m),
            [
                Some("number"),
                Some("account"),
                Some("ordered_at"),
                Some("total"),
                Some("currency"),
                Some("status"),
                Some("channel")
            ]
        );
        let m = suggest(table("lead"), &h(&["联系人", "公司", "线索来源", "Mobile"]));
        assert_eq!(
            cols(&m),
            [
                Some("name"),
                Some("company"),
                Some("source"),
                Some("mobile")
            ]
        );
    }

    #[test]
    fn spec_parses_names_numbers_and_ignores() {
        let headers = h(&["姓名", "手机", "邮箱", "备注", "其他"]);
        let m = Mapping::from_spec(
            "contact",
            table("contact"),
            &headers,
            "姓名=name，手机=Mobile; 3=email,备注=",
        )
        .unwrap();
        assert_eq!(
            cols(&m),
            [Some("name"), Some("mobile"), Some("email"), None, None]
        );
        assert_eq!(m.unknown, vec![4]);
        assert!(m.is_unambiguous());
    }

    fn spec_err(spec: &str) -> String {
        let headers = h(&["姓名", "手机", "手机", "Email"]);
        Mapping::from_spec("contact", table("contact"), &headers, spec)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn spec_errors_name_the_bad_part() {
        assert_eq!(
            spec_err("姓名=name,手机mobile"),
            "in the column mapping, “手机mobile”: expected column=field, for example 手机=mobile"
        );
        assert!(spec_err("年龄=notes").contains("no column is headed “年龄”"));
        assert!(spec_err("手机=mobile").contains("2 columns are headed “手机”"));
        assert!(spec_err("9=mobile").contains("there is no column 9; the file has 4 columns"));
        assert!(spec_err("姓名=fullname").contains("“fullname” is not a contact field"));
        assert!(
            spec_err("姓名=name,1=notes").contains("column 1 (“姓名”) is mapped more than once")
        );
        assert!(
            spec_err("2=mobile,3=mobile").contains("field mobile is already filled by column 2")
        );
        assert!(spec_err("=name").contains("column name before = is missing"));
        // Loose match on the header: case and punctuation.
        let m = Mapping::from_spec("contact", table("contact"), &h(&["E-Mail"]), "email=email")
            .unwrap();
        assert_eq!(m.column_of("email"), Some(0));
    }
}
