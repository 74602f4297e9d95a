//! Byte counts as people read them: every size layerpack prints is written by one of these.
//!
//! The forms differ on purpose, and each is pinned by snapshots of the output that uses it:
//! [`short_bytes`] in findings and summaries (`120.3 MiB`), [`size_then_bytes`] where `build`
//! reports a layer (`4.2 MiB (4,404,019 bytes)`), [`bytes_then_size`] in `inspect` and `diff`
//! tables, whose first column is the exact count (`4,404,019 bytes (4.2 MiB)`), and [`mib`] where a
//! rule adds sizes of one unit. All of them divide by 1024 (KiB, MiB as AWS counts its quotas).

/// `4,695`: thousands separated by commas, independent of the user's locale.
pub(crate) fn group_digits(number: u64) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// Sizes in messages: `120.3 MiB`, `512 bytes`.
pub(crate) fn short_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `build`'s form: `4.2 MiB (4,404,019 bytes)`, `790 bytes`.
pub(crate) fn size_then_bytes(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{} bytes", group_digits(bytes));
    }
    format!("{} ({} bytes)", short_bytes(bytes), group_digits(bytes))
}

/// `inspect`'s and `diff`'s form: `254,123,456 bytes (242.4 MiB)`, `1,654 bytes (1.6 KiB)`,
/// `790 bytes`.
pub(crate) fn bytes_then_size(bytes: u64) -> String {
    let grouped = group_digits(bytes);
    if bytes >= 1 << 20 {
        format!(
            "{grouped} bytes ({:.1} MiB)",
            bytes as f64 / f64::from(1u32 << 20)
        )
    } else if bytes >= 1 << 10 {
        format!("{grouped} bytes ({:.1} KiB)", bytes as f64 / 1024.0)
    } else {
        format!("{grouped} bytes")
    }
}

/// Always in MiB, one decimal: `0.2 MiB`, for sums listed side by side.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// KiB below a MiB, else MiB, one decimal: `3.5 KiB`, `12.0 MiB`.
pub(crate) fn kib_or_mib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        mib(bytes)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form() {
        assert_eq!(group_digits(262_144_000), "262,144,000");
        assert_eq!(short_bytes(512), "512 bytes");
        assert_eq!(short_bytes(126_143_693), "120.3 MiB");
        assert_eq!(
            size_then_bytes(262_144_000),
            "250.0 MiB (262,144,000 bytes)"
        );
        assert_eq!(size_then_bytes(790), "790 bytes");
        assert_eq!(size_then_bytes(0), "0 bytes");
        assert_eq!(size_then_bytes(1023), "1,023 bytes");
        assert_eq!(size_then_bytes(1536), "1.5 KiB (1,536 bytes)");
        assert_eq!(bytes_then_size(1_654), "1,654 bytes (1.6 KiB)");
        assert_eq!(mib(209_715), "0.2 MiB");
        assert_eq!(kib_or_mib(3_584), "3.5 KiB");
    }
}
