//! The `matching` queue (wired up with the owners/seekers resources).

use super::runner::{Outcome, Run};
use crate::domain::jobs::Failure;

pub async fn run(_run: &mut Run<'_>) -> Outcome {
    Err(Failure::Permanent(
        "matching lands with the owners resources".into(),
    ))
}
