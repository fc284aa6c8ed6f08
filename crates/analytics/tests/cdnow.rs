//! The models against the published CDNOW figures (data in ../shared/data/cdnow, see its
//! README.md): the 2,357-customer sample over a 39-week calibration ending 1997-09-30.
//!
//! Parameter tolerance: the published figures are rounded to 3 decimals (2 for
//! Gamma-Gamma), so a correct optimum lies within half a unit of the last digit, plus
//! 0.1% of the value where that is larger (as the issue asks): ±max(0.0015, 0.1%) for
//! BG/NBD, ±max(0.015, 0.1%) for Gamma-Gamma, whose published γ = 15.44 is truncated
//! (the optimum is 15.447…).

use std::collections::HashMap;

use chrono::NaiveDate;
use guanxi_analytics::Transaction;
use guanxi_analytics::btyd::{
    BgNbd, GammaGamma, MbgNbd, ParetoNbd, Period, Summary, clv, summarise,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/cdnow/");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{DIR}{name}: {e}"))
}

/// Rows of a CSV with a header, as numbers.
fn csv(name: &str) -> Vec<Vec<f64>> {
    read(name)
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|f| f.trim().parse().unwrap()).collect())
        .collect()
}

fn summary_file() -> Vec<(u64, Summary)> {
    csv("cdnow_customers_summary.csv")
        .into_iter()
        .map(|r| (r[0] as u64, Summary::new(r[1] as u32, r[2], r[3])))
        .collect()
}

fn assert_param(name: &str, got: f64, published: f64, half_unit: f64) {
    let tol = half_unit.max(published * 1e-3);
    assert!(
        (got - published).abs() <= tol,
        "{name}: got {got}, published {published} ± {tol}"
    );
}

#[test]
fn bgnbd_reproduces_fader_hardie_lee_2005() {
    let data: Vec<Summary> = summary_file().into_iter().map(|r| r.1).collect();
    assert_eq!(data.len(), 2357);
    let fit = BgNbd::fit(&data).unwrap();
    let p = fit.params;
    eprintln!(
        "BG/NBD r={:.6} alpha={:.6} a={:.6} b={:.6} LL={:.4} ({} evaluations)",
        p.r, p.alpha, p.a, p.b, fit.log_likelihood, fit.evaluations
    );
    assert_param("r", p.r, 0.243, 0.0015);
    assert_param("alpha", p.alpha, 4.414, 0.0015);
    assert_param("a", p.a, 0.793, 0.0015);
    assert_param("b", p.b, 2.426, 0.0015);
    assert!(
        (fit.log_likelihood - -9582.4).abs() <= 0.1,
        "LL {}",
        fit.log_likelihood
    );

    // FHL 2005: a customer with x = 2, tₓ = 30.43, T = 38.86 is expected to make 1.226
    // purchases in the next 39 weeks (also the check in Hardie's spreadsheet and `lifetimes`).
    let e = p.expected_purchases(&Summary::new(2, 30.43, 38.86), 39.0);
    assert!((e - 1.226).abs() < 0.0005, "E[Y(39)] = {e}");

    // A true optimum: no nearby point, one parameter moved by ±0.1% or ±0.01%, is better.
    let ll = fit.log_likelihood;
    for rel in [1e-3, 1e-4] {
        for sign in [-1.0, 1.0] {
            let f = 1.0 + sign * rel;
            for q in [
                BgNbd { r: p.r * f, ..p },
                BgNbd {
                    alpha: p.alpha * f,
                    ..p
                },
                BgNbd { a: p.a * f, ..p },
                BgNbd { b: p.b * f, ..p },
            ] {
                assert!(q.log_likelihood(&data) <= ll + 1e-9, "{q:?} beats the fit");
            }
        }
    }
}

