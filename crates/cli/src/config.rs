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
use clap::{Args, Parser, Subcommand};
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
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
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
    pub customers: Option<u64>,
    pub seed: Option<u64>,
}

impl FileConfig {
    pub fn parse(text: &str) -> anyhow::Result<FileConfig> {
        Ok(toml::from_str(text)?)
    }
}

/// Settings after merging every source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub database: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Serve { bind: String },
    Migrate,
    Seed { customers: u64, seed: u64 },
    Demo { bind: String },
    AuditVerify,
    UserAdd(UserAddArgs),
    UserToken(UserTokenArgs),
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
    cli: Cli,
    env: impl Fn(&str) -> Option<String>,
    file: Option<FileConfig>,
) -> anyhow::Result<Config> {
    let file = file.unwrap_or_default();
    let bind = |flag: Option<String>| {
        pick(flag, &env, ENV_BIND, file.bind.clone()).map(|b| b.unwrap_or(DEFAULT_BIND.into()))
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
        Command::User(UserCommand::Add(a)) => (Action::UserAdd(a), None),
        Command::User(UserCommand::Token(a)) => (Action::UserToken(a), None),
    };
    let database = match database {
        Some(db) => db,
        None => pick(cli.database, &env, ENV_DATABASE, file.database)?
            .unwrap_or(DEFAULT_DATABASE.into()),
    };
    Ok(Config { database, action })
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
