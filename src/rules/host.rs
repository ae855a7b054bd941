//! Host names as email addresses and web addresses use them: a domain name, or an IPv4 address.
//!
//! A domain is what a person types for a public host: ASCII labels of letters, digits and inner
//! `-`, at least two of them, the last (the top-level domain) of two or more letters or in
//! punycode (`xn--…`), so `example` (no top level), `example.c` and `1.2.3.4.5` are not domains.
//! International names are written in punycode, as DNS carries them.

/// The longest domain name DNS carries, in characters.
const MAX_DOMAIN_CHARS: usize = 253;

/// The longest label of a domain name, in characters.
const MAX_LABEL_CHARS: usize = 63;

/// `example.com`, `mail.example.co.uk`, `xn--bcher-kva.example`.
pub fn is_domain(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=MAX_LABEL_CHARS).contains(&label.len())
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let top_ok = labels.last().is_some_and(|top| {
        top.len() >= 2
            && (top.bytes().all(|byte| byte.is_ascii_alphabetic()) || top.starts_with("xn--"))
    });
    text.len() <= MAX_DOMAIN_CHARS && labels.len() >= 2 && labels.iter().all(label_ok) && top_ok
}

/// `192.168.0.10`: four decimal parts of one to three digits, each at most 255.
pub fn is_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|part| {
            (1..=3).contains(&part.len())
                && part.bytes().all(|byte| byte.is_ascii_digit())
                && part.parse::<u16>().is_ok_and(|value| value <= 255)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_dotted_ascii_labels_with_a_top_level_of_letters() {
        for good in [
            "example.com",
            "mail.example.co.uk",
            "xn--bcher-kva.example",
            "example.xn--p1ai",
            "a-b.example",
            "1.example",
        ] {
            assert!(is_domain(good), "{good}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        for bad in [
            "example",
            "example.c",
            "example.123",
            "-example.com",
            "example-.com",
            "exa_mple.com",
            "example..com",
            ".example.com",
            "example.com.",
            "exämple.com",
            "",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }

    #[test]
    fn ipv4_addresses_have_four_parts_up_to_255() {
        for good in ["192.168.0.10", "0.0.0.0", "255.255.255.255"] {
            assert!(is_ipv4(good), "{good}");
        }
        for bad in [
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.",
            "01234.1.1.1",
            "a.b.c.d",
        ] {
            assert!(!is_ipv4(bad), "{bad}");
        }
    }
}
