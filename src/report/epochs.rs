//! `epochs.csv`: the learning curves of a whole sweep in one file, one row per finished
//! run and epoch, with the run's swept settings beside each row so that it can be
//! grouped and plotted without joining files. Only runs of the experiment as it stands
//! are read, never stale folders of runs no longer in it.

use anyhow::Context;

use super::summary::Row;
use super::{cells, columns, metrics};
use crate::config::Experiment;

pub fn render(experiment: &Experiment, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let settings = columns::swept(experiment);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["experiment", "run_id", "configuration"];
    header.extend(&settings);
    header.push("epoch");
    header.extend(metrics::COSTS.iter().map(|c| c.name));
    header.push("seconds");
    w.write_record(&header)?;
    for row in rows {
        let values: Vec<String> = settings
            .iter()
            .map(|k| columns::setting(&row.config, k))
            .collect();
        for m in &row.metrics {
            let mut record = vec![
                experiment.name.clone(),
                row.id.clone(),
                row.configuration.clone(),
            ];
            record.extend(values.iter().cloned());
            record.push(m.epoch.to_string());
            record.extend(metrics::COSTS.iter().map(|c| cells::cost((c.get)(m))));
            record.push(cells::seconds(m.seconds));
            w.write_record(&record)?;
        }
    }
    w.into_inner().context("cannot render epochs.csv")
}
