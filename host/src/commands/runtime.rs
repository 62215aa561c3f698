//! `talaria runtime ...`: which runtime runs a turn, per profile.

use std::sync::Arc;

use crate::app::App;
use crate::approvals::Approvals;
use crate::cli::{ApprovalMode, RuntimeCommand};
use crate::config::{edit_config, set_in_list, set_string};
use crate::error::{Error, Result};
use crate::output::{print_json, print_table};
use crate::plugins::Registry;

pub fn run(app: &App, cmd: RuntimeCommand) -> Result<()> {
    let registry = Registry::open(app, Arc::new(Approvals::new(ApprovalMode::Deny)))?;
    let path = app.profile.config_path();
    match cmd {
        RuntimeCommand::List { json } => {
            let runtimes = registry.runtimes();
            if json.json {
                return print_json(&runtimes);
            }
            let mut rows = vec![vec![
                "RUNTIME".into(),
                "PROVIDED BY".into(),
                "ENABLED".into(),
                "".into(),
            ]];
            for r in runtimes {
                rows.push(vec![
                    r.id,
                    r.plugin,
                    if r.enabled { "yes".into() } else { "no".into() },
                    if r.default {
                        "←".into()
                    } else {
                        String::new()
                    },
                ]);
            }
            print_table(&rows);
        }
        RuntimeCommand::Use { id } => {
            registry.runtime(&id)?;
            edit_config(&path, |doc| set_string(doc, "model", "runtime", &id))?;
            eprintln!("profile {} now runs turns with {id}", app.profile.name);
        }
        RuntimeCommand::Enable { id } | RuntimeCommand::Disable { id }
            if !registry.runtimes().iter().any(|r| r.id == id) =>
        {
            return Err(Error::usage(format!(
                "unknown runtime {id:?}; `talaria runtime list` shows the known ones"
            )));
        }
        RuntimeCommand::Enable { id } => {
            edit_config(&path, |doc| {
                set_in_list(doc, "runtimes", "disabled", &id, false)
            })?;
            eprintln!("enabled runtime {id} in profile {}", app.profile.name);
        }
        RuntimeCommand::Disable { id } => {
            edit_config(&path, |doc| {
                set_in_list(doc, "runtimes", "disabled", &id, true)
            })?;
            eprintln!("disabled runtime {id} in profile {}", app.profile.name);
            if app.config()?.model.runtime == id {
                eprintln!("warning: it is this profile's default runtime; choose another with `talaria runtime use ID`");
            }
        }
    }
    Ok(())
}
