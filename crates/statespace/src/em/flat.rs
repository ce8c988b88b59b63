//! The learned parameters as one flat vector, for accelerated EM (SQUAREM)
//! and the parameter-change stopping rule (see [`crate::em`], *Flat
//! parameters*).

use faer::Mat;

use super::options::{CovStructure, MStepOptions};
use crate::model::LinearGaussianSsm;
use crate::param::{InputParam, Param};

/// The flat vector of the blocks `options` learns (layout in [`crate::em`]).
pub(super) fn flat_parameters(model: &LinearGaussianSsm, options: &MStepOptions) -> Vec<f64> {
    let (n, p, m) = (model.state_dim(), model.obs_dim(), model.input_dim());
    let mut flat = Vec::with_capacity(options.n_free_parameters_with_inputs(n, p, m));
    for block in options.learn.iter() {
        match block {
            Param::A => push_all(&mut flat, model.a()),
            Param::Q => push_cov(&mut flat, model.q(), options.q_structure),
            Param::H => push_all(&mut flat, model.h()),
            Param::R => push_cov(&mut flat, model.r(), options.r_structure),
            Param::M0 => flat.extend_from_slice(model.m0()),
            Param::P0 => push_cov(&mut flat, model.p0(), CovStructure::Full),
        }
    }
    for block in options.learn_inputs.iter() {
        match block {
            InputParam::B => push_all(&mut flat, model.b()),
            InputParam::D => push_all(&mut flat, model.d()),
            InputParam::TransitionOffset => flat.extend_from_slice(model.transition_offset()),
            InputParam::ObservationOffset => flat.extend_from_slice(model.observation_offset()),
        }
    }
    flat
}

/// `model` with its learned blocks read from `flat`, through the validating
/// constructor; `None` for a wrong length or parameters that are not a valid
/// model.
pub(super) fn with_flat_parameters(
    model: &LinearGaussianSsm,
    flat: &[f64],
    options: &MStepOptions,
) -> Option<LinearGaussianSsm> {
    let (n, p, m) = (model.state_dim(), model.obs_dim(), model.input_dim());
    if flat.len() != options.n_free_parameters_with_inputs(n, p, m) {
        return None;
    }
    let mut parameters = model.parameters();
    let mut rest = flat;
    for block in options.learn.iter() {
        match block {
            Param::A => parameters.a = read_all(&mut rest, n, n),
            Param::Q => parameters.q = read_cov(&mut rest, n, options.q_structure),
            Param::H => parameters.h = read_all(&mut rest, p, n),
            Param::R => parameters.r = read_cov(&mut rest, p, options.r_structure),
            Param::M0 => parameters.m0 = take(&mut rest, n).to_vec(),
            Param::P0 => parameters.p0 = read_cov(&mut rest, n, CovStructure::Full),
        }
    }
    let mut inputs = model.input_parameters();
    for block in options.learn_inputs.iter() {
        match block {
            InputParam::B => inputs.b = read_all(&mut rest, n, m),
            InputParam::D => inputs.d = read_all(&mut rest, p, m),
            InputParam::TransitionOffset => inputs.transition_offset = take(&mut rest, n).to_vec(),
            InputParam::ObservationOffset => inputs.observation_offset = take(&mut rest, p).to_vec(),
        }
    }
    LinearGaussianSsm::from_parameters(parameters)
        .and_then(|rebuilt| rebuilt.with_inputs(inputs))
        .ok()
        .map(|rebuilt| rebuilt.with_inference(model.inference()))
}

/// Every entry, column by column.
fn push_all(flat: &mut Vec<f64>, m: faer::MatRef<'_, f64>) {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            flat.push(m[(i, j)]);
        }
    }
}

/// The free values of a covariance of this structure: the lower triangle
/// column by column (full), the diagonal (diagonal), or one value, the mean
/// of the diagonal (scalar). The mean is computed as
/// `d₀ + Σ (dᵢ − d₀)/dim`, exactly `d₀` when the diagonal is constant.
fn push_cov(flat: &mut Vec<f64>, m: faer::MatRef<'_, f64>, structure: CovStructure) {
    let dim = m.nrows();
    match structure {
        CovStructure::Full => {
            for j in 0..dim {
                for i in j..dim {
                    flat.push(m[(i, j)]);
                }
            }
        }
        CovStructure::Diagonal => flat.extend((0..dim).map(|i| m[(i, i)])),
        CovStructure::Scalar => {
            let d0 = m[(0, 0)];
            let spread: f64 = (0..dim).map(|i| (m[(i, i)] - d0) / dim as f64).sum();
            flat.push(d0 + spread);
        }
    }
}

/// The next `len` values (the caller checked the total length).
fn take<'a>(rest: &mut &'a [f64], len: usize) -> &'a [f64] {
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    head
}

/// A `rows x cols` matrix, column by column.
fn read_all(rest: &mut &[f64], rows: usize, cols: usize) -> Mat<f64> {
    let values = take(rest, rows * cols);
    Mat::from_fn(rows, cols, |i, j| values[j * rows + i])
}

/// A `dim x dim` symmetric matrix of this structure (the inverse of
/// [`push_cov`] on matrices of that structure).
fn read_cov(rest: &mut &[f64], dim: usize, structure: CovStructure) -> Mat<f64> {
    match structure {
        CovStructure::Full => {
            let values = take(rest, dim * (dim + 1) / 2);
            let mut m = Mat::zeros(dim, dim);
            let mut next = 0;
            for j in 0..dim {
                for i in j..dim {
                    m[(i, j)] = values[next];
                    m[(j, i)] = values[next];
                    next += 1;
                }
            }
            m
        }
        CovStructure::Diagonal => {
            let values = take(rest, dim);
            Mat::from_fn(dim, dim, |i, j| if i == j { values[i] } else { 0.0 })
        }
        CovStructure::Scalar => {
            let s = take(rest, 1)[0];
            Mat::from_fn(dim, dim, |i, j| if i == j { s } else { 0.0 })
        }
    }
}
