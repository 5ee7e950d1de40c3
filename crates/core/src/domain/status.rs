//! The status columns as enums (pure): each one's values, their stored text (`as_str`, the
//! same as their JSON), used in row structs, as SQL arguments and in comparisons.

use serde::{Deserialize, Serialize};

/// A status enum: its stored text.
pub trait Status: Copy {
    fn as_str(self) -> &'static str;
}

macro_rules! status {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every value's text, in declaration order (query filters, schemas).
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value stored as `s`, if any.
            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl Status for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status! {
    /// `customers.status`: where a customer stands in the pipeline.
    CustomerStatus {
        Lead = "lead",
        Prospect = "prospect",
        Active = "active",
        Inactive = "inactive",
        Closed = "closed",
    }
}

status! {
    /// `followups.status`.
    FollowupStatus {
        Open = "open",
        Done = "done",
        Cancelled = "cancelled",
    }
}

status! {
    /// `appointments.status`.
    AppointmentStatus {
        Scheduled = "scheduled",
        Completed = "completed",
        Cancelled = "cancelled",
    }
}

status! {
    /// `jobs.status`: a job's lifecycle (`domain::jobs`).
    JobStatus {
        Queued = "queued",
        Running = "running",
        Retrying = "retrying",
        Completed = "completed",
        Failed = "failed",
        Dead = "dead",
    }
}

status! {
    /// `sales.status`: `paid` once payments reach the total.
    SaleStatus {
        Open = "open",
        Paid = "paid",
    }
}

status! {
    /// `commissions.status`: approved once, by an admin.
    CommissionStatus {
        Pending = "pending",
        Approved = "approved",
        Paid = "paid",
    }
}

status! {
    /// `matches.status`: proposed by the matching job, then decided by a broker.
    MatchStatus {
        Proposed = "proposed",
        Accepted = "accepted",
        Rejected = "rejected",
    }
}

status! {
    /// `listings.status`: rolled up from its publications (`publishing::listing_status`).
    ListingStatus {
        Draft = "draft",
        Publishing = "publishing",
        Published = "published",
        PartiallyPublished = "partially_published",
        Failed = "failed",
    }
}

status! {
    /// `listing_publications.status`: one platform's publication of a listing (`unpublishing`:
    /// being withdrawn, still live until the platform confirms).
    PublicationStatus {
        Queued = "queued",
        Publishing = "publishing",
        Published = "published",
        Failed = "failed",
        Unpublishing = "unpublishing",
        Unpublished = "unpublished",
    }
}

status! {
    /// `publishing_schedules.status`.
    ScheduleStatus {
        Pending = "pending",
        Started = "started",
        Cancelled = "cancelled",
    }
}

status! {
    /// `reports.status`.
    ReportStatus {
        Queued = "queued",
        Running = "running",
        Ready = "ready",
        Failed = "failed",
    }
}

status! {
    /// `properties.status`.
    PropertyStatus {
        Available = "available",
        UnderOffer = "under_offer",
        Sold = "sold",
        Rented = "rented",
    }
}

status! {
    /// `idempotency.state`: a key's first request is running, or its answer is stored.
    IdempotencyState {
        Pending = "pending",
        Done = "done",
    }
}

status! {
    /// `property_photos.status`: the file is on its way to R2 (the row is not shown yet),
    /// stored (shown), or deleted and its file waiting to be removed from R2.
    PhotoStatus {
        Uploading = "uploading",
        Stored = "stored",
        Deleting = "deleting",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<S: Status>(all: &[S]) -> Vec<&'static str> {
        all.iter().map(|s| s.as_str()).collect()
    }

    /// The stored text, the JSON and `parse` agree, for every value of every status.
    fn round_trips<S>(all: &[S])
    where
        S: Status + Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        for s in all {
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, serde_json::json!(s.as_str()));
            assert_eq!(&serde_json::from_value::<S>(json).unwrap(), s);
        }
    }

    #[test]
    fn text_json_and_parse_agree() {
        round_trips(CustomerStatus::ALL);
        round_trips(FollowupStatus::ALL);
        round_trips(AppointmentStatus::ALL);
        round_trips(JobStatus::ALL);
        round_trips(SaleStatus::ALL);
        round_trips(CommissionStatus::ALL);
        round_trips(MatchStatus::ALL);
        round_trips(ListingStatus::ALL);
        round_trips(PublicationStatus::ALL);
        round_trips(ScheduleStatus::ALL);
        round_trips(ReportStatus::ALL);
        round_trips(PropertyStatus::ALL);
        round_trips(IdempotencyState::ALL);
        assert_eq!(
            ListingStatus::parse("partially_published"),
            Some(ListingStatus::PartiallyPublished)
        );
        assert_eq!(JobStatus::parse("later"), None);
        assert_eq!(JobStatus::Dead.to_string(), "dead");
    }

    /// The validators' lists of accepted values are the enums' values.
    #[test]
    fn validator_lists_are_the_enums() {
        assert_eq!(texts(CustomerStatus::ALL), super::super::customer::STATUSES);
        assert_eq!(
            texts(FollowupStatus::ALL),
            super::super::crm::FOLLOWUP_STATUSES
        );
        assert_eq!(texts(JobStatus::ALL), super::super::jobs::STATUSES);
        assert_eq!(
            texts(PropertyStatus::ALL),
            super::super::owners::PROPERTY_STATUSES
        );
    }

    /// The statuses are those the migrations' CHECK constraints allow.
    #[test]
    fn statuses_match_the_schema_checks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let mut sql = String::new();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            sql.push_str(&std::fs::read_to_string(f).unwrap());
        }
        let check = |all: Vec<&str>| {
            let list = all
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ");
            assert!(sql.contains(&format!("IN ({list})")), "no CHECK for {list}");
        };
        check(texts(FollowupStatus::ALL));
        check(texts(AppointmentStatus::ALL));
        check(texts(JobStatus::ALL));
        check(texts(SaleStatus::ALL));
        check(texts(CommissionStatus::ALL));
        check(texts(MatchStatus::ALL));
        check(texts(ListingStatus::ALL));
        check(texts(PublicationStatus::ALL));
        check(texts(ScheduleStatus::ALL));
        check(texts(ReportStatus::ALL));
        check(texts(IdempotencyState::ALL));
        check(texts(PhotoStatus::ALL));
    }
}
