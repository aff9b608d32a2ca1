//! TensorBoard event files: each run's scalars and reconstruction image, and the HParams
//! plugin's records of the sweep.
//!
//! # Opening the view
//!
//! ```text
//! pip install tensorboard
//! tensorboard --logdir results/<experiment>
//! ```
//!
//! and open the address it prints (<http://localhost:6006/>). Each run folder is one
//! TensorBoard run, named by its run id:
//!
//! - **Scalars**: `train_cost`, `test_cost` and `seconds` against the epoch (the step),
//!   one curve per run.
//! - **Images**: the reconstruction image of each run.
//! - **HParams**: the table view has one row per run (a session) with its hyperparameters,
//!   its status and the last value of each metric; the parallel coordinates view draws
//!   the same rows as lines across the hyperparameter and metric axes, and the scatter
//!   plot matrix plots metrics against hyperparameters. The hyperparameters and their
//!   domains come from the experiment folder's own file (TensorBoard's `.` run).
//!
//! # Files
//!
//! `results/<experiment>/events.out.tfevents.runner` holds the HParams experiment (which
//! hyperparameters and metrics there are); `results/<experiment>/<run_id>/
//! events.out.tfevents.runner` holds a run's session start (its hyperparameter values),
//! its scalars, images and session end (its status). TensorBoard takes any file whose
//! name contains `tfevents` as an event file; each file here has a fixed name, so a
//! resumed run keeps writing the same one.
//!
//! # Resuming
//!
//! A resumed or continued run reopens its file and appends: a scalar or image whose tag
//! already has that epoch, or a later one, is skipped, so resending every epoch of
//! `metrics.csv` writes only the missing ones. A record torn by a killed process is cut
//! off first. If the run's hyperparameters differ from those in the file, the folder
//! now holds another configuration and the file starts over. A new status (a run that
//! failed, then resumed and succeeded) replaces the old one, see [`RunLog::session_end`].
//!
//! A TensorBoard that is already running reads appended records as they come, but not
//! files that were replaced (the experiment file on each write, a run's file when its
//! status changes or it starts over): reload the page after restarting TensorBoard.

pub mod proto;
pub mod records;
pub mod sweep;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use prost::Message;

use proto::h_params_plugin_data::Data;
use proto::summary::value::Value as Payload;
use records::End;

pub use crate::layout::EVENT_FILE;

/// The first event of every file: version 2 makes TensorBoard purge old data only at
/// `SessionLog.START` events, never because a step went back.
pub const FILE_VERSION: &str = "brain.Event:2";

/// The HParams plugin's tags and name (`tensorboard/plugins/hparams/metadata.py`).
pub const EXPERIMENT_TAG: &str = "_hparams_/experiment";
pub const SESSION_START_TAG: &str = "_hparams_/session_start_info";
pub const SESSION_END_TAG: &str = "_hparams_/session_end_info";
const HPARAMS_PLUGIN: &str = "hparams";

/// A hyperparameter's value, as the HParams plugin holds it (google.protobuf.Value).
#[derive(Clone, Debug, PartialEq)]
pub enum HValue {
    Number(f64),
    Text(String),
    Bool(bool),
}

/// The values a hyperparameter takes in the experiment, for the HParams view's filters
/// and axes.
#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// The values it takes, all of one kind.
    Discrete(Vec<HValue>),
    /// A range of numbers.
    Interval { min: f64, max: f64 },
    /// Neither known nor typed: TensorBoard shows the column without filters.
    Unset,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HParamInfo {
    /// As in each run's [`RunLog::session_start`].
    pub name: String,
    pub domain: Domain,
}

/// A scalar tag that the HParams view shows as a metric column (its last value).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricInfo {
    pub tag: String,
    /// Empty: the tag is shown.
    pub display_name: String,
}

/// How a session ended, for the HParams view's status column and filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    Success,
    Failure,
    Running,
    /// Stopped before it finished (interrupted, to be resumed). TensorBoard's status
    /// enum (api.proto) has no such value, so it is written and shown as "unknown".
    Aborted,
}

