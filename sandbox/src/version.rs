//! Which EspoCRM the sandbox imitates: 8.4 (the 8.4.2 recordings) or 10.0 (the 10.0.0 ones).
//!
//! A version selects the data the sandbox starts from: the 8.4.2 description in
//! `data/metadata.json` and `data/app.json`, and for 10.0 the RFC 7396 merge patches
//! `data/metadata-10.0.patch.json` and `data/app-10.0.patch.json` applied over them, so what the
//! two versions share is written once. Behaviour that differs without a metadata flag to show
//! it (an error's status, an attribute a version adds) asks [`EspoVersion`] directly.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// An EspoCRM release whose recorded behaviour the sandbox answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EspoVersion {
    /// EspoCRM 8.4.2.
    #[default]
    V8_4,
    /// EspoCRM 10.0.0.
    V10_0,
}

impl EspoVersion {
    /// Every version, oldest first.
    pub const ALL: [EspoVersion; 2] = [EspoVersion::V8_4, EspoVersion::V10_0];

    /// The name used on the command line: `8.4` or `10.0`.
    pub fn name(self) -> &'static str {
        match self {
            EspoVersion::V8_4 => "8.4",
            EspoVersion::V10_0 => "10.0",
        }
    }

    /// The full version `GET App/user` reports in `settings.version`.
    pub fn release(self) -> &'static str {
        match self {
            EspoVersion::V8_4 => "8.4.2",
            EspoVersion::V10_0 => "10.0.0",
        }
    }

    /// Whether this version is `other` or newer.
    pub fn at_least(self, other: EspoVersion) -> bool {
        self.rank() >= other.rank()
    }

    fn rank(self) -> u8 {
        match self {
            EspoVersion::V8_4 => 0,
            EspoVersion::V10_0 => 1,
        }
    }

    /// The metadata patch over `data/metadata.json` for this version (none for 8.4).
    pub(crate) fn metadata_patch(self) -> Option<&'static str> {
        match self {
            EspoVersion::V8_4 => None,
            EspoVersion::V10_0 => Some(include_str!("../data/metadata-10.0.patch.json")),
        }
    }

    /// The `App/user` patch over `data/app.json` for this version (none for 8.4).
    pub(crate) fn app_patch(self) -> Option<&'static str> {
        match self {
            EspoVersion::V8_4 => None,
            EspoVersion::V10_0 => Some(include_str!("../data/app-10.0.patch.json")),
        }
    }
}

impl fmt::Display for EspoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A version name that is not one the sandbox speaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown EspoCRM version {0:?}: the sandbox speaks 8.4 and 10.0")]
pub struct UnknownVersion(String);

impl FromStr for EspoVersion {
    type Err = UnknownVersion;

    /// `8.4`, `8.4.2`, `10`, `10.0` and `10.0.0` are accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "8.4" | "8.4.2" => Ok(EspoVersion::V8_4),
            "10" | "10.0" | "10.0.0" => Ok(EspoVersion::V10_0),
            other => Err(UnknownVersion(other.to_owned())),
        }
    }
}

/// `base` with a version's RFC 7396 merge patch applied (`base` itself without one).
pub(crate) fn patched(base: &str, patch: Option<&str>) -> Result<Value, serde_json::Error> {
    let mut value: Value = serde_json::from_str(base)?;
    if let Some(patch) = patch {
        json_patch::merge(&mut value, &serde_json::from_str(patch)?);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for v in EspoVersion::ALL {
            assert_eq!(v.name().parse::<EspoVersion>(), Ok(v));
            assert_eq!(v.release().parse::<EspoVersion>(), Ok(v));
        }
        assert_eq!("10".parse::<EspoVersion>(), Ok(EspoVersion::V10_0));
        let err = "9.3".parse::<EspoVersion>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown EspoCRM version \"9.3\": the sandbox speaks 8.4 and 10.0"
        );
        assert!(EspoVersion::V10_0.at_least(EspoVersion::V8_4));
        assert!(!EspoVersion::V8_4.at_least(EspoVersion::V10_0));
    }

    #[test]
    fn a_patch_replaces_adds_and_removes() {
        let v = patched(
            r#"{"a":{"b":1,"c":2},"d":[1]}"#,
            Some(r#"{"a":{"b":3,"c":null},"d":[2],"e":true}"#),
        )
        .unwrap();
        assert_eq!(v, serde_json::json!({"a":{"b":3},"d":[2],"e":true}));
    }

    #[test]
    fn every_version_patch_is_valid_json() {
        for v in EspoVersion::ALL {
            for patch in [v.metadata_patch(), v.app_patch()].into_iter().flatten() {
                serde_json::from_str::<Value>(patch).expect("patch parses");
            }
        }
    }
}
