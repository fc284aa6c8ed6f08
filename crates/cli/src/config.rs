//! The command line and where each setting comes from.
//!
//! Every setting can be given as a flag, as a `GUANXI_*` environment variable or as a key
//! in a TOML file (`--config FILE`, `GUANXI_CONFIG`, else `./guanxi.toml` when present).
//! The first of these that is set wins: flag, then environment, then file, then default.
//! An environment variable set to the empty string counts as unset.
//!
//! clap parses only the flags (its fields are `Option`s, and it reads no environment);
//! [`resolve`] then fills the gaps from an environment lookup and the file, so the rules
//! can be tested without touching the process environment.

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub const DEFAULT_DATABASE: &str = "sqlite:guanxi.db";
pub const DEMO_DATABASE: &str = "sqlite:guanxi-demo.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_SEED: u64 = 42;
pub const DEFAULT_CONFIG_FILE: &str = "guanxi.toml";
/// The size of the data set `guanxi demo` creates.
pub const DEMO_CUSTOMERS: u64 = 2_000;
/// Every demo login's password: a demo database holds nothing worth protecting.
pub const DEMO_PASSWORD: &str = "guanxi-demo";

const ENV_DATABASE: &str = "GUANXI_DATABASE";
const ENV_CONFIG: &str = "GUANXI_CONFIG";
const ENV_BIND: &str = "GUANXI_BIND";
const ENV_CUSTOMERS: &str = "GUANXI_CUSTOMERS";
const ENV_SEED: &str = "GUANXI_SEED";
const ENV_ANALYTICS_EVERY: &str = "GUANXI_ANALYTICS_EVERY";
const ENV_INDEX: &str = "GUANXI_INDEX";
const ENV_PUBLIC_URL: &str = "GUANXI_PUBLIC_URL";
const ENV_TRUSTED_PROXIES: &str = "GUANXI_TRUSTED_PROXIES";
const ENV_SMTP_HOST: &str = "GUANXI_SMTP_HOST";
const ENV_SMTP_PORT: &str = "GUANXI_SMTP_PORT";
const ENV_SMTP_SECURITY: &str = "GUANXI_SMTP_SECURITY";
const ENV_SMTP_USER: &str = "GUANXI_SMTP_USER";
const ENV_SMTP_PASSWORD: &str = "GUANXI_SMTP_PASSWORD";
const ENV_SMTP_FROM: &str = "GUANXI_SMTP_FROM";
const ENV_SMTP_CA_CERT: &str = "GUANXI_SMTP_CA_CERT";
const ENV_SMTP_BOUNCE_ADDRESS: &str = "GUANXI_SMTP_BOUNCE_ADDRESS";
const ENV_BOUNCE_LISTEN: &str = "GUANXI_BOUNCE_LISTEN";
/// Hours between the server's analytics runs.
pub const DEFAULT_ANALYTICS_EVERY: u64 = 24;

#[derive(Debug, Parser)]
#[command(
    name = "guanxi",
    version,
    about = "Guanxi CRM: the server, the demo and the maintenance commands in one binary.",
    after_help = "Each option can also be set as a GUANXI_* environment variable or as a key \
                  in the TOML config file; a flag beats the environment, which beats the file."
)]
pub struct Cli {
    /// Database URL: sqlite:PATH, sqlite::memory: or postgres://USER@HOST/DB
    /// [env: GUANXI_DATABASE] [file: database] [default: sqlite:guanxi.db]
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,

    /// TOML config file; a file named here must exist
    /// [env: GUANXI_CONFIG] [default: ./guanxi.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Folder of the full-text search index, or `off` to serve without search
    /// [env: GUANXI_INDEX] [file: index] [default: beside a SQLite file as FILE.search;
    /// in memory for sqlite::memory:; ./guanxi-search for PostgreSQL]
    #[arg(long, global = true, value_name = "DIR")]
    pub index: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application and API
    Serve(BindArgs),
    /// Apply database migrations and show the table sizes
    Migrate,
    /// Fill the database with generated, realistic demo data
    Seed(SeedArgs),
    /// Try Guanxi: create and seed guanxi-demo.db on first run, then serve it.
    ///
    /// The demo uses --database when given and otherwise sqlite:guanxi-demo.db: it ignores
    /// GUANXI_DATABASE and the config file's `database`, so it never writes demo data into
    /// the database configured for real use.
    Demo(BindArgs),
    /// Check the change log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rebuild the full-text search index from the database
    Reindex,
    /// Import accounts, contacts, leads, products or orders from a CSV, .xlsx or .xls file
    ///
    /// The encoding (UTF-8 with or without BOM, GB18030/GBK, UTF-16) and the delimiter are
    /// detected; columns are mapped from their headers (姓名, 手机, 邮箱, 公司, …) unless
    /// --mapping is given. Rows are matched to existing records by external id, e-mail,
    /// mobile, credit code, SKU or order number and updated; importing the same file again
    /// changes nothing, and an interrupted import resumes where it stopped.
    ///
    /// --save-template keeps the mapping used under a name; --template uses it for the
    /// next file of the same shape.
    Import(ImportArgs),
    /// Saved import mapping templates: list them, delete one
    #[command(subcommand)]
    ImportTemplates(ImportTemplatesCommand),
    /// Search accounts, contacts, leads, deals, cases and interactions as a user would
    Search(SearchArgs),
    /// Export a list view as CSV (UTF-8 with BOM, for Excel) or .xlsx, as the API does
    ///
    /// Every record of KIND the user may see that passes the filters, sensitive fields
    /// masked for roles that may not see them. Needs the right to export KIND (sales reps
    /// lack it by default); every export is written to the change log first.
    Export(ExportArgs),
    /// Duplicate accounts, contacts or leads: find them, list them, merge, undo a merge
    #[command(subcommand)]
    Duplicates(DuplicatesCommand),
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Customer analytics: buy-till-you-die models, lifetime value and RFM on CSV files
    ///
    /// fit, predict and rfm read CSV files and write JSON or CSV to standard output; they
    /// read no config file and open no database (--database and GUANXI_DATABASE are
    /// ignored).
    #[command(subcommand)]
    Analytics(AnalyticsCommand),
}

/// `guanxi analytics …`. The commands on files ([`AnalyticsCommand::uses_configuration`]
/// false) need neither the config file nor a database; a command that works on the
/// database goes here too and answers true.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum AnalyticsCommand {
    /// Fit a model by maximum likelihood; print its parameters and log-likelihood
    ///
    /// The input is a transaction log or a per-customer summary. Prints the model, its parameters and log-likelihood, and per customer the summary
    /// (frequency, recency, T) with p_alive (purchase models) or expected_spend
    /// (gamma-gamma); expected_purchases and clv are null (see `predict`).
    ///
    /// JSON: {"model", "params": {"r", "alpha", "a", "b"} (pareto-nbd: r, alpha, s, beta;
    /// gamma-gamma: p, q, gamma), "log_likelihood", "customers": [{"id", "frequency",
    /// "recency", "T", "expected_purchases", "p_alive", "expected_spend", "clv"}]}, the
    /// customers in the order they first appear in the input. CSV: the parameters only, as
    /// model,parameter,value rows with a last row for the log-likelihood.
    Fit(AnalyticsFitArgs),
    /// Fit a purchase model and predict per customer: purchases, p(alive), spend, CLV
    ///
    /// Per customer: the expected purchases over the next --horizon periods, the
    /// probability of being alive and, with --spend-model, the expected spend per
    /// purchase and the discounted lifetime value (null without it). The lifetime value follows the Python lifetimes package: it sums, month by month
    /// over --clv-months months, the expected purchases in that month times the expected
    /// spend, discounted by (1 + --discount-rate) per month; a month is 30 periods of a
    /// day, 4.345 of a week or 1 of a month. Money is in the input's unit.
    ///
    /// JSON: as for `fit`, with every customer's predictions, and with --spend-model also
    /// "spend_model": {"model", "params", "log_likelihood"}. CSV: one row per customer,
    /// id,frequency,recency,T,expected_purchases,p_alive,expected_spend,clv (empty cells
    /// for what was not computed), and the fitted parameters on standard error.
    Predict(AnalyticsPredictArgs),
    /// RFM per customer as of a date: recency, frequency, monetary, scores 1-5, segment
    ///
    /// recency = days from the last purchase to --as-of, frequency = number of
    /// transactions, monetary = total amount; transactions after --as-of are ignored.
    /// Each score = 1 + floor(5 × (customers strictly worse) / customers), 5 best, so tied
    /// values share a score. The segment comes from R and FM = ceil((F + M) / 2):
    ///
    ///   R \ FM  1               2                   3                   4          5
    ///   5       new             potential_loyalist  potential_loyalist  champions  champions
    ///   4       promising       potential_loyalist  potential_loyalist  loyal      loyal
    ///   3       about_to_sleep  about_to_sleep      need_attention      loyal      loyal
    ///   2       hibernating     hibernating         at_risk             at_risk    cannot_lose
    ///   1       lost            lost                at_risk             at_risk    cannot_lose
    ///
    /// JSON: {"as_of", "customers": [{"id", "recency", "frequency", "monetary", "r", "f",
    /// "m", "segment"}]}, the customers in the order they first appear in the file; CSV:
    /// one row per customer with those columns.
    #[command(verbatim_doc_comment)]
    Rfm(AnalyticsRfmArgs),
    /// Compute every account's figures from the database and store them on the accounts
    ///
    /// RFM scores and segment, BG/NBD expected purchases (90 days) and probability alive,
    /// 12-month CLV (Gamma-Gamma spend), A-D grade, lifecycle stage, churn risk and
    /// cross-sell suggestions, with the time they were computed; plus the reports
    /// (80/20, Lorenz, segments, cohorts) served at /api/v1/analytics/report. `serve`
    /// repeats this every --analytics-every hours.
    Run(AnalyticsRunArgs),
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct AnalyticsRunArgs {
    /// The day the analysis looks back from [default: today, UTC]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<NaiveDate>,
}