impl SessionStatus {
    fn proto(self) -> proto::Status {
        match self {
            SessionStatus::Success => proto::Status::StatusSuccess,
            SessionStatus::Failure => proto::Status::StatusFailure,
            SessionStatus::Running => proto::Status::StatusRunning,
            SessionStatus::Aborted => proto::Status::StatusUnknown,
        }
    }
}

/// Writes the HParams experiment (which hyperparameters and metrics the sweep has) into
/// the experiment folder's own event file. TensorBoard keeps the first experiment record
/// it reads, so the file is replaced whole rather than appended to.
pub fn write_experiment(
    experiment_dir: &Path,
    hparams: &[HParamInfo],
    metrics: &[MetricInfo],
) -> anyhow::Result<()> {
    let path = experiment_dir.join(EVENT_FILE);
    let hparam_infos = hparams
        .iter()
        .map(hparam_info)
        .collect::<anyhow::Result<_>>()
        .with_context(|| format!("{}: cannot describe the experiment", path.display()))?;
    let metric_infos = metrics.iter().map(metric_info).collect();
    let experiment = proto::Experiment {
        hparam_infos,
        metric_infos,
    };
    let now = now_secs();
    let mut bytes = file_header(now);
    push_event(
        &mut bytes,
        &hparams_event(EXPERIMENT_TAG, Data::Experiment(experiment), now),
    );
    super::write_atomic(&path, &bytes)
}

fn hparam_info(info: &HParamInfo) -> anyhow::Result<proto::HParamInfo> {
    use proto::h_param_info::Domain as D;
    let (kind, domain, differs) = match &info.domain {
        Domain::Discrete(values) => {
            let kind = discrete_kind(&info.name, values)?;
            let differs = values.iter().any(|v| v != &values[0]);
            let list = proto::ListValue {
                values: values.iter().map(value).collect(),
            };
            (kind, Some(D::DomainDiscrete(list)), differs)
        }
        &Domain::Interval { min, max } => {
            // NaN bounds fail this too.
            if min.partial_cmp(&max).is_none_or(|o| o.is_gt()) {
                bail!("hparam {}: interval [{min}, {max}] is empty", info.name);
            }
            let interval = proto::Interval {
                min_value: min,
                max_value: max,
            };
            let float = proto::HParamType::DataTypeFloat64;
            (float, Some(D::DomainInterval(interval)), min < max)
        }
        Domain::Unset => (proto::HParamType::DataTypeUnset, None, false),
    };
    Ok(proto::HParamInfo {
        name: info.name.clone(),
        r#type: kind.into(),
        domain,
        differs,
    })
}

/// The type of a discrete domain's values; the plugin filters each column by one type.
fn discrete_kind(name: &str, values: &[HValue]) -> anyhow::Result<proto::HParamType> {
    let kind = |v: &HValue| match v {
        HValue::Number(_) => proto::HParamType::DataTypeFloat64,
        HValue::Text(_) => proto::HParamType::DataTypeString,
        HValue::Bool(_) => proto::HParamType::DataTypeBool,
    };
    let Some(first) = values.first().map(kind) else {
        return Ok(proto::HParamType::DataTypeUnset);
    };
    if values.iter().any(|v| kind(v) != first) {
        bail!("hparam {name}: its domain mixes numbers, strings and booleans");
    }
    Ok(first)
}

fn metric_info(info: &MetricInfo) -> proto::MetricInfo {
    proto::MetricInfo {
        // An empty group: the metric is in the session's own run, not a subfolder.
        name: Some(proto::MetricName {
            group: String::new(),
            tag: info.tag.clone(),
        }),
        display_name: info.display_name.clone(),
    }
}

fn value(v: &HValue) -> proto::Value {
    use proto::value::Kind;
    let kind = match v {
        HValue::Number(n) => Kind::NumberValue(*n),
        HValue::Text(s) => Kind::StringValue(s.clone()),
        HValue::Bool(b) => Kind::BoolValue(*b),
    };
    proto::Value { kind: Some(kind) }
}

