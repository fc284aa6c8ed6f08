//! `guanxi analytics fit | predict | rfm`: the customer analytics of `guanxi-analytics` on
//! CSV files, for analysts without a database. They read only the files named on the
//! command line (no config file, no database) and write JSON or CSV to standard output.
//!
//! - [`input`]: the transaction log and summary readers (errors name the file and line);
//! - [`output`]: the JSON documents and CSV tables.
//!
//! Money stays in the input's unit throughout: transaction amounts are read as integer
//! ten-thousandths (exact sums) and turned back into that unit before the spend model is
//! fitted, so its γ and every spend and lifetime value are in the file's currency.
//!
//! Stage timings go to the log at debug level (`GUANXI_LOG=guanxi=debug`), which the
//! benchmark against the Python `lifetimes` package reads (bench/lifetimes.sh).

pub mod input;
mod output;

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use guanxi_analytics::btyd::{
    self, BgNbd, Fit, GammaGamma, MbgNbd, ParetoNbd, Period, PurchaseModel, Summary,
};

use crate::config::{
    AnalyticsFitArgs, AnalyticsPredictArgs, AnalyticsRfmArgs, FitModel, ModelInput, OutputFormat,
    PeriodArg, PurchaseModelArg, SpendModel,
};
use output::{CustomerOut, FittedModel, ModelReport, Params, RfmOut, RfmReport};

/// The customers a model sees, from either kind of input.
struct Customers {
    /// The input file, for messages.
    file: String,
    ids: Vec<String>,
    summaries: Vec<Summary>,
    /// Mean spend of the repeat purchases, in the file's unit, when the input has it.
    mean_spend: Option<Vec<f64>>,
    /// Each customer's line in a summary file (`None` for a transaction log).
    lines: Option<Vec<u64>>,
    /// The unit of time, when known (always for a transaction log).
    period: Option<Period>,
}

impl Customers {
    /// Where customer `i` comes from, for an error message.
    fn whereabouts(&self, i: usize) -> String {
        match &self.lines {
            Some(lines) => format!("{}: line {}", self.file, lines[i]),
            None => format!("{}: customer {}", self.file, self.ids[i]),
        }
    }
}

fn period(p: PeriodArg) -> Period {
    match p {
        PeriodArg::Day => Period::Day,
        PeriodArg::Week => Period::Week,
        PeriodArg::Month => Period::Month,
    }
}

/// The whole file: the readers work on bytes in memory (a 2M-row log is about 50 MB).
fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn load(input: &ModelInput) -> anyhow::Result<Customers> {
    let start = Instant::now();
    if let Some(path) = &input.transactions {
        let (Some(end), Some(p)) = (input.calibration_end, input.period) else {
            bail!("--transactions needs --calibration-end DATE and --period day|week|month");
        };
        let file = path.display().to_string();
        let mut log = input::read_transactions(&read(path)?, &file)?;
        tracing::debug!(
            "read {} transactions of {} customers in {:.3} ms",
            log.rows.len(),
            log.ids.len(),
            ms(start)
        );
        let start = Instant::now();
        let period = period(p);
        let summaries = btyd::summarise(&log.rows, end, period);
        if summaries.is_empty() {
            bail!("{file}: no purchase on or before the calibration end {end}");
        }
        let mut ids = Vec::with_capacity(summaries.len());
        let mut mean_spend = Vec::with_capacity(summaries.len());
        let mut out = Vec::with_capacity(summaries.len());
        for c in summaries {
            ids.push(std::mem::take(&mut log.ids[c.customer as usize]));
            mean_spend.push(c.mean_repeat_spend / input::AMOUNT_SCALE);
            out.push(c.summary);
        }
        tracing::debug!("summarised {} customers in {:.3} ms", ids.len(), ms(start));
        Ok(Customers {
            file,
            ids,
            summaries: out,
            mean_spend: Some(mean_spend),
            lines: None,
            period: Some(period),
        })
    } else if let Some(path) = &input.summary {
        let file = path.display().to_string();
        let rows = input::read_summaries(&read(path)?, &file)?;
        if rows.is_empty() {
            bail!("{file}: no customers (only a header)");
        }
        tracing::debug!("read {} summaries in {:.3} ms", rows.len(), ms(start));
        let has_spend = rows.iter().all(|r| r.monetary_value.is_some());
        Ok(Customers {
            file,
            mean_spend: has_spend.then(|| {
                rows.iter()
                    .map(|r| r.monetary_value.unwrap_or(0.0))
                    .collect()
            }),
            lines: Some(rows.iter().map(|r| r.line).collect()),
            summaries: rows.iter().map(|r| r.summary).collect(),
            ids: rows.into_iter().map(|r| r.id).collect(),
            period: input.period.map(period),
        })
    } else {
        bail!("give the customers as --transactions FILE or --summary FILE")
    }
}

/// A fitted purchase model: what is printed, and the model to predict with.
type Purchase = (FittedModel, Box<dyn PurchaseModel + Sync>);

