//! How values are written into CSV cells, so that a spreadsheet in any locale either reads
//! the number right or keeps it as visible text, and never reads a different number.
//!
//! German (and other) locales take a dot followed by exactly three digits for a thousands
//! separator: a German LibreOffice reads `4.963` as 4963 and `0.001` as 1, silently. Every
//! other decimal with a dot is kept as text there, which the import steps in docs/results.md fix.
//! So no number is written with exactly three decimals: such a value gets a trailing zero
//! (`0.0010`), which changes neither its value nor the bits it parses back to. Floats use
//! their shortest round-trip form and never exponent notation, which some tools read as
//! text and others as a number, and always have a decimal point (`1.0`), so that a column
//! of floats is never read as integers because its values happen to be whole.

/// A cost as written by runner: f32's shortest round-trip decimal, so that parsing it
/// back gives the same bits.
pub fn cost(x: f32) -> String {
    if x.is_finite() {
        guard(x.to_string())
    } else {
        String::new()
    }
}

/// A computed figure (a mean, an interval, a p-value) at full f64 precision; empty when
/// it is undefined.
pub fn real(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => guard(x.to_string()),
        _ => String::new(),
    }
}

/// A duration in seconds with two decimals (10 ms is finer than any epoch's noise).
pub fn seconds(x: f64) -> String {
    format!("{x:.2}")
}

/// Gives a whole number a decimal point, and a decimal with exactly three digits after
/// its dot a fourth.
fn guard(mut s: String) -> String {
    match s.split_once('.') {
        Some((_, fraction)) if fraction.len() == 3 => s.push('0'),
        Some(_) => {}
        None => s.push_str(".0"),
    }
    s
}

/// True when `cell` has the shape a German spreadsheet reads as a thousands-grouped
/// integer (`4.963`, `-0.125`): no cell runner writes may have it.
pub fn looks_thousands_grouped(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    match digits.split_once('.') {
        Some((int, frac)) => {
            !int.is_empty()
                && int.chars().all(|c| c.is_ascii_digit())
                && frac.len() == 3
                && frac.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_number_has_exactly_three_decimals() {
        assert_eq!(cost(0.125), "0.1250");
        assert_eq!(cost(0.030527506), "0.030527506");
        assert_eq!(cost(0.5), "0.5");
        assert_eq!(real(Some(0.001)), "0.0010");
        assert_eq!(real(Some(-1.25)), "-1.25");
        assert_eq!(real(Some(20.0)), "20.0");
        assert_eq!(real(Some(1e-7)), "0.0000001");
        assert_eq!(real(Some(1e20)), "100000000000000000000.0");
        assert_eq!(cost(3.0), "3.0");
        assert_eq!(seconds(4.963), "4.96");
        for x in [0.001f64, 0.125, 4.963, 1234.567, -0.002] {
            assert!(!looks_thousands_grouped(&real(Some(x))), "{x}");
        }
        assert!(looks_thousands_grouped("4.963") && looks_thousands_grouped("-0.125"));
        assert!(!looks_thousands_grouped("0.0010") && !looks_thousands_grouped("h256x128"));
    }

    #[test]
    fn undefined_figures_are_empty() {
        assert_eq!(real(None), "");
        assert_eq!(real(Some(f64::NAN)), "");
        assert_eq!(real(Some(f64::INFINITY)), "");
        assert_eq!(cost(f32::NAN), "");
    }

    #[test]
    fn costs_parse_back_to_the_same_bits() {
        for x in [0.125f32, 0.1 + f32::EPSILON, 1.0e-7, 0.030527506, 3.0] {
            assert_eq!(cost(x).parse::<f32>().unwrap().to_bits(), x.to_bits());
        }
    }
}
