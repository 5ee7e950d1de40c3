//! Saved notifications: which event types are kept per addressed user (the one list), how
//! long they are kept, and what the `notifications` channel streams after its snapshot.
//!
//! An event is addressed to a user by its `user:<id>` channel, or to every user of a role
//! by `role:<role>`. When its type is notified, the outbox row is flagged and a trigger in
//! the same D1 batch stores one notification per addressed user (migration 0021), so a
//! notification exists exactly when its event does.

/// Event types stored as notifications (exact, or a prefix ending in `*`): what a person
/// should find later in their inbox. Progress, analytics and record churn are left out.
pub const NOTIFIED_TYPES: &[&str] = &[
    "crm:followup:created",
    "crm:followup:due",
    "crm:customer:assigned",
    "crm:lead:captured",
    "calendar:appointment:created",
    "calendar:reminder",
    "owners:match:found",
    "finance:sale:created",
    "finance:commission:calculated",
    "finance:commission:approved",
    "finance:payment:received",
    "reports:generated",
    "reports:failed",
    "publishing:completed",
    "publishing:failed",
    "job:dead",
    "system:*",
];

/// The event that marks notifications read, to the reader's other devices (`user:<id>`).
pub const READ_EVENT: &str = "notification:read";

/// Notifications are kept this long, read or not.
pub const KEEP_MS: i64 = 90 * 24 * 3600 * 1000;

/// Notifications in the `notifications` snapshot.
pub const SNAPSHOT_ITEMS: u32 = 20;

/// Whether events of `kind` are stored as notifications.
pub fn notified(kind: &str) -> bool {
    NOTIFIED_TYPES.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => *p == kind,
    })
}

/// What the `notifications` channel streams after its snapshot: each new notification's
/// event (one more unread) and the read marks (which carry the new unread count).
pub fn streamed_on_channel(kind: &str) -> bool {
    notified(kind) || kind == READ_EVENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_decides() {
        assert!(notified("crm:followup:due"));
        assert!(notified("system:notice"));
        assert!(notified("job:dead"));
        assert!(!notified("job:progress"));
        assert!(!notified("crm:customer:created"));
        assert!(
            !notified(READ_EVENT),
            "a read mark is never itself a notification"
        );
        assert!(streamed_on_channel(READ_EVENT));
        assert!(!streamed_on_channel("card:analytics:updated"));
    }
}
