//! The two languages of the web pages: message catalogues (TOML, compiled into the binary)
//! and the formatting of numbers, money, dates and times per language.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use guanxi_domain::entities::Locale;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    pub fn from_locale(l: Locale) -> Lang {
        match l {
            Locale::ZhCn => Lang::Zh,
            Locale::En => Lang::En,
        }
    }

    /// The `lang` attribute of the page.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The first language of `Accept-Language` we speak; Chinese when none.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0f32);
            let lang = if tag.starts_with("zh") {
                Lang::Zh
            } else if tag.starts_with("en") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Zh, |(_, l)| l)
    }
}

type Catalogue = HashMap<String, String>;

fn flatten(prefix: &str, v: &toml::Value, out: &mut Catalogue) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn parse(sources: &[&str]) -> Catalogue {
    let mut out = Catalogue::new();
    for src in sources {
        let v: toml::Value = toml::from_str(src).expect("catalogues are checked by the tests");
        flatten("", &v, &mut out);
    }
    out
}

fn catalogue(lang: Lang) -> &'static Catalogue {
    static ZH: OnceLock<Catalogue> = OnceLock::new();
    static EN: OnceLock<Catalogue> = OnceLock::new();
    match lang {
        Lang::Zh => ZH.get_or_init(|| {
            parse(&[
                include_str!("i18n/zh/ui.toml"),
                include_str!("i18n/zh/fields.toml"),
            ])
        }),
        Lang::En => EN.get_or_init(|| {
            parse(&[
                include_str!("i18n/en/ui.toml"),
                include_str!("i18n/en/fields.toml"),
            ])
        }),
    }
}

/// Times are shown in China Standard Time (UTC+8, no daylight saving).
pub fn display_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

