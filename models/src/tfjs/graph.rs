//! A small executor for TF.js graph models over candle, covering the ops of human's CenterNet
//! (MobileNetV3 + CenterNet head) and BlazeFace (residual depthwise blocks, max pooling,
//! zero channels padded onto a shortcut). Activations are NCHW; the graph's NHWC semantics (axes,
//! per-channel constants) are translated when the graph is compiled. Constant folding happens
//! at load time: every conv gets its weights permuted once and its bias/activation fused.

use std::collections::HashMap;

use candle_core::{D, Tensor};

use super::layers::{Conv2d, Depthwise, Padding, global_mean};
use super::weights::{GraphModel, GraphNode, RawTensor, WeightStore};
use crate::error::{Error, Result};
use crate::kernels::epilogue::{Act, AddAct, ChannelAffine, ChannelScale, Elem};
use crate::kernels::image_ops::resize_legacy_nchw;
use crate::kernels::pool::MaxPool;

#[derive(Debug)]
enum Op {
    Conv(Conv2d),
    /// `act(conv(x) + residual)`, inputs `[x, residual]`: a residual block's tail in one pass.
    ConvAdd(Conv2d),
    Depthwise(Depthwise),
    /// `x * mul + add` with scalars.
    Affine(f64, f64),
    /// Per-channel constant operand of an elementwise op.
    Channel(ChannelAffine),
    Add,
    Sub,
    Mul,
    /// Elementwise activation.
    Act(Act),
    /// Max pooling, `k`×`k` windows at stride `k` (SAME padding on sides divisible by `k`).
    MaxPool(usize),
    /// Zero channels appended (a shortcut widened to the next stage's channel count).
    PadChannels(usize),
    Sigmoid,
    /// `Mean` over H and W, keeping dims.
    MeanHw,
    /// Concatenation along channels.
    ConcatC,
    /// Legacy bilinear resize to (h, w) at the graph's own input size; other input sizes
    /// scale it (an upsampling layer doubles whatever it is given).
    Resize(usize, usize),
    Identity,
}

#[derive(Debug)]
struct Step {
    op: Op,
    inputs: Vec<usize>,
    out: usize,
    /// Slots whose value is not needed after this step.
    frees: Vec<usize>,
}

/// A compiled graph: steps in execution order over numbered value slots.
#[derive(Debug)]
pub struct CompiledGraph {
    steps: Vec<Step>,
    n_slots: usize,
    input_slot: usize,
    output_slots: Vec<usize>,
    params: usize,
    /// The input (height, width) the graph was exported for, from its placeholder.
    native_hw: Option<(usize, usize)>,
}

/// (height, width) of an NHWC placeholder with a fixed shape.
fn placeholder_hw(node: &GraphNode) -> Option<(usize, usize)> {
    let dims = node
        .attr
        .get("shape")?
        .get("shape")?
        .get("dim")?
        .as_array()?;
    let size = |k: usize| -> Option<usize> {
        let d = dims.get(k)?.get("size")?;
        d.as_str()
            .and_then(|v| v.parse().ok())
            .or_else(|| d.as_u64().map(|v| v as usize))
    };
    (dims.len() == 4).then_some(())?;
    Some((size(1)?, size(2)?))
}

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let Some(v) = A.iter().position(|&a| a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn attr_str(node: &GraphNode, key: &str) -> Option<String> {
    node.attr.get(key)?.get("s")?.as_str().map(b64)
}

fn attr_ints(node: &GraphNode, key: &str) -> Vec<i64> {
    node.attr
        .get(key)
        .and_then(|a| a.get("list")?.get("i")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_i64())
        })
        .collect()
}

fn attr_strs(node: &GraphNode, key: &str) -> Vec<String> {
    node.attr
        .get(key)
        .and_then(|a| a.get("list")?.get("s")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(b64))
        .collect()
}

fn attr_bool(node: &GraphNode, key: &str) -> bool {
    node.attr
        .get(key)
        .and_then(|a| a.get("b")?.as_bool())
        .unwrap_or(false)
}

fn clean(input: &str) -> &str {
    input.split(':').next().unwrap_or(input)
}

