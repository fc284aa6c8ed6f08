//! Where a place in China is: its coordinates from an administrative code or from the names
//! people type, and the distance between two points.
//!
//! The table is China's administrative divisions with coordinates (the `cpca` data set, MIT
//! licence, `data/cn-regions/LICENSE`), embedded and parsed once per process
//! ([`Regions::get`]). Codes are 12 digits nesting province (2), city (4) and district (6);
//! municipalities list their districts under a "市辖区" (or "县") placeholder city, and
//! provinces their directly administered county-level cities under "省直辖县级行政区划".

use std::collections::HashMap;
use std::sync::OnceLock;

/// The embedded table: `adcode,name,longitude,latitude`, one row per province, city and
/// district; a row's coordinates may be empty.
pub const ADCODES_CSV: &str = include_str!("../data/cn-regions/adcodes.csv");

/// Mean Earth radius (IUGG), in kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in kilometres (haversine on the mean Earth radius) between two
/// points given as (latitude, longitude) in degrees.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    Origin::new(a).km_to(b)
}

/// A point distances are measured from, its trigonometry computed once: measuring from one
/// point to many costs one cosine and two sines fewer per target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    lat: f64,
    lon: f64,
    cos_lat: f64,
}

impl Origin {
    pub(crate) fn new((lat, lon): (f64, f64)) -> Origin {
        let lat = lat.to_radians();
        Origin {
            lat,
            lon: lon.to_radians(),
            cos_lat: lat.cos(),
        }
    }

    /// A lower bound of [`Origin::km_to`] that needs no trigonometry: the distance along a
    /// meridian between the two latitudes (shaved by a rounding margin).
    pub(crate) fn km_bound(&self, (lat, _): (f64, f64)) -> f64 {
        (lat.to_radians() - self.lat).abs() * EARTH_RADIUS_KM * (1.0 - 1e-9) - 1e-9
    }

    pub(crate) fn km_to(&self, (lat, lon): (f64, f64)) -> f64 {
        let (lat, lon) = (lat.to_radians(), lon.to_radians());
        let h = ((lat - self.lat) / 2.0).sin().powi(2)
            + self.cos_lat * lat.cos() * ((lon - self.lon) / 2.0).sin().powi(2);
        // Rounding can push h a hair past 1 for antipodal points.
        2.0 * EARTH_RADIUS_KM * h.clamp(0.0, 1.0).sqrt().asin()
    }
}

/// How precisely a place was located.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    District,
    City,
    Province,
}

/// A located place: the coordinates of the finest level found, and that level's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub lat: f64,
    pub lon: f64,
    pub level: Level,
    pub name: String,
}

/// One row of the table.
#[derive(Debug)]
struct Area {
    /// The 12-digit code.
    code: Box<str>,
    level: Level,
    name: Box<str>,
    at: Option<(f64, f64)>,
    /// Index of the province (itself for a province).
    province: u32,
    /// Index of the city: itself for a city, the (possibly placeholder) city for a district.
    city: Option<u32>,
    /// A city row that only groups districts ("市辖区", "县", "省直辖县级行政区划").
    placeholder: bool,
}

/// China's administrative divisions, indexed by code and by name.
#[derive(Debug)]
pub struct Regions {
    areas: Vec<Area>,
    /// 6-digit code → index.
    by_code: HashMap<u32, u32>,
    /// Full and short names → indexes, one map per level.
    provinces: HashMap<Box<str>, Vec<u32>>,
    cities: HashMap<Box<str>, Vec<u32>>,
    districts: HashMap<Box<str>, Vec<u32>>,
}

/// A district of the table, for callers that sample places (seeding, benchmarks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct District<'a> {
    /// 12 digits.
    pub adcode: &'a str,
    pub province: &'a str,
    /// The municipality's name for its districts; `None` for a county-level city or county
    /// the province administers directly.
    pub city: Option<&'a str>,
    pub district: &'a str,
    pub at: Option<(f64, f64)>,
}

