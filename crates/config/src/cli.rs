//! The `ringkv [/path/to/ringkv.conf] [--name value ...]` command line,
//! parsed the way `redis-server` parses its own: `-v`/`--version` or
//! `-h`/`--help` as the first argument, an optional config file path as the
//! first argument, and every `--name value...` turned into a config line
//! that is loaded after the file, so the command line overrides the file
//! with the same parser and the same error messages.

use std::path::PathBuf;

use crate::split::{quote_arg, split_args};

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupArgs {
    /// Config file given as the first argument.
    pub config_file: Option<PathBuf>,
    /// Config text built from the `--name value` options, one line each,
    /// loaded after the file.
    pub overrides: String,
    /// `-h` / `--help` was given: print usage and exit.
    pub help: bool,
    /// `-v` / `--version` was given: print the version and exit.
    pub version: bool,
}

/// Parses `argv` (without the program name) with `redis-server` rules:
///
/// * `-v`/`--version` and `-h`/`--help` are recognised as the first
///   argument only (anywhere else they would be config options, as in
///   Redis).
/// * A first argument not starting with `-` is the config file.
/// * `--name` starts a config line `name`; the following arguments are its
///   values up to the next argument starting with `--`, except that the
///   argument right after a bare `--name` is always its value, so
///   `--requirepass --secret` sets the password to `--secret` (Redis 7.0.1+
///   behaviour). `"--port 6380"` as a single argument is accepted too.
/// * Values are quoted only when needed, in a form the config parser reads
///   back exactly: `--port 6380 --bind 127.0.0.1 ::1` gives
///   `"port 6380\nbind 127.0.0.1 ::1\n"`.
///
/// Bad options are not detected here: they surface as config errors (source
/// `"command line"`) when [`crate::Config::load`] reads the overrides, like
/// in Redis. The only error is `-` as the first or last argument (Redis:
/// read config from stdin), which ringkv does not support.
pub fn parse_command_line(argv: &[String]) -> Result<StartupArgs, String> {
    let mut out = StartupArgs::default();
    let Some(first) = argv.first() else {
        return Ok(out);
    };
    match first.as_str() {
        "-v" | "--version" => {
            out.version = true;
            return Ok(out);
        }
        "-h" | "--help" => {
            out.help = true;
            return Ok(out);
        }
        _ => {}
    }
    let mut j = 0;
    if !first.starts_with('-') {
        out.config_file = Some(PathBuf::from(first));
        j = 1;
    }

    // Each line is the option name followed by its already-quoted values.
    let mut lines: Vec<String> = Vec::new();
    let mut last_has_value = true;
    while j < argv.len() {
        let arg = &argv[j];
        if arg == "-" && (j == 0 || j + 1 == argv.len()) {
            return Err(
                "reading the configuration from standard input ('-') is not supported".to_string(),
            );
        }
        if last_has_value && arg.starts_with("--") {
            let name = &arg[2..];
            lines.push(name.to_string());
            let words = split_args(arg.as_bytes()).map_or(0, |v| v.len());
            // `--port` alone waits for a value; `"--port 6380"` carries one.
            last_has_value = words != 1;
            let next_is_option = argv.get(j + 1).is_some_and(|n| n.starts_with("--"));
            if words == 1
                && name.eq_ignore_ascii_case("save")
                && (next_is_option || j + 1 == argv.len())
            {
                // Redis special case: a bare `--save` means `save ""`.
                lines.last_mut().expect("just pushed").push_str(" \"\"");
                last_has_value = true;
            }
        } else {
            let q = quote_arg(arg.as_bytes());
            match lines.last_mut() {
                Some(line) => {
                    line.push(' ');
                    line.push_str(&q);
                }
                // A value with no option before it: Redis emits it as a
                // line of its own, which then fails as a bad directive.
                None => lines.push(q),
            }
            last_has_value = true;
        }
        j += 1;
    }
    for line in lines {
        out.overrides.push_str(&line);
        out.overrides.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<StartupArgs, String> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_command_line(&v)
    }

    #[test]
    fn empty() {
        assert_eq!(parse(&[]).unwrap(), StartupArgs::default());
    }

    #[test]
    fn options_become_lines() {
        let a = parse(&["--port", "7000", "--bind", "127.0.0.1", "::1"]).unwrap();
        assert_eq!(a.overrides, "port 7000\nbind 127.0.0.1 ::1\n");
        assert_eq!(a.config_file, None);
        assert!(!a.help && !a.version);
    }

    #[test]
    fn config_file_first() {
        let a = parse(&["/etc/ringkv.conf", "--port", "6380"]).unwrap();
        assert_eq!(a.config_file, Some(PathBuf::from("/etc/ringkv.conf")));
        assert_eq!(a.overrides, "port 6380\n");
        let a = parse(&["ringkv.conf"]).unwrap();
        assert_eq!(a.config_file, Some(PathBuf::from("ringkv.conf")));
        assert_eq!(a.overrides, "");
    }

    #[test]
    fn help_and_version() {
        assert!(parse(&["--help"]).unwrap().help);
        assert!(parse(&["-h"]).unwrap().help);
        assert!(parse(&["--version"]).unwrap().version);
        assert!(parse(&["-v"]).unwrap().version);
        // Only as the first argument, like redis-server.
        let a = parse(&["x.conf", "--version"]).unwrap();
        assert!(!a.version);
        assert_eq!(a.overrides, "version\n");
    }

    #[test]
    fn values_with_spaces_and_specials_are_quoted() {
        let a = parse(&["--requirepass", "a b\"c", "--logfile", ""]).unwrap();
        assert_eq!(a.overrides, "requirepass \"a b\\\"c\"\nlogfile \"\"\n");
        let a = parse(&["--requirepass", "it's"]).unwrap();
        assert_eq!(a.overrides, "requirepass \"it's\"\n");
    }

    #[test]
    fn value_after_bare_option_may_start_with_dashes() {
        let a = parse(&["--requirepass", "--secret", "--port", "1"]).unwrap();
        assert_eq!(a.overrides, "requirepass --secret\nport 1\n");
    }

    #[test]
    fn option_and_value_in_one_argument() {
        let a = parse(&["--port 6380", "--hz", "20"]).unwrap();
        assert_eq!(a.overrides, "port 6380\nhz 20\n");
    }

    #[test]
    fn option_without_value_is_left_for_the_loader() {
        assert_eq!(parse(&["--port"]).unwrap().overrides, "port\n");
        assert_eq!(parse(&["--save"]).unwrap().overrides, "save \"\"\n");
        assert_eq!(
            parse(&["--save", "--port", "1"]).unwrap().overrides,
            "save \"\"\nport 1\n"
        );
    }

    #[test]
    fn stray_value_without_option() {
        assert_eq!(parse(&["-x"]).unwrap().overrides, "-x\n");
    }

    #[test]
    fn stdin_is_rejected() {
        assert!(parse(&["-"]).is_err());
        assert!(parse(&["a.conf", "-"]).is_err());
        // In the middle it is just a value, as in Redis.
        assert_eq!(
            parse(&["--requirepass", "-", "--port", "1"])
                .unwrap()
                .overrides,
            "requirepass -\nport 1\n"
        );
    }
}