impl CompiledGraph {
    /// Compiles the part of `model` needed for `outputs`, fed by the placeholder `input`.
    pub fn compile(model: &GraphModel, input: &str, outputs: &[&str]) -> Result<Self> {
        let by_name: HashMap<&str, &GraphNode> =
            model.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
        // Topological order of the nodes the outputs depend on (iterative DFS, consts excluded).
        let mut order: Vec<&str> = Vec::new();
        let mut state: HashMap<&str, u8> = HashMap::new();
        for &out in outputs {
            let mut stack = vec![(out, false)];
            while let Some((name, done)) = stack.pop() {
                if done {
                    state.insert(name, 2);
                    order.push(name);
                    continue;
                }
                if state.contains_key(name) {
                    continue;
                }
                let node = by_name
                    .get(name)
                    .ok_or_else(|| Error::Graph(format!("unknown node {name}")))?;
                if node.op == "Const" {
                    continue;
                }
                state.insert(name, 1);
                stack.push((name, true));
                for i in node.input.iter().rev() {
                    let i = clean(i);
                    if !i.starts_with('^') && !state.contains_key(i) {
                        stack.push((i, false));
                    }
                }
            }
        }
        let slot_of: HashMap<&str, usize> =
            order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let input_slot = *slot_of
            .get(input)
            .ok_or_else(|| Error::Graph(format!("input {input} not reachable")))?;
        let mut steps = Vec::new();
        let w = &model.weights;
        let konst = |name: &str| konst(w, name);
        let is_const = |name: &str| by_name.get(clean(name)).is_some_and(|n| n.op == "Const");
        for (slot, &name) in order.iter().enumerate() {
            let node = by_name[name];
            let inputs_all: Vec<&str> = node
                .input
                .iter()
                .map(|s| s.as_str())
                .filter(|s| !s.starts_with('^'))
                .collect();
            let dyn_inputs: Vec<usize> = inputs_all
                .iter()
                .filter(|i| !is_const(i))
                .map(|i| slot_of[clean(i)])
                .collect();
            let op = match node.op.as_str() {
                "Placeholder" => continue,
                "_FusedConv2D"
                | "Conv2D"
                | "FusedDepthwiseConv2dNative"
                | "DepthwiseConv2dNative" => conv_op(node, &inputs_all, w)?,
                "Add" | "AddV2" | "Sub" | "Mul" => {
                    let consts: Vec<&&str> = inputs_all.iter().filter(|i| is_const(i)).collect();
                    match consts.as_slice() {
                        [] => match node.op.as_str() {
                            "Sub" => Op::Sub,
                            "Mul" => Op::Mul,
                            _ => Op::Add,
                        },
                        [c] => {
                            let t = konst(c)?;
                            let v = t.to_f32();
                            let const_first = clean(inputs_all[0]) == clean(c);
                            if v.len() == 1 {
                                let k = v[0] as f64;
                                match node.op.as_str() {
                                    "Mul" => Op::Affine(k, 0.0),
                                    "Sub" if const_first => Op::Affine(-1.0, k),
                                    "Sub" => Op::Affine(1.0, -k),
                                    _ => Op::Affine(1.0, k),
                                }
                            } else if t.shape.iter().rev().skip(1).all(|&d| d == 1) {
                                let n = v.len();
                                match node.op.as_str() {
                                    "Mul" => Op::Channel(ChannelAffine {
                                        scale: Some(v.into()),
                                        shift: vec![0.0; n].into(),
                                        act: Act::None,
                                    }),
                                    "Sub" if const_first => Op::Channel(ChannelAffine {
                                        scale: Some(vec![-1.0; n].into()),
                                        shift: v.into(),
                                        act: Act::None,
                                    }),
                                    "Sub" => Op::Channel(ChannelAffine::bias(
                                        v.iter().map(|x| -x).collect(),
                                        Act::None,
                                    )),
                                    _ => Op::Channel(ChannelAffine::bias(v, Act::None)),
                                }
                            } else {
                                return Err(Error::Graph(format!(
                                    "{name}: constant operand of shape {:?}",
                                    t.shape
                                )));
                            }
                        }
                        _ => return Err(Error::Graph(format!("{name}: two constant operands"))),
                    }
                }
                "Relu" => Op::Act(Act::Relu),
                "Relu6" => Op::Act(Act::Relu6),
                "MaxPool" => {
                    let k = attr_ints(node, "ksize");
                    let s = attr_ints(node, "strides");
                    match (&k[..], &s[..]) {
                        ([1, a, b, 1], [1, c, d, 1]) if a == b && b == c && c == d => {
                            Op::MaxPool(*a as usize)
                        }
                        _ => {
                            return Err(Error::Graph(format!(
                                "{name}: max pool {k:?} stride {s:?}"
                            )));
                        }
                    }
                }
                "Pad" => {
                    let p = konst(inputs_all.get(1).copied().unwrap_or(""))?.to_i64();
                    match p[..] {
                        [0, 0, 0, 0, 0, 0, 0, c] if c >= 0 => Op::PadChannels(c as usize),
                        _ => return Err(Error::Graph(format!("{name}: padding {p:?}"))),
                    }
                }
                "Sigmoid" => Op::Sigmoid,
                "Identity" => Op::Identity,
                "Mean" => {
                    let axes = konst(inputs_all.get(1).copied().unwrap_or(""))?.to_i64();
                    if axes != [1, 2] || !attr_bool(node, "keep_dims") {
                        return Err(Error::Graph(format!("{name}: Mean over {axes:?}")));
                    }
                    Op::MeanHw
                }
                "ConcatV2" => {
                    let axis = konst(inputs_all.last().copied().unwrap_or(""))?.to_i64();
                    if axis != [3] && axis != [-1] {
                        return Err(Error::Graph(format!("{name}: concat on axis {axis:?}")));
                    }
                    Op::ConcatC
                }
                "ResizeBilinear" => {
                    if attr_bool(node, "align_corners") || attr_bool(node, "half_pixel_centers") {
                        return Err(Error::Graph(format!(
                            "{name}: only legacy bilinear is supported"
                        )));
                    }
                    let size = konst(inputs_all.get(1).copied().unwrap_or(""))?.to_i64();
                    let [h, w] = size[..] else {
                        return Err(Error::Graph(format!("{name}: resize size {size:?}")));
                    };
                    Op::Resize(h.max(1) as usize, w.max(1) as usize)
                }
                other => return Err(Error::Graph(format!("{name}: op {other} not supported"))),
            };
            steps.push(Step {
                op,
                inputs: dyn_inputs,
                out: slot,
                frees: Vec::new(),
            });
        }
        let output_slots: Vec<usize> = outputs.iter().map(|o| slot_of[o]).collect();
        let steps = fuse_hard_swish(steps, &output_slots);
        let mut steps = fuse_residual_add(steps, &output_slots);
        // Liveness: free each slot after its last reader, unless it is a graph output.
        let mut last_use: HashMap<usize, usize> = HashMap::new();
        for (si, s) in steps.iter().enumerate() {
            for &i in &s.inputs {
                last_use.insert(i, si);
            }
        }
        for (slot, si) in last_use {
            if !output_slots.contains(&slot) {
                steps[si].frees.push(slot);
            }
        }
        let params = w.float_params(|_| false);
        let native_hw = by_name.get(input).and_then(|n| placeholder_hw(n));
        Ok(CompiledGraph {
            steps,
            n_slots: order.len(),
            input_slot,
            output_slots,
            params,
            native_hw,
        })
    }

