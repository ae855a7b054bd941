//! Where requests go: the EspoCRM base URL and the encoding of paths and queries.
//!
//! `ESPOCRM_URL` is accepted with or without a trailing `/` and with or without `/api/v1`; it is
//! normalised once to `.../api/v1/`. Every path segment is percent-encoded here, byte by byte,
//! keeping only the unreserved characters, so a value can never add a segment, start a query or
//! a fragment. The URL standard folds `.` and `..` segments away even when encoded (`%2E%2E`), so
//! those, and empty segments, are refused rather than sent.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;

use crate::error::{SpawnError, UpstreamError};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The API prefix every EspoCRM 8 REST path lives under.
const API_PATH: &str = "api/v1";

/// Turns `ESPOCRM_URL` into the `.../api/v1/` base every request is built on.
pub fn normalize_base_url(raw: &str) -> Result<Url, SpawnError> {
    let invalid = |message: &str| SpawnError::InvalidBaseUrl {
        url: raw.to_owned(),
        message: message.to_owned(),
    };
    let mut url = Url::parse(raw.trim()).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the URL must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials belong in the API key setting, not in the URL",
        ));
    }
    let trimmed = url.path().trim_end_matches('/');
    let path = if trimmed.ends_with(&format!("/{API_PATH}")) {
        format!("{trimmed}/")
    } else {
        format!("{trimmed}/{API_PATH}/")
    };
    url.set_path(&path);
    Ok(url)
}

/// Appends the encoded segments and the form-encoded query to the base URL. The gateway builds
/// every request's URL with it; it is public so that the callers' tests can put their queries
/// through exactly what goes on the wire.
pub fn build_url(
    base: &Url,
    segments: &[String],
    query: &[(String, String)],
) -> Result<Url, UpstreamError> {
    let mut path = base.path().to_owned();
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(UpstreamError::InvalidRequest {
                message: format!(
                    "path segment {index} is {segment:?}, which would change the path"
                ),
            });
        }
        if index > 0 {
            path.push('/');
        }
        path.extend(utf8_percent_encode(segment, SEGMENT));
    }
    let mut url = base.clone();
    url.set_path(&path);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(raw: &str) -> String {
        match normalize_base_url(raw) {
            Ok(url) => url.to_string(),
            Err(error) => format!("error: {error}"),
        }
    }

    #[test]
    fn should_normalize_base_url_variants() {
        for raw in [
            "http://crm.example",
            "http://crm.example/",
            "http://crm.example/api/v1",
            "http://crm.example/api/v1/",
            "http://crm.example/api/v1//",
            " http://crm.example ",
        ] {
            assert_eq!(base(raw), "http://crm.example/api/v1/", "{raw}");
        }
        assert_eq!(base("https://x.test/espo"), "https://x.test/espo/api/v1/");
        assert_eq!(
            base("https://x.test/espo/api/v1"),
            "https://x.test/espo/api/v1/"
        );
        assert_eq!(
            base("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/api/v1/"
        );
    }

    #[test]
    fn should_refuse_unusable_base_urls() {
        for raw in [
            "crm.example",
            "ftp://crm.example",
            "http://crm.example/?a=b",
            "http://crm.example/#x",
            "http://user:pw@crm.example",
        ] {
            assert!(base(raw).starts_with("error:"), "{raw} was accepted");
        }
    }

    fn url(segments: &[&str], query: &[(&str, &str)]) -> Result<String, UpstreamError> {
        let base = normalize_base_url("http://crm.example").map_err(|error| {
            UpstreamError::InvalidRequest {
                message: error.to_string(),
            }
        })?;
        let segments: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        build_url(&base, &segments, &query).map(|url| url.to_string())
    }

    #[test]
    fn should_encode_each_value_as_one_segment() {
        assert_eq!(
            url(&["Account", "a/b", "x?y=1", "f#g", "../..", "%2e%2e", "a b\n"], &[]),
            Ok("http://crm.example/api/v1/Account/a%2Fb/x%3Fy%3D1/f%23g/..%2F../%252e%252e/a%20b%0A"
                .to_owned())
        );
        assert_eq!(
            url(&["Account", "6b05838b2c728cbdb"], &[]),
            Ok("http://crm.example/api/v1/Account/6b05838b2c728cbdb".to_owned())
        );
    }

    #[test]
    fn should_refuse_segments_that_would_change_the_path() {
        for bad in ["", ".", ".."] {
            assert!(
                matches!(
                    url(&["Account", bad], &[]),
                    Err(UpstreamError::InvalidRequest { .. })
                ),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn should_form_encode_the_query() {
        assert_eq!(
            url(
                &["Account"],
                &[("where[0][value]", "a&b=c d"), ("maxSize", "5")]
            ),
            Ok(
                "http://crm.example/api/v1/Account?where%5B0%5D%5Bvalue%5D=a%26b%3Dc+d&maxSize=5"
                    .to_owned()
            )
        );
    }
}
