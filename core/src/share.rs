//! Share links: the URL fragment carries the whole run — scenario (a shipped file's name or
//! the TOML itself), seed, user action log and cursor — so opening the link replays to the
//! same state, with the same trace digest.
//!
//! Format: `#v=1&s=<name>&seed=<n>&c=<step>&a=<actions>` or `...&t=<toml>` instead of `s`,
//! where `<actions>` and `<toml>` are base64url (no padding) of the JSON action log and of
//! the UTF-8 TOML text. Everything read from a fragment is untrusted: sizes are bounded and
//! every field is validated with a message naming it.

use crate::world::LoggedAction;

/// Where the scenario came from: a file shipped with the app, or TOML text (edited or
/// imported), which a share link carries in full.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Builtin(String),
    Inline(String),
}

/// Longest fragment accepted (characters).
pub const MAX_FRAGMENT_CHARS: usize = 1 << 20;
/// Largest scenario text carried inline (bytes).
pub const MAX_INLINE_TOML_BYTES: usize = 256 * 1024;
/// Most user actions in a shared log.
pub const MAX_SHARED_ACTIONS: usize = 10_000;
/// Furthest cursor a link may ask for: replaying it blocks the page, so it is bounded.
pub const MAX_SHARED_CURSOR: u64 = 2_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Shared {
    pub source: Source,
    pub seed: u64,
    pub actions: Vec<LoggedAction>,
    pub cursor: u64,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5).
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn b64_decode(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return Err("base64 text has an impossible length".into());
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for (i, c) in text.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return Err(format!("character {} is not base64url", i + 1)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
        && !name.contains("..")
}

/// The fragment (without `#`) for a run.
pub fn encode(shared: &Shared) -> String {
    let mut out = String::from("v=1");
    match &shared.source {
        Source::Builtin(name) => {
            out.push_str("&s=");
            out.push_str(name);
        }
        Source::Inline(text) => {
            out.push_str("&t=");
            out.push_str(&b64_encode(text.as_bytes()));
        }
    }
    out.push_str(&format!("&seed={}&c={}", shared.seed, shared.cursor));
    if !shared.actions.is_empty() {
        let json = serde_json::to_string(&shared.actions).unwrap_or_else(|_| "[]".into());
        out.push_str("&a=");
        out.push_str(&b64_encode(json.as_bytes()));
    }
    out
}

/// Reads a fragment (with or without the leading `#`). Errors say which part is wrong.
pub fn decode(fragment: &str) -> Result<Shared, String> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    if fragment.len() > MAX_FRAGMENT_CHARS {
        return Err(format!("the link is too long ({} characters; at most {MAX_FRAGMENT_CHARS})", fragment.len()));
    }
    let (mut version, mut name, mut toml, mut seed, mut cursor, mut actions) = (None, None, None, None, None, None);
    for part in fragment.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| format!("'{}' is not key=value", clip(part)))?;
        let slot = match key {
            "v" => &mut version,
            "s" => &mut name,
            "t" => &mut toml,
            "seed" => &mut seed,
            "c" => &mut cursor,
            "a" => &mut actions,
            other => return Err(format!("unknown field '{}'", clip(other))),
        };
        if slot.replace(value).is_some() {
            return Err(format!("field '{key}' appears twice"));
        }
    }
    match version {
        Some("1") => {}
        Some(v) => return Err(format!("link version '{}' is not supported (expected 1)", clip(v))),
        None => return Err("not a Kafka Sandbox link (no v=1)".into()),
    }
    let source = match (name, toml) {
        (Some(_), Some(_)) => return Err("the link has both a scenario name (s) and a scenario text (t)".into()),
        (None, None) => return Err("the link names no scenario (s or t)".into()),
        (Some(n), None) => {
            if !valid_name(n) {
                return Err(format!("'{}' is not a scenario name", clip(n)));
            }
            Source::Builtin(n.to_string())
        }
        (None, Some(t)) => {
            if t.len() > MAX_INLINE_TOML_BYTES * 4 / 3 + 4 {
                return Err(format!("the scenario text is larger than {} KiB", MAX_INLINE_TOML_BYTES / 1024));
            }
            let bytes = b64_decode(t).map_err(|e| format!("scenario text (t): {e}"))?;
            let text = String::from_utf8(bytes).map_err(|_| "scenario text (t) is not UTF-8".to_string())?;
            Source::Inline(text)
        }
    };
    let seed = match seed {
        None => return Err("the link has no seed".into()),
        Some(s) => s.parse::<u64>().map_err(|_| format!("seed '{}' is not a whole number", clip(s)))?,
    };
    let cursor = match cursor {
        None => 1,
        Some(c) => c.parse::<u64>().map_err(|_| format!("step (c) '{}' is not a whole number", clip(c)))?,
    };
    if cursor > MAX_SHARED_CURSOR {
        return Err(format!("step {cursor} is beyond the {MAX_SHARED_CURSOR} steps a link may replay"));
    }
    let actions = match actions {
        None => Vec::new(),
        Some(a) => {
            let bytes = b64_decode(a).map_err(|e| format!("action log (a): {e}"))?;
            let list: Vec<LoggedAction> = serde_json::from_slice(&bytes).map_err(|e| format!("action log (a): {e}"))?;
            if list.len() > MAX_SHARED_ACTIONS {
                return Err(format!("the action log has {} actions; at most {MAX_SHARED_ACTIONS}", list.len()));
            }
            // Replaying an action means running the scenario up to its step: bounded like
            // the cursor, or a crafted link could keep the page busy for a long run.
            if let Some((i, a)) = list.iter().enumerate().find(|(_, a)| a.at_step > MAX_SHARED_CURSOR) {
                return Err(format!(
                    "action {} of {} ('{}') is at step {}, beyond the {MAX_SHARED_CURSOR} steps a link may replay",
                    i + 1,
                    list.len(),
                    clip(&a.action.to_string()),
                    a.at_step
                ));
            }
            list
        }
    };
    Ok(Shared { source, seed, actions, cursor })
}