    /// Number of float constants in the whole model.
    pub fn param_count(&self) -> usize {
        self.params
    }

    /// Runs the graph on an NCHW input; returns the outputs in NCHW, in the order compiled.
    pub fn run(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let (_, _, in_h, in_w) = x.dims4()?;
        // A fixed resize size is for the native input: scaled exactly, or refused.
        let resized = |h: usize, w: usize| -> Result<(usize, usize)> {
            let Some((nh, nw)) = self.native_hw else {
                return Ok((h, w));
            };
            if !(h * in_h).is_multiple_of(nh) || !(w * in_w).is_multiple_of(nw) {
                return Err(Error::Graph(format!(
                    "input {in_w}x{in_h} does not scale the graph's {nw}x{nh} evenly"
                )));
            }
            Ok((h * in_h / nh, w * in_w / nw))
        };
        let mut slots: Vec<Option<Tensor>> = vec![None; self.n_slots];
        slots[self.input_slot] = Some(x.clone());
        for step in &self.steps {
            let ins = &step.inputs;
            let arg = |k: usize| -> Result<&Tensor> {
                ins.get(k)
                    .and_then(|&s| slots[s].as_ref())
                    .ok_or_else(|| Error::Graph("value used before defined".into()))
            };
            let y = match &step.op {
                Op::Conv(c) => c.forward(arg(0)?)?,
                Op::ConvAdd(c) => c.forward_add(arg(0)?, &arg(1)?.contiguous()?)?,
                Op::Depthwise(d) => d.forward(arg(0)?)?,
                Op::Affine(m, a) => Elem {
                    mul: *m as f32,
                    add: *a as f32,
                    act: Act::None,
                }
                .forward(arg(0)?)?,
                Op::Act(act) => Elem {
                    mul: 1.0,
                    add: 0.0,
                    act: *act,
                }
                .forward(arg(0)?)?,
                Op::Channel(c) => c.forward(&arg(0)?.contiguous()?)?,
                Op::Add if arg(0)?.shape() == arg(1)?.shape() => {
                    AddAct(Act::None).forward(arg(0)?, arg(1)?)?
                }
                Op::Add => arg(0)?.broadcast_add(arg(1)?)?,
                Op::Sub => arg(0)?.broadcast_sub(arg(1)?)?,
                Op::Mul => mul(arg(0)?, arg(1)?)?,
                Op::Sigmoid => candle_nn::ops::sigmoid(arg(0)?)?,
                Op::MaxPool(k) => {
                    let x = arg(0)?;
                    let (_, _, h, w) = x.dims4()?;
                    if !h.is_multiple_of(*k) || !w.is_multiple_of(*k) {
                        return Err(Error::Graph(format!(
                            "max pool {k} on {w}x{h}: input sides must be multiples of {k}"
                        )));
                    }
                    MaxPool { k: *k, s: *k }.forward(x)?
                }
                Op::PadChannels(c) => arg(0)?.pad_with_zeros(1, 0, *c)?,
                Op::MeanHw => global_mean(arg(0)?)?
                    .unsqueeze(D::Minus1)?
                    .unsqueeze(D::Minus1)?,
                Op::ConcatC => {
                    let ts: Vec<&Tensor> = (0..ins.len()).map(arg).collect::<Result<_>>()?;
                    Tensor::cat(&ts, 1)?
                }
                Op::Resize(h, w) => {
                    let (h, w) = resized(*h, *w)?;
                    resize_legacy_nchw(arg(0)?, h, w)?
                }
                Op::Identity => arg(0)?.clone(),
            };
            for &f in &step.frees {
                slots[f] = None;
            }
            slots[step.out] = Some(y);
        }
        self.output_slots
            .iter()
            .map(|&s| {
                slots[s]
                    .clone()
                    .ok_or_else(|| Error::Graph("output not computed".into()))
            })
            .collect()
    }
}

