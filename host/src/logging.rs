use crate::home::Profile;
pub struct LogGuard;
pub fn init(_profile: &Profile) -> Option<LogGuard> { None }
