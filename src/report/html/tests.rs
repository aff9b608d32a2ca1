use super::*;

const HOSTILE: &str = "</script><script>window.__pwned=1</script><!-- & \u{2028}";

fn meta() -> Meta {
    Meta {
        command: vec!["runner".into(), "--summarize".into(), HOSTILE.into()],
        version: "0.1.0".into(),
        devices: vec!["cpu".into()],
        date: "2025-01-01T00:00:00Z".into(),
    }
}

fn page(experiment: &Experiment, rows: &[Row], search: Option<&SearchView>) -> String {
    let r = synthetic::rendered(experiment, rows).unwrap();
    let pictures = Pictures::default();
    let meta = meta();
    render(&Input {
        experiment,
        rows,
        groups: &r.groups,
        summary_csv: &r.summary,
        stats_csv: &r.stats,
        comparisons_csv: &r.comparisons,
        pictures: &pictures,
        meta: &meta,
        search,
    })
}

/// The page's data block, parsed as the page's script parses it.
fn data_block(page: &str) -> serde_json::Value {
    let open = r#"<script type="application/json" id="report-data">"#;
    let start = page.find(open).expect("data block") + open.len();
    let end = start
        + page[start..]
            .find("</script>")
            .expect("end of the data block");
    serde_json::from_str(&page[start..end]).expect("the block is JSON")
}

#[test]
fn values_from_the_experiment_file_cannot_add_markup_or_scripts() {
    let (mut experiment, rows) = synthetic::sweep(2, 2, 3);
    experiment.name = format!("name{HOSTILE}");
    experiment.description = Some(format!("description{HOSTILE}"));
    let page = page(&experiment, &rows, None);
    assert!(
        !page.contains("__pwned=1</script>"),
        "raw markup in the page"
    );
    assert!(page.contains("<h1>name&lt;/script&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;"));
    assert!(page.contains("description&lt;/script&gt;"));
    let data = data_block(&page);
    assert_eq!(
        data["experiment"]["description"],
        format!("description{HOSTILE}"),
        "the data block gives the description back unchanged"
    );
}

#[test]
fn every_placeholder_is_filled_and_the_policy_forbids_fetching() {
    let (experiment, rows) = synthetic::sweep(2, 2, 3);
    let page = page(&experiment, &rows, None);
    for name in [
        "title",
        "css",
        "header",
        "data",
        "vega",
        "vega_lite",
        "vega_embed",
        "js",
    ] {
        let placeholder = format!("{{{{{name}}}}}");
        assert!(TEMPLATE.contains(&placeholder), "{name}");
        assert!(!page.contains(&placeholder), "{name} left unfilled");
    }
    assert!(page.contains("default-src 'none'"));
    assert!(page.contains("connect-src 'none'"));
    assert!(!page.contains("unsafe-eval"));
    assert!(!page.contains("sourceMappingURL"));
}

#[test]
fn tables_carry_every_csv_column_and_row() {
    let (experiment, rows) = synthetic::sweep(3, 4, 2);
    let data = data_block(&page(&experiment, &rows, None));
    let r = synthetic::rendered(&experiment, &rows).unwrap();
    let header = |bytes: &[u8]| {
        let mut reader = csv::Reader::from_reader(bytes);
        reader
            .headers()
            .unwrap()
            .iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        data["summary"]["columns"],
        serde_json::json!(header(&r.summary))
    );
    assert_eq!(data["summary"]["rows"].as_array().unwrap().len(), 12);
    assert_eq!(
        data["stats"]["columns"],
        serde_json::json!(header(&r.stats))
    );
    assert_eq!(data["stats"]["rows"].as_array().unwrap().len(), 3);
    assert_eq!(
        data["comparisons"]["columns"],
        serde_json::json!(header(&r.comparisons))
    );
}

#[test]
fn a_table_that_is_not_csv_says_so() {
    let t = data::table(b"a,b\n1,\xff\n");
    assert_eq!(t.columns, ["a", "b"]);
    assert!(t.error.is_some());
}