/// Suffixes people leave out or add, longest first; one is stripped (what remains keeps at
/// least two characters: "矿区", "城区" stay whole).
const SUFFIXES: &[&str] = &[
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "新区",
    "地区",
    "林区",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
];

/// Peoples named in autonomous areas' names ("恩施土家族苗族自治州" is "恩施"), each before
/// "族"; "各" for "龙胜各族自治县".
const PEOPLES: &[&str] = &[
    "柯尔克孜",
    "乌孜别克",
    "维吾尔",
    "哈萨克",
    "达斡尔",
    "塔吉克",
    "鄂温克",
    "鄂伦春",
    "塔塔尔",
    "俄罗斯",
    "蒙古",
    "布依",
    "朝鲜",
    "土家",
    "哈尼",
    "傈僳",
    "拉祜",
    "东乡",
    "纳西",
    "景颇",
    "仫佬",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "德昂",
    "保安",
    "裕固",
    "独龙",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
    "高山",
    "回",
    "藏",
    "苗",
    "彝",
    "壮",
    "满",
    "侗",
    "瑶",
    "白",
    "傣",
    "黎",
    "佤",
    "畲",
    "水",
    "土",
    "羌",
    "怒",
    "京",
    "各",
];

fn long_enough(s: &str) -> bool {
    s.chars().nth(1).is_some()
}

/// The name without its administrative suffix and the peoples of an autonomous area:
/// "上海市" → "上海", "浦东新区" → "浦东", "内蒙古自治区" → "内蒙古", "广西壮族自治区" → "广西".
pub fn short_name(name: &str) -> &str {
    let mut s = name.trim();
    for suffix in SUFFIXES {
        if let Some(rest) = s.strip_suffix(suffix)
            && long_enough(rest)
        {
            s = rest;
            break;
        }
    }
    // "新疆维吾尔自治区" names its people without "族".
    if let Some(rest) = s.strip_suffix("维吾尔").filter(|r| long_enough(r)) {
        return rest;
    }
    'peoples: while let Some(rest) = s.strip_suffix('族') {
        for people in PEOPLES {
            if let Some(rest) = rest.strip_suffix(people)
                && long_enough(rest)
            {
                s = rest;
                continue 'peoples;
            }
        }
        break;
    }
    s
}

/// The first 6 digits of a code written in 6, 9 or 12 digits.
fn code6(adcode: &str) -> Option<u32> {
    let code = adcode.trim();
    if !matches!(code.len(), 6 | 9 | 12) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code[..6].parse().ok()
}

fn level_of(code6: u32) -> Level {
    if !code6.is_multiple_of(100) {
        Level::District
    } else if !code6.is_multiple_of(10_000) {
        Level::City
    } else {
        Level::Province
    }
}

/// A name as typed: `None` when absent or blank.
fn given(name: Option<&str>) -> Option<&str> {
    name.map(str::trim).filter(|s| !s.is_empty())
}