/// One run's event file, open for appending.
///
/// Records are collected in memory and reach the file at [`RunLog::flush`], in one write:
/// call it after each epoch. Records not flushed are lost when the log is dropped.
pub struct RunLog {
    path: PathBuf,
    file: File,
    /// The file's length as this log wrote or checked it: a failed write is cut back here.
    len: u64,
    /// The last step of each scalar and image tag, in the file or pending.
    last_steps: HashMap<String, i64>,
    /// [`start_identity`] of the session start in the file or pending.
    start: Option<Vec<u8>>,
    /// The file holds a session end.
    file_has_end: bool,
    /// Framed records for the next flush.
    pending: Vec<u8>,
    /// The newest session end, written after `pending`.
    pending_end: Option<Vec<u8>>,
    /// The next flush replaces the file with a new one (another configuration).
    fresh: bool,
}

impl RunLog {
    /// Opens the run's event file, or creates it with its `file_version` event. The run
    /// folder must exist. A record torn by a killed writer, or damaged, is cut off (with
    /// a warning for damage), since everything here can be written again from
    /// `metrics.csv`.
    pub fn open(run_dir: &Path) -> anyhow::Result<RunLog> {
        let path = run_dir.join(EVENT_FILE);
        let mut file = append_no_follow(&path, true)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut log = RunLog {
            path,
            file,
            len: 0,
            last_steps: HashMap::new(),
            start: None,
            file_has_end: false,
            pending: Vec::new(),
            pending_end: None,
            fresh: false,
        };
        log.take_over(&bytes)?;
        Ok(log)
    }

    /// Learns what `bytes` (the file) holds and cuts what cannot be read.
    fn take_over(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let (records, end) = records::read(bytes);
        if let End::Corrupt { at, what } = end {
            tracing::warn!(
                "{}: {what} at byte {at}; cutting the {} bytes from there",
                self.path.display(),
                bytes.len() - at
            );
        }
        if records.is_empty() {
            // New, or killed before its first record was whole.
            return self.cut_and_append(0, &file_header(now_secs()));
        }
        let events = decode_events(&self.path, &records)?;
        if !matches!(events[0].what, Some(proto::event::What::FileVersion(_))) {
            bail!(
                "{}: not an event file of this writer (its first record is not a file_version event); move it away to start a new one",
                self.path.display()
            );
        }
        events.iter().for_each(|e| self.learn(e));
        self.cut_and_append(end.good_len(bytes.len()) as u64, &[])
    }

    /// Remembers what one event of the file holds: steps, the session start, an end.
    fn learn(&mut self, event: &proto::Event) {
        let Some(proto::event::What::Summary(summary)) = &event.what else {
            return;
        };
        for v in &summary.value {
            match v.tag.as_str() {
                SESSION_START_TAG if self.start.is_none() => {
                    self.start = plugin_content(v).and_then(start_info).map(start_identity)
                }
                SESSION_END_TAG => self.file_has_end = true,
                EXPERIMENT_TAG | SESSION_START_TAG => {}
                tag => {
                    let last = self.last_steps.entry(tag.to_string()).or_insert(event.step);
                    *last = (*last).max(event.step);
                }
            }
        }
    }

