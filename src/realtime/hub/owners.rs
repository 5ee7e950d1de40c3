//! Owner checks of entity channels whose readers depend on the record (a sale's broker,
//! a job's creator, report jobs admin-only): looked up in D1 before a subscription is
//! admitted, so no transport streams a record the REST route would refuse.

use super::tenant_hub_do::TenantHub;
use crate::realtime::protocol::{self, FrameError, Identity, OwnerCheck, OwnerKind};
use crate::store::t;
use serde::Deserialize;

/// The D1 lookup of one owner check (tenant-scoped: `:tenant` is the hub's tenant).
pub fn owner_query(kind: OwnerKind) -> &'static str {
    match kind {
        OwnerKind::Sale => {
            "SELECT broker_id AS owner FROM sales WHERE tenant_id = :tenant AND id = :id"
        }
        OwnerKind::Job => {
            "SELECT created_by AS owner, queue FROM jobs WHERE tenant_id = :tenant AND id = :id"
        }
    }
}

impl TenantHub {
    /// Runs the owner checks against D1; the first refusal refuses the whole subscribe.
    pub(super) async fn check_owners(
        &self,
        who: &Identity,
        checks: &[OwnerCheck],
    ) -> std::result::Result<(), FrameError> {
        if checks.is_empty() {
            return Ok(());
        }
        let tenant = self.tenant.borrow().clone().unwrap_or_default();
        let internal = |e: worker::Error| FrameError::new("internal", e.to_string());
        let db = self.env.d1("DB").map_err(internal)?;
        #[derive(Deserialize)]
        struct Owner {
            owner: String,
            #[serde(default)]
            queue: Option<String>,
        }
        for c in checks {
            let row: Option<Owner> = crate::store::query(
                &db,
                owner_query(c.owner),
                &[("tenant", t(&tenant)), ("id", t(&c.id))],
            )
            .map_err(|e| FrameError::new("internal", e.message))?
            .first(None)
            .await
            .map_err(internal)?;
            let admin_only = row
                .as_ref()
                .is_some_and(|r| r.queue.as_deref() == Some(crate::domain::policy::REPORTS_QUEUE));
            protocol::owner_allows(who, c, row.as_ref().map(|r| r.owner.as_str()), admin_only)?;
        }
        Ok(())
    }
}
