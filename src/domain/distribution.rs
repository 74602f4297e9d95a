//! Python distribution names as pip compares them (PEP 503), for the rules and `why` that match
//! a `*.dist-info` folder to an import name.

/// PEP 503 name normalization: lowercase, runs of `-`, `_`, `.` become one `-`.
pub(crate) fn normalize_distribution_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator = false;
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            in_separator = true;
        } else {
            if in_separator && !normalized.is_empty() {
                normalized.push('-');
            }
            in_separator = false;
            normalized.push(character.to_ascii_lowercase());
        }
    }
    normalized
}
