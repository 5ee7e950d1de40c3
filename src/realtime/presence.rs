//! Presence: who is on a channel, from the connections' subscriptions (pure).

use super::protocol::Sub;

/// `(user_id, connections)` on `channel`, sorted by user id, from each live connection's
/// `(user_id, subscriptions)`; only subscriptions that opted into presence count.
pub fn list<'a>(
    conns: impl Iterator<Item = (&'a str, &'a [Sub])>,
    channel: &str,
) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for (user, subs) in conns {
        if subs.iter().any(|s| s.presence && s.channel == channel) {
            match out.iter_mut().find(|(u, _)| u == user) {
                Some((_, n)) => *n += 1,
                None => out.push((user.to_string(), 1)),
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(c: &str, p: bool) -> Sub {
        Sub {
            channel: c.into(),
            types: vec![],
            presence: p,
        }
    }

    #[test]
    fn counts_connections_per_user_with_presence_only() {
        let a = vec![s("entity:property:p1", true)];
        let b = vec![s("entity:property:p1", true), s("tenant", false)];
        let c = vec![s("entity:property:p1", false)];
        let conns = vec![
            ("u2", a.as_slice()),
            ("u1", b.as_slice()),
            ("u2", b.as_slice()),
            ("u3", c.as_slice()),
        ];
        let l = list(conns.into_iter(), "entity:property:p1");
        assert_eq!(l, vec![("u1".to_string(), 1), ("u2".to_string(), 2)]);
    }
}