fn konst<'a>(w: &'a WeightStore, name: &str) -> Result<&'a RawTensor> {
    w.get(clean(name))
}

fn conv_op(node: &GraphNode, inputs: &[&str], w: &WeightStore) -> Result<Op> {
    let konst = |name: &str| konst(w, name);
    let name = &node.name;
    let strides = attr_ints(node, "strides");
    let stride = match strides[..] {
        [] => 1,
        [1, s, t, 1] if s == t => s as usize,
        _ => return Err(Error::Graph(format!("{name}: strides {strides:?}"))),
    };
    let dil = attr_ints(node, "dilations");
    if dil.iter().any(|&d| d != 1) {
        return Err(Error::Graph(format!("{name}: dilated convolution")));
    }
    let padding = match attr_str(node, "padding").as_deref() {
        Some("SAME") => Padding::Same,
        Some("VALID") => Padding::Valid,
        p => return Err(Error::Graph(format!("{name}: padding {p:?}"))),
    };
    let filt = konst(inputs.get(1).copied().unwrap_or(""))?;
    let depthwise = node.op.contains("Depthwise");
    let channels = if depthwise {
        filt.shape.get(2).copied().unwrap_or(0)
    } else {
        filt.shape.get(3).copied().unwrap_or(0)
    };
    let fused = attr_strs(node, "fused_ops");
    let mut bias = vec![0f32; channels];
    let mut act = Act::None;
    for f in &fused {
        match f.as_str() {
            "BiasAdd" => {
                let b = konst(inputs.get(2).copied().unwrap_or(""))?.to_f32();
                if b.len() != channels {
                    return Err(Error::Graph(format!("{name}: bias length {}", b.len())));
                }
                bias = b;
            }
            "Relu" => act = Act::Relu,
            "Relu6" => act = Act::Relu6,
            other => return Err(Error::Graph(format!("{name}: fused op {other}"))),
        }
    }
    let epi = ChannelAffine::bias(bias, act);
    Ok(if depthwise {
        Op::Depthwise(Depthwise::from_tf(filt, stride, padding, epi)?)
    } else {
        Op::Conv(Conv2d::from_hwio(filt, stride, padding, epi)?)
    })
}

/// Broadcasting multiply; the squeeze-and-excitation case (`[N,C,H,W] × [N,C,1,1]`) runs on
/// the fused kernel.
fn mul(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (da, db) = (a.dims(), b.dims());
    if da.len() == 4 && db.len() == 4 && da[..2] == db[..2] {
        if db[2..] == [1, 1] {
            return a
                .contiguous()?
                .apply_op2_no_bwd(&b.contiguous()?, &ChannelScale);
        }
        if da[2..] == [1, 1] {
            return b
                .contiguous()?
                .apply_op2_no_bwd(&a.contiguous()?, &ChannelScale);
        }
    }
    a.broadcast_mul(b)
}

/// The step computing `slot`.
fn producer(steps: &[Step], slot: usize) -> Option<usize> {
    steps.iter().position(|s| s.out == slot)
}

