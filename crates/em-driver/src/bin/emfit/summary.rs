//! Short readable descriptions of fitted models.

use std::fmt::Write as _;

use em_driver::faer::MatRef;
use em_driver::hmm::{self, Emission};
use em_driver::mixture::GaussianMixture;
use em_driver::models::{CategoricalHmm, GaussianHmm, GmmHmm};

use crate::text::{list, table};

/// At most this many numbers of a vector are printed.
const SHOWN: usize = 6;

/// A row of a matrix as `[a, b, ...]`, cut after [`SHOWN`] entries.
pub fn row(m: MatRef<'_, f64>, i: usize, digits: usize) -> String {
    let d = m.ncols();
    let values: Vec<f64> = (0..d.min(SHOWN)).map(|j| m[(i, j)]).collect();
    let mut s = list(&values, digits);
    if d > SHOWN {
        s.insert_str(s.len() - 1, &format!(", ... ({d} values)"));
    }
    s
}

fn features(d: usize) -> String {
    if d == 1 {
        "1 feature".into()
    } else {
        format!("{d} features")
    }
}

/// Weights and means of a mixture.
pub fn gmm(m: &GaussianMixture) -> String {
    let mut s = format!(
        "\nfitted gmm: {} components, {}, {} covariances\n",
        m.n_components(),
        features(m.n_features()),
        m.covariance_type()
    );
    let rows: Vec<Vec<String>> = (0..m.n_components())
        .map(|k| {
            vec![
                format!("{}", k + 1),
                format!("{:.4}", m.weights()[k]),
                row(m.means(), k, 4),
            ]
        })
        .collect();
    s.push_str(&table(&["component", "weight", "mean"], &rows));
    s
}

fn chain<E: Emission>(s: &mut String, model: &hmm::Hmm<E>) {
    let _ = writeln!(s, "start probabilities {}", list(model.start_probs(), 4));
    let k = model.n_states();
    let mut header = vec!["transitions".to_string()];
    header.extend((0..k).map(|j| format!("to {}", j + 1)));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let a = model.transitions();
    let rows: Vec<Vec<String>> = (0..k)
        .map(|i| {
            let mut r = vec![format!("from {}", i + 1)];
            r.extend((0..k).map(|j| format!("{:.4}", a[(i, j)])));
            r
        })
        .collect();
    s.push_str(&table(&header, &rows));
}

/// Chain and per-state means of a Gaussian HMM.
pub fn gaussian_hmm(model: &GaussianHmm) -> String {
    let e = model.emission();
    let mut s = format!(
        "\nfitted hmm: {} states, {}, {} covariances\n",
        model.n_states(),
        features(model.n_features()),
        e.covariance_type()
    );
    chain(&mut s, model);
    let rows: Vec<Vec<String>> = (0..model.n_states())
        .map(|j| vec![format!("{}", j + 1), row(e.means(), j, 4)])
        .collect();
    s.push_str(&table(&["state", "mean"], &rows));
    s
}

/// Chain and per-state mixtures of a GMM-HMM.
pub fn gmm_hmm(model: &GmmHmm) -> String {
    let e = model.emission();
    let mut s = format!(
        "\nfitted gmmhmm: {} states x {} mixture components, {}, {} covariances\n",
        model.n_states(),
        e.n_mix(),
        features(model.n_features()),
        e.covariance_type()
    );
    chain(&mut s, model);
    let mut rows = Vec::new();
    for (j, mix) in e.mixtures().iter().enumerate() {
        for c in 0..mix.n_components() {
            rows.push(vec![
                format!("{}", j + 1),
                format!("{}", c + 1),
                format!("{:.4}", mix.weights()[c]),
                row(mix.means(), c, 4),
            ]);
        }
    }
    s.push_str(&table(&["state", "component", "weight", "mean"], &rows));
    s
}

/// Chain and emission probabilities of a categorical HMM.
pub fn categorical_hmm(model: &CategoricalHmm) -> String {
    let e = model.emission();
    let mut s = format!(
        "\nfitted categorical-hmm: {} states, {} symbols\n",
        model.n_states(),
        e.n_symbols()
    );
    chain(&mut s, model);
    let rows: Vec<Vec<String>> = (0..model.n_states())
        .map(|j| vec![format!("{}", j + 1), row(e.probabilities(), j, 4)])
        .collect();
    s.push_str(&table(&["state", "symbol probabilities"], &rows));
    s
}