fn fitted<M>(model: &'static str, fit: Fit<M>, params: impl Fn(&M) -> Params) -> FittedModel {
    FittedModel {
        model,
        params: params(&fit.params),
        log_likelihood: fit.log_likelihood,
    }
}

fn fit_purchase(kind: PurchaseModelArg, c: &Customers) -> anyhow::Result<Purchase> {
    let start = Instant::now();
    let name = purchase_name(kind);
    let context = || {
        format!(
            "fitting {name} to the {} customers of {}",
            c.ids.len(),
            c.file
        )
    };
    let out: Purchase = match kind {
        PurchaseModelArg::Bgnbd => {
            let fit = BgNbd::fit(&c.summaries).with_context(context)?;
            let m = fit.params;
            let p =
                |m: &BgNbd| Params(vec![("r", m.r), ("alpha", m.alpha), ("a", m.a), ("b", m.b)]);
            (fitted(name, fit, p), Box::new(m))
        }
        PurchaseModelArg::ParetoNbd => {
            let fit = ParetoNbd::fit(&c.summaries).with_context(context)?;
            let m = fit.params;
            let p = |m: &ParetoNbd| {
                Params(vec![
                    ("r", m.r),
                    ("alpha", m.alpha),
                    ("s", m.s),
                    ("beta", m.beta),
                ])
            };
            (fitted(name, fit, p), Box::new(m))
        }
        PurchaseModelArg::Mbgnbd => {
            let fit = MbgNbd::fit(&c.summaries).with_context(context)?;
            let m = fit.params;
            let p =
                |m: &MbgNbd| Params(vec![("r", m.r), ("alpha", m.alpha), ("a", m.a), ("b", m.b)]);
            (fitted(name, fit, p), Box::new(m))
        }
    };
    tracing::debug!("fitted {name} in {:.3} ms", ms(start));
    Ok(out)
}

fn purchase_name(kind: PurchaseModelArg) -> &'static str {
    match kind {
        PurchaseModelArg::Bgnbd => "bgnbd",
        PurchaseModelArg::ParetoNbd => "pareto-nbd",
        PurchaseModelArg::Mbgnbd => "mbgnbd",
    }
}

/// The customers' mean repeat spend, or an error saying what is missing.
fn mean_spend(c: &Customers) -> anyhow::Result<&[f64]> {
    c.mean_spend.as_deref().with_context(|| {
        format!(
            "{}: gamma-gamma needs each customer's mean repeat spend: a monetary_value \
             column in the summary file (or use --transactions)",
            c.file
        )
    })
}

/// Gamma-Gamma on the customers with repeat purchases and a positive mean spend (the others
/// tell nothing about spend per purchase; the `lifetimes` package refuses non-positive
/// values, so its users filter them out the same way).
fn fit_spend(c: &Customers) -> anyhow::Result<(FittedModel, GammaGamma)> {
    let start = Instant::now();
    let spend = mean_spend(c)?;
    let mut data = Vec::new();
    for (i, (s, &m)) in c.summaries.iter().zip(spend).enumerate() {
        if !m.is_finite() {
            bail!("{}: the mean spend {m} is not a number", c.whereabouts(i));
        }
        if s.frequency > 0 && m > 0.0 {
            data.push((s.frequency, m));
        }
    }
    if data.is_empty() {
        bail!(
            "{}: no customer has repeat purchases with a positive mean spend, so there is \
             nothing to fit gamma-gamma to",
            c.file
        );
    }
    let fit = GammaGamma::fit(&data).with_context(|| {
        format!(
            "fitting gamma-gamma to the {} repeat buyers of {}",
            data.len(),
            c.file
        )
    })?;
    let m = fit.params;
    let p = |m: &GammaGamma| Params(vec![("p", m.p), ("q", m.q), ("gamma", m.gamma)]);
    tracing::debug!(
        "fitted gamma-gamma to {} repeat buyers in {:.3} ms",
        data.len(),
        ms(start)
    );
    Ok((fitted("gamma-gamma", fit, p), m))
}

/// `f` over `items` on every core, in order; inline when there is little to do.
fn par_map<T: Sync, U: Send>(items: &[T], f: impl Fn(usize, &T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 4_096 {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(k, part)| {
                let f = &f;
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(j, t)| f(k * chunk + j, t))
                        .collect::<Vec<U>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a prediction thread panicked"))
            .collect()
    })
}

fn customer<'a>(c: &'a Customers, i: usize) -> CustomerOut<'a> {
    let s = &c.summaries[i];
    CustomerOut {
        id: &c.ids[i],
        frequency: s.frequency,
        recency: s.recency,
        t: s.age,
        expected_purchases: None,
        p_alive: None,
        expected_spend: None,
        clv: None,
    }
}

/// Writes to standard output; a closed pipe (`| head`) ends the output quietly.
fn print(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> anyhow::Result<()> {
    let start = Instant::now();
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match write(&mut lock) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => {
            tracing::debug!("wrote the output in {:.3} ms", ms(start));
            r.context("writing the output")
        }
    }
}

