//! Max pooling as a candle `CustomOp1`. Only the recognition net pools; candle's generic
//! pooling recomputes every index per element and cost ~4 % of a descriptor pass.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::epilogue::contiguous_f32;

/// Max pooling over `k`×`k` windows with stride `s` and no padding, NCHW. candle's generic
/// pooling recomputes every index per element and cost ~4 % of a descriptor pass.
#[derive(Debug, Clone, Copy)]
pub struct MaxPool {
    pub k: usize,
    pub s: usize,
}

impl MaxPool {
    /// Pools a 4-D tensor.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "vigil-max-pool"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let src = contiguous_f32(storage, layout)?;
        let (n, c, h, w) = layout.shape().dims4()?;
        let (k, s) = (self.k, self.s);
        if k == 0 || s == 0 || h < k || w < k {
            candle_core::bail!("max pool {k}/{s} on {h}x{w}");
        }
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        let mut out = vec![0f32; n * c * oh * ow];
        out.par_chunks_mut(oh * ow)
            .with_min_len(8)
            .enumerate()
            .for_each_init(Vec::new, |rowmax: &mut Vec<f32>, (i, o)| {
                let plane = &src[i * h * w..(i + 1) * h * w];
                for (oy, orow) in o.chunks_exact_mut(ow).enumerate() {
                    // Vertical max of the window's rows, then horizontal windows over it.
                    rowmax.clear();
                    rowmax.extend_from_slice(&plane[oy * s * w..][..w]);
                    for ky in 1..k {
                        let line = &plane[(oy * s + ky) * w..][..w];
                        rowmax
                            .iter_mut()
                            .zip(line)
                            .for_each(|(m, v)| *m = m.max(*v));
                    }
                    for (ox, d) in orow.iter_mut().enumerate() {
                        *d = rowmax[ox * s..ox * s + k]
                            .iter()
                            .fold(f32::NEG_INFINITY, |a, v| a.max(*v));
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }
}
