//! China's administrative divisions with coordinates (the `cpca` data set, MIT licence, see
//! crates/domain/data/cn-regions/LICENSE, embedded as `guanxi_domain::geo::ADCODES_CSV`), for
//! placing demo customers and partners.

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Place {
    pub province: String,
    pub city: String,
    pub district: String,
    pub adcode: String,
    pub lat: f64,
    pub lon: f64,
}

pub struct Regions {
    pub districts: Vec<Place>,
    /// Indexes into `districts` of the big business centres, drawn more often.
    hubs: Vec<usize>,
}

const HUB_CITIES: &[&str] = &[
    "4403", "3101", "1101", "4401", "3301", "3201", "5101", "4201", "3205", "5001",
];

impl Regions {
    /// The embedded data set, parsed once per process.
    pub fn get() -> &'static Regions {
        static REGIONS: std::sync::OnceLock<Regions> = std::sync::OnceLock::new();
        REGIONS.get_or_init(Regions::load)
    }

    fn load() -> Regions {
        let csv = guanxi_domain::geo::ADCODES_CSV;
        let mut provinces = std::collections::HashMap::new();
        let mut cities = std::collections::HashMap::new();
        let mut rows = vec![];
        for line in csv.lines().skip(1) {
            let mut f = line.split(',');
            let (Some(code), Some(name), lon, lat) = (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            let coords = match (
                lat.and_then(|s| s.parse().ok()),
                lon.and_then(|s| s.parse().ok()),
            ) {
                (Some(lat), Some(lon)) => Some((lat, lon)),
                _ => None,
            };
            if code.len() != 12 {
                continue;
            }
            if &code[2..] == "0000000000" {
                provinces.insert(code[..2].to_string(), name.to_string());
            } else if &code[4..] == "00000000" {
                cities.insert(code[..4].to_string(), (name.to_string(), coords));
            } else if &code[6..] == "000000" && name != "市辖区" {
                rows.push((code.to_string(), name.to_string(), coords));
            }
        }
        let mut districts = vec![];
        for (code, name, coords) in rows {
            let Some(province) = provinces.get(&code[..2]) else {
                continue;
            };
            let (city, city_coords) = match cities.get(&code[..4]) {
                // Municipalities list their districts under a "市辖区" placeholder city.
                Some((c, cc)) if c != "市辖区" && c != "县" => (c.clone(), *cc),
                Some((_, cc)) => (province.clone(), *cc),
                None => (province.clone(), None),
            };
            let Some((lat, lon)) = coords.or(city_coords) else {
                continue;
            };
            districts.push(Place {
                province: province.clone(),
                city,
                district: name,
                adcode: code,
                lat,
                lon,
            });
        }
        districts.sort_by(|a, b| a.adcode.cmp(&b.adcode));
        let hubs = districts
            .iter()
            .enumerate()
            .filter(|(_, p)| HUB_CITIES.contains(&&p.adcode[..4]))
            .map(|(i, _)| i)
            .collect();
        Regions { districts, hubs }
    }

    /// A district: two in five from the big business centres, the rest from anywhere.
    pub fn pick(&self, rng: &mut impl Rng) -> &Place {
        if !self.hubs.is_empty() && rng.random_bool(0.4) {
            &self.districts[self.hubs[rng.random_range(0..self.hubs.len())]]
        } else {
            &self.districts[rng.random_range(0..self.districts.len())]
        }
    }
}

/// Great-circle distance in kilometres.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_districts_with_provinces_cities_and_coordinates() {
        let r = Regions::get();
        assert!(r.districts.len() > 2500, "{}", r.districts.len());
        let hongkou = r
            .districts
            .iter()
            .find(|p| p.adcode == "310109000000")
            .unwrap();
        assert_eq!(
            (
                hongkou.province.as_str(),
                hongkou.city.as_str(),
                hongkou.district.as_str()
            ),
            ("上海市", "上海市", "虹口区")
        );
        let nanshan = r
            .districts
            .iter()
            .find(|p| p.adcode == "440305000000")
            .unwrap();
        assert_eq!(
            (nanshan.province.as_str(), nanshan.city.as_str()),
            ("广东省", "深圳市")
        );
        assert!(!r.hubs.is_empty());
    }

    #[test]
    fn distance_shanghai_beijing() {
        let d = distance_km(31.23, 121.47, 39.90, 116.41);
        assert!((1000.0..1100.0).contains(&d), "{d}");
    }
}
