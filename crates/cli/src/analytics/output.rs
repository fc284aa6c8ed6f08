//! What the analytics commands print: the JSON documents and CSV tables of `guanxi
//! analytics --help`.

use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;
use serde::ser::SerializeMap;

/// A model's parameters in their conventional order (r, alpha, a, b, …), which a JSON map
/// would otherwise sort.
#[derive(Debug, Clone, PartialEq)]
pub struct Params(pub Vec<(&'static str, f64)>);

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A fitted model as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FittedModel {
    pub model: &'static str,
    pub params: Params,
    pub log_likelihood: f64,
}

/// One customer's line of `fit` and `predict`; `None` prints as null (or an empty cell).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerOut<'a> {
    pub id: &'a str,
    pub frequency: u32,
    pub recency: f64,
    #[serde(rename = "T")]
    pub t: f64,
    pub expected_purchases: Option<f64>,
    pub p_alive: Option<f64>,
    pub expected_spend: Option<f64>,
    pub clv: Option<f64>,
}

/// `fit` and `predict` JSON: `{"model", "params", "log_likelihood", ["spend_model",]
/// "customers"}`.
#[derive(Debug, Serialize)]
pub struct ModelReport<'a> {
    #[serde(flatten)]
    pub fit: &'a FittedModel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend_model: Option<&'a FittedModel>,
    pub customers: &'a [CustomerOut<'a>],
}

/// One customer's line of `rfm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RfmOut<'a> {
    pub id: &'a str,
    pub recency: i64,
    pub frequency: u64,
    /// The exact decimal total (from the integer ten-thousandths), as a JSON number.
    pub monetary: Decimal,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub segment: &'static str,
}

/// A decimal amount kept as ten-thousandths; prints without float noise (`11.77`, `150`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal(pub i64);

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scale = super::input::AMOUNT_SCALE as i64;
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / scale as u64, abs % scale as u64);
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Exact in f64 for any total below 2^53 ten-thousandths; shortest round-trip
        // printing then gives back the decimal.
        s.serialize_f64(self.0 as f64 / super::input::AMOUNT_SCALE)
    }
}

#[derive(Debug, Serialize)]
pub struct RfmReport<'a> {
    pub as_of: String,
    pub customers: &'a [RfmOut<'a>],
}

pub fn json(out: impl Write, value: &impl Serialize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer(&mut out, value).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Cells for a CSV row, formatted into one reused buffer.
struct Row {
    text: String,
    ends: Vec<usize>,
}

impl Row {
    fn new() -> Self {
        Row {
            text: String::with_capacity(256),
            ends: Vec::with_capacity(8),
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    fn cell(&mut self, v: impl std::fmt::Display) -> &mut Self {
        write!(self.text, "{v}").expect("writing to a String");
        self.ends.push(self.text.len());
        self
    }

    fn opt(&mut self, v: Option<f64>) -> &mut Self {
        match v {
            Some(v) if v.is_finite() => self.cell(v),
            _ => self.cell(""),
        }
    }

    fn write<W: Write>(&self, w: &mut csv::Writer<W>) -> std::io::Result<()> {
        let mut start = 0;
        for &end in &self.ends {
            w.write_field(&self.text[start..end]).map_err(io)?;
            start = end;
        }
        w.write_record(None::<&[u8]>).map_err(io)
    }
}

/// csv's error as the I/O error it wraps, so a closed pipe is still recognised as one.
fn io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .buffer_capacity(1 << 16)
        .from_writer(out)
}

fn flush<W: Write>(mut w: csv::Writer<W>) -> std::io::Result<()> {
    w.flush()
}

/// `fit --format csv`: `model,parameter,value`, one row per parameter, then the
/// log-likelihood.
pub fn fit_csv(out: impl Write, fit: &FittedModel) -> std::io::Result<()> {
    let mut w = csv_writer(out);
    w.write_record(["model", "parameter", "value"])
        .map_err(io)?;
    let mut row = Row::new();
    for (name, value) in fit
        .params
        .0
        .iter()
        .chain([&("log_likelihood", fit.log_likelihood)])
    {
        row.clear();
        row.cell(fit.model).cell(name).cell(value).write(&mut w)?;
    }
    flush(w)
}

/// `predict --format csv`: one row per customer.
pub fn customers_csv(out: impl Write, customers: &[CustomerOut<'_>]) -> std::io::Result<()> {
    let mut w = csv_writer(out);
    w.write_record([
        "id",
        "frequency",
        "recency",
        "T",
        "expected_purchases",
        "p_alive",
        "expected_spend",
        "clv",
    ])
    .map_err(io)?;
    let mut row = Row::new();
    for c in customers {
        row.clear();
        row.cell(c.id)
            .cell(c.frequency)
            .cell(c.recency)
            .cell(c.t)
            .opt(c.expected_purchases)
            .opt(c.p_alive)
            .opt(c.expected_spend)
            .opt(c.clv)
            .write(&mut w)?;
    }
    flush(w)
}

/// `rfm --format csv`: one row per customer.
pub fn rfm_csv(out: impl Write, customers: &[RfmOut<'_>]) -> std::io::Result<()> {
    let mut w = csv_writer(out);
    w.write_record([
        "id",
        "recency",
        "frequency",
        "monetary",
        "r",
        "f",
        "m",
        "segment",
    ])
    .map_err(io)?;
    let mut row = Row::new();
    for c in customers {
        row.clear();
        row.cell(c.id)
            .cell(c.recency)
            .cell(c.frequency)
            .cell(c.monetary)
            .cell(c.r)
            .cell(c.f)
            .cell(c.m)
            .cell(c.segment)
            .write(&mut w)?;
    }
    flush(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_exactly() {
        let s = |v| Decimal(v).to_string();
        assert_eq!(s(117_700), "11.77");
        assert_eq!(s(1_500_000), "150");
        assert_eq!(s(-5_000), "-0.5");
        assert_eq!(s(1), "0.0001");
        assert_eq!(s(0), "0");
        assert_eq!(serde_json::to_string(&Decimal(117_700)).unwrap(), "11.77");
        assert_eq!(serde_json::to_string(&Decimal(1_500_000)).unwrap(), "150.0");
    }

    #[test]
    fn params_keep_their_order_and_csv_leaves_missing_values_empty() {
        let fit = FittedModel {
            model: "bgnbd",
            params: Params(vec![("r", 0.25), ("alpha", 4.5), ("a", 0.8), ("b", 2.5)]),
            log_likelihood: -10.5,
        };
        assert_eq!(
            serde_json::to_string(&fit).unwrap(),
            r#"{"model":"bgnbd","params":{"r":0.25,"alpha":4.5,"a":0.8,"b":2.5},"log_likelihood":-10.5}"#
        );
        let mut out = Vec::new();
        fit_csv(&mut out, &fit).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "model,parameter,value\nbgnbd,r,0.25\nbgnbd,alpha,4.5\nbgnbd,a,0.8\nbgnbd,b,2.5\n\
             bgnbd,log_likelihood,-10.5\n"
        );
        let c = CustomerOut {
            id: "a,b",
            frequency: 2,
            recency: 30.43,
            t: 38.86,
            expected_purchases: Some(1.5),
            p_alive: Some(f64::NAN),
            expected_spend: None,
            clv: None,
        };
        let mut out = Vec::new();
        customers_csv(&mut out, &[c]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,frequency,recency,T,expected_purchases,p_alive,expected_spend,clv\n\
             \"a,b\",2,30.43,38.86,1.5,,,\n"
        );
    }
}