    /// Truncates the file to `len` and appends `bytes`, synced.
    fn cut_and_append(&mut self, len: u64, bytes: &[u8]) -> anyhow::Result<()> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.write_all(bytes))
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.len = len + bytes.len() as u64;
        Ok(())
    }

    /// The last step written for `tag` (a scalar or image), if any.
    pub fn last_step(&self, tag: &str) -> Option<i64> {
        self.last_steps.get(tag).copied()
    }

    /// Records the session's hyperparameters, once: a resumed run's identical start
    /// (same values and group; the start time may differ) is skipped. Different values
    /// mean the folder holds another configuration now: the file starts over with this
    /// start, and what was pending is dropped. Call it before the first scalars.
    pub fn session_start(
        &mut self,
        hparams: &[(String, HValue)],
        group_name: &str,
        start_time_secs: f64,
    ) {
        let info = proto::SessionStartInfo {
            hparams: hparams
                .iter()
                .map(|(name, v)| (name.clone(), value(v)))
                .collect::<BTreeMap<_, _>>(),
            group_name: group_name.to_string(),
            start_time_secs,
        };
        let identity = start_identity(info.clone());
        match &self.start {
            Some(old) if *old == identity => return,
            Some(_) => self.start_over(),
            None => {}
        }
        self.start = Some(identity);
        let data = Data::SessionStartInfo(info);
        push_event(
            &mut self.pending,
            &hparams_event(SESSION_START_TAG, data, start_time_secs),
        );
    }

    fn start_over(&mut self) {
        self.fresh = true;
        self.last_steps.clear();
        self.file_has_end = false;
        self.pending.clear();
        self.pending_end = None;
    }

    /// Appends one event with those `values` (as float32, TensorBoard's `simple_value`)
    /// whose tag has no record at `step` or later yet.
    pub fn scalars(&mut self, step: i64, wall_time: f64, values: &[(&str, f64)]) {
        let mut fresh = Vec::new();
        for &(tag, v) in values {
            if self.take_step(tag, step) {
                fresh.push(summary_value(tag, Payload::SimpleValue(v as f32)));
            }
        }
        if !fresh.is_empty() {
            push_event(&mut self.pending, &summary_event(step, wall_time, fresh));
        }
    }

    /// Appends a PNG image (its size and colorspace read from its header) unless `tag`
    /// has a record at `step` or later already. Fails if `png` is not a PNG.
    pub fn image(
        &mut self,
        tag: &str,
        step: i64,
        wall_time: f64,
        png: &[u8],
    ) -> anyhow::Result<()> {
        let header = png_header(png)
            .with_context(|| format!("{}: image {tag} at step {step}", self.path.display()))?;
        if !self.take_step(tag, step) {
            return Ok(());
        }
        let image = proto::summary::Image {
            height: header.height,
            width: header.width,
            colorspace: header.colorspace,
            encoded_image_string: png.to_vec(),
        };
        let value = summary_value(tag, Payload::Image(image));
        push_event(
            &mut self.pending,
            &summary_event(step, wall_time, vec![value]),
        );
        Ok(())
    }

    /// Whether `tag` takes a record at `step`; if so, `step` becomes its last one.
    fn take_step(&mut self, tag: &str, step: i64) -> bool {
        match self.last_steps.get(tag) {
            Some(&last) if last >= step => false,
            _ => {
                self.last_steps.insert(tag.to_string(), step);
                true
            }
        }
    }

    /// Records how the session ended; the newest call wins. TensorBoard keeps only the
    /// first session end of a run: the plugin reads it from the summary metadata, of
    /// which both of its loaders keep the first per tag
    /// (`backend/event_processing/plugin_event_accumulator.py`, `_ProcessEvent`;
    /// `data/server/run.rs`, the `Entry::Vacant` arm). So a flush that writes an end
    /// where the file already holds one rewrites the file without the older ends.
    pub fn session_end(&mut self, status: SessionStatus, end_time_secs: f64) {
        let info = proto::SessionEndInfo {
            status: status.proto().into(),
            end_time_secs,
        };
        let mut framed = Vec::new();
        let data = Data::SessionEndInfo(info);
        push_event(
            &mut framed,
            &hparams_event(SESSION_END_TAG, data, end_time_secs),
        );
        self.pending_end = Some(framed);
    }

    /// Writes what is pending in one `write_all` and syncs it, so that a reader sees
    /// whole epochs (but for a kill, whose torn record the next [`RunLog::open`] cuts).
    /// A new configuration, or a second session end, replaces the file atomically.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        let replace = self.fresh || (self.pending_end.is_some() && self.file_has_end);
        if replace {
            self.replace_file()?;
        } else {
            self.append_pending()?;
        }
        self.file_has_end |= self.pending_end.is_some();
        self.fresh = false;
        self.pending.clear();
        self.pending_end = None;
        Ok(())
    }

    fn append_pending(&mut self) -> anyhow::Result<()> {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend(self.pending_end.iter().flatten());
        if bytes.is_empty() {
            return Ok(());
        }
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // No torn record may stay before the next append.
            let _ = self.file.set_len(self.len);
            self.pending = bytes;
            return Err(e).with_context(|| format!("cannot write {}", self.path.display()));
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn replace_file(&mut self) -> anyhow::Result<()> {
        let mut bytes = if self.fresh {
            file_header(now_secs())
        } else {
            self.records_without_ends()?
        };
        bytes.extend_from_slice(&self.pending);
        bytes.extend(self.pending_end.iter().flatten());
        super::write_atomic(&self.path, &bytes)?;
        self.file = append_no_follow(&self.path, false)?;
        self.len = bytes.len() as u64;
        Ok(())
    }

    /// The file's records, framed again, less its session ends.
    fn records_without_ends(&self) -> anyhow::Result<Vec<u8>> {
        let bytes =
            fs::read(&self.path).with_context(|| format!("cannot read {}", self.path.display()))?;
        let (records, end) = records::read(&bytes);
        if end != End::Clean || bytes.len() as u64 != self.len {
            bail!(
                "{}: changed by another writer since it was opened ({} bytes, expected {})",
                self.path.display(),
                bytes.len(),
                self.len
            );
        }
        let events = decode_events(&self.path, &records)?;
        let mut out = Vec::with_capacity(bytes.len());
        for (data, event) in records.iter().zip(&events) {
            if !is_session_end(event) {
                records::frame_into(&mut out, data);
            }
        }
        Ok(out)
    }
}