/// Pareto/NBD (Fader, Hardie & Lee 2005): r 0.553, α 10.578, s 0.606, β 11.669, LL −9595.0.
#[test]
fn pareto_nbd_reproduces_the_published_fit() {
    let data: Vec<Summary> = summary_file().into_iter().map(|r| r.1).collect();
    let fit = ParetoNbd::fit(&data).unwrap();
    let p = fit.params;
    eprintln!(
        "Pareto/NBD r={:.6} alpha={:.6} s={:.6} beta={:.6} LL={:.4} ({} evaluations)",
        p.r, p.alpha, p.s, p.beta, fit.log_likelihood, fit.evaluations
    );
    assert_param("r", p.r, 0.553, 0.0015);
    assert_param("alpha", p.alpha, 10.578, 0.0015);
    assert_param("s", p.s, 0.606, 0.0015);
    assert_param("beta", p.beta, 11.669, 0.0015);
    assert!(
        (fit.log_likelihood - -9595.0).abs() <= 0.1,
        "LL {}",
        fit.log_likelihood
    );
    let ll = fit.log_likelihood;
    for rel in [1e-3, 1e-4] {
        for sign in [-1.0, 1.0] {
            let f = 1.0 + sign * rel;
            for q in [
                ParetoNbd { r: p.r * f, ..p },
                ParetoNbd {
                    alpha: p.alpha * f,
                    ..p
                },
                ParetoNbd { s: p.s * f, ..p },
                ParetoNbd {
                    beta: p.beta * f,
                    ..p
                },
            ] {
                assert!(q.log_likelihood(&data) <= ll + 1e-9, "{q:?} beats the fit");
            }
        }
    }
}

/// MBG/NBD on the same data: r 0.525, α 6.183, a 0.891, b 1.614 (the figures the issue
/// and the data's README give; no log-likelihood is published for it).
#[test]
fn mbgnbd_reproduces_the_published_fit() {
    let data: Vec<Summary> = summary_file().into_iter().map(|r| r.1).collect();
    let fit = MbgNbd::fit(&data).unwrap();
    let p = fit.params;
    eprintln!(
        "MBG/NBD r={:.6} alpha={:.6} a={:.6} b={:.6} LL={:.4} ({} evaluations)",
        p.r, p.alpha, p.a, p.b, fit.log_likelihood, fit.evaluations
    );
    assert_param("r", p.r, 0.525, 0.0015);
    assert_param("alpha", p.alpha, 6.183, 0.0015);
    assert_param("a", p.a, 0.891, 0.0015);
    assert_param("b", p.b, 1.614, 0.0015);
    let ll = fit.log_likelihood;
    for rel in [1e-3, 1e-4] {
        for sign in [-1.0, 1.0] {
            let f = 1.0 + sign * rel;
            for q in [
                MbgNbd { r: p.r * f, ..p },
                MbgNbd {
                    alpha: p.alpha * f,
                    ..p
                },
                MbgNbd { a: p.a * f, ..p },
                MbgNbd { b: p.b * f, ..p },
            ] {
                assert!(q.log_likelihood(&data) <= ll + 1e-9, "{q:?} beats the fit");
            }
        }
    }
}

/// Sample transactions: `master_id sample_id yyyymmdd cds dollars`; the summary files use
/// the sample id. Dollars become cents.
fn sample_transactions() -> Vec<Transaction<u64>> {
    read("CDNOW_sample.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let date = NaiveDate::parse_from_str(f[2], "%Y%m%d").unwrap();
            let cents = (f[4].parse::<f64>().unwrap() * 100.0).round() as i64;
            Transaction::new(f[1].parse().unwrap(), date, cents)
        })
        .collect()
}

