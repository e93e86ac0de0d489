//! bits commands (being written).

use crate::table::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
