//! The protobuf messages of TensorBoard's event files, declared by hand so that the build
//! needs no `protoc` and no build script.
//!
//! Only the messages and fields that the writer sets or the reader checks are declared;
//! prost skips the others when decoding, as protobuf allows. Names and field numbers are
//! copied from these files (tensorflow/tensorboard at commit 70b76c92, 2026-06-30, and
//! protocolbuffers/protobuf at commit e712d276, 2026-08-21):
//!
//! - `tensorboard/compat/proto/event.proto`: [`Event`] (`what` oneof: `file_version` 3,
//!   `summary` 5).
//! - `tensorboard/compat/proto/summary.proto`: [`Summary`], [`summary::Value`] (`value`
//!   oneof: `simple_value` 2, `image` 4, `tensor` 8; `metadata` 9), [`summary::Image`],
//!   [`SummaryMetadata`], [`summary_metadata::PluginData`].
//! - `tensorboard/compat/proto/tensor.proto`, `tensor_shape.proto`, `types.proto`:
//!   [`TensorProto`], [`TensorShapeProto`], [`DataType`] (for the empty tensor that the
//!   HParams summaries carry, as `tensorboard/plugins/hparams/metadata.py`'s `NULL_TENSOR`).
//! - `tensorboard/plugins/hparams/plugin_data.proto`: [`HParamsPluginData`],
//!   [`SessionStartInfo`], [`SessionEndInfo`].
//! - `tensorboard/plugins/hparams/api.proto`: [`Experiment`], [`HParamInfo`],
//!   [`HParamType`] (the proto's `DataType`, renamed here to keep it apart from the tensor
//!   `DataType`), [`Interval`], [`MetricName`], [`MetricInfo`], [`Status`].
//! - `src/google/protobuf/struct.proto` (protocolbuffers/protobuf): [`Value`] (only
//!   `number_value` 2, `string_value` 3 and `bool_value` 4 of its `kind` oneof) and
//!   [`ListValue`].

use std::collections::BTreeMap;

/// One record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "event::What", tags = "3, 5")]
    pub what: Option<event::What>,
}

pub mod event {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum What {
        /// `"brain.Event:2"` in the first event of a file: tells TensorBoard to purge
        /// data only at `SessionLog.START` events (which this writer never writes), not
        /// whenever a step goes back.
        #[prost(string, tag = "3")]
        FileVersion(String),
        #[prost(message, tag = "5")]
        Summary(super::Summary),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<summary::Value>,
}

pub mod summary {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Image {
        #[prost(int32, tag = "1")]
        pub height: i32,
        #[prost(int32, tag = "2")]
        pub width: i32,
        /// 1 grayscale, 2 grayscale + alpha, 3 RGB, 4 RGBA (summary.proto's comment).
        #[prost(int32, tag = "3")]
        pub colorspace: i32,
        #[prost(bytes = "vec", tag = "4")]
        pub encoded_image_string: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        #[prost(string, tag = "1")]
        pub tag: String,
        #[prost(message, optional, tag = "9")]
        pub metadata: Option<super::SummaryMetadata>,
        #[prost(oneof = "value::Value", tags = "2, 4, 8")]
        pub value: Option<value::Value>,
    }

    pub mod value {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            #[prost(float, tag = "2")]
            SimpleValue(f32),
            #[prost(message, tag = "4")]
            Image(super::Image),
            #[prost(message, tag = "8")]
            Tensor(super::super::TensorProto),
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<summary_metadata::PluginData>,
}

pub mod summary_metadata {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PluginData {
        #[prost(string, tag = "1")]
        pub plugin_name: String,
        #[prost(bytes = "vec", tag = "2")]
        pub content: Vec<u8>,
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(enumeration = "DataType", tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<tensor_shape_proto::Dim>,
}

pub mod tensor_shape_proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dim {
        #[prost(int64, tag = "1")]
        pub size: i64,
    }
}

/// The tensor element types (types.proto); only the one the empty tensor uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    DtInvalid = 0,
    DtFloat = 1,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamsPluginData {
    /// 0: the only version `metadata.py` (`PLUGIN_DATA_VERSION`) accepts.
    #[prost(int32, tag = "1")]
    pub version: i32,
    #[prost(oneof = "h_params_plugin_data::Data", tags = "2, 3, 4")]
    pub data: Option<h_params_plugin_data::Data>,
}

pub mod h_params_plugin_data {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        #[prost(message, tag = "2")]
        Experiment(super::Experiment),
        #[prost(message, tag = "3")]
        SessionStartInfo(super::SessionStartInfo),
        #[prost(message, tag = "4")]
        SessionEndInfo(super::SessionEndInfo),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionStartInfo {
    /// A `BTreeMap`, so that the same hparams always encode to the same bytes: that is
    /// how [`super::RunLog`] tells whether a start is already in the file.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hparams: BTreeMap<String, Value>,
    #[prost(string, tag = "4")]
    pub group_name: String,
    #[prost(double, tag = "5")]
    pub start_time_secs: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionEndInfo {
    #[prost(enumeration = "Status", tag = "1")]
    pub status: i32,
    #[prost(double, tag = "2")]
    pub end_time_secs: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Experiment {
    #[prost(message, repeated, tag = "4")]
    pub hparam_infos: Vec<HParamInfo>,
    #[prost(message, repeated, tag = "5")]
    pub metric_infos: Vec<MetricInfo>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamInfo {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(enumeration = "HParamType", tag = "4")]
    pub r#type: i32,
    #[prost(oneof = "h_param_info::Domain", tags = "5, 6")]
    pub domain: Option<h_param_info::Domain>,
    /// Whether the sweep holds two or more values: TensorBoard lists such hparams first.
    #[prost(bool, tag = "7")]
    pub differs: bool,
}

pub mod h_param_info {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Domain {
        #[prost(message, tag = "5")]
        DomainDiscrete(super::ListValue),
        #[prost(message, tag = "6")]
        DomainInterval(super::Interval),
    }
}

/// api.proto's `DataType`: the type of an hparam's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum HParamType {
    DataTypeUnset = 0,
    DataTypeString = 1,
    DataTypeBool = 2,
    DataTypeFloat64 = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Interval {
    #[prost(double, tag = "1")]
    pub min_value: f64,
    #[prost(double, tag = "2")]
    pub max_value: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricName {
    #[prost(string, tag = "1")]
    pub group: String,
    #[prost(string, tag = "2")]
    pub tag: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricInfo {
    #[prost(message, optional, tag = "1")]
    pub name: Option<MetricName>,
    #[prost(string, tag = "3")]
    pub display_name: String,
}

/// api.proto's session status. It has no "aborted"; see [`super::SessionStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Status {
    StatusUnknown = 0,
    StatusSuccess = 1,
    StatusFailure = 2,
    StatusRunning = 3,
}

/// google.protobuf.Value, without its null, struct and list kinds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    #[prost(oneof = "value::Kind", tags = "2, 3, 4")]
    pub kind: Option<value::Kind>,
}

pub mod value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(double, tag = "2")]
        NumberValue(f64),
        #[prost(string, tag = "3")]
        StringValue(String),
        #[prost(bool, tag = "4")]
        BoolValue(bool),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListValue {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<Value>,
}
