//! The Nile local-level model (described in the [parent module](super)).

use faer::Mat;

use crate::em::MStepOptions;
use crate::model::{LinearGaussianSsm, Parameters};
use crate::param::{LearnSet, Param};

/// The year of the first value of [`NILE_FLOW`].
pub const NILE_FIRST_YEAR: u32 = 1871;

/// The annual flow of the Nile at Aswan, 1871–1970, in 10⁸ m³ (one decade
/// per row).
#[rustfmt::skip]
pub const NILE_FLOW: [f64; 100] = [
    1120.0, 1160.0, 963.0, 1210.0, 1160.0, 1160.0, 813.0, 1230.0, 1370.0, 1140.0,  // 1871–1880
    995.0, 935.0, 1110.0, 994.0, 1020.0, 960.0, 1180.0, 799.0, 958.0, 1140.0,  // 1881–1890
    1100.0, 1210.0, 1150.0, 1250.0, 1260.0, 1220.0, 1030.0, 1100.0, 774.0, 840.0,  // 1891–1900
    874.0, 694.0, 940.0, 833.0, 701.0, 916.0, 692.0, 1020.0, 1050.0, 969.0,  // 1901–1910
    831.0, 726.0, 456.0, 824.0, 702.0, 1120.0, 1100.0, 832.0, 764.0, 821.0,  // 1911–1920
    768.0, 845.0, 864.0, 862.0, 698.0, 845.0, 744.0, 796.0, 1040.0, 759.0,  // 1921–1930
    781.0, 865.0, 845.0, 944.0, 984.0, 897.0, 822.0, 1010.0, 771.0, 676.0,  // 1931–1940
    649.0, 846.0, 812.0, 742.0, 801.0, 1040.0, 860.0, 874.0, 848.0, 890.0,  // 1941–1950
    744.0, 749.0, 838.0, 1050.0, 918.0, 986.0, 797.0, 923.0, 975.0, 815.0,  // 1951–1960
    1020.0, 906.0, 901.0, 1170.0, 912.0, 746.0, 919.0, 718.0, 714.0, 740.0,  // 1961–1970
];

/// The near-diffuse variance of the initial level, `P0`.
pub const NILE_P0: f64 = 1e7;

/// Durbin & Koopman's maximum-likelihood estimate of the observation
/// variance `σ²_ε` (R) with a diffuse initial level.
pub const NILE_MLE_OBSERVATION_VARIANCE: f64 = 15099.0;

/// Durbin & Koopman's maximum-likelihood estimate of the level variance
/// `σ²_η` (Q) with a diffuse initial level.
pub const NILE_MLE_LEVEL_VARIANCE: f64 = 1469.1;

/// The Nile data and the local-level model to fit to them.
#[derive(Debug, Clone)]
pub struct NileData {
    /// The flows, 100 x 1 (one row per year from [`NILE_FIRST_YEAR`]).
    pub flow: Mat<f64>,
    /// The EM start (see the [module documentation](super)).
    pub start: LinearGaussianSsm,
}

/// The Nile series and the local-level EM start: `A = H = 1`,
/// `Q = R = ½ s²`, `m0 = y_0`, `P0 = `[`NILE_P0`].
#[must_use]
pub fn nile() -> NileData {
    let flow = Mat::from_fn(NILE_FLOW.len(), 1, |k, _| NILE_FLOW[k]);
    let count = NILE_FLOW.len() as f64;
    let mean = NILE_FLOW.iter().sum::<f64>() / count;
    let variance = NILE_FLOW.iter().map(|y| (y - mean) * (y - mean)).sum::<f64>() / (count - 1.0);
    let scalar = |v: f64| Mat::from_fn(1, 1, |_, _| v);
    let start = LinearGaussianSsm::from_parameters(Parameters {
        a: scalar(1.0),
        q: scalar(0.5 * variance),
        h: scalar(1.0),
        r: scalar(0.5 * variance),
        m0: vec![NILE_FLOW[0]],
        p0: scalar(NILE_P0),
    })
    .expect("the Nile start is a valid model by construction");
    NileData { flow, start }
}

/// What EM learns in the local-level model: Q, R and m0 (A = H = 1 and the
/// near-diffuse P0 stay fixed).
#[must_use]
pub fn nile_learn_options() -> MStepOptions {
    MStepOptions::new(LearnSet::only(&[Param::Q, Param::R, Param::M0]))
}
