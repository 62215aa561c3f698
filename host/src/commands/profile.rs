use crate::cli::ProfileCommand;
use crate::error::Result;
use crate::home::Home;

pub fn run(cmd: ProfileCommand) -> Result<()> {
    let home = Home::from_env()?;
    match cmd {
        ProfileCommand::List => {
            let active = home.active_profile_name()?;
            for name in home.list_profiles()? {
                let marker = if name == active { " ←" } else { "" };
                crate::outln!("{name}{marker}");
            }
        }
        ProfileCommand::Create { name } => {
            let profile = home.create_profile(&name)?;
            eprintln!("created profile {name} in {}", profile.dir.display());
        }
        ProfileCommand::Delete { name } => {
            home.delete_profile(&name)?;
            eprintln!("deleted profile {name}");
        }
        ProfileCommand::Use { name } => {
            home.use_profile(&name)?;
            eprintln!("now using profile {name}");
        }
    }
    Ok(())
}
