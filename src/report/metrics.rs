//! `metrics.csv`: one row per epoch.

use crate::train::EpochMetrics;

pub const HEADER: &str = "epoch,train_cost,test_cost,seconds";

/// The file's text. Costs use f32's shortest round-trip decimal form, never exponent
/// notation, so a spreadsheet reads them and parsing them back gives the same bits.
pub fn to_csv(rows: &[EpochMetrics]) -> String {
    let mut out = String::with_capacity(HEADER.len() + 1 + rows.len() * 48);
    out.push_str(HEADER);
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{:.3}\n",
            r.epoch, r.train_cost, r.test_cost, r.seconds
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_round_trip() {
        let rows = [EpochMetrics {
            epoch: 1,
            train_cost: 0.1 + f32::EPSILON,
            test_cost: 1.0e-7,
            seconds: 2.34567,
        }];
        let csv = to_csv(&rows);
        let line = csv.lines().nth(1).unwrap();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], "1");
        assert_eq!(fields[1].parse::<f32>().unwrap(), rows[0].train_cost);
        assert_eq!(fields[2], "0.0000001");
        assert_eq!(fields[3], "2.346");
        assert!(csv.starts_with("epoch,train_cost,test_cost,seconds\n"));
    }
}