impl AnalyticsCommand {
    /// Whether the command reads the config file and the database settings. The commands
    /// on files do not: they read only the files they are given.
    pub fn uses_configuration(&self) -> bool {
        match self {
            AnalyticsCommand::Fit(_) | AnalyticsCommand::Predict(_) | AnalyticsCommand::Rfm(_) => {
                false
            }
            AnalyticsCommand::Run(_) => true,
        }
    }
}

impl Command {
    /// Whether the command reads the config file (see [`AnalyticsCommand::uses_configuration`]).
    pub fn uses_configuration(&self) -> bool {
        match self {
            Command::Analytics(a) => a.uses_configuration(),
            _ => true,
        }
    }
}

/// Where the customers come from: a transaction log or a per-customer summary.
#[derive(Debug, Clone, PartialEq, Args)]
#[command(group(
    clap::ArgGroup::new("customers")
        .required(true)
        .args(["transactions", "summary"])
))]
pub struct ModelInput {
    /// Transaction log: CSV with a header naming the columns customer_id (or id), date and
    /// amount, in any order (other columns are ignored). Dates are YYYY-MM-DD (a time
    /// after it is ignored) or YYYYMMDD; amounts are decimal numbers in any one currency
    /// unit (read to 4 decimal places; refunds may be negative). Purchases on the same day
    /// count as one. Needs --calibration-end and --period
    #[arg(
        long,
        value_name = "FILE",
        requires_all = ["calibration_end", "period"],
        help_heading = "Input"
    )]
    pub transactions: Option<PathBuf>,
    /// With --transactions: the last day of the calibration period (inclusive),
    /// YYYY-MM-DD; later purchases are ignored, and T runs up to this day
    #[arg(long, value_name = "DATE", value_parser = parse_date, conflicts_with = "summary", help_heading = "Input")]
    pub calibration_end: Option<NaiveDate>,
    /// Unit of time for recency, T and --horizon: day, week (7 days) or month (30.4375
    /// days). Required with --transactions; with --summary it names the summary's unit,
    /// needed only for the lifetime value
    #[arg(long, value_enum, help_heading = "Input")]
    pub period: Option<PeriodArg>,
    /// Per-customer summary: CSV with the header id,frequency,recency,T[,monetary_value]
    /// (also accepted: customer_id for id, x for frequency, t_x for recency, zbar for
    /// monetary_value), in periods: frequency = repeat purchases, recency = time from the
    /// first to the last purchase, T = time from the first purchase to the end of
    /// calibration, monetary_value = mean spend of the repeat purchases (as in CDNOW's
    /// summary files and the lifetimes package)
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub summary: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct AnalyticsFitArgs {
    /// The model: bgnbd (BG/NBD), pareto-nbd (Pareto/NBD), mbgnbd (MBG/NBD) for purchases
    /// and dropout; gamma-gamma for spend per purchase (fitted on the customers with
    /// repeat purchases and a positive mean spend)
    #[arg(long, value_enum)]
    pub model: FitModel,
    #[command(flatten)]
    pub input: ModelInput,
    /// Output format (to standard output)
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct AnalyticsPredictArgs {
    /// The purchase model: bgnbd (BG/NBD), pareto-nbd (Pareto/NBD) or mbgnbd (MBG/NBD)
    #[arg(long, value_enum)]
    pub model: PurchaseModelArg,
    #[command(flatten)]
    pub input: ModelInput,
    /// Predict the expected purchases over the next N periods (a number ≥ 0, fractions
    /// allowed)
    #[arg(long, value_name = "N", value_parser = parse_non_negative, allow_negative_numbers = true)]
    pub horizon: f64,
    /// Model spend per purchase too and compute the lifetime value: gamma-gamma (fitted
    /// on the customers with repeat purchases and a positive mean spend)
    #[arg(long, value_enum, value_name = "MODEL")]
    pub spend_model: Option<SpendModel>,
    /// With --spend-model: months of lifetime value
    #[arg(long, value_name = "M", default_value_t = 12, requires = "spend_model")]
    pub clv_months: u32,
    /// With --spend-model: the monthly discount rate D (0.01 is 1% a month)
    #[arg(long, value_name = "D", default_value_t = 0.01, value_parser = parse_discount_rate, allow_negative_numbers = true, requires = "spend_model")]
    pub discount_rate: f64,
    /// Output format (to standard output)
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct AnalyticsRfmArgs {
    /// Transaction log: CSV with a header naming the columns customer_id (or id), date and
    /// amount (as for fit and predict)
    #[arg(long, value_name = "FILE")]
    pub transactions: PathBuf,
    /// The day to score as of (YYYY-MM-DD); later transactions are ignored
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: NaiveDate,
    /// Output format (to standard output)
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FitModel {
    Bgnbd,
    ParetoNbd,
    Mbgnbd,
    GammaGamma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PurchaseModelArg {
    Bgnbd,
    ParetoNbd,
    Mbgnbd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpendModel {
    GammaGamma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Csv,
}

/// A day as YYYY-MM-DD (or YYYYMMDD), as the analytics files write it.
fn parse_date(s: &str) -> Result<NaiveDate, String> {
    crate::analytics::input::parse_date(s.trim().as_bytes())
        .ok_or_else(|| format!("'{s}' is not a date: expected YYYY-MM-DD"))
}

fn parse_non_negative(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a number ≥ 0")),
    }
}

fn parse_discount_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > -1.0 => Ok(v),
        _ => Err(format!("'{s}' is not a rate above -1 (0.01 is 1% a month)")),
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user who can sign in; prints a generated password once unless
    /// --password-stdin is given
    Add(UserAddArgs),
    /// Issue a personal API token for a user and print its secret (only) to stdout, for
    /// scripts; it is shown once and stored hashed
    Token(UserTokenArgs),
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SearchArgs {
    /// What to look for: names, pinyin or initials, phone digits, e-mail, words
    pub query: String,
    /// Only these kinds, comma-separated (account,contact,lead,opportunity,case,interaction)
    #[arg(long)]
    pub types: Option<String>,
    /// Search as this user, within what they may see [default: the first administrator]
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_user: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum DuplicatesCommand {
    /// Look for duplicates of an entity (account, contact or lead) and queue them for review
    Scan {
        entity: String,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
    /// The pairs waiting for review, best first, as JSON lines
    List {
        entity: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
    /// Merge MERGED into SURVIVOR: its related records move to SURVIVOR, it goes to the
    /// recycle bin; --take names the fields whose value comes from MERGED
    Merge {
        entity: String,
        survivor: String,
        merged: String,
        #[arg(long, value_delimiter = ',')]
        take: Vec<String>,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
    /// Undo the merge that removed MERGED
    Undo {
        merged: String,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ImportTemplatesCommand {
    /// The templates (of KIND, or of everything the user may import): kind, name, mapping
    List {
        kind: Option<String>,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
    /// Delete the template NAME of KIND (your own; administrators: any)
    Delete {
        kind: String,
        name: String,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ImportArgs {
    /// account, contact, lead, product or order
    pub kind: String,
    /// The file: .csv, .xlsx or .xls
    pub file: PathBuf,
    /// Column mapping, e.g. "姓名=name,手机=mobile,备注=" (column by header or 1-based number;
    /// an empty field ignores the column)
    #[arg(long, value_name = "MAPPING", conflicts_with = "template")]
    pub mapping: Option<String>,
    /// Use the mapping saved as this template (see `guanxi import-templates list`)
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Save the mapping this import uses as a template of this name, shared with everyone
    /// who may import KIND (on a --dry-run too; an existing name of yours is replaced)
    #[arg(long, value_name = "NAME")]
    pub save_template: Option<String>,
    /// Check every row and report what would fail, without writing
    #[arg(long)]
    pub dry_run: bool,
    /// Import as this user (who owns the new records) [default: the first administrator]
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_user: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ExportArgs {
    /// A collection as the API names it (contacts, accounts, opportunities, custom-fields,
    /// …) or its entity (contact, account, opportunity, custom_field, …)
    pub kind: String,
    /// csv or xlsx [default: xlsx for an --output file ending in .xlsx, else csv]
    #[arg(long)]
    pub format: Option<String>,
    /// Columns, comma-separated: fields, custom.KEY, id, created_at, updated_at, owner_id,
    /// team_id [default: every field]
    #[arg(long, value_name = "A,B,…")]
    pub columns: Option<String>,
    /// Header and choices in zh or en [default: field keys and stored values]
    #[arg(long, value_name = "zh|en")]
    pub labels: Option<String>,
    /// A condition as the list API takes it (op: eq, ne, lt, le, gt, ge, contains,
    /// starts_with, in with comma-separated values, is_null); repeat it: all must hold
    #[arg(long, value_name = "FIELD:OP:VALUE")]
    pub filter: Vec<String>,
    /// Order by FIELD, or -FIELD for descending
    #[arg(long, value_name = "FIELD", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Export the recycle bin (deleted records) instead of the live ones
    #[arg(long)]
    pub deleted: bool,
    /// The file to write [default: standard output]
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Export as this user, what they may see [default: the first administrator]
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_user: Option<String>,
}

impl ExportArgs {
    /// --format, else from the --output file's extension.
    pub fn format(&self) -> &str {
        match (&self.format, &self.output) {
            (Some(f), _) => f,
            (None, Some(path))
                if path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("xlsx")) =>
            {
                "xlsx"
            }
            _ => "csv",
        }
    }

    /// The export's parameters as the API's query string names them, for
    /// `guanxi_app::export::ExportRequest::from_pairs` (which checks them).
    pub fn request_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("format", self.format().to_string())];
        pairs.extend(self.columns.clone().map(|c| ("columns", c)));
        pairs.extend(self.labels.clone().map(|l| ("labels", l)));
        pairs.extend(self.filter.iter().map(|f| ("filter", f.clone())));
        pairs.extend(self.sort.clone().map(|s| ("sort", s)));
        if self.deleted {
            pairs.push(("deleted", "true".into()));
        }
        pairs
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct UserTokenArgs {
    /// The user's sign-in e-mail
    #[arg(long)]
    pub email: String,
    /// What the token is for
    #[arg(long, default_value = "cli")]
    pub name: String,
    /// Days until it expires
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=366))]
    pub days: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct UserAddArgs {
    /// The sign-in e-mail
    #[arg(long)]
    pub email: String,
    /// Role key: admin, manager, sales, marketing, service, analyst, readonly, partner
    #[arg(long)]
    pub role: String,
    /// Team, by name or id
    #[arg(long)]
    pub team: Option<String>,
    /// Display name [default: the e-mail's local part]
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the change log's hash chain; exit code 1 if any entry was altered
    Verify,
}

#[derive(Debug, Args)]
pub struct BindArgs {
    /// Address to listen on [env: GUANXI_BIND] [file: bind] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Hours between runs of the customer analytics (as `guanxi analytics run`); 0 turns
    /// them off [env: GUANXI_ANALYTICS_EVERY] [file: analytics_every] [default: 24]
    #[arg(long, value_name = "HOURS")]
    pub analytics_every: Option<u64>,
    /// The address users reach the CRM at, e.g. https://crm.example.cn behind a TLS proxy;
    /// with https the session cookie is Secure [env: GUANXI_PUBLIC_URL] [file: public_url]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Reverse proxies (comma-separated addresses) whose X-Forwarded-For names the client
    /// [env: GUANXI_TRUSTED_PROXIES] [file: trusted_proxies]
    #[arg(long, value_name = "ADDRS")]
    pub trusted_proxies: Option<Proxies>,
    #[command(flatten)]
    pub smtp: SmtpArgs,
    #[command(flatten)]
    pub sms: SmsArgs,
    #[command(flatten)]
    pub wechat: WechatArgs,
}

/// The relay outgoing e-mail goes through; without a host no mail is sent (and mail jobs
/// fail saying e-mail is not configured).
#[derive(Debug, Args, Default)]
pub struct SmtpArgs {
    /// The SMTP relay's host name [env: GUANXI_SMTP_HOST] [file: smtp_host]
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// Its port [env: GUANXI_SMTP_PORT] [file: smtp_port] [default: 587, 465 with tls,
    /// 25 with none]
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// starttls (required), tls (from the first byte) or none
    /// [env: GUANXI_SMTP_SECURITY] [file: smtp_security] [default: starttls]
    #[arg(long, value_name = "MODE")]
    pub smtp_security: Option<guanxi_outbound::Security>,
    /// The user to authenticate as, with the password
    /// [env: GUANXI_SMTP_USER] [file: smtp_user]
    #[arg(long, value_name = "USER")]
    pub smtp_user: Option<String>,
    /// Better given in the environment than on the command line
    /// [env: GUANXI_SMTP_PASSWORD] [file: smtp_password]
    #[arg(long, value_name = "PASSWORD")]
    pub smtp_password: Option<String>,
    /// The sender, `Name <address>` or an address (required with a host)
    /// [env: GUANXI_SMTP_FROM] [file: smtp_from]
    #[arg(long, value_name = "MAILBOX")]
    pub smtp_from: Option<String>,
    /// A PEM file of a further certificate authority to trust (a relay with a private CA)
    /// [env: GUANXI_SMTP_CA_CERT] [file: smtp_ca_cert]
    #[arg(long, value_name = "FILE")]
    pub smtp_ca_cert: Option<PathBuf>,
    /// The envelope sender bounces go back to: an address whose mail reaches
    /// --bounce-listen [env: GUANXI_SMTP_BOUNCE_ADDRESS] [file: smtp_bounce_address]
    #[arg(long, value_name = "ADDRESS")]
    pub smtp_bounce_address: Option<String>,
    /// Receive bounces and complaints over SMTP on this address (127.0.0.1:2525, or behind
    /// the organisation's MTA): hard bounces and complaints suppress the address
    /// [env: GUANXI_BOUNCE_LISTEN] [file: bounce_listen]
    #[arg(long, value_name = "ADDR")]
    pub bounce_listen: Option<std::net::SocketAddr>,
}

/// The provider SMS campaigns go out through: a JSON POST whose body, signature and
/// headers are configured; without an endpoint SMS campaigns are not launched.
#[derive(Debug, Args, Default)]
pub struct SmsArgs {
    /// The provider's URL messages are POSTed to [env: GUANXI_SMS_ENDPOINT]
    /// [file: sms_endpoint]
    #[arg(long, value_name = "URL")]
    pub sms_endpoint: Option<String>,
    /// The JSON body with placeholders {{to}}, {{text}}, {{subject}}, {{id}},
    /// {{template_code}}, {{params}} (required with an endpoint) [env: GUANXI_SMS_PAYLOAD]
    /// [file: sms_payload]
    #[arg(long, value_name = "JSON")]
    pub sms_payload: Option<String>,
    /// Sign each body with HMAC-SHA256 under this secret [env: GUANXI_SMS_SECRET]
    /// [file: sms_secret]
    #[arg(long, value_name = "SECRET")]
    pub sms_secret: Option<String>,
    /// The header the signature goes in [env: GUANXI_SMS_SIGNATURE_HEADER]
    /// [file: sms_signature_header] [default: X-Signature]
    #[arg(long, value_name = "NAME")]
    pub sms_signature_header: Option<String>,
    /// hex or base64 [env: GUANXI_SMS_SIGNATURE_ENCODING] [file: sms_signature_encoding]
    /// [default: hex]
    #[arg(long, value_name = "ENCODING")]
    pub sms_signature_encoding: Option<guanxi_outbound::SignatureEncoding>,
    /// A header sent with every message, `Name: value` (an API key); repeat for more
    /// [env: GUANXI_SMS_HEADERS, one a line] [file: sms_headers, a list]
    #[arg(long, value_name = "HEADER")]
    pub sms_header: Vec<String>,
    /// The JSON pointer of the provider's message id in its answer (/data/msgid)
    /// [env: GUANXI_SMS_ID_POINTER] [file: sms_id_pointer]
    #[arg(long, value_name = "POINTER")]
    pub sms_id_pointer: Option<String>,
    /// What {{template_code}} stands for: the template registered with the provider
    /// [env: GUANXI_SMS_TEMPLATE_CODE] [file: sms_template_code]
    #[arg(long, value_name = "CODE")]
    pub sms_template_code: Option<String>,
}

/// The provider WeChat campaigns go out through: a JSON POST whose body, signature and
/// headers are configured; without an endpoint WeChat campaigns are not launched.
#[derive(Debug, Args, Default)]
pub struct WechatArgs {
    /// The provider's URL messages are POSTed to [env: GUANXI_WECHAT_ENDPOINT]
    /// [file: wechat_endpoint]
    #[arg(long, value_name = "URL")]
    pub wechat_endpoint: Option<String>,
    /// The JSON body with placeholders {{to}}, {{text}}, {{subject}}, {{id}},
    /// {{template_code}}, {{params}} (required with an endpoint) [env: GUANXI_WECHAT_PAYLOAD]
    /// [file: wechat_payload]
    #[arg(long, value_name = "JSON")]
    pub wechat_payload: Option<String>,
    /// Sign each body with HMAC-SHA256 under this secret [env: GUANXI_WECHAT_SECRET]
    /// [file: wechat_secret]
    #[arg(long, value_name = "SECRET")]
    pub wechat_secret: Option<String>,
    /// The header the signature goes in [env: GUANXI_WECHAT_SIGNATURE_HEADER]
    /// [file: wechat_signature_header] [default: X-Signature]
    #[arg(long, value_name = "NAME")]
    pub wechat_signature_header: Option<String>,
    /// hex or base64 [env: GUANXI_WECHAT_SIGNATURE_ENCODING] [file: wechat_signature_encoding]
    /// [default: hex]
    #[arg(long, value_name = "ENCODING")]
    pub wechat_signature_encoding: Option<guanxi_outbound::SignatureEncoding>,
    /// A header sent with every message, `Name: value` (an API key); repeat for more
    /// [env: GUANXI_WECHAT_HEADERS, one a line] [file: wechat_headers, a list]
    #[arg(long, value_name = "HEADER")]
    pub wechat_header: Vec<String>,
    /// The JSON pointer of the provider's message id in its answer (/msgid)
    /// [env: GUANXI_WECHAT_ID_POINTER] [file: wechat_id_pointer]
    #[arg(long, value_name = "POINTER")]
    pub wechat_id_pointer: Option<String>,
    /// What {{template_code}} stands for: the template registered with the provider
    /// [env: GUANXI_WECHAT_TEMPLATE_CODE] [file: wechat_template_code]
    #[arg(long, value_name = "CODE")]
    pub wechat_template_code: Option<String>,
}

impl From<SmsArgs> for ProviderSettings {
    fn from(a: SmsArgs) -> Self {
        ProviderSettings {
            endpoint: a.sms_endpoint,
            payload: a.sms_payload,
            secret: a.sms_secret,
            signature_header: a.sms_signature_header,
            signature_encoding: a.sms_signature_encoding,
            headers: a.sms_header,
            id_pointer: a.sms_id_pointer,
            template_code: a.sms_template_code,
        }
    }
}

impl From<WechatArgs> for ProviderSettings {
    fn from(a: WechatArgs) -> Self {
        ProviderSettings {
            endpoint: a.wechat_endpoint,
            payload: a.wechat_payload,
            secret: a.wechat_secret,
            signature_header: a.wechat_signature_header,
            signature_encoding: a.wechat_signature_encoding,
            headers: a.wechat_header,
            id_pointer: a.wechat_id_pointer,
            template_code: a.wechat_template_code,
        }
    }
}

/// One text provider's settings from one source (the flags, or the file).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ProviderSettings {
    endpoint: Option<String>,
    payload: Option<String>,
    secret: Option<String>,
    signature_header: Option<String>,
    signature_encoding: Option<guanxi_outbound::SignatureEncoding>,
    headers: Vec<String>,
    id_pointer: Option<String>,
    template_code: Option<String>,
}

/// A comma-separated list of proxy addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies(pub Vec<std::net::IpAddr>);

impl FromStr for Proxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse().map_err(|_| {
                    format!("'{a}' is not an IP address (a proxy is named by its address)")
                })
            })
            .collect::<Result<_, _>>()
            .map(Proxies)
    }
}

impl<'de> Deserialize<'de> for Proxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Customer accounts to generate (required) [env: GUANXI_CUSTOMERS] [file: customers]
    #[arg(long, value_name = "N")]
    pub customers: Option<u64>,
    /// Random seed: the same seed and size give the same data
    /// [env: GUANXI_SEED] [file: seed] [default: 42]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
}

/// The config file's keys, all optional.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database: Option<String>,
    pub bind: Option<String>,
    pub analytics_every: Option<u64>,
    pub customers: Option<u64>,
    pub seed: Option<u64>,
    pub index: Option<PathBuf>,
    pub public_url: Option<String>,
    pub trusted_proxies: Option<Proxies>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<guanxi_outbound::Security>,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_from: Option<String>,
    pub smtp_ca_cert: Option<PathBuf>,
    pub smtp_bounce_address: Option<String>,
    pub bounce_listen: Option<std::net::SocketAddr>,
    pub sms_endpoint: Option<String>,
    pub sms_payload: Option<String>,
    pub sms_secret: Option<String>,
    pub sms_signature_header: Option<String>,
    pub sms_signature_encoding: Option<guanxi_outbound::SignatureEncoding>,
    #[serde(default)]
    pub sms_headers: Vec<String>,
    pub sms_id_pointer: Option<String>,
    pub sms_template_code: Option<String>,
    pub wechat_endpoint: Option<String>,
    pub wechat_payload: Option<String>,
    pub wechat_secret: Option<String>,
    pub wechat_signature_header: Option<String>,
    pub wechat_signature_encoding: Option<guanxi_outbound::SignatureEncoding>,
    #[serde(default)]
    pub wechat_headers: Vec<String>,
    pub wechat_id_pointer: Option<String>,
    pub wechat_template_code: Option<String>,
}

impl FileConfig {
    pub fn parse(text: &str) -> anyhow::Result<FileConfig> {
        Ok(toml::from_str(text)?)
    }

    fn sms(&self) -> ProviderSettings {
        ProviderSettings {
            endpoint: self.sms_endpoint.clone(),
            payload: self.sms_payload.clone(),
            secret: self.sms_secret.clone(),
            signature_header: self.sms_signature_header.clone(),
            signature_encoding: self.sms_signature_encoding,
            headers: self.sms_headers.clone(),
            id_pointer: self.sms_id_pointer.clone(),
            template_code: self.sms_template_code.clone(),
        }
    }

    fn wechat(&self) -> ProviderSettings {
        ProviderSettings {
            endpoint: self.wechat_endpoint.clone(),
            payload: self.wechat_payload.clone(),
            secret: self.wechat_secret.clone(),
            signature_header: self.wechat_signature_header.clone(),
            signature_encoding: self.wechat_signature_encoding,
            headers: self.wechat_headers.clone(),
            id_pointer: self.wechat_id_pointer.clone(),
            template_code: self.wechat_template_code.clone(),
        }
    }
}

/// Settings after merging every source.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub database: String,
    pub action: Action,
    /// Hours between the server's analytics runs (serve, demo); 0: none.
    pub analytics_every: u64,
    /// The search index's folder when set; else derived from the database.
    pub index: Option<PathBuf>,
    /// How the server is reached (serve, demo): public URL, trusted proxies.
    pub deployment: guanxi_server::Deployment,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Serve {
        bind: String,
    },
    Migrate,
    Seed {
        customers: u64,
        seed: u64,
    },
    Demo {
        bind: String,
    },
    AuditVerify,
    Reindex,
    Import(ImportArgs),
    ImportTemplates(ImportTemplatesCommand),
    Search(SearchArgs),
    Export(ExportArgs),
    Duplicates(DuplicatesCommand),
    UserAdd(UserAddArgs),
    UserToken(UserTokenArgs),
    /// The analytics commands; those on files ignore `database`.
    Analytics(AnalyticsCommand),
}

/// Read the config file: the one named by `--config` or `GUANXI_CONFIG` (which must
/// exist), else `guanxi.toml` in `dir` if there is one.
pub fn load_file(
    flag: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    dir: &Path,
) -> anyhow::Result<Option<FileConfig>> {
    let named = flag
        .map(Path::to_path_buf)
        .or_else(|| lookup(&env, ENV_CONFIG).map(PathBuf::from));
    let path = match named {
        Some(path) => path,
        None => {
            let path = dir.join(DEFAULT_CONFIG_FILE);
            if !path.exists() {
                return Ok(None);
            }
            path
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    FileConfig::parse(&text)
        .with_context(|| format!("invalid config file {}", path.display()))
        .map(Some)
}

/// Merge flags, environment and file: flag > environment > file > default.
pub fn resolve(
    mut cli: Cli,
    env: impl Fn(&str) -> Option<String>,
    file: Option<FileConfig>,
) -> anyhow::Result<Config> {
    let file = file.unwrap_or_default();
    let bind = |flag: Option<String>| {
        pick(flag, &env, ENV_BIND, file.bind.clone()).map(|b| b.unwrap_or(DEFAULT_BIND.into()))
    };
    let every_flag = match &cli.command {
        Command::Serve(a) | Command::Demo(a) => a.analytics_every,
        _ => None,
    };
    let analytics_every = pick(every_flag, &env, ENV_ANALYTICS_EVERY, file.analytics_every)?
        .unwrap_or(DEFAULT_ANALYTICS_EVERY);
    let (url_flag, proxies_flag, smtp_flags, sms_flags, wechat_flags) = match &mut cli.command {
        Command::Serve(a) | Command::Demo(a) => (
            a.public_url.clone(),
            a.trusted_proxies.clone(),
            std::mem::take(&mut a.smtp),
            std::mem::take(&mut a.sms).into(),
            std::mem::take(&mut a.wechat).into(),
        ),
        _ => Default::default(),
    };
    let bounce_listen = pick(
        smtp_flags.bounce_listen,
        &env,
        ENV_BOUNCE_LISTEN,
        file.bounce_listen,
    )?;
    let deployment = guanxi_server::Deployment {
        public_url: pick(url_flag, &env, ENV_PUBLIC_URL, file.public_url.clone())?,
        trusted_proxies: pick(
            proxies_flag,
            &env,
            ENV_TRUSTED_PROXIES,
            file.trusted_proxies.clone(),
        )?
        .unwrap_or_default()
        .0,
        smtp: smtp(smtp_flags, &env, &file)?,
        bounce_listen,
        sms: provider("sms", sms_flags, &env, file.sms())?,
        wechat: provider("wechat", wechat_flags, &env, file.wechat())?,
    };
    let index = match cli.index {
        Some(flag) => Some(flag),
        None => lookup(&env, ENV_INDEX)
            .map(PathBuf::from)
            .or(file.index.clone()),
    };
    let (action, database) = match cli.command {
        Command::Serve(a) => (
            Action::Serve {
                bind: bind(a.bind)?,
            },
            None,
        ),
        Command::Migrate => (Action::Migrate, None),
        Command::Seed(a) => {
            let Some(customers) = pick(a.customers, &env, ENV_CUSTOMERS, file.customers)? else {
                bail!(
                    "seed needs the number of customers: --customers N, \
                     {ENV_CUSTOMERS} or `customers` in the config file"
                );
            };
            let seed = pick(a.seed, &env, ENV_SEED, file.seed)?.unwrap_or(DEFAULT_SEED);
            (Action::Seed { customers, seed }, None)
        }
        Command::Demo(a) => (
            Action::Demo {
                bind: bind(a.bind)?,
            },
            // See `Command::Demo`: only an explicit flag moves the demo's database.
            Some(cli.database.clone().unwrap_or(DEMO_DATABASE.into())),
        ),
        Command::Audit(AuditCommand::Verify) => (Action::AuditVerify, None),
        Command::Reindex => (Action::Reindex, None),
        Command::Import(a) => (Action::Import(a), None),
        Command::ImportTemplates(a) => (Action::ImportTemplates(a), None),
        Command::Search(a) => (Action::Search(a), None),
        Command::Export(a) => (Action::Export(a), None),
        Command::Duplicates(a) => (Action::Duplicates(a), None),
        Command::User(UserCommand::Add(a)) => (Action::UserAdd(a), None),
        Command::User(UserCommand::Token(a)) => (Action::UserToken(a), None),
        Command::Analytics(a) => (Action::Analytics(a), None),
    };
    let database = match database {
        Some(db) => db,
        None => pick(cli.database, &env, ENV_DATABASE, file.database)?
            .unwrap_or(DEFAULT_DATABASE.into()),
    };
    Ok(Config {
        database,
        action,
        analytics_every,
        index,
        deployment,
    })
}

/// The relay's settings, each from its flag, variable or key; none without a host.
fn smtp(
    flags: SmtpArgs,
    env: impl Fn(&str) -> Option<String>,
    file: &FileConfig,
) -> anyhow::Result<Option<guanxi_outbound::SmtpConfig>> {
    let Some(host) = pick(flags.smtp_host, &env, ENV_SMTP_HOST, file.smtp_host.clone())? else {
        return Ok(None);
    };
    let Some(from) = pick(flags.smtp_from, &env, ENV_SMTP_FROM, file.smtp_from.clone())? else {
        bail!(
            "an SMTP host needs a sender: --smtp-from, {ENV_SMTP_FROM} or `smtp_from` in the \
             config file"
        );
    };
    let security = pick(
        flags.smtp_security,
        &env,
        ENV_SMTP_SECURITY,
        file.smtp_security,
    )?;
    Ok(Some(guanxi_outbound::SmtpConfig {
        host,
        port: pick(flags.smtp_port, &env, ENV_SMTP_PORT, file.smtp_port)?,
        security: security.unwrap_or_default(),
        username: pick(flags.smtp_user, &env, ENV_SMTP_USER, file.smtp_user.clone())?,
        password: pick(
            flags.smtp_password,
            &env,
            ENV_SMTP_PASSWORD,
            file.smtp_password.clone(),
        )?,
        from,
        hello_name: None,
        ca_cert: pick(
            flags.smtp_ca_cert,
            &env,
            ENV_SMTP_CA_CERT,
            file.smtp_ca_cert.clone(),
        )?,
        timeout_secs: None,
        pool_size: None,
        bounce_address: pick(
            flags.smtp_bounce_address,
            &env,
            ENV_SMTP_BOUNCE_ADDRESS,
            file.smtp_bounce_address.clone(),
        )?,
    }))
}

/// A text provider's settings (`channel` is `sms` or `wechat`: flags `--sms-…`, variables
/// `GUANXI_SMS_…`, keys `sms_…`), each from its flag, variable or key; none without an
/// endpoint. Settings that would be refused when sending (a payload template naming an
/// unknown placeholder, or not JSON once filled) are refused here, at start-up.
fn provider(
    channel: &str,
    flags: ProviderSettings,
    env: impl Fn(&str) -> Option<String>,
    file: ProviderSettings,
) -> anyhow::Result<Option<guanxi_outbound::HttpProviderConfig>> {
    let upper = channel.to_uppercase();
    let key = |name: &str| format!("GUANXI_{upper}_{name}");
    let endpoint = pick(flags.endpoint, &env, &key("ENDPOINT"), file.endpoint)?;
    let payload = pick(flags.payload, &env, &key("PAYLOAD"), file.payload)?;
    let secret = pick(flags.secret, &env, &key("SECRET"), file.secret)?;
    let signature_header = pick(
        flags.signature_header,
        &env,
        &key("SIGNATURE_HEADER"),
        file.signature_header,
    )?;
    let signature_encoding = pick(
        flags.signature_encoding,
        &env,
        &key("SIGNATURE_ENCODING"),
        file.signature_encoding,
    )?;
    let headers = if !flags.headers.is_empty() {
        flags.headers
    } else if let Some(lines) = lookup(&env, &key("HEADERS")) {
        lines
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    } else {
        file.headers
    };
    let id_pointer = pick(flags.id_pointer, &env, &key("ID_POINTER"), file.id_pointer)?;
    let template_code = pick(
        flags.template_code,
        &env,
        &key("TEMPLATE_CODE"),
        file.template_code,
    )?;
    let Some(endpoint) = endpoint else {
        let given = payload.is_some()
            || secret.is_some()
            || signature_header.is_some()
            || !headers.is_empty()
            || id_pointer.is_some()
            || template_code.is_some();
        if given {
            bail!(
                "the {channel} provider's settings need its endpoint: --{channel}-endpoint, \
                 {} or `{channel}_endpoint` in the config file",
                key("ENDPOINT")
            );
        }
        return Ok(None);
    };
    let Some(payload) = payload else {
        bail!(
            "the {channel} endpoint needs its payload template: --{channel}-payload, {} or \
             `{channel}_payload` in the config file",
            key("PAYLOAD")
        );
    };
    let config = guanxi_outbound::HttpProviderConfig {
        endpoint,
        payload,
        secret,
        signature_header,
        signature_encoding: signature_encoding.unwrap_or_default(),
        headers,
        id_pointer,
        template_code,
    };
    config
        .check()
        .with_context(|| format!("the {channel} provider's settings (--{channel}-…)"))?;
    Ok(Some(config))
}

fn lookup(env: impl Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key).filter(|v| !v.is_empty())
}

/// The first of flag, environment variable and file value that is set.
fn pick<T: FromStr>(
    flag: Option<T>,
    env: impl Fn(&str) -> Option<String>,
    key: &str,
    file: Option<T>,
) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    if flag.is_some() {
        return Ok(flag);
    }
    if let Some(raw) = lookup(env, key) {
        return match raw.trim().parse() {
            Ok(v) => Ok(Some(v)),
            Err(e) => bail!("{key}={raw:?} is not valid: {e}"),
        };
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["guanxi"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn no_env() -> impl Fn(&str) -> Option<String> {
        |_| None
    }

    fn file(text: &str) -> Option<FileConfig> {
        Some(FileConfig::parse(text).unwrap())
    }

    fn full_file() -> Option<FileConfig> {
        file(
            r#"
            database = "sqlite:file.db"
            bind = "127.0.0.1:3000"
            customers = 300
            seed = 3
            "#,
        )
    }

    fn full_env() -> impl Fn(&str) -> Option<String> {
        env(&[
            ("GUANXI_DATABASE", "sqlite:env.db"),
            ("GUANXI_BIND", "127.0.0.1:2000"),
            ("GUANXI_CUSTOMERS", "200"),
            ("GUANXI_SEED", "2"),
        ])
    }

    #[test]
    fn the_deployment_comes_from_flag_environment_or_file() {
        let c = resolve(cli(&["serve"]), no_env(), None).unwrap();
        assert_eq!(c.deployment, guanxi_server::Deployment::default());
        let f = file(
            r#"
            public_url = "https://crm.example.cn"
            trusted_proxies = "127.0.0.1, ::1"
            "#,
        );
        let c = resolve(cli(&["serve"]), no_env(), f.clone()).unwrap();
        assert!(c.deployment.https());
        assert_eq!(
            c.deployment.trusted_proxies,
            vec![
                "127.0.0.1".parse::<std::net::IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        let e = env(&[("GUANXI_TRUSTED_PROXIES", "10.0.0.9")]);
        let c = resolve(
            cli(&["demo", "--public-url", "http://127.0.0.1:8080"]),
            e,
            f,
        )
        .unwrap();
        assert!(!c.deployment.https(), "the flag beats the file");
        assert_eq!(
            c.deployment.trusted_proxies,
            vec!["10.0.0.9".parse::<std::net::IpAddr>().unwrap()],
            "the environment beats the file"
        );
        let bad = Cli::try_parse_from(["guanxi", "serve", "--trusted-proxies", "proxy.lan"]);
        assert!(bad.unwrap_err().to_string().contains("not an IP address"));
    }

    #[test]
    fn the_mail_relay_comes_from_flag_environment_or_file() {
        let c = resolve(cli(&["serve"]), no_env(), None).unwrap();
        assert_eq!(c.deployment.smtp, None);
        let f = file(
            r#"
            smtp_host = "smtp.exmail.qq.com"
            smtp_security = "tls"
            smtp_user = "crm@example.cn"
            smtp_from = "关系 CRM <crm@example.cn>"
            "#,
        );
        let e = env(&[
            ("GUANXI_SMTP_PASSWORD", "s3cret"),
            ("GUANXI_SMTP_PORT", "2465"),
        ]);
        let c = resolve(
            cli(&["serve", "--smtp-user", "ops@example.cn"]),
            e,
            f.clone(),
        )
        .unwrap();
        let smtp = c.deployment.smtp.unwrap();
        assert_eq!(smtp.host, "smtp.exmail.qq.com");
        assert_eq!(smtp.security, guanxi_outbound::Security::Tls);
        assert_eq!(smtp.port(), 2465, "the environment beats the default");
        assert_eq!(
            smtp.username.as_deref(),
            Some("ops@example.cn"),
            "the flag beats the file"
        );
        assert_eq!(smtp.password.as_deref(), Some("s3cret"));
        assert_eq!(smtp.from, "关系 CRM <crm@example.cn>");
        let no_from = resolve(cli(&["serve", "--smtp-host", "relay"]), no_env(), None);
        assert!(no_from.unwrap_err().to_string().contains("smtp_from"));
        let e = env(&[("GUANXI_SMTP_SECURITY", "ssl")]);
        let bad = resolve(cli(&["serve"]), e, f).unwrap_err().to_string();
        assert!(bad.contains("GUANXI_SMTP_SECURITY"), "{bad}");
    }

    #[test]
    fn text_providers_come_from_flag_environment_or_file_and_bad_payloads_are_refused() {
        let c = resolve(cli(&["serve"]), no_env(), None).unwrap();
        assert_eq!((c.deployment.sms, c.deployment.wechat), (None, None));
        let f = file(
            r#"
            sms_endpoint = "https://sms.example.cn/send"
            sms_payload = '{"to": "{{to}}", "text": "{{text}}"}'
            sms_headers = ["X-Api-Key: k-1"]
            wechat_endpoint = "https://wx.example.cn/send"
            wechat_payload = '{"touser": "{{to}}", "data": {{params}}}'
            "#,
        );
        let e = env(&[
            ("GUANXI_SMS_SECRET", "s3cret"),
            ("GUANXI_SMS_SIGNATURE_ENCODING", "base64"),
        ]);
        let c = resolve(
            cli(&[
                "serve",
                "--sms-id-pointer",
                "/data/id",
                "--wechat-secret",
                "w",
            ]),
            e,
            f.clone(),
        )
        .unwrap();
        assert!(c.deployment.providers().sms && c.deployment.providers().wechat);
        let sms = c.deployment.sms.unwrap();
        assert_eq!(sms.endpoint, "https://sms.example.cn/send");
        assert_eq!(sms.secret.as_deref(), Some("s3cret"));
        assert_eq!(
            sms.signature_encoding,
            guanxi_outbound::SignatureEncoding::Base64
        );
        assert_eq!(sms.headers, ["X-Api-Key: k-1"]);
        assert_eq!(sms.id_pointer.as_deref(), Some("/data/id"));
        let wechat = c.deployment.wechat.unwrap();
        assert_eq!(wechat.secret.as_deref(), Some("w"));

        let refused = |args: &[&str]| {
            let mut argv = vec!["serve", "--sms-endpoint", "https://sms.example.cn/send"];
            argv.extend_from_slice(args);
            format!("{:#}", resolve(cli(&argv), no_env(), None).unwrap_err())
        };
        let e = refused(&["--sms-payload", r#"{"to": "{{mobile}}"}"#]);
        assert!(
            e.contains("sms provider") && e.contains("{{mobile}}"),
            "{e}"
        );
        let e = refused(&["--sms-payload", r#"{"to": {{to}}"#]);
        assert!(e.contains("not valid JSON"), "{e}");
        let e = refused(&[]);
        assert!(e.contains("--sms-payload"), "{e}");
        let e = format!(
            "{:#}",
            resolve(cli(&["serve", "--wechat-secret", "w"]), no_env(), None).unwrap_err()
        );
        assert!(e.contains("--wechat-endpoint"), "{e}");
    }

    #[test]
    fn analytics_every_defaults_to_a_day_and_takes_the_flag() {
        let c = resolve(cli(&["serve"]), no_env(), None).unwrap();
        assert_eq!(c.analytics_every, DEFAULT_ANALYTICS_EVERY);
        let c = resolve(cli(&["demo", "--analytics-every", "0"]), no_env(), None).unwrap();
        assert_eq!(c.analytics_every, 0);
    }

    #[test]
    fn defaults() {
        let c = resolve(cli(&["serve"]), no_env(), None).unwrap();
        assert_eq!(c.database, "sqlite:guanxi.db");
        assert_eq!(
            c.action,
            Action::Serve {
                bind: "127.0.0.1:8080".into()
            }
        );
        let c = resolve(cli(&["seed", "--customers", "10"]), no_env(), None).unwrap();
        assert_eq!(
            c.action,
            Action::Seed {
                customers: 10,
                seed: 42
            }
        );
        let c = resolve(cli(&["migrate"]), no_env(), None).unwrap();
        assert_eq!(
            (c.database.as_str(), c.action),
            ("sqlite:guanxi.db", Action::Migrate)
        );
        let c = resolve(cli(&["audit", "verify"]), no_env(), None).unwrap();
        assert_eq!(c.action, Action::AuditVerify);
    }

    #[test]
    fn the_file_beats_the_defaults() {
        let c = resolve(cli(&["serve"]), no_env(), full_file()).unwrap();
        assert_eq!(c.database, "sqlite:file.db");
        assert_eq!(
            c.action,
            Action::Serve {
                bind: "127.0.0.1:3000".into()
            }
        );
        let c = resolve(cli(&["seed"]), no_env(), full_file()).unwrap();
        assert_eq!(
            c.action,
            Action::Seed {
                customers: 300,
                seed: 3
            }
        );
    }

    #[test]
    fn the_environment_beats_the_file() {
        let c = resolve(cli(&["serve"]), full_env(), full_file()).unwrap();
        assert_eq!(c.database, "sqlite:env.db");
        assert_eq!(
            c.action,
            Action::Serve {
                bind: "127.0.0.1:2000".into()
            }
        );
        let c = resolve(cli(&["seed"]), full_env(), full_file()).unwrap();
        assert_eq!(
            c.action,
            Action::Seed {
                customers: 200,
                seed: 2
            }
        );
    }

    #[test]
    fn flags_beat_the_environment() {
        let args = [
            "--database",
            "sqlite:flag.db",
            "serve",
            "--bind",
            "127.0.0.1:1000",
        ];
        let c = resolve(cli(&args), full_env(), full_file()).unwrap();
        assert_eq!(c.database, "sqlite:flag.db");
        assert_eq!(
            c.action,
            Action::Serve {
                bind: "127.0.0.1:1000".into()
            }
        );
        let args = ["seed", "--customers", "100", "--seed", "1"];
        let c = resolve(cli(&args), full_env(), full_file()).unwrap();
        assert_eq!(
            c.action,
            Action::Seed {
                customers: 100,
                seed: 1
            }
        );
    }

    #[test]
    fn each_setting_falls_through_on_its_own() {
        // The flag sets customers, the environment the seed, the file the database.
        let c = resolve(
            cli(&["seed", "--customers", "7"]),
            env(&[("GUANXI_SEED", "9")]),
            file(r#"database = "postgres://u@h/db""#),
        )
        .unwrap();
        assert_eq!(c.database, "postgres://u@h/db");
        assert_eq!(
            c.action,
            Action::Seed {
                customers: 7,
                seed: 9
            }
        );
    }

    #[test]
    fn the_global_database_flag_may_follow_the_subcommand() {
        let c = resolve(
            cli(&["migrate", "--database", "sqlite::memory:"]),
            no_env(),
            None,
        )
        .unwrap();
        assert_eq!(c.database, "sqlite::memory:");
    }

    #[test]
    fn an_empty_environment_variable_counts_as_unset() {
        let c = resolve(
            cli(&["serve"]),
            env(&[("GUANXI_DATABASE", ""), ("GUANXI_BIND", "")]),
            full_file(),
        )
        .unwrap();
        assert_eq!(c.database, "sqlite:file.db");
        assert_eq!(
            c.action,
            Action::Serve {
                bind: "127.0.0.1:3000".into()
            }
        );
    }

    #[test]
    fn seed_requires_a_customer_count() {
        let err = resolve(cli(&["seed"]), no_env(), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("--customers"), "{msg}");
        assert!(msg.contains("GUANXI_CUSTOMERS"), "{msg}");
    }

    #[test]
    fn a_malformed_number_in_the_environment_is_an_error_naming_it() {
        let err = resolve(cli(&["seed"]), env(&[("GUANXI_CUSTOMERS", "lots")]), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("GUANXI_CUSTOMERS"), "{err}");
        assert!(err.contains("lots"), "{err}");
    }

    #[test]
    fn a_malformed_flag_is_a_usage_error() {
        let argv = ["guanxi", "seed", "--customers", "lots"];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn demo_uses_its_own_database_unless_the_flag_names_one() {
        let c = resolve(cli(&["demo"]), full_env(), full_file()).unwrap();
        assert_eq!(c.database, "sqlite:guanxi-demo.db");
        assert_eq!(
            c.action,
            Action::Demo {
                bind: "127.0.0.1:2000".into()
            }
        );
        let c = resolve(
            cli(&["--database", "sqlite:x.db", "demo"]),
            full_env(),
            None,
        )
        .unwrap();
        assert_eq!(c.database, "sqlite:x.db");
        let c = resolve(cli(&["demo"]), no_env(), None).unwrap();
        assert_eq!(
            c.action,
            Action::Demo {
                bind: "127.0.0.1:8080".into()
            }
        );
    }

    #[test]
    fn the_file_rejects_unknown_keys_and_wrong_types() {
        let err = format!("{:#}", FileConfig::parse("databse = \"x\"").unwrap_err());
        assert!(err.contains("databse"), "{err}");
        assert!(FileConfig::parse("customers = \"many\"").is_err());
        assert_eq!(FileConfig::parse("").unwrap(), FileConfig::default());
    }

    #[test]
    fn the_default_file_is_optional_but_a_named_one_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_file(None, no_env(), dir.path()).unwrap(), None);

        let missing = dir.path().join("nope.toml");
        let err = load_file(Some(&missing), no_env(), dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("nope.toml"), "{err:#}");
        let by_env = env(&[("GUANXI_CONFIG", missing.to_str().unwrap())]);
        assert!(load_file(None, by_env, dir.path()).is_err());

        std::fs::write(dir.path().join("guanxi.toml"), "seed = 5\n").unwrap();
        let found = load_file(None, no_env(), dir.path()).unwrap().unwrap();
        assert_eq!(found.seed, Some(5));

        // A named file replaces the default one.
        let other = dir.path().join("other.toml");
        std::fs::write(&other, "seed = 6\n").unwrap();
        let by_flag = load_file(Some(&other), no_env(), dir.path()).unwrap();
        assert_eq!(by_flag.unwrap().seed, Some(6));
        let by_env = env(&[("GUANXI_CONFIG", other.to_str().unwrap())]);
        assert_eq!(
            load_file(None, by_env, dir.path()).unwrap().unwrap().seed,
            Some(6)
        );
    }

    #[test]
    fn an_invalid_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("guanxi.toml"), "bind = 8080\n").unwrap();
        let err = load_file(None, no_env(), dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("guanxi.toml"), "{err:#}");
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

#[cfg(test)]
mod user_tests {
    use super::*;

    #[test]
    fn user_add_takes_its_arguments_and_the_usual_database() {
        let cli = Cli::try_parse_from([
            "guanxi",
            "user",
            "add",
            "--email",
            "li@x.cn",
            "--role",
            "sales",
            "--team",
            "华东1组",
            "--password-stdin",
        ])
        .unwrap();
        let c = resolve(cli, |_| None, None).unwrap();
        assert_eq!(c.database, DEFAULT_DATABASE);
        let Action::UserAdd(a) = c.action else {
            panic!("{:?}", c.action)
        };
        assert_eq!(
            (
                a.email.as_str(),
                a.role.as_str(),
                a.team.as_deref(),
                a.password_stdin
            ),
            ("li@x.cn", "sales", Some("华东1组"), true)
        );
        assert!(
            Cli::try_parse_from(["guanxi", "user", "add", "--email", "x@y.cn"]).is_err(),
            "role is required"
        );
    }
}

#[cfg(test)]
mod export_tests {
    use super::*;

    fn export(args: &[&str]) -> ExportArgs {
        let mut argv = vec!["guanxi", "export"];
        argv.extend_from_slice(args);
        let c = resolve(Cli::try_parse_from(argv).unwrap(), |_| None, None).unwrap();
        let Action::Export(a) = c.action else {
            panic!("{:?}", c.action)
        };
        a
    }

    #[test]
    fn export_flags_become_the_api_parameters() {
        let a = export(&[
            "contacts",
            "--filter",
            "name:in:张伟,王芳",
            "--filter",
            "title:eq:经理",
            "--sort",
            "-name",
            "--columns",
            "name,mobile,custom.level",
            "--labels",
            "zh",
            "--deleted",
            "-o",
            "out.csv",
            "--as",
            "li@x.cn",
        ]);
        assert_eq!(a.kind, "contacts");
        assert_eq!(a.output, Some(PathBuf::from("out.csv")));
        assert_eq!(a.as_user.as_deref(), Some("li@x.cn"));
        let pairs = a.request_pairs();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("format", "csv"),
                ("columns", "name,mobile,custom.level"),
                ("labels", "zh"),
                ("filter", "name:in:张伟,王芳"),
                ("filter", "title:eq:经理"),
                ("sort", "-name"),
                ("deleted", "true"),
            ]
        );
        assert_eq!(
            export(&["contact"]).request_pairs(),
            [("format", "csv".into())]
        );
    }

    #[test]
    fn the_format_follows_the_output_file_unless_named() {
        assert_eq!(export(&["contacts"]).format(), "csv");
        assert_eq!(export(&["contacts", "-o", "a.xlsx"]).format(), "xlsx");
        assert_eq!(export(&["contacts", "--output", "A.XLSX"]).format(), "xlsx");
        assert_eq!(export(&["contacts", "-o", "a.txt"]).format(), "csv");
        assert_eq!(
            export(&["contacts", "-o", "a.xlsx", "--format", "csv"]).format(),
            "csv"
        );
        assert_eq!(export(&["contacts", "--format", "xlsx"]).format(), "xlsx");
    }
}

#[cfg(test)]
mod analytics_tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut argv = vec!["guanxi", "analytics"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
    }

    #[test]
    fn the_file_commands_read_no_configuration() {
        for args in [
            &["fit", "--model", "bgnbd", "--summary", "s.csv"][..],
            &[
                "predict",
                "--model",
                "mbgnbd",
                "--summary",
                "s.csv",
                "--horizon",
                "4",
            ],
            &["rfm", "--transactions", "t.csv", "--as-of", "2024-01-31"],
        ] {
            let cli = parse(args).unwrap();
            assert!(!cli.command.uses_configuration(), "{args:?}");
            let c = resolve(cli, |_| None, None).unwrap();
            assert!(matches!(c.action, Action::Analytics(_)), "{args:?}");
        }
        assert!(
            Cli::try_parse_from(["guanxi", "migrate"])
                .unwrap()
                .command
                .uses_configuration()
        );
    }

    #[test]
    fn fit_and_predict_take_the_documented_flags() {
        let cli = parse(&[
            "fit",
            "--model",
            "pareto-nbd",
            "--transactions",
            "t.csv",
            "--calibration-end",
            "1997-09-30",
            "--period",
            "week",
            "--format",
            "csv",
        ])
        .unwrap();
        let Command::Analytics(AnalyticsCommand::Fit(a)) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(a.model, FitModel::ParetoNbd);
        assert_eq!(a.format, OutputFormat::Csv);
        assert_eq!(a.input.period, Some(PeriodArg::Week));
        assert_eq!(
            a.input.calibration_end,
            NaiveDate::from_ymd_opt(1997, 9, 30)
        );

        let cli = parse(&[
            "predict",
            "--model",
            "bgnbd",
            "--summary",
            "s.csv",
            "--horizon",
            "39",
        ])
        .unwrap();
        let Command::Analytics(AnalyticsCommand::Predict(a)) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(
            (
                a.horizon,
                a.spend_model,
                a.clv_months,
                a.discount_rate,
                a.format
            ),
            (39.0, None, 12, 0.01, OutputFormat::Json)
        );
        let cli = parse(&[
            "predict",
            "--model",
            "bgnbd",
            "--summary",
            "s.csv",
            "--horizon",
            "4.5",
            "--spend-model",
            "gamma-gamma",
            "--clv-months",
            "6",
            "--discount-rate",
            "0",
        ])
        .unwrap();
        let Command::Analytics(AnalyticsCommand::Predict(a)) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(
            (a.horizon, a.spend_model, a.clv_months, a.discount_rate),
            (4.5, Some(SpendModel::GammaGamma), 6, 0.0)
        );
    }

    #[test]
    fn analytics_usage_errors() {
        for args in [
            // No input, both inputs, a log without its calibration end or period.
            &["fit", "--model", "bgnbd"][..],
            &[
                "fit",
                "--model",
                "bgnbd",
                "--summary",
                "s",
                "--transactions",
                "t",
            ],
            &[
                "fit",
                "--model",
                "bgnbd",
                "--transactions",
                "t",
                "--period",
                "week",
            ],
            &[
                "fit",
                "--model",
                "bgnbd",
                "--transactions",
                "t",
                "--calibration-end",
                "2024-01-01",
            ],
            &[
                "fit",
                "--model",
                "bgnbd",
                "--summary",
                "s",
                "--calibration-end",
                "2024-01-01",
            ],
            &["fit", "--model", "nbd", "--summary", "s"],
            &[
                "fit",
                "--model",
                "bgnbd",
                "--summary",
                "s",
                "--format",
                "xml",
            ],
            // predict: gamma-gamma is not a purchase model; the horizon is required, ≥ 0.
            &[
                "predict",
                "--model",
                "gamma-gamma",
                "--summary",
                "s",
                "--horizon",
                "1",
            ],
            &["predict", "--model", "bgnbd", "--summary", "s"],
            &[
                "predict",
                "--model",
                "bgnbd",
                "--summary",
                "s",
                "--horizon",
                "-1",
            ],
            &[
                "predict",
                "--model",
                "bgnbd",
                "--summary",
                "s",
                "--horizon",
                "NaN",
            ],
            // CLV settings without a spend model; a discount rate of -100 %.
            &[
                "predict",
                "--model",
                "bgnbd",
                "--summary",
                "s",
                "--horizon",
                "1",
                "--clv-months",
                "3",
            ],
            &[
                "predict",
                "--model",
                "bgnbd",
                "--summary",
                "s",
                "--horizon",
                "1",
                "--spend-model",
                "gamma-gamma",
                "--discount-rate",
                "-1",
            ],
            &["rfm", "--transactions", "t"],
            &["rfm", "--transactions", "t", "--as-of", "2024-02-30"],
        ] {
            assert!(parse(args).is_err(), "{args:?} parsed");
        }
    }
}