/// A translator for one language: the pages' `t`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Tr {
        Tr { lang }
    }

    fn get(&self, key: &str) -> Option<&'static str> {
        catalogue(self.lang).get(key).map(String::as_str)
    }

    /// The message `key`; the key itself when missing, so a gap shows rather than hides.
    pub fn s(&self, key: &str) -> &'static str {
        match self.get(key) {
            Some(s) => s,
            None => {
                tracing::warn!("no {:?} message for {key}", self.lang);
                Box::leak(key.to_string().into_boxed_str())
            }
        }
    }

    /// The message `key` with `{name}` placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut out = self.s(key).to_string();
        for (k, v) in args {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn entity_one(&self, entity: &str) -> &'static str {
        self.s(&format!("entity.{entity}.one"))
    }

    pub fn entity_many(&self, entity: &str) -> &'static str {
        self.s(&format!("entity.{entity}.many"))
    }

    /// A field's label: the entity's own wording if it has one, else the shared one.
    pub fn field(&self, entity: &str, field: &str) -> &'static str {
        self.get(&format!("field.{entity}.{field}"))
            .unwrap_or_else(|| self.s(&format!("field.{field}")))
    }

    pub fn choice(&self, entity: &str, field: &str, value: &str) -> String {
        self.get(&format!("enum.{entity}.{field}.{value}"))
            .map_or_else(|| value.to_string(), str::to_string)
    }

    pub fn yes_no(&self, b: bool) -> &'static str {
        self.s(if b { "common.yes" } else { "common.no" })
    }

    /// `1,234,567`
    pub fn int(&self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }

    /// A decimal with `places` digits after the point and grouped thousands.
    pub fn decimal(&self, x: f64, places: usize) -> String {
        if !x.is_finite() {
            return "—".into();
        }
        let fixed = format!("{:.*}", places, x.abs());
        let (whole, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
        let whole = self.int(whole.parse().unwrap_or(0));
        let sign = if x < 0.0 && fixed.chars().any(|c| c.is_ascii_digit() && c != '0') {
            "-"
        } else {
            ""
        };
        if frac.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{frac}")
        }
    }

    pub fn percent(&self, share: f64) -> String {
        format!("{}%", self.decimal(share * 100.0, 1))
    }

    /// Minor units as money: `¥1,234.56`.
    pub fn money(&self, minor: i64, currency: &str) -> String {
        let symbol = match currency {
            "CNY" | "" => "¥",
            "USD" => "US$",
            "EUR" => "€",
            "HKD" => "HK$",
            "JPY" => "JP¥",
            "GBP" => "£",
            other => return format!("{other} {}", self.decimal(minor as f64 / 100.0, 2)),
        };
        let sign = if minor < 0 { "-" } else { "" };
        format!(
            "{sign}{symbol}{}.{:02}",
            self.int((minor / 100).abs()),
            (minor % 100).abs()
        )
    }

    /// A large amount in few characters, for key figures: `¥12.3万` / `¥123.4K`.
    pub fn money_short(&self, minor: i64) -> String {
        let yuan = minor as f64 / 100.0;
        let (div, unit) = match self.lang {
            Lang::Zh if yuan.abs() >= 1e8 => (1e8, "亿"),
            Lang::Zh if yuan.abs() >= 1e4 => (1e4, "万"),
            Lang::En if yuan.abs() >= 1e9 => (1e9, "B"),
            Lang::En if yuan.abs() >= 1e6 => (1e6, "M"),
            Lang::En if yuan.abs() >= 1e3 => (1e3, "K"),
            _ => (1.0, ""),
        };
        let places = if unit.is_empty() { 0 } else { 1 };
        format!("¥{}{unit}", self.decimal(yuan / div, places))
    }

    pub fn date(&self, d: NaiveDate) -> String {
        match self.lang {
            Lang::Zh => d.format("%Y年%-m月%-d日").to_string(),
            Lang::En => d.format("%-d %b %Y").to_string(),
        }
    }

    pub fn datetime(&self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&display_offset());
        match self.lang {
            Lang::Zh => local.format("%Y年%-m月%-d日 %H:%M").to_string(),
            Lang::En => local.format("%-d %b %Y %H:%M").to_string(),
        }
    }

    /// How far `t` is from `now`, in the largest whole unit: "in 3 h", "2 d ago".
    pub fn relative(&self, t: DateTime<Utc>, now: DateTime<Utc>) -> String {
        let secs = (t - now).num_seconds();
        let abs = secs.unsigned_abs();
        let (n, unit) = if abs < 3600 {
            ((abs / 60).max(1), "min")
        } else if abs < 86_400 {
            (abs / 3600, "hour")
        } else {
            (abs / 86_400, "day")
        };
        let key = if secs >= 0 {
            format!("time.in_{unit}")
        } else {
            format!("time.ago_{unit}")
        };
        self.f(&key, &[("n", &n.to_string())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::entity::{FieldType, all_defs};

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let zh = catalogue(Lang::Zh);
        let en = catalogue(Lang::En);
        let only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
        let only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
        assert!(only_zh.is_empty(), "only in zh: {only_zh:?}");
        assert!(only_en.is_empty(), "only in en: {only_en:?}");
    }

    #[test]
    fn every_entity_field_and_choice_has_a_label() {
        for lang in Lang::ALL {
            let t = Tr::new(lang);
            let mut missing = vec![];
            for def in all_defs() {
                for key in ["one", "many"] {
                    let k = format!("entity.{}.{key}", def.name);
                    if !t.has(&k) {
                        missing.push(k);
                    }
                }
                for f in def.fields {
                    if !t.has(&format!("field.{}.{}", def.name, f.name))
                        && !t.has(&format!("field.{}", f.name))
                    {
                        missing.push(format!("field.{}", f.name));
                    }
                    if let FieldType::Enum(values) = f.ty {
                        for v in values {
                            let k = format!("enum.{}.{}.{v}", def.name, f.name);
                            if !t.has(&k) {
                                missing.push(k);
                            }
                        }
                    }
                }
            }
            for k in [
                "id",
                "version",
                "created_at",
                "updated_at",
                "owner_id",
                "team_id",
            ] {
                if !t.has(&format!("field.{k}")) {
                    missing.push(format!("field.{k}"));
                }
            }
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
        }
    }

    #[test]
    fn accept_language_picks_the_preferred_language_we_speak() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Lang::En);
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Lang::Zh
        );
        assert_eq!(Lang::from_accept_language("fr;q=1,en;q=0.5"), Lang::En);
        assert_eq!(Lang::from_accept_language("en;q=0.4,zh-TW;q=0.6"), Lang::Zh);
        assert_eq!(Lang::from_accept_language("de"), Lang::Zh);
        assert_eq!(Lang::from_accept_language(""), Lang::Zh);
    }

    #[test]
    fn money_dates_and_numbers_per_language() {
        let (zh, en) = (Tr::new(Lang::Zh), Tr::new(Lang::En));
        assert_eq!(zh.money(123_456_78, "CNY"), "¥123,456.78");
        assert_eq!(en.money(-5, "CNY"), "-¥0.05");
        assert_eq!(en.money(100_00, "USD"), "US$100.00");
        assert_eq!(zh.money_short(1_234_567_00), "¥123.5万");
        assert_eq!(en.money_short(1_234_567_00), "¥1.2M");
        assert_eq!(en.int(-1_234_567), "-1,234,567");
        assert_eq!(en.decimal(1234.5, 2), "1,234.50");
        let d = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        assert_eq!(zh.date(d), "2026年11月3日");
        assert_eq!(en.date(d), "3 Nov 2026");
        let t = d.and_hms_opt(23, 30, 0).unwrap().and_utc();
        assert_eq!(zh.datetime(t), "2026年11月4日 07:30");
        assert_eq!(en.datetime(t), "4 Nov 2026 07:30");
        let later = t + chrono::Duration::hours(3);
        assert_eq!(en.relative(later, t), "in 3 h");
        assert_eq!(zh.relative(t, later), "3小时前");
    }
}
