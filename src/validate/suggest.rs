//! Close matches for a misspelt name: "did you mean `Account`?".
//!
//! Case is ignored (EspoCRM's own names differ from what people type mostly by case), and the
//! distance is Levenshtein's over characters. Only the first [`COMPARED_CHARS`] characters of
//! the given name are compared, so a pasted paragraph costs no more than a name.

/// How much of the given name is compared.
const COMPARED_CHARS: usize = 64;

/// How many matches a suggestion offers.
const MAX_MATCHES: usize = 5;

/// The candidates closest to `given`, best first: same name ignoring case, then names that
/// start with or contain it, then small edit distances.
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let given: Vec<char> = given
        .chars()
        .take(COMPARED_CHARS)
        .flat_map(char::to_lowercase)
        .collect();
    if given.is_empty() {
        return Vec::new();
    }
    let given_text: String = given.iter().collect();
    let threshold = (given.len() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            let score = if lower == given_text {
                0
            } else if given.len() >= 3 && lower.starts_with(&given_text) {
                1
            } else if given.len() >= 3 && lower.contains(&given_text) {
                2
            } else {
                let candidate: Vec<char> = lower.chars().collect();
                let distance = levenshtein(&given, &candidate);
                if distance > threshold {
                    return None;
                }
                distance + 2
            };
            Some((score, candidate))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(MAX_MATCHES)
        .map(|(_, name)| name.to_owned())
        .collect()
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, left) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, right) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(left != right);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_only_differences_come_first() {
        let found = closest("ACCOUNT", ["Contact", "Account", "Accounts"]);
        assert_eq!(found.first().map(String::as_str), Some("Account"));
    }

    #[test]
    fn small_typos_are_found_and_far_names_are_not() {
        assert_eq!(closest("emial", ["email", "name", "website"]), ["email"]);
        assert!(closest("zzzzzz", ["name", "website"]).is_empty());
    }

    #[test]
    fn prefixes_are_found() {
        assert_eq!(
            closest("billingAddr", ["billingAddressCity", "name"]),
            ["billingAddressCity"]
        );
    }

    #[test]
    fn distance_is_levenshtein() {
        let chars = |text: &str| text.chars().collect::<Vec<_>>();
        assert_eq!(levenshtein(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(levenshtein(&chars(""), &chars("abc")), 3);
    }
}
