//! The command line: one flag per configuration field (names from the
//! config schema, so they cannot drift), plus `--config` and
//! `--print-config`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};
use troupe_config::{Config, ConfigError, Layer, Sources, FIELDS};

#[derive(Debug)]
pub struct Invocation {
    pub config_file: Option<PathBuf>,
    pub flags: Layer,
    pub print_config: bool,
}

pub fn command() -> Command {
    let mut command = Command::new("troupe")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A clustered WebRTC SFU built as a tree of supervised actors")
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .help("TOML or YAML configuration file"),
        )
        .arg(
            Arg::new("print-config")
                .long("print-config")
                .action(ArgAction::SetTrue)
                .help("print the effective configuration as TOML and exit"),
        );
    for field in FIELDS {
        let flag: &'static str = Box::leak(field.flag().into_boxed_str());
        let help = format!(
            "{} [env {}] [default: {}]",
            field.help,
            field.env(),
            field.default
        );
        command = command.arg(
            Arg::new(field.key)
                .long(flag)
                .value_name("VALUE")
                .help(help),
        );
    }
    command
}

pub fn parse<I, T>(args: I) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    let mut flags = Layer::default();
    for field in FIELDS {
        if let Some(value) = matches.get_one::<String>(field.key) {
            flags
                .set_text(field.key, value.clone())
                .expect("every flag is a known field");
        }
    }
    Ok(Invocation {
        config_file: matches.get_one::<String>("config").map(PathBuf::from),
        flags,
        print_config: matches.get_flag("print-config"),
    })
}

pub fn load_config(invocation: &Invocation) -> Result<Config, ConfigError> {
    troupe_config::load(&Sources::from_process(
        invocation.config_file.clone(),
        invocation.flags.clone(),
    ))
}