/// Opens `path` to read and append, never through a link planted there (runner writes
/// nothing through links under its results folder; see [`crate::layout`]).
fn append_no_follow(path: &Path, create: bool) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(create);
    crate::layout::open_no_follow(&mut options, path).map_err(|e| {
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            crate::layout::link_error(path)
        } else {
            anyhow::anyhow!("cannot open {}: {e}", path.display())
        }
    })
}

/// The events of an event file, up to a torn last record (a writer killed or still
/// writing); damaged bytes are an error.
pub fn read_events(path: &Path) -> anyhow::Result<Vec<proto::Event>> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (records, end) = records::read(&bytes);
    if let End::Corrupt { at, what } = end {
        bail!("{}: {what} at byte {at}", path.display());
    }
    decode_events(path, &records)
}

fn decode_events(path: &Path, records: &[&[u8]]) -> anyhow::Result<Vec<proto::Event>> {
    records
        .iter()
        .enumerate()
        .map(|(i, data)| {
            proto::Event::decode(*data).with_context(|| {
                format!(
                    "{}: record {} is not an Event message",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

fn is_session_end(event: &proto::Event) -> bool {
    match &event.what {
        Some(proto::event::What::Summary(s)) => s.value.iter().any(|v| v.tag == SESSION_END_TAG),
        _ => false,
    }
}

/// The HParams plugin data of a summary value.
fn plugin_content(v: &proto::summary::Value) -> Option<&[u8]> {
    let data = v.metadata.as_ref()?.plugin_data.as_ref()?;
    (data.plugin_name == HPARAMS_PLUGIN).then_some(data.content.as_slice())
}

fn start_info(content: &[u8]) -> Option<proto::SessionStartInfo> {
    match proto::HParamsPluginData::decode(content).ok()?.data? {
        Data::SessionStartInfo(info) => Some(info),
        _ => None,
    }
}

/// What makes two session starts the same: their encoding without the start time (a
/// `BTreeMap` encodes in key order, and bytes compare NaN values as equal, too).
fn start_identity(mut info: proto::SessionStartInfo) -> Vec<u8> {
    info.start_time_secs = 0.0;
    info.encode_to_vec()
}

/// A summary value as `tensorboard/plugins/hparams/summary.py` writes them: the data in
/// the metadata, and the empty float tensor `NULL_TENSOR` (shape `[0]`) as the value.
fn hparams_event(tag: &str, data: Data, wall_time: f64) -> proto::Event {
    let content = proto::HParamsPluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    let metadata = proto::SummaryMetadata {
        plugin_data: Some(proto::summary_metadata::PluginData {
            plugin_name: HPARAMS_PLUGIN.to_string(),
            content,
        }),
    };
    let null_tensor = proto::TensorProto {
        dtype: proto::DataType::DtFloat.into(),
        tensor_shape: Some(proto::TensorShapeProto {
            dim: vec![proto::tensor_shape_proto::Dim { size: 0 }],
        }),
    };
    let value = proto::summary::Value {
        tag: tag.to_string(),
        metadata: Some(metadata),
        value: Some(Payload::Tensor(null_tensor)),
    };
    summary_event(0, wall_time, vec![value])
}

fn summary_value(tag: &str, payload: Payload) -> proto::summary::Value {
    proto::summary::Value {
        tag: tag.to_string(),
        metadata: None,
        value: Some(payload),
    }
}

fn summary_event(step: i64, wall_time: f64, value: Vec<proto::summary::Value>) -> proto::Event {
    proto::Event {
        wall_time,
        step,
        what: Some(proto::event::What::Summary(proto::Summary { value })),
    }
}

/// The framed `file_version` event that every file begins with.
fn file_header(wall_time: f64) -> Vec<u8> {
    let event = proto::Event {
        wall_time,
        step: 0,
        what: Some(proto::event::What::FileVersion(FILE_VERSION.to_string())),
    };
    let mut out = Vec::new();
    push_event(&mut out, &event);
    out
}

fn push_event(out: &mut Vec<u8>, event: &proto::Event) {
    records::frame_into(out, &event.encode_to_vec());
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What `Summary.Image` needs from a PNG's IHDR chunk.
struct PngHeader {
    width: i32,
    height: i32,
    colorspace: i32,
}

fn png_header(png: &[u8]) -> anyhow::Result<PngHeader> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 29 || &png[..8] != SIGNATURE || &png[12..16] != b"IHDR" {
        bail!("not a PNG (no PNG signature followed by an IHDR chunk)");
    }
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    let size = |at: usize| i32::try_from(be(at)).context("PNG size out of range");
    // Summary.Image's colorspace: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA; a palette is RGB.
    let colorspace = match png[25] {
        0 => 1,
        4 => 2,
        2 | 3 => 3,
        6 => 4,
        other => bail!("unknown PNG color type {other}"),
    };
    Ok(PngHeader {
        width: size(16)?,
        height: size(20)?,
        colorspace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hparams(lr: f64) -> Vec<(String, HValue)> {
        vec![
            ("train.learning_rate".to_string(), HValue::Number(lr)),
            ("train.activation".to_string(), HValue::Text("relu".into())),
            ("train.shuffle".to_string(), HValue::Bool(true)),
        ]
    }

    fn epochs(log: &mut RunLog, range: std::ops::RangeInclusive<i64>) {
        for epoch in range {
            let cost = 1.0 / epoch as f64;
            log.scalars(
                epoch,
                100.0 + epoch as f64,
                &[("train_cost", cost), ("test_cost", cost)],
            );
        }
    }

    /// The steps of `tag`'s records, and the values of the HParams records, in file order.
    fn steps(events: &[proto::Event], tag: &str) -> Vec<i64> {
        let summaries = events.iter().filter_map(|e| match &e.what {
            Some(proto::event::What::Summary(s)) => Some((e.step, s)),
            _ => None,
        });
        summaries
            .flat_map(|(step, s)| s.value.iter().filter(|v| v.tag == tag).map(move |_| step))
            .collect()
    }

    fn plugin_data(events: &[proto::Event], tag: &str) -> Vec<Data> {
        let values = events.iter().filter_map(|e| match &e.what {
            Some(proto::event::What::Summary(s)) => Some(s.value.iter()),
            _ => None,
        });
        values
            .flatten()
            .filter(|v| v.tag == tag)
            .map(|v| {
                let content = plugin_content(v).expect("hparams plugin data");
                proto::HParamsPluginData::decode(content)
                    .unwrap()
                    .data
                    .unwrap()
            })
            .collect()
    }

    fn gray_png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&vec![128; (width * height) as usize])
            .unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn a_new_file_begins_with_its_file_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLog::open(dir.path()).unwrap();
        log.flush().unwrap();
        let events = read_events(&dir.path().join(EVENT_FILE)).unwrap();
        assert_eq!(events.len(), 1);
        let version = Some(proto::event::What::FileVersion(FILE_VERSION.to_string()));
        assert_eq!(events[0].what, version);
    }

    // From the `tensorboard` package: RecordWriter(f).write(Event(wall_time=1.5,
    // file_version="brain.Event:2").SerializeToString()), its bytes in hex.
    #[test]
    fn the_file_header_is_the_record_tensorboard_writes() {
        let python =
            "1800000000000000a37f4b2209000000000000f83f1a0d627261696e2e4576656e743a322a28646c";
        let hex: String = file_header(1.5)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, python);
    }

    #[test]
    fn reopening_appends_only_the_epochs_not_yet_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLog::open(dir.path()).unwrap();
        log.session_start(&hparams(0.01), "", 10.0);
        epochs(&mut log, 1..=2);
        log.flush().unwrap();
        drop(log);
        let mut log = RunLog::open(dir.path()).unwrap();
        assert_eq!(log.last_step("train_cost"), Some(2));
        log.session_start(&hparams(0.01), "", 20.0);
        epochs(&mut log, 1..=3);
        log.flush().unwrap();
        let events = read_events(&dir.path().join(EVENT_FILE)).unwrap();
        assert_eq!(steps(&events, "train_cost"), [1, 2, 3]);
        assert_eq!(steps(&events, "test_cost"), [1, 2, 3]);
        assert_eq!(plugin_data(&events, SESSION_START_TAG).len(), 1);
    }

    #[test]
    fn other_hparams_start_a_fresh_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLog::open(dir.path()).unwrap();
        log.session_start(&hparams(0.01), "", 10.0);
        epochs(&mut log, 1..=2);
        log.session_end(SessionStatus::Failure, 11.0);
        log.flush().unwrap();
        let mut log = RunLog::open(dir.path()).unwrap();
        log.session_start(&hparams(0.1), "", 20.0);
        assert_eq!(log.last_step("train_cost"), None);
        epochs(&mut log, 1..=1);
        log.flush().unwrap();
        let events = read_events(&dir.path().join(EVENT_FILE)).unwrap();
        assert_eq!(steps(&events, "train_cost"), [1]);
        assert!(plugin_data(&events, SESSION_END_TAG).is_empty());
        let starts = plugin_data(&events, SESSION_START_TAG);
        let [Data::SessionStartInfo(start)] = starts.as_slice() else {
            panic!("one session start: {starts:?}");
        };
        let lr = proto::value::Kind::NumberValue(0.1);
        assert_eq!(start.hparams["train.learning_rate"].kind, Some(lr));
        assert_eq!(start.start_time_secs, 20.0);
    }

    #[test]
    fn a_torn_last_record_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENT_FILE);
        let mut log = RunLog::open(dir.path()).unwrap();
        epochs(&mut log, 1..=1);
        log.flush().unwrap();
        let whole = fs::metadata(&path).unwrap().len();
        // A kill in the middle of writing epoch 2.
        let mut torn = Vec::new();
        let event = summary_event(
            2,
            0.0,
            vec![summary_value("train_cost", Payload::SimpleValue(0.5))],
        );
        push_event(&mut torn, &event);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&torn[..torn.len() - 3]).unwrap();
        drop(file);
        let mut log = RunLog::open(dir.path()).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), whole);
        assert_eq!(log.last_step("train_cost"), Some(1));
        epochs(&mut log, 1..=2);
        log.flush().unwrap();
        let events = read_events(&path).unwrap();
        assert_eq!(steps(&events, "train_cost"), [1, 2]);
    }

    #[test]
    fn the_newest_session_end_is_the_only_one_left() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLog::open(dir.path()).unwrap();
        log.session_start(&hparams(0.01), "group", 10.0);
        epochs(&mut log, 1..=1);
        log.session_end(SessionStatus::Failure, 11.0);
        log.flush().unwrap();
        let mut log = RunLog::open(dir.path()).unwrap();
        log.session_start(&hparams(0.01), "group", 12.0);
        epochs(&mut log, 1..=2);
        log.session_end(SessionStatus::Running, 12.5);
        log.session_end(SessionStatus::Success, 13.0);
        log.flush().unwrap();
        let events = read_events(&dir.path().join(EVENT_FILE)).unwrap();
        let success = i32::from(proto::Status::StatusSuccess);
        let ends = plugin_data(&events, SESSION_END_TAG);
        assert_eq!(ends.len(), 1, "{ends:?}");
        assert!(
            matches!(&ends[0], Data::SessionEndInfo(e) if e.status == success && e.end_time_secs == 13.0)
        );
        assert_eq!(steps(&events, "train_cost"), [1, 2]);
        assert_eq!(plugin_data(&events, SESSION_START_TAG).len(), 1);
        // The file was replaced; appending goes on in the new one.
        epochs(&mut log, 3..=3);
        log.flush().unwrap();
        let events = read_events(&dir.path().join(EVENT_FILE)).unwrap();
        assert_eq!(steps(&events, "train_cost"), [1, 2, 3]);
    }

    #[test]
    fn an_image_takes_its_size_and_colorspace_from_the_png() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLog::open(dir.path()).unwrap();
        let png = gray_png(5, 3);
        log.image("reconstruction", 2, 1.0, &png).unwrap();
        log.image("reconstruction", 2, 1.0, &png).unwrap();
        let err = log.image("reconstruction", 3, 1.0, b"GIF89a").unwrap_err();
        assert!(format!("{err:#}").contains("not a PNG"), "{err:#}");
        log.flush().unwrap();
        let events = read_events(&dir.path().join(EVENT_FILE)).unwrap();
        let images: Vec<_> = events
            .iter()
            .filter_map(|e| match &e.what {
                Some(proto::event::What::Summary(s)) => match &s.value[0].value {
                    Some(Payload::Image(i)) => Some(i.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(images.len(), 1);
        assert_eq!(
            (images[0].width, images[0].height, images[0].colorspace),
            (5, 3, 1)
        );
        assert_eq!(images[0].encoded_image_string, png);
    }

    #[test]
    fn the_experiment_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = [MetricInfo {
            tag: "test_cost".into(),
            display_name: String::new(),
        }];
        let lr = HParamInfo {
            name: "train.learning_rate".into(),
            domain: Domain::Interval {
                min: 0.01,
                max: 0.1,
            },
        };
        write_experiment(dir.path(), std::slice::from_ref(&lr), &metrics).unwrap();
        let shuffle = HParamInfo {
            name: "train.shuffle".into(),
            domain: Domain::Discrete(vec![HValue::Bool(true)]),
        };
        write_experiment(dir.path(), &[lr, shuffle], &metrics).unwrap();
        let events = read_events(&dir.path().join(EVENT_FILE)).unwrap();
        assert_eq!(events.len(), 2);
        let experiments = plugin_data(&events, EXPERIMENT_TAG);
        let [Data::Experiment(e)] = experiments.as_slice() else {
            panic!("one experiment: {experiments:?}");
        };
        let kinds: Vec<_> = e
            .hparam_infos
            .iter()
            .map(|h| (h.r#type, h.differs))
            .collect();
        let float = proto::HParamType::DataTypeFloat64.into();
        assert_eq!(
            kinds,
            [
                (float, true),
                (proto::HParamType::DataTypeBool.into(), false)
            ]
        );
        assert_eq!(e.metric_infos[0].name.as_ref().unwrap().tag, "test_cost");
    }

    #[test]
    fn a_domain_of_mixed_kinds_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mixed = HParamInfo {
            name: "x".into(),
            domain: Domain::Discrete(vec![HValue::Number(1.0), HValue::Text("a".into())]),
        };
        let err = write_experiment(dir.path(), &[mixed], &[]).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains(EVENT_FILE) && text.contains("mixes"),
            "{text}"
        );
    }

    #[test]
    fn a_file_of_another_kind_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENT_FILE);
        let mut bytes = Vec::new();
        push_event(&mut bytes, &summary_event(1, 0.0, vec![]));
        fs::write(&path, &bytes).unwrap();
        let err = RunLog::open(dir.path()).err().expect("refused");
        assert!(format!("{err:#}").contains("file_version"), "{err:#}");
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn damaged_bytes_are_an_error_for_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENT_FILE);
        RunLog::open(dir.path()).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let err = read_events(&path).unwrap_err();
        assert!(format!("{err:#}").contains("checksum"), "{err:#}");
    }
}
