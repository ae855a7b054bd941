//! A web address as EspoCRM's `url` field takes it.
//!
//! An optional `http://` or `https://` (in any case), a host, an optional port, then any path,
//! query and fragment without spaces. The host is a [domain](super::host::is_domain) or an
//! [IPv4 address](super::host::is_ipv4), or `localhost` after a scheme. A bare domain
//! (`example.com/about`) is taken, as EspoCRM's field takes it; other schemes (`javascript:`,
//! `ftp://`, `mailto:`), credentials (`user:pw@`) and single-word hosts without a scheme are
//! not, since a link to them is either dangerous or not what was meant.

/// `https://example.com`, `http://example.com:8080/a?b#c`, `example.com/about`.
pub fn is_valid(text: &str) -> bool {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let (rest, has_scheme) = if lower.starts_with("https://") {
        (&text[8..], true)
    } else if lower.starts_with("http://") {
        (&text[7..], true)
    } else {
        (text, false)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|port| {
        (1..=5).contains(&port.len())
            && port.bytes().all(|byte| byte.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|port| port > 0)
    });
    let host_ok = super::host::is_domain(host)
        || super::host::is_ipv4(host)
        || (has_scheme && host == "localhost");
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn web_addresses_with_or_without_a_scheme_are_taken() {
        for good in [
            "https://example.com",
            "http://example.com:8080/a/b?c=d#e",
            "HTTPS://EXAMPLE.COM",
            "example.com",
            "www.example.co.uk/about",
            "https://192.168.0.10/crm",
            "http://localhost:8080",
            "https://xn--bcher-kva.example/ä",
        ] {
            assert!(is_valid(good), "{good}");
        }
    }

    #[test]
    fn other_schemes_credentials_and_broken_hosts_are_not() {
        for bad in [
            "",
            "javascript:alert(1)",
            "ftp://example.com",
            "mailto:anna@example.com",
            "example",
            "localhost",
            "https://exa mple.com",
            "https://example.com/a b",
            "https://user:pw@example.com",
            "//example.com",
            "https://",
            "https://example.com:99999",
            "https://example.com:0",
            "https://example.com:",
            "https://-example.com",
            "https://exämple.com",
            "https://example.com/\u{7}",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn a_domain_with_a_web_scheme_and_a_path_is_taken(
            scheme in prop::sample::select(vec!["", "http://", "https://", "HTTP://"]),
            domain in "[a-z0-9]{1,10}(\\.[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?){0,2}\\.[a-z]{2,6}",
            port in prop::option::of(1..=65535u32),
            path in "(/[a-zA-Z0-9._~%!$&'()*+,;=:@?#-]{0,10}){0,3}",
        ) {
            let port = port.map(|port| format!(":{port}")).unwrap_or_default();
            let url = format!("{scheme}{domain}{port}{path}");
            prop_assert!(is_valid(&url), "{}", url);
        }

        #[test]
        fn any_text_is_judged_without_panicking(text in any::<String>()) {
            let _ = is_valid(&text);
        }
    }
}