fn print_model(
    format: OutputFormat,
    fit: &FittedModel,
    spend: Option<&FittedModel>,
    customers: &[CustomerOut<'_>],
    csv_customers: bool,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => print(|out| {
            output::json(
                out,
                &ModelReport {
                    fit,
                    spend_model: spend,
                    customers,
                },
            )
        }),
        OutputFormat::Csv if csv_customers => {
            for m in std::iter::once(fit).chain(spend) {
                let params: Vec<String> =
                    m.params.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
                eprintln!(
                    "{}: {}, log-likelihood {}",
                    m.model,
                    params.join(" "),
                    m.log_likelihood
                );
            }
            print(|out| output::customers_csv(out, customers))
        }
        OutputFormat::Csv => print(|out| output::fit_csv(out, fit)),
    }
}

/// `guanxi analytics fit`.
pub fn fit(args: &AnalyticsFitArgs) -> anyhow::Result<()> {
    let c = load(&args.input)?;
    let kind = match args.model {
        FitModel::Bgnbd => PurchaseModelArg::Bgnbd,
        FitModel::ParetoNbd => PurchaseModelArg::ParetoNbd,
        FitModel::Mbgnbd => PurchaseModelArg::Mbgnbd,
        FitModel::GammaGamma => {
            let (report, gg) = fit_spend(&c)?;
            let spend = mean_spend(&c)?;
            let customers = par_map(&c.summaries, |i, s| CustomerOut {
                expected_spend: Some(gg.expected_spend(s.frequency, spend[i])),
                ..customer(&c, i)
            });
            return print_model(args.format, &report, None, &customers, false);
        }
    };
    let (report, model) = fit_purchase(kind, &c)?;
    let customers = par_map(&c.summaries, |i, s| CustomerOut {
        p_alive: Some(model.p_alive(s)),
        ..customer(&c, i)
    });
    print_model(args.format, &report, None, &customers, false)
}

/// `guanxi analytics predict`.
pub fn predict(args: &AnalyticsPredictArgs) -> anyhow::Result<()> {
    let c = load(&args.input)?;
    // Check what the lifetime value needs before the (longer) fits.
    let clv_period = match args.spend_model {
        None => None,
        Some(SpendModel::GammaGamma) => {
            mean_spend(&c)?;
            Some(c.period.with_context(|| {
                format!(
                    "{}: the lifetime value needs the summary's unit of time to count months: \
                     add --period day|week|month",
                    c.file
                )
            })?)
        }
    };
    let (report, model) = fit_purchase(args.model, &c)?;
    let spend = match clv_period {
        Some(_) => Some(fit_spend(&c)?),
        None => None,
    };
    let start = Instant::now();
    let horizon = args.horizon;
    let customers = par_map(&c.summaries, |i, s| {
        let mut out = CustomerOut {
            expected_purchases: Some(model.expected_purchases(s, horizon)),
            p_alive: Some(model.p_alive(s)),
            ..customer(&c, i)
        };
        if let (Some((_, gg)), Some(period), Some(mean)) = (&spend, clv_period, &c.mean_spend) {
            out.expected_spend = Some(gg.expected_spend(s.frequency, mean[i]));
            out.clv = Some(btyd::clv(
                model.as_ref(),
                gg,
                s,
                mean[i],
                period,
                args.clv_months,
                args.discount_rate,
            ));
        }
        out
    });
    tracing::debug!(
        "predicted {} customers in {:.3} ms",
        customers.len(),
        ms(start)
    );
    print_model(
        args.format,
        &report,
        spend.as_ref().map(|s| &s.0),
        &customers,
        true,
    )
}

/// `guanxi analytics rfm`.
pub fn rfm(args: &AnalyticsRfmArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let file = args.transactions.display().to_string();
    let log = input::read_transactions(&read(&args.transactions)?, &file)?;
    tracing::debug!(
        "read {} transactions in {:.3} ms",
        log.rows.len(),
        ms(start)
    );
    let start = Instant::now();
    let scored = guanxi_analytics::rfm::rfm(&log.rows, args.as_of);
    tracing::debug!("scored {} customers in {:.3} ms", scored.len(), ms(start));
    let customers: Vec<RfmOut<'_>> = scored
        .iter()
        .map(|x| RfmOut {
            id: &log.ids[x.customer as usize],
            recency: x.recency_days,
            frequency: x.frequency,
            monetary: output::Decimal(x.monetary_minor),
            r: x.r,
            f: x.f,
            m: x.m,
            segment: x.segment.as_str(),
        })
        .collect();
    match args.format {
        OutputFormat::Json => print(|out| {
            output::json(
                out,
                &RfmReport {
                    as_of: args.as_of.to_string(),
                    customers: &customers,
                },
            )
        }),
        OutputFormat::Csv => print(|out| output::rfm_csv(out, &customers)),
    }
}