impl Regions {
    /// The embedded table, parsed once per process.
    pub fn get() -> &'static Regions {
        static REGIONS: OnceLock<Regions> = OnceLock::new();
        REGIONS.get_or_init(|| Regions::parse(ADCODES_CSV))
    }

    fn parse(csv: &str) -> Regions {
        struct Row<'a> {
            code: &'a str,
            code6: u32,
            name: &'a str,
            at: Option<(f64, f64)>,
        }
        let mut rows: Vec<Row> = csv
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut f = line.split(',');
                let (code, name) = (f.next()?.trim(), f.next()?.trim());
                let (lon, lat) = (f.next(), f.next());
                let at = match (
                    lat.and_then(|s| s.trim().parse::<f64>().ok()),
                    lon.and_then(|s| s.trim().parse::<f64>().ok()),
                ) {
                    (Some(lat), Some(lon)) if lat.is_finite() && lon.is_finite() => {
                        Some((lat, lon))
                    }
                    _ => None,
                };
                // Below districts the table has nothing; a district's "市辖区" groups nothing.
                if code.len() != 12 || &code[6..] != "000000" || name.is_empty() {
                    return None;
                }
                let code6 = code6(code)?;
                if level_of(code6) == Level::District && name == "市辖区" {
                    return None;
                }
                Some(Row {
                    code,
                    code6,
                    name,
                    at,
                })
            })
            .collect();
        // Provinces before their cities before their districts.
        rows.sort_by_key(|r| r.code6);

        let mut regions = Regions {
            areas: Vec::with_capacity(rows.len()),
            by_code: HashMap::with_capacity(rows.len()),
            provinces: HashMap::new(),
            cities: HashMap::new(),
            districts: HashMap::new(),
        };
        for row in rows {
            let level = level_of(row.code6);
            let index = regions.areas.len() as u32;
            let province = match level {
                Level::Province => Some(index),
                _ => regions.by_code.get(&(row.code6 / 10_000 * 10_000)).copied(),
            };
            let city = match level {
                Level::Province => None,
                Level::City => Some(index),
                Level::District => regions.by_code.get(&(row.code6 / 100 * 100)).copied(),
            };
            let Some(province) = province else { continue };
            let placeholder = level == Level::City
                && (matches!(row.name, "市辖区" | "县") || row.name.ends_with("直辖县级行政区划"));
            regions.areas.push(Area {
                code: row.code.into(),
                level,
                name: row.name.into(),
                at: row.at,
                province,
                city,
                placeholder,
            });
            regions.by_code.insert(row.code6, index);
        }
        for index in 0..regions.areas.len() as u32 {
            let area = &regions.areas[index as usize];
            let Some(name) = regions.display(area) else {
                continue;
            };
            let short = short_name(name);
            let mut keys = vec![name, short];
            let alias = name
                .ends_with("自治州")
                .then(|| format!("{short}州"))
                .filter(|_| short != name);
            if let Some(alias) = &alias {
                keys.push(alias);
            }
            keys.dedup();
            let keys: Vec<Box<str>> = keys.into_iter().map(Box::from).collect();
            let map = match area.level {
                Level::Province => &mut regions.provinces,
                Level::City => &mut regions.cities,
                Level::District => &mut regions.districts,
            };
            for key in keys {
                let entry = map.entry(key).or_default();
                if !entry.contains(&index) {
                    entry.push(index);
                }
            }
        }
        regions
    }

    /// The name an area goes by: a municipality's placeholder cities by the municipality's
    /// name, a province's group of directly administered places by none.
    fn display<'a>(&'a self, area: &'a Area) -> Option<&'a str> {
        if !area.placeholder {
            Some(&area.name)
        } else if matches!(&*area.name, "市辖区" | "县") {
            Some(&self.areas[area.province as usize].name)
        } else {
            None
        }
    }

    /// Every district, ordered by code.
    pub fn districts(&self) -> impl Iterator<Item = District<'_>> {
        self.areas
            .iter()
            .filter(|a| a.level == Level::District)
            .map(|a| District {
                adcode: &a.code,
                province: &self.areas[a.province as usize].name,
                city: a.city.and_then(|c| self.display(&self.areas[c as usize])),
                district: &a.name,
                at: a.at,
            })
    }

    /// The names of the province, city and district a code (6, 9 or 12 digits) stands for,
    /// as far as it goes down: "310115" → ("上海市", Some("上海市"), Some("浦东新区")). A
    /// directly administered county-level city has no city. `None` for a code not in the
    /// table.
    pub fn place(&self, adcode: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
        let area = &self.areas[*self.by_code.get(&code6(adcode)?)? as usize];
        let province: &str = &self.areas[area.province as usize].name;
        Some(match area.level {
            Level::Province => (province, None, None),
            Level::City => (province, self.display(area), None),
            Level::District => (
                province,
                area.city
                    .and_then(|c| self.display(&self.areas[c as usize])),
                Some(&area.name),
            ),
        })
    }

    /// Where a place is: by its code when the code is in the table (a district without
    /// coordinates, or missing from the table, falls back to its city, then its province),
    /// else by its names. Names may be written with or without their suffix ("上海"/"上海市",
    /// "浦东"/"浦东新区", "内蒙古"/"内蒙古自治区"). A district is found within the city and
    /// province given; without them, only when its name is unique ("朝阳区" alone is in
    /// Beijing and in Changchun: not found). Failing the district, the city; failing that,
    /// the province. When the code only reaches a city or province, names that find a place
    /// within it more precisely are used.
    pub fn locate(
        &self,
        adcode: Option<&str>,
        province: Option<&str>,
        city: Option<&str>,
        district: Option<&str>,
    ) -> Option<Located> {
        let by_code = adcode.and_then(|c| self.by_code(c));
        let found = match by_code {
            Some(i) if self.areas[i as usize].level == Level::District => Some(i),
            Some(i) => {
                let prefix = self.prefix(i);
                match self.by_names(province, city, district) {
                    Some(j)
                        if self.areas[j as usize].level < self.areas[i as usize].level
                            && self.areas[j as usize].code.starts_with(prefix) =>
                    {
                        Some(j)
                    }
                    _ => Some(i),
                }
            }
            None => self.by_names(province, city, district),
        }?;
        let area = &self.areas[found as usize];
        let (lat, lon) = area.at?;
        Some(Located {
            lat,
            lon,
            level: area.level,
            name: self.display(area).unwrap_or(&area.name).to_string(),
        })
    }

    /// The code's significant digits: "31" for a province, "3101" for a city.
    fn prefix(&self, index: u32) -> &str {
        let area = &self.areas[index as usize];
        match area.level {
            Level::Province => &area.code[..2],
            Level::City => &area.code[..4],
            Level::District => &area.code[..6],
        }
    }

    /// The finest area with coordinates a code reaches.
    fn by_code(&self, adcode: &str) -> Option<u32> {
        let code = code6(adcode)?;
        let mut tries = [
            Some(code),
            Some(code / 100 * 100),
            Some(code / 10_000 * 10_000),
        ];
        match level_of(code) {
            Level::District => {}
            Level::City => tries[0] = None,
            Level::Province => (tries[0], tries[1]) = (None, None),
        }
        tries
            .into_iter()
            .flatten()
            .filter_map(|c| self.by_code.get(&c).copied())
            .find(|&i| self.areas[i as usize].at.is_some())
    }

    /// Indexes of the areas of one level a typed name may mean: the name as typed, else its
    /// short form.
    fn named<'a>(map: &'a HashMap<Box<str>, Vec<u32>>, name: &str) -> &'a [u32] {
        map.get(name)
            .or_else(|| map.get(short_name(name)))
            .map_or(&[], Vec::as_slice)
    }

    /// The finest area with coordinates the names find unambiguously.
    fn by_names(
        &self,
        province: Option<&str>,
        city: Option<&str>,
        district: Option<&str>,
    ) -> Option<u32> {
        let (province, city, district) = (given(province), given(city), given(district));
        let with_coords = |i: &u32| self.areas[*i as usize].at.is_some();
        let provinces = province.map_or(&[][..], |p| Self::named(&self.provinces, p));
        let in_province =
            |i: u32| provinces.is_empty() || provinces.contains(&self.areas[i as usize].province);
        // A city within the province (when one was found), or none.
        let cities: Vec<u32> = city
            .map(|c| {
                Self::named(&self.cities, c)
                    .iter()
                    .copied()
                    .filter(|&i| in_province(i))
                    .collect()
            })
            .unwrap_or_default();

        // Districts matching the name within the city and province found; as typed first,
        // then by short form ("朝阳市 朝阳区" finds 朝阳县 when no 朝阳区 is there).
        let districts_named = |name: &str| -> Vec<u32> {
            let within = |list: &[u32]| -> Vec<u32> {
                list.iter()
                    .copied()
                    .filter(|&i| in_province(i))
                    .filter(|&i| {
                        cities.is_empty()
                            || self.areas[i as usize]
                                .city
                                .is_some_and(|c| cities.contains(&c))
                    })
                    .collect()
            };
            let exact = within(self.districts.get(name).map_or(&[], Vec::as_slice));
            if !exact.is_empty() {
                return exact;
            }
            within(
                self.districts
                    .get(short_name(name))
                    .map_or(&[], Vec::as_slice),
            )
        };
        // A name given but not found does not narrow the search. Only one district may match:
        // a name shared by several places needs the city or province that tells them apart.
        let unique = |found: Vec<u32>| match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        };

        if let Some(i) = district.and_then(|d| unique(districts_named(d))) {
            if with_coords(&i) {
                return Some(i);
            }
            // A district without coordinates: its city's, else its province's.
            let area = &self.areas[i as usize];
            return area
                .city
                .filter(with_coords)
                .or(Some(area.province).filter(with_coords));
        }
        if let Some(c) = city {
            // A municipality's placeholder cities ("市辖区", "县") share its name: any of
            // them that has coordinates.
            let same_province = cities.first().is_some_and(|&f| {
                cities
                    .iter()
                    .all(|&i| self.areas[i as usize].province == self.areas[f as usize].province)
            });
            let found = match cities.as_slice() {
                [one] => Some(*one),
                [_, ..]
                    if same_province
                        && cities.iter().all(|&i| self.areas[i as usize].placeholder) =>
                {
                    cities.iter().copied().find(with_coords)
                }
                _ => None,
            };
            if let Some(i) = found.filter(with_coords) {
                return Some(i);
            }
            if cities.is_empty() && district.is_none() {
                // A county-level city the province administers directly ("仙桃市") is a
                // district of the table.
                if let Some(i) = unique(districts_named(c)).filter(with_coords) {
                    return Some(i);
                }
            }
        }
        match provinces {
            [one] => Some(*one).filter(with_coords),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: Option<&str>, c: Option<&str>, d: Option<&str>) -> Option<(Level, String)> {
        Regions::get()
            .locate(None, p, c, d)
            .map(|l| (l.level, l.name))
    }

    #[test]
    fn short_names() {
        for (full, short) in [
            ("上海市", "上海"),
            ("浦东新区", "浦东"),
            ("广东省", "广东"),
            ("内蒙古自治区", "内蒙古"),
            ("广西壮族自治区", "广西"),
            ("新疆维吾尔自治区", "新疆"),
            ("香港特别行政区", "香港"),
            ("恩施土家族苗族自治州", "恩施"),
            ("本溪满族自治县", "本溪"),
            ("龙胜各族自治县", "龙胜"),
            ("阿拉善盟", "阿拉善"),
            ("阿里地区", "阿里"),
            ("矿区", "矿区"),
            ("沙市区", "沙市"),
            ("杭州", "杭州"),
        ] {
            assert_eq!(short_name(full), short, "{full}");
        }
    }

    #[test]
    fn distance_is_haversine_on_the_mean_radius() {
        let d = distance_km((31.23, 121.47), (39.90, 116.41));
        assert!((1060.0..1075.0).contains(&d), "{d}");
        assert_eq!(distance_km((31.0, 121.0), (31.0, 121.0)), 0.0);
        // A quarter of a meridian.
        let q = distance_km((0.0, 0.0), (90.0, 0.0));
        assert!(
            (q - EARTH_RADIUS_KM * std::f64::consts::FRAC_PI_2).abs() < 1e-6,
            "{q}"
        );
        // Antipodes: half the circumference, not NaN.
        let h = distance_km((0.0, 0.0), (0.0, 180.0));
        assert!(
            (h - EARTH_RADIUS_KM * std::f64::consts::PI).abs() < 1e-6,
            "{h}"
        );
        // Symmetric.
        let (a, b) = ((22.54, 114.06), (45.80, 126.53));
        assert!((distance_km(a, b) - distance_km(b, a)).abs() < 1e-9);
    }

    #[test]
    fn locates_by_code_in_both_forms() {
        let r = Regions::get();
        let pudong = r.locate(Some("310115000000"), None, None, None).unwrap();
        assert_eq!(
            (pudong.level, pudong.name.as_str()),
            (Level::District, "浦东新区")
        );
        assert!((pudong.lat - 31.221517).abs() < 1e-9 && (pudong.lon - 121.544379).abs() < 1e-9);
        assert_eq!(
            r.locate(Some(" 310115 "), None, None, None),
            Some(pudong.clone())
        );
        // A township's code: its district.
        assert_eq!(
            r.locate(Some("310115005000"), None, None, None),
            Some(pudong)
        );
        let sz = r.locate(Some("440300"), None, None, None).unwrap();
        assert_eq!((sz.level, sz.name.as_str()), (Level::City, "深圳市"));
        let gd = r.locate(Some("440000000000"), None, None, None).unwrap();
        assert_eq!((gd.level, gd.name.as_str()), (Level::Province, "广东省"));
        assert_eq!(r.locate(Some("31011"), None, None, None), None);
        assert_eq!(r.locate(Some("abcdef"), None, None, None), None);
    }

    #[test]
    fn a_code_without_coordinates_falls_back_to_its_city_then_province() {
        let r = Regions::get();
        // 金明区 (Kaifeng) has no coordinates in the table.
        let l = r.locate(Some("410211"), None, None, None).unwrap();
        assert_eq!((l.level, l.name.as_str()), (Level::City, "开封市"));
        // A district code the table does not know: its city.
        let l = r.locate(Some("440399"), None, None, None).unwrap();
        assert_eq!((l.level, l.name.as_str()), (Level::City, "深圳市"));
        // The group of Hainan's directly administered places has none: the province.
        let l = r.locate(Some("469000"), None, None, None).unwrap();
        assert_eq!((l.level, l.name.as_str()), (Level::Province, "海南省"));
        // A municipality's placeholder city goes by the municipality's name.
        let l = r.locate(Some("310100"), None, None, None).unwrap();
        assert_eq!((l.level, l.name.as_str()), (Level::City, "上海市"));
    }

    #[test]
    fn an_unknown_code_falls_back_to_the_names_and_a_coarse_one_is_refined_by_them() {
        let r = Regions::get();
        let l = r
            .locate(Some("990000"), Some("上海"), None, Some("浦东"))
            .unwrap();
        assert_eq!(l.name, "浦东新区");
        let l = r.locate(Some("310000"), None, None, Some("浦东")).unwrap();
        assert_eq!((l.level, l.name.as_str()), (Level::District, "浦东新区"));
        // Names elsewhere do not override the code.
        let l = r
            .locate(Some("440000"), Some("上海"), None, Some("浦东"))
            .unwrap();
        assert_eq!(l.name, "广东省");
    }

    #[test]
    fn locates_by_names_with_or_without_suffixes() {
        let pudong = Some((Level::District, "浦东新区".to_string()));
        assert_eq!(names(Some("上海"), None, Some("浦东")), pudong);
        assert_eq!(
            names(Some("上海市"), Some("上海市"), Some("浦东新区")),
            pudong
        );
        assert_eq!(names(None, Some("上海"), Some("浦东新区")), pudong);
        assert_eq!(names(None, None, Some("浦东新区")), pudong);
        assert_eq!(names(None, None, Some(" 浦东 ")), pudong);
        assert_eq!(
            names(Some("广东"), Some("深圳"), Some("南山")),
            Some((Level::District, "南山区".into()))
        );
        assert_eq!(
            names(Some("内蒙古"), Some("呼和浩特"), None),
            Some((Level::City, "呼和浩特市".into()))
        );
        assert_eq!(
            names(Some("内蒙古自治区"), None, None),
            Some((Level::Province, "内蒙古自治区".into()))
        );
        assert_eq!(
            names(Some("广东省"), Some(""), Some("  ")),
            Some((Level::Province, "广东省".into()))
        );
        assert_eq!(
            names(Some("湖北"), Some("恩施州"), None),
            Some((Level::City, "恩施土家族苗族自治州".into()))
        );
        // Chongqing's counties sit under a "县" placeholder city.
        assert_eq!(
            names(Some("重庆"), Some("重庆"), Some("忠县")),
            Some((Level::District, "忠县".into()))
        );
        assert_eq!(
            names(None, Some("重庆市"), None),
            Some((Level::City, "重庆市".into()))
        );
        // A county-level city the province administers directly, typed as the city.
        assert_eq!(
            names(Some("湖北"), Some("仙桃市"), None),
            Some((Level::District, "仙桃市".into()))
        );
        assert_eq!(names(None, None, None), None);
        assert_eq!(names(Some("火星"), None, None), None);
    }

    #[test]
    fn a_district_name_shared_by_several_places_needs_its_city_or_province() {
        // 朝阳区 is in Beijing and in Changchun.
        assert_eq!(names(None, None, Some("朝阳区")), None);
        assert_eq!(names(None, None, Some("朝阳")), None);
        let bj = names(Some("北京"), None, Some("朝阳区")).unwrap();
        let cc = names(Some("吉林"), Some("长春"), Some("朝阳")).unwrap();
        assert_eq!(bj, (Level::District, "朝阳区".into()));
        assert_eq!(cc, (Level::District, "朝阳区".into()));
        let r = Regions::get();
        let bj = r
            .locate(None, None, Some("北京市"), Some("朝阳区"))
            .unwrap();
        let cc = r
            .locate(None, None, Some("长春市"), Some("朝阳区"))
            .unwrap();
        assert!(distance_km((bj.lat, bj.lon), (cc.lat, cc.lon)) > 800.0);
        // 鼓楼区 is in four cities; Fujian has one.
        assert_eq!(names(None, None, Some("鼓楼区")), None);
        let fz = r.locate(None, Some("福建"), None, Some("鼓楼区")).unwrap();
        assert!((fz.lat - 26.081983).abs() < 1e-9);
        // A district not in the city given: the city.
        assert_eq!(
            names(Some("广东"), Some("广州"), Some("浦东")),
            Some((Level::City, "广州市".into()))
        );
        // An unknown district and city: the province.
        assert_eq!(
            names(Some("北京"), Some("不存在"), Some("不存在区")),
            Some((Level::Province, "北京市".into()))
        );
    }

    #[test]
    fn a_named_district_without_coordinates_takes_its_citys() {
        assert_eq!(
            names(Some("河南"), Some("开封"), Some("金明区")),
            Some((Level::City, "开封市".into()))
        );
    }

    #[test]
    fn places_name_a_codes_province_city_and_district() {
        let r = Regions::get();
        assert_eq!(
            r.place("310115"),
            Some(("上海市", Some("上海市"), Some("浦东新区")))
        );
        assert_eq!(
            r.place("440305000000"),
            Some(("广东省", Some("深圳市"), Some("南山区")))
        );
        assert_eq!(r.place("440300"), Some(("广东省", Some("深圳市"), None)));
        assert_eq!(r.place("440000"), Some(("广东省", None, None)));
        assert_eq!(r.place("469002"), Some(("海南省", None, Some("琼海市"))));
        assert_eq!(r.place("440399"), None);
    }

    #[test]
    fn every_district_with_coordinates_is_found_by_its_names_and_its_code() {
        let r = Regions::get();
        let mut n = 0;
        for d in r.districts() {
            let Some((lat, lon)) = d.at else { continue };
            n += 1;
            let l = r.locate(Some(d.adcode), None, None, None).unwrap();
            assert_eq!(
                (l.level, l.lat, l.lon),
                (Level::District, lat, lon),
                "{d:?}"
            );
            let l = r
                .locate(None, Some(d.province), d.city, Some(d.district))
                .unwrap_or_else(|| panic!("{d:?}"));
            assert_eq!(l.level, Level::District, "{d:?}");
            assert_eq!((l.lat, l.lon), (lat, lon), "{d:?}");
        }
        assert!(n > 2800, "{n}");
    }
}
