//! "Did you mean ...?" for misspelled option and argument names.

/// The candidate closest to `input`, if one is close enough to be a likely
/// typo (Damerau-Levenshtein distance of at most a third of the length, at
/// least 1) or a shortening (`user` for `user_id`). Case is ignored.
pub(crate) fn closest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    let shortening = |candidate: &str| {
        let (short, long) = if input.len() < candidate.len() {
            (&*input, candidate)
        } else {
            (candidate, &*input)
        };
        short.len() >= 3 && (long.starts_with(short) || long.ends_with(short))
    };
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            let distance = strsim::damerau_levenshtein(&input, &lower);
            (distance <= limit || shortening(&lower)).then_some((distance, candidate))
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[&str] = &[
        "size",
        "unbounded",
        "ttl",
        "sliding",
        "ttl_fn",
        "key",
        "key_type",
    ];

    #[test]
    fn finds_typos() {
        assert_eq!(closest("sise", OPTIONS.iter().copied()), Some("size"));
        assert_eq!(closest("tll", OPTIONS.iter().copied()), Some("ttl"));
        assert_eq!(closest("Size", OPTIONS.iter().copied()), Some("size"));
        assert_eq!(closest("slidng", OPTIONS.iter().copied()), Some("sliding"));
        assert_eq!(
            closest("key_typ", OPTIONS.iter().copied()),
            Some("key_type")
        );
        assert_eq!(
            closest("ubounded", OPTIONS.iter().copied()),
            Some("unbounded")
        );
        assert_eq!(closest("user", ["page", "user_id"]), Some("user_id"));
        assert_eq!(closest("id", ["page", "user_id"]), None);
        assert_eq!(closest("product_id", ["id", "shop"]), None);
    }

    #[test]
    fn ignores_far_names() {
        assert_eq!(closest("capacity", OPTIONS.iter().copied()), None);
        assert_eq!(closest("x", ["size"]), None);
    }
}
