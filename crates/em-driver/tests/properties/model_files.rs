//! Model files: any valid mixture round-trips bit for bit, and arbitrary or
//! mutated text is an error or a valid model, never a panic.

use em_driver::faer::Mat;
use em_driver::mixture::{Covariances, GaussianMixture};
use em_driver::{AnyModel, ModelFile};
use proptest::prelude::*;

use crate::common::{GOOD_GMM, gmm_bits};

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6f64..1e6,
        (-300i32..300, 1.0f64..10.0).prop_map(|(e, m)| m * 10f64.powi(e)),
        Just(-0.0),
    ]
}

fn positive() -> impl Strategy<Value = f64> {
    (-20i32..20, 1.0f64..10.0).prop_map(|(e, m)| m * 10f64.powi(e))
}

prop_compose! {
    fn any_gmm()(k in 1usize..4, d in 1usize..4, t in 0usize..3)
        (raw_w in prop::collection::vec(0.01f64..1.0, k),
         means in prop::collection::vec(finite(), k * d),
         vars in prop::collection::vec(positive(), k * d),
         k in Just(k), d in Just(d), t in Just(t)) -> GaussianMixture {
        let total: f64 = raw_w.iter().sum();
        let weights: Vec<f64> = raw_w.iter().map(|w| w / total).collect();
        let means = Mat::from_fn(k, d, |i, j| means[i * d + j]);
        let covariances = match t {
            0 => Covariances::Diagonal(Mat::from_fn(k, d, |i, j| vars[i * d + j])),
            1 => Covariances::Spherical(vars[..k].to_vec()),
            _ => Covariances::Full((0..k).map(|c| Mat::from_fn(d, d, |i, j| if i == j { vars[c * d + i] } else { 0.0 })).collect()),
        };
        GaussianMixture::new(weights, means, covariances).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_gmm_round_trips_bit_for_bit(m in any_gmm()) {
        let text = m.to_json();
        let back = GaussianMixture::from_json(&text).unwrap();
        prop_assert_eq!(gmm_bits(&back), gmm_bits(&m));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes and arbitrary mutations of a good file never panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = AnyModel::from_json(&text);
        let _ = GaussianMixture::from_json(&text);
    }

    #[test]
    fn mutated_files_never_panic(pos in 0usize..GOOD_GMM.len(), insert in "[\\[\\]{}0-9.,:\"e-]{0,4}", cut in 0usize..4) {
        let mut text = GOOD_GMM.to_string();
        let pos = (0..=pos).rev().find(|p| text.is_char_boundary(*p)).unwrap_or(0);
        let end = (pos + cut).min(text.len());
        text.replace_range(pos..end, &insert);
        if let Ok(m) = AnyModel::from_json(&text) {
            // Whatever loads is a valid model that writes back and reloads.
            prop_assert!(AnyModel::from_json(&m.to_json()).is_ok());
        }
    }
}