/// How many steps read `slot`.
fn readers(steps: &[Step], slot: usize) -> usize {
    steps.iter().filter(|s| s.inputs.contains(&slot)).count()
}

/// Rewrites TF's unfused hard-swish — `Mul(k, x)`, `Add(x, 3)`, `Relu6`, `Mul` — into the
/// epilogue of the convolution producing `x` (or one elementwise step when `x` has other
/// readers), then drops the steps nothing reads any more.
fn fuse_hard_swish(mut steps: Vec<Step>, outputs: &[usize]) -> Vec<Step> {
    for i in 0..steps.len() {
        if !matches!(steps[i].op, Op::Mul) || steps[i].inputs.len() != 2 {
            continue;
        }
        let (a, b) = (steps[i].inputs[0], steps[i].inputs[1]);
        let found = [(a, b), (b, a)].into_iter().find_map(|(m, r)| {
            let pm = producer(&steps, m)?;
            let pr = producer(&steps, r)?;
            let Op::Affine(k, 0.0) = steps[pm].op else {
                return None;
            };
            if !matches!(steps[pr].op, Op::Act(Act::Relu6)) {
                return None;
            }
            let pa = producer(&steps, steps[pr].inputs[0])?;
            let Op::Affine(1.0, 3.0) = steps[pa].op else {
                return None;
            };
            let x = steps[pm].inputs[0];
            (steps[pa].inputs[0] == x).then_some((x, k as f32))
        });
        let Some((x, k)) = found else { continue };
        steps[i].inputs = vec![x];
        steps[i].op = Op::Act(Act::HardSwish(k));
    }
    let mut steps = dead_step_elimination(steps, outputs);
    // Fold a hard-swish step into its producer's epilogue when it is that value's only reader.
    for i in 0..steps.len() {
        let Op::Act(act @ Act::HardSwish(_)) = steps[i].op else {
            continue;
        };
        let x = steps[i].inputs[0];
        if readers(&steps, x) != 1 || outputs.contains(&x) {
            continue;
        }
        let Some(p) = producer(&steps, x) else {
            continue;
        };
        let epi = match &mut steps[p].op {
            Op::Conv(c) => c.epilogue_mut(),
            Op::Depthwise(d) => d.epilogue_mut(),
            _ => continue,
        };
        if epi.act != Act::None {
            continue;
        }
        epi.act = act;
        steps[i].op = Op::Identity;
    }
    steps
}

/// Rewrites `Relu(Add(conv(x), r))` (BlazeFace's residual blocks) into one convolution whose
/// epilogue adds `r` and applies the activation, instead of two more passes over the map with
/// an allocation each.
fn fuse_residual_add(mut steps: Vec<Step>, outputs: &[usize]) -> Vec<Step> {
    for i in 0..steps.len() {
        if !matches!(steps[i].op, Op::Add) || steps[i].inputs.len() != 2 {
            continue;
        }
        let (a, b) = (steps[i].inputs[0], steps[i].inputs[1]);
        let found = [(a, b), (b, a)].into_iter().find_map(|(c, r)| {
            let p = producer(&steps, c)?;
            let Op::Conv(conv) = &steps[p].op else {
                return None;
            };
            let alone = readers(&steps, c) == 1 && !outputs.contains(&c);
            let mut conv = conv.clone();
            (alone && conv.epilogue_mut().act == Act::None).then_some((conv, steps[p].inputs[0], r))
        });
        let Some((mut conv, x, r)) = found else {
            continue;
        };
        // Take the activation that alone reads the sum into the epilogue too.
        let sum = steps[i].out;
        if readers(&steps, sum) == 1
            && !outputs.contains(&sum)
            && let Some(j) = steps.iter().position(|s| s.inputs.contains(&sum))
            && let Op::Act(act @ (Act::Relu | Act::Relu6)) = steps[j].op
        {
            conv.epilogue_mut().act = act;
            steps[j].op = Op::Identity;
        }
        steps[i].op = Op::ConvAdd(conv);
        steps[i].inputs = vec![x, r];
    }
    dead_step_elimination(steps, outputs)
}

/// Drops steps whose value no output depends on.
fn dead_step_elimination(steps: Vec<Step>, outputs: &[usize]) -> Vec<Step> {
    let mut needed: std::collections::HashSet<usize> = outputs.iter().copied().collect();
    let mut keep = vec![false; steps.len()];
    for (i, s) in steps.iter().enumerate().rev() {
        if needed.contains(&s.out) {
            keep[i] = true;
            needed.extend(s.inputs.iter().copied());
        }
    }
    steps
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}