#[test]
fn summary_from_the_sample_log_matches_the_summary_files() {
    let tx = sample_transactions();
    assert_eq!(tx.len(), 6919);
    let end = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let ours: HashMap<u64, _> = summarise(&tx, end, Period::Week)
        .into_iter()
        .map(|c| (c.customer, c))
        .collect();
    let file = csv("cdnow_customers_summary_with_transactions.csv");
    assert_eq!(ours.len(), 2357);
    assert_eq!(file.len(), 2357);
    // The files round to 2 decimals.
    let close = |a: f64, b: f64| (a - b).abs() <= 0.005 + 1e-9;
    for (id, s) in summary_file() {
        let c = &ours[&id];
        assert_eq!(c.summary.frequency, s.frequency, "customer {id}");
        assert!(
            close(c.summary.recency, s.recency),
            "customer {id}: t_x {} vs {}",
            c.summary.recency,
            s.recency
        );
        assert!(
            close(c.summary.age, s.age),
            "customer {id}: T {} vs {}",
            c.summary.age,
            s.age
        );
    }
    for r in file {
        let c = &ours[&(r[0] as u64)];
        assert_eq!(c.summary.frequency, r[1] as u32);
        assert!(
            close(c.mean_repeat_spend / 100.0, r[4]),
            "customer {}: zbar {} vs {}",
            r[0],
            c.mean_repeat_spend / 100.0,
            r[4]
        );
    }
}

#[test]
fn gamma_gamma_reproduces_fader_hardie_2013() {
    let data: Vec<(u32, f64)> = csv("cdnow_customers_summary_with_transactions.csv")
        .into_iter()
        .map(|r| (r[1] as u32, r[4]))
        .collect();
    assert_eq!(data.iter().filter(|d| d.0 > 0).count(), 946);
    let fit = GammaGamma::fit(&data).unwrap();
    let p = fit.params;
    eprintln!(
        "Gamma-Gamma p={:.6} q={:.6} gamma={:.6} LL={:.4} ({} evaluations)",
        p.p, p.q, p.gamma, fit.log_likelihood, fit.evaluations
    );
    assert_param("p", p.p, 6.25, 0.015);
    assert_param("q", p.q, 3.74, 0.015);
    assert_param("gamma", p.gamma, 15.44, 0.015);

    let repeat: Vec<(u32, f64)> = data.into_iter().filter(|d| d.0 > 0).collect();
    let ll = p.log_likelihood(&repeat);
    for rel in [1e-3, 1e-4] {
        for sign in [-1.0, 1.0] {
            let f = 1.0 + sign * rel;
            for q in [
                GammaGamma { p: p.p * f, ..p },
                GammaGamma { q: p.q * f, ..p },
                GammaGamma {
                    gamma: p.gamma * f,
                    ..p
                },
            ] {
                assert!(
                    q.log_likelihood(&repeat) <= ll + 1e-9,
                    "{q:?} beats the fit"
                );
            }
        }
    }
}

/// The CLV figures printed in the `lifetimes` quickstart (12 months at 1% a month on the
/// CDNOW summary with BG/NBD and Gamma-Gamma fitted as above). Its `customer_lifetime_value`
/// defaults to `freq="D"`, i.e. 30 periods a month, even though the data are in weeks: we
/// pass `Period::Day` to use the same convention. The last digits differ only by the two
/// optimisers' stopping points.
#[test]
fn clv_matches_the_lifetimes_package() {
    let rows = csv("cdnow_customers_summary_with_transactions.csv");
    let data: Vec<Summary> = rows
        .iter()
        .map(|r| Summary::new(r[1] as u32, r[2], r[3]))
        .collect();
    let bg = BgNbd::fit(&data).unwrap().params;
    let spend: Vec<(u32, f64)> = rows.iter().map(|r| (r[1] as u32, r[4])).collect();
    let gg = GammaGamma::fit(&spend).unwrap().params;
    for (id, published) in [
        (1, 140.096218),
        (2, 18.943466),
        (3, 38.180575),
        (6, 1003.868285),
        (7, 28.109681),
        (9, 167.418224),
    ] {
        let i = rows.iter().position(|r| r[0] as u64 == id).unwrap();
        let v = clv(&bg, &gg, &data[i], rows[i][4], Period::Day, 12, 0.01);
        assert!(
            ((v - published) / published).abs() < 1e-5,
            "customer {id}: {v} vs {published}"
        );
    }
}