/// The curves' last epoch is the final cost: its mean and interval are stats.csv's.
#[test]
fn the_bands_last_epoch_agrees_with_stats_csv() {
    let (experiment, rows) = synthetic::sweep(2, 5, 4);
    let r = synthetic::rendered(&experiment, &rows).unwrap();
    let curves = data::curves(&r.groups, &rows);
    let stats = data::table(&r.stats);
    let col = |name: &str| stats.columns.iter().position(|c| c == name).unwrap();
    for (c, name) in curves.configurations.iter().enumerate() {
        let line = stats
            .rows
            .iter()
            .find(|row| &row[col("configuration")] == name)
            .unwrap();
        let b = &curves.band;
        let last = (0..b.epoch.len())
            .filter(|&i| b.configuration[i] == c && b.cost[i] == 1)
            .max_by_key(|&i| b.epoch[i])
            .unwrap();
        let figure = |column: &str| line[col(column)].parse::<f64>().unwrap();
        assert_eq!(b.mean[last], figure("final_test_cost_mean"), "{name}");
        assert_eq!(b.low[last], Some(figure("final_test_cost_ci95_low")));
        assert_eq!(b.high[last], Some(figure("final_test_cost_ci95_high")));
    }
}

#[test]
fn a_big_sweep_draws_the_best_configurations_and_bounds_the_seeds() {
    let (experiment, rows) = synthetic::sweep(600, 5, 3);
    let r = synthetic::rendered(&experiment, &rows).unwrap();
    let curves = data::curves(&r.groups, &rows);
    assert_eq!(curves.configurations.len(), data::MAX_CURVES);
    assert_eq!(curves.all_configurations, 600);
    let mean = |name: &str| {
        let g = r.groups.iter().find(|g| g.name == name).unwrap();
        crate::report::stats::describe(&g.costs[1]).unwrap().mean
    };
    let worst_drawn = curves
        .configurations
        .iter()
        .map(|n| mean(n))
        .fold(0.0, f64::max);
    let drawn: std::collections::HashSet<&String> = curves.configurations.iter().collect();
    for g in r
        .groups
        .iter()
        .filter(|g| g.done() > 0 && !drawn.contains(&g.name))
    {
        assert!(
            mean(&g.name) >= worst_drawn,
            "{} is better than a drawn one",
            g.name
        );
    }
    assert!(curves.seeds.runs.len() <= data::MAX_SEED_RUNS);
}

#[test]
fn pictures_are_the_first_finished_seed_and_capped() {
    let (experiment, rows) = synthetic::sweep(80, 2, 1);
    let r = synthetic::rendered(&experiment, &rows).unwrap();
    let read = |id: &str| Some(id.as_bytes().to_vec());
    let pictures = data::pictures(&experiment, &r.groups, &rows, read);
    assert_eq!(pictures.shown.len(), data::MAX_IMAGES);
    let finished = r.groups.iter().filter(|g| g.done() > 0).count();
    assert_eq!(pictures.left_out, finished - data::MAX_IMAGES);
    for image in &pictures.shown {
        let first = experiment
            .runs
            .iter()
            .find(|run| {
                rows.iter().any(|row| {
                    row.id == run.id
                        && row.status == Status::Done
                        && row.configuration == image.configuration
                })
            })
            .unwrap();
        assert_eq!(image.run_id, first.id);
    }
    let big = |_: &str| Some(vec![0u8; data::MAX_IMAGE_BYTES / 3 + 1]);
    assert_eq!(
        data::pictures(&experiment, &r.groups, &rows, big)
            .shown
            .len(),
        2
    );
}

#[test]
fn a_search_is_in_the_data_as_given() {
    let (experiment, rows) = synthetic::sweep(2, 2, 2);
    let search = synthetic::search(30);
    let data = data_block(&page(&experiment, &rows, Some(&search)));
    let s = &data["search"];
    assert_eq!(s["trials"].as_array().unwrap().len(), 30);
    assert_eq!(s["params"][0]["log_scale"], true);
    assert_eq!(s["trials"][0]["values"][2][1], "relu");
    assert!(s["trials"][0]["values"][0][1].is_f64());
    assert_eq!(s["best"], serde_json::json!(search.best));
    assert_eq!(s["rungs"].as_array().unwrap().len(), 6);
}

#[test]
fn the_header_counts_runs_by_status() {
    let (_, rows) = synthetic::sweep(30, 4, 1);
    let text = counts(&rows);
    assert!(text.starts_with("120 runs: "), "{text}");
    for s in ["done", "failed", "running", "pending", "damaged"] {
        assert!(text.contains(s), "{text}");
    }
}
