//! Which requests ask the shared rate limiter: one call for every `SHARE` requests of a
//! caller in an isolate, every request once a caller has been refused.
//!
//! The shared limiter (Workers' rate-limiting binding) is configured in limiter tokens:
//! one token stands for `SHARE` requests, so its `limit` is the per-caller request budget
//! divided by `SHARE`. Asking on every request would spend one binding call per request
//! (locally a Durable Object round trip, ~1.6 ms of a 5 ms read); asking on one in
//! `SHARE` keeps the count: a caller's first request in an isolate asks, then every
//! `SHARE`-th, so N requests spend ⌈N / SHARE⌉ tokens. A caller over budget is refused at
//! most `SHARE - 1` requests late per isolate, then on every request until the limiter
//! admits it again; a refusal is remembered for `REFUSED_MS`, so an abusive caller costs
//! no binding call and no query in that time.

use std::collections::HashMap;

/// Requests per limiter token.
pub const SHARE: u32 = 10;
/// A caller's request budget per minute (per location): the binding's `limit` in
/// wrangler.toml is this divided by `SHARE` (a test checks it).
pub const REQUESTS_PER_MINUTE: u32 = 600;
/// How long a refusal is answered locally, without asking.
pub const REFUSED_MS: i64 = 1_000;
/// Callers remembered per isolate (the memory is cleared past it: forgetting only makes
/// the next requests ask).
pub const MAX_KEYS: usize = 10_000;

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted on the token an earlier request took.
    Admit,
    /// Ask the shared limiter, then `record` its answer.
    Ask,
    /// Refused (the limiter refused this caller less than `REFUSED_MS` ago).
    Refuse,
}

#[derive(Debug, Clone, Copy, Default)]
struct Caller {
    /// Requests admitted on the current token.
    spent: u32,
    /// The last answer was a refusal.
    refused: bool,
    refused_until: i64,
}

/// One isolate's memory of its callers.
#[derive(Debug, Default)]
pub struct Sampler {
    callers: HashMap<String, Caller>,
}

impl Sampler {
    pub fn decide(&mut self, key: &str, now_ms: i64) -> Verdict {
        let Some(c) = self.callers.get_mut(key) else {
            return Verdict::Ask;
        };
        if c.refused {
            return if now_ms < c.refused_until {
                Verdict::Refuse
            } else {
                Verdict::Ask
            };
        }
        if c.spent >= SHARE {
            return Verdict::Ask;
        }
        c.spent += 1;
        Verdict::Admit
    }

    /// `decide` for a request that opens a long-lived stream (a WebSocket, an SSE stream)
    /// of a verified caller: a caller new to this isolate is admitted on a token taken
    /// locally, so the upgrade makes no limiter call. A call made inside such a request
    /// stays in its context for the stream's whole life (about 32 KB per connection under
    /// `wrangler dev`, BENCHMARKS.md). The caller's next `SHARE - 1` requests are admitted
    /// on that token as usual and the one after asks, so the shared budget still counts
    /// every caller after its first `SHARE` requests in an isolate.
    pub fn decide_stream(&mut self, key: &str, now_ms: i64) -> Verdict {
        if self.callers.contains_key(key) {
            return self.decide(key, now_ms);
        }
        self.record(key, now_ms, true);
        Verdict::Admit
    }

    /// The limiter's answer to an `Ask` (`admitted`: it took a token).
    pub fn record(&mut self, key: &str, now_ms: i64, admitted: bool) {
        if self.callers.len() >= MAX_KEYS && !self.callers.contains_key(key) {
            self.callers.clear();
        }
        self.callers.insert(
            key.to_string(),
            Caller {
                spent: u32::from(admitted),
                refused: !admitted,
                refused_until: if admitted { 0 } else { now_ms + REFUSED_MS },
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `n` requests of one caller against a limiter that grants `tokens`; returns how
    /// many were admitted and how many limiter calls were made.
    fn run(s: &mut Sampler, key: &str, n: u32, tokens: &mut u32, now: i64) -> (u32, u32) {
        let (mut admitted, mut asked) = (0, 0);
        for _ in 0..n {
            match s.decide(key, now) {
                Verdict::Admit => admitted += 1,
                Verdict::Refuse => {}
                Verdict::Ask => {
                    asked += 1;
                    let ok = *tokens > 0;
                    if ok {
                        *tokens -= 1;
                        admitted += 1;
                    }
                    s.record(key, now, ok);
                }
            }
        }
        (admitted, asked)
    }

    #[test]
    fn one_call_per_share_of_requests() {
        let mut s = Sampler::default();
        let mut tokens = 1_000;
        let (admitted, asked) = run(&mut s, "u:t:a", 95, &mut tokens, 0);
        assert_eq!(admitted, 95);
        assert_eq!(asked, 10, "requests 1, 11, …, 91 ask");
    }

    #[test]
    fn the_budget_is_tokens_times_share() {
        let mut s = Sampler::default();
        let mut tokens = 60;
        let (admitted, _) = run(&mut s, "u:t:a", 1_300, &mut tokens, 0);
        assert_eq!(admitted, 600);
    }

    #[test]
    fn a_refused_caller_is_refused_locally_then_asks_each_time() {
        let mut s = Sampler::default();
        let mut tokens = 1;
        run(&mut s, "k", 10, &mut tokens, 0);
        assert_eq!(s.decide("k", 5), Verdict::Ask);
        s.record("k", 5, false);
        assert_eq!(s.decide("k", 6), Verdict::Refuse);
        assert_eq!(s.decide("k", 5 + REFUSED_MS - 1), Verdict::Refuse);
        assert_eq!(s.decide("k", 5 + REFUSED_MS), Verdict::Ask);
        s.record("k", 5 + REFUSED_MS, false);
        assert_eq!(s.decide("k", 10 + REFUSED_MS), Verdict::Refuse);
        // Admitted again: back to one call per share.
        s.record("k", 3 * REFUSED_MS, true);
        assert_eq!(s.decide("k", 3 * REFUSED_MS), Verdict::Admit);
    }

    #[test]
    fn a_new_streaming_caller_is_admitted_without_a_call_then_counted() {
        let mut s = Sampler::default();
        assert_eq!(s.decide_stream("u:t:a", 0), Verdict::Admit);
        for _ in 1..SHARE {
            assert_eq!(s.decide("u:t:a", 0), Verdict::Admit);
        }
        assert_eq!(s.decide("u:t:a", 0), Verdict::Ask);
        assert_eq!(
            s.decide_stream("u:t:a", 0),
            Verdict::Ask,
            "known callers ask as usual"
        );
        s.record("u:t:a", 0, false);
        assert_eq!(s.decide_stream("u:t:a", 10), Verdict::Refuse);
    }

    #[test]
    fn callers_are_counted_apart() {
        let mut s = Sampler::default();
        let mut tokens = 0;
        run(&mut s, "noisy", 1, &mut tokens, 0);
        assert_eq!(s.decide("noisy", 1), Verdict::Refuse);
        assert_eq!(s.decide("quiet", 1), Verdict::Ask);
    }

    #[test]
    fn the_memory_is_bounded() {
        let mut s = Sampler::default();
        for k in 0..(MAX_KEYS + 5) {
            s.record(&format!("k{k}"), 0, true);
        }
        assert!(s.callers.len() <= MAX_KEYS);
    }
}
