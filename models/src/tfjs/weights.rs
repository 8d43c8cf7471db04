//! One loader for both TF.js weight formats: face-api's `*-weights_manifest.json` (a bare
//! manifest array) and graph models' `model.json` (topology + `weightsManifest`). Tensors are
//! packed back to back across the manifest's `.bin` files; quantised values are dequantised
//! exactly as tfjs does (`q * scale + min` in f64, stored as f32; float16 as IEEE half).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::Deserialize;

use crate::error::{Error, Result, io_err};

/// Element data of one decoded tensor.
#[derive(Debug, Clone)]
pub enum TensorData {
    F32(Vec<f32>),
    I32(Vec<i32>),
}

/// One decoded weight tensor in its original (TF, usually NHWC/HWIO) layout.
#[derive(Debug, Clone)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl RawTensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for zero-element tensors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as f32 (int tensors converted).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            TensorData::F32(v) => v.clone(),
            TensorData::I32(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The values as i64 (float tensors truncated).
    pub fn to_i64(&self) -> Vec<i64> {
        match &self.data {
            TensorData::F32(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }

    /// A candle f32 tensor with the original shape.
    pub fn to_tensor(&self) -> Result<Tensor> {
        Ok(Tensor::from_vec(
            self.to_f32(),
            self.shape.clone(),
            &Device::Cpu,
        )?)
    }
}

#[derive(Debug, Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<WeightSpec>,
}

#[derive(Debug, Deserialize)]
struct WeightSpec {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    #[serde(default)]
    quantization: Option<Quantization>,
}

#[derive(Debug, Deserialize)]
struct Quantization {
    dtype: String,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    min: Option<f64>,
}

/// All tensors of one model, by TF name.
#[derive(Debug, Default)]
pub struct WeightStore {
    tensors: HashMap<String, RawTensor>,
    /// Manifest order, so listings and parameter counts are deterministic.
    order: Vec<String>,
}

impl WeightStore {
    /// Loads a face-api style `*-weights_manifest.json` and its `.bin` files.
    pub fn load_manifest(manifest: &Path) -> Result<Self> {
        let text = fs::read_to_string(manifest).map_err(io_err(manifest))?;
        let groups: Vec<ManifestGroup> = serde_json::from_str(&text)?;
        Self::from_groups(&groups, manifest.parent().unwrap_or(Path::new(".")))
    }

    fn from_groups(groups: &[ManifestGroup], dir: &Path) -> Result<Self> {
        let mut store = WeightStore::default();
        for group in groups {
            let mut bytes = Vec::new();
            for p in &group.paths {
                let path = dir.join(p);
                bytes.extend(fs::read(&path).map_err(io_err(&path))?);
            }
            let mut offset = 0usize;
            for spec in &group.weights {
                let (tensor, used) = decode(spec, &bytes[offset.min(bytes.len())..])?;
                offset += used;
                store.order.push(spec.name.clone());
                store.tensors.insert(spec.name.clone(), tensor);
            }
            if offset != bytes.len() {
                return Err(Error::Weights(format!(
                    "{:?}: manifest describes {offset} bytes, files hold {}",
                    group.paths,
                    bytes.len()
                )));
            }
        }
        Ok(store)
    }

    /// The tensor called `name`, or an error naming it.
    pub fn get(&self, name: &str) -> Result<&RawTensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| Error::Weights(format!("missing tensor {name}")))
    }

    /// The tensor called `name` as a candle tensor, checking its shape.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.get(name)?;
        if t.shape != shape {
            return Err(Error::Weights(format!(
                "{name}: expected shape {shape:?}, found {:?}",
                t.shape
            )));
        }
        t.to_tensor()
    }

    /// Whether a tensor called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Tensor names in manifest order.
    pub fn names(&self) -> &[String] {
        &self.order
    }

    /// Total number of float elements (the model's parameter count; int32 shape constants and
    /// SSD's stored anchor table are not parameters and are excluded by the callers' filters).
    pub fn float_params(&self, exclude: impl Fn(&str) -> bool) -> usize {
        self.tensors
            .iter()
            .filter(|(n, t)| matches!(t.data, TensorData::F32(_)) && !exclude(n))
            .map(|(_, t)| t.len())
            .sum()
    }
}

fn elem_bytes(dtype: &str) -> Result<usize> {
    Ok(match dtype {
        "uint8" | "int8" | "bool" => 1,
        "uint16" | "int16" | "float16" => 2,
        "float32" | "int32" => 4,
        other => return Err(Error::Weights(format!("unsupported dtype {other}"))),
    })
}

fn decode(spec: &WeightSpec, bytes: &[u8]) -> Result<(RawTensor, usize)> {
    let n: usize = spec.shape.iter().product();
    let stored = spec
        .quantization
        .as_ref()
        .map(|q| q.dtype.as_str())
        .unwrap_or(spec.dtype.as_str());
    let used = n * elem_bytes(stored)?;
    if bytes.len() < used {
        return Err(Error::Weights(format!(
            "{}: needs {used} bytes, only {} left",
            spec.name,
            bytes.len()
        )));
    }
    let b = &bytes[..used];
    let as_f64: Vec<f64> = match stored {
        "uint8" => b.iter().map(|&q| q as f64).collect(),
        "uint16" => b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as f64)
            .collect(),
        "float16" => b
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        "float32" => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        "int32" => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        other => {
            return Err(Error::Weights(format!(
                "{}: unsupported stored dtype {other}",
                spec.name
            )));
        }
    };
    let values: Vec<f64> = match &spec.quantization {
        Some(q) if q.dtype == "uint8" || q.dtype == "uint16" => {
            let (scale, min) = (q.scale.unwrap_or(1.0), q.min.unwrap_or(0.0));
            as_f64.into_iter().map(|v| v * scale + min).collect()
        }
        _ => as_f64,
    };
    let data = match spec.dtype.as_str() {
        "float32" => TensorData::F32(values.into_iter().map(|v| v as f32).collect()),
        "int32" => TensorData::I32(values.into_iter().map(|v| v.round() as i32).collect()),
        other => {
            return Err(Error::Weights(format!(
                "{}: unsupported dtype {other}",
                spec.name
            )));
        }
    };
    Ok((
        RawTensor {
            shape: spec.shape.clone(),
            data,
        },
        used,
    ))
}

/// One node of a TF.js graph model.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphNode {
    pub name: String,
    pub op: String,
    #[serde(default)]
    pub input: Vec<String>,
    #[serde(default)]
    pub attr: HashMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Topology {
    node: Vec<GraphNode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphModelJson {
    model_topology: Topology,
    weights_manifest: Vec<ManifestGroup>,
}

/// A TF.js graph model: its nodes (topological order as stored) and its constant tensors.
#[derive(Debug)]
pub struct GraphModel {
    pub nodes: Vec<GraphNode>,
    pub weights: WeightStore,
}

impl GraphModel {
    /// Loads `model.json` and its `.bin` files.
    pub fn load(model_json: &Path) -> Result<Self> {
        let text = fs::read_to_string(model_json).map_err(io_err(model_json))?;
        let m: GraphModelJson = serde_json::from_str(&text)?;
        let weights = WeightStore::from_groups(
            &m.weights_manifest,
            model_json.parent().unwrap_or(Path::new(".")),
        )?;
        Ok(GraphModel {
            nodes: m.model_topology.node,
            weights,
        })
    }
}