/// At most 40 characters of untrusted text, for messages.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = b64_encode(&bytes);
            assert!(!text.contains(['+', '/', '=']));
            assert_eq!(b64_decode(&text).unwrap(), bytes, "length {len}");
        }
        assert_eq!(b64_encode(b"Kafka"), "S2Fma2E");
        assert!(b64_decode("abcde").is_err());
        assert!(b64_decode("ab$d").is_err());
    }

    #[test]
    fn links_round_trip_builtin_and_inline_scenarios() {
        let actions = vec![
            LoggedAction { at_step: 10, action: Action::Crash { broker: 1 } },
            LoggedAction {
                at_step: 99,
                action: Action::Send {
                    producer: "p".into(),
                    topic: "orders".into(),
                    key: Some("k&=#<b>".into()),
                    value: None,
                    partition: Some(2),
                },
            },
        ];
        for source in
            [Source::Builtin("replication/acks-1-leader-crash".into()), Source::Inline("name = \"ü\"\n".into())]
        {
            let shared = Shared { source, seed: u64::MAX, actions: actions.clone(), cursor: 1234 };
            let text = encode(&shared);
            assert_eq!(decode(&format!("#{text}")).unwrap(), shared);
        }
    }

    /// A link to scenario `a` with a crash of broker 1 at each of `steps`.
    fn action_link(steps: &[u64]) -> String {
        let actions =
            steps.iter().map(|&at_step| LoggedAction { at_step, action: Action::Crash { broker: 1 } }).collect();
        encode(&Shared { source: Source::Builtin("a".into()), seed: 1, actions, cursor: 1 })
    }

    #[test]
    fn actions_may_be_logged_up_to_the_furthest_step_a_link_replays() {
        let at_limit = decode(&action_link(&[1, MAX_SHARED_CURSOR])).unwrap();
        assert_eq!(at_limit.actions.last().map(|a| a.at_step), Some(MAX_SHARED_CURSOR));
        assert!(decode(&action_link(&[u64::MAX])).unwrap_err().contains("action 1 of 1"));
    }

    #[test]
    fn malformed_links_are_errors_naming_the_problem() {
        let late = action_link(&[5, MAX_SHARED_CURSOR + 1]);
        let cases = [
            ("", "no v=1"),
            ("v=2&s=x&seed=1", "version"),
            ("v=1&seed=1", "names no scenario"),
            ("v=1&s=../../etc&seed=1", "not a scenario name"),
            ("v=1&s=a&seed=-3", "seed"),
            ("v=1&s=a&seed=1&c=x", "step"),
            ("v=1&s=a&seed=1&c=99999999999", "beyond"),
            (&late, "action 2 of 2 ('crash broker 1') is at step 2000001, beyond"),
            ("v=1&s=a&seed=1&a=%%%", "action log"),
            ("v=1&s=a&seed=1&a=W3sieCI6MX1d", "action log"),
            ("v=1&s=a&seed=1&seed=2", "twice"),
            ("v=1&s=a&t=YQ&seed=1", "both"),
            ("v=1&s=a&seed=1&zzz=1", "unknown field"),
            ("v=1&t=__8&seed=1", "UTF-8"),
            ("garbage", "key=value"),
        ];
        for (text, want) in cases {
            let e = decode(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
