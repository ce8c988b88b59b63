//! The flat form of the HMM statistics for the four emissions (bit-exact
//! round trip, typed errors for bad input) and fits on parts of the
//! sequences ([`em_core::Parts`]): a part is a set of whole sequences.

use em_core::flat::{FlatError, FlatStats};
use em_core::testing::{
    assert_flat_rejections, assert_flat_round_trip, assert_parts_fit, fixed_iterations, with_entry,
};
use em_core::{NoopObserver, Parts, fit_with};
use faer::{Mat, MatRef, mat};
use hmm::{
    CategoricalEmission, CovarianceType, Covariances, EmModel, Emission, FitError, GaussianEmission,
    GmmEmission, GmmStats, Hmm, HmmError, HmmStats, MStepOptions, PoissonEmission, Sequences, Start,
};
use mixture::SufficientStats;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Two states that stay 80% of the time.
fn two_states<E: Emission>(emission: E) -> Hmm<E> {
    Hmm::new(vec![0.3, 0.7], mat![[0.8, 0.2], [0.25, 0.75]].as_ref(), emission).unwrap()
}

fn gaussian(t: CovarianceType) -> Hmm<GaussianEmission> {
    let covariances = match t {
        CovarianceType::Full => {
            Covariances::Full(vec![mat![[1.0, 0.3], [0.3, 0.8]], mat![[0.6, -0.1], [-0.1, 1.2]]])
        }
        CovarianceType::Diagonal => Covariances::Diagonal(mat![[1.0, 0.5], [0.7, 1.3]]),
        CovarianceType::Spherical => Covariances::Spherical(vec![0.9, 1.4]),
        CovarianceType::Tied => Covariances::Tied(mat![[1.0, 0.2], [0.2, 0.9]]),
    };
    two_states(GaussianEmission::new(mat![[0.0, 1.0], [3.0, -1.0]], covariances).unwrap())
}

fn gmm() -> Hmm<GmmEmission> {
    let means = vec![mat![[0.0, 0.5], [1.5, 0.0]], mat![[4.0, -1.0], [5.0, 1.0]]];
    let covs = vec![
        Covariances::Spherical(vec![0.5, 0.8]),
        Covariances::Spherical(vec![1.0, 0.6]),
    ];
    two_states(GmmEmission::new(mat![[0.4, 0.6], [0.5, 0.5]], means, covs).unwrap())
}

fn categorical() -> Hmm<CategoricalEmission> {
    two_states(CategoricalEmission::new(mat![[0.6, 0.3, 0.1], [0.1, 0.2, 0.7]]).unwrap())
}

fn poisson() -> Hmm<PoissonEmission> {
    two_states(PoissonEmission::new(mat![[1.0, 4.0], [6.0, 0.5]]).unwrap())
}

/// Sequences of these lengths drawn from `model`.
fn sample<E: Emission>(model: &Hmm<E>, lengths: &[usize]) -> Mat<f64> {
    model
        .sample_sequences(lengths, &mut StdRng::seed_from_u64(5))
        .unwrap()
        .0
}

const LENGTHS: [usize; 7] = [40, 1, 25, 60, 3, 30, 41];

/// Parts of whole sequences: `groups` consecutive sequences each.
fn parts<'a>(x: MatRef<'a, f64>, groups: &[usize]) -> Vec<Sequences<'a>> {
    assert_eq!(groups.iter().sum::<usize>(), LENGTHS.len());
    let (mut first, mut row) = (0, 0);
    groups
        .iter()
        .map(|&g| {
            let lengths = &LENGTHS[first..first + g];
            let rows: usize = lengths.iter().sum();
            let part = Sequences::new(x.subrows(row, rows), lengths).unwrap();
            (first, row) = (first + g, row + rows);
            part
        })
        .collect()
}

/// The E-step statistics of `model` round-trip bit for bit, and every
/// generic corruption of their flat form is refused.
fn assert_round_trip<E: Emission>(model: &Hmm<E>)
where
    E::Stats: hmm::FlatEmissionStats + PartialEq,
{
    let x = sample(model, &LENGTHS);
    let data = Sequences::new(x.as_ref(), &LENGTHS).unwrap();
    let stats = model.e_step(&data).unwrap().stats;
    assert_flat_round_trip(&stats);
    assert_flat_rejections::<HmmStats<E::Stats>>(&stats.to_flat());
}

#[test]
fn statistics_of_every_emission_round_trip_bit_for_bit() {
    for t in [
        CovarianceType::Full,
        CovarianceType::Diagonal,
        CovarianceType::Spherical,
        CovarianceType::Tied,
    ] {
        assert_round_trip(&gaussian(t));
    }
    assert_round_trip(&gmm());
    assert_round_trip(&categorical());
    assert_round_trip(&poisson());
}

#[test]
fn bad_flat_statistics_get_their_typed_errors() {
    type Cat = HmmStats<hmm::CategoricalStats>;
    let cat = categorical();
    let x = sample(&cat, &LENGTHS);
    let good = cat
        .e_step(&Sequences::new(x.as_ref(), &LENGTHS).unwrap())
        .unwrap()
        .stats
        .to_flat();
    let read = |f: &[f64]| Cat::from_flat(f).unwrap_err();
    // Header: tag, version, K, J, n; start (2), transitions (4); emission
    // at 11: tag, version, K, M, counts (6).
    assert_eq!(good.len(), 11 + 4 + 6);
    assert!(matches!(
        read(&with_entry(&good, 3, 1.5)),
        FlatError::BadCount {
            field: "sequences",
            index: 3,
            ..
        }
    ));
    let emission_version = read(&with_entry(&good, 12, 3.0));
    assert!(matches!(
        emission_version,
        FlatError::Version {
            what: "categorical emission statistics",
            ..
        }
    ));
    let emission_kind = read(&with_entry(&good, 11, 0.0));
    assert!(matches!(
        emission_kind,
        FlatError::Kind {
            what: "categorical emission statistics",
            ..
        }
    ));
    assert!(matches!(
        read(&good[..good.len() - 2]),
        FlatError::Truncated {
            what: "symbol counts",
            ..
        }
    ));
    // A header of 2⁵³ states: refused by length, nothing allocated for it.
    let huge = with_entry(&good, 2, 9_007_199_254_740_992.0);
    assert!(matches!(
        read(&huge),
        FlatError::Truncated {
            what: "start counts",
            ..
        }
    ));
    // An emission of one state under a two-state HMM (the emission's own
    // layout is consistent: K = 1, M = 6).
    let one_state = [&good[..11], &[good[11], good[12], 1.0, 6.0], &good[15..]].concat();
    assert!(matches!(
        read(&one_state),
        FlatError::Shape {
            field: "emission states",
            value: 1.0,
            ..
        }
    ));
}

#[test]
fn gmm_states_of_different_shapes_are_refused() {
    let a = SufficientStats::empty(2, 2, CovarianceType::Spherical).unwrap();
    let b = SufficientStats::empty(3, 2, CovarianceType::Spherical).unwrap();
    let flat = GmmStats(vec![a.clone(), b]).to_flat();
    assert!(matches!(
        GmmStats::from_flat(&flat),
        Err(FlatError::Shape {
            field: "state mixtures",
            ..
        })
    ));
    let flat = GmmStats(vec![a.clone(), a]).to_flat();
    assert!(GmmStats::from_flat(&flat).is_ok());
}

/// Parts of one sequence, of every sequence, uneven, and one part.
const GROUPS: [&[usize]; 4] = [&[7], &[1, 6], &[3, 1, 2, 1], &[1, 1, 1, 1, 1, 1, 1]];

/// `start` fitted on sequences drawn from `truth`, by parts of `GROUPS`
/// ([`assert_parts_fit`]).
fn check_parts<E: Emission>(truth: &Hmm<E>, start: &Hmm<E>)
where
    E::Stats: hmm::FlatEmissionStats,
{
    let x = sample(truth, &LENGTHS);
    let whole = Sequences::new(x.as_ref(), &LENGTHS).unwrap();
    let owned: Vec<Vec<Sequences<'_>>> = GROUPS.iter().map(|g| parts(x.as_ref(), g)).collect();
    let splits: Vec<Vec<&Sequences<'_>>> = owned.iter().map(|p| p.iter().collect()).collect();
    assert_parts_fit(
        &whole,
        &splits,
        start,
        &MStepOptions::default(),
        &fixed_iterations(8),
    );
}

/// Starts away from the truth (other means, probabilities or rates).
#[test]
fn parts_give_the_one_piece_fit_for_every_emission() {
    for t in [CovarianceType::Full, CovarianceType::Tied] {
        let truth = gaussian(t);
        let covariances = truth.emission().covariances().clone();
        let start = two_states(GaussianEmission::new(mat![[0.5, 0.5], [2.0, 0.0]], covariances).unwrap());
        check_parts(&truth, &start);
    }
    let start_gmm = {
        let means = vec![mat![[0.5, 0.5], [1.0, 0.5]], mat![[3.0, 0.0], [4.5, 0.0]]];
        let covs = vec![
            Covariances::Spherical(vec![1.0, 1.0]),
            Covariances::Spherical(vec![1.0, 1.0]),
        ];
        two_states(GmmEmission::new(mat![[0.5, 0.5], [0.5, 0.5]], means, covs).unwrap())
    };
    check_parts(&gmm(), &start_gmm);
    let start_cat = two_states(CategoricalEmission::new(mat![[0.4, 0.3, 0.3], [0.3, 0.3, 0.4]]).unwrap());
    check_parts(&categorical(), &start_cat);
    let start_poisson = two_states(PoissonEmission::new(mat![[2.0, 2.0], [4.0, 1.0]]).unwrap());
    check_parts(&poisson(), &start_poisson);
}

#[test]
fn bad_data_in_one_part_is_reported_with_the_part_and_its_sequence() {
    let truth = categorical();
    let mut x = sample(&truth, &LENGTHS);
    // Sequence 3 (rows 66..126) is sequence 0 of part 1 (sequences 3..5);
    // symbol 5 is out of the model's 3.
    x[(66 + 10, 0)] = 5.0;
    let owned = parts(x.as_ref(), &[3, 2, 2]);
    let executor = Parts::<Hmm<CategoricalEmission>>::new(owned.iter().collect()).unwrap();
    let err = fit_with(
        &executor,
        Start::Warm(truth.clone()),
        &MStepOptions::default(),
        &fixed_iterations(8),
        &mut NoopObserver,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Part {
                part: 1,
                iteration: 0,
                source: HmmError::SymbolOutOfRange {
                    sequence: 0,
                    time: 10,
                    row: 10,
                    n_symbols: 3,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
}

/// K states with uniform start and transitions.
fn uniform_chain<E: Emission>(k: usize, emission: E) -> Hmm<E> {
    let a = Mat::from_fn(k, k, |_, _| 1.0 / k as f64);
    Hmm::new(vec![1.0 / k as f64; k], a.as_ref(), emission).unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, ..Default::default() })]

    /// Categorical and Poisson statistics of any shape round-trip bit for bit.
    #[test]
    fn statistics_of_any_shape_round_trip(k in 1usize..5, width in 1usize..5, seed in 0u64..1000) {
        let probabilities = Mat::from_fn(k, width, |j, m| (1 + (j + m) % 3) as f64);
        let sums: Vec<f64> = (0..k).map(|j| (0..width).map(|m| probabilities[(j, m)]).sum()).collect();
        let probabilities = Mat::from_fn(k, width, |j, m| probabilities[(j, m)] / sums[j]);
        let categorical = uniform_chain(k, CategoricalEmission::new(probabilities).unwrap());
        let rates = Mat::from_fn(k, width, |j, c| 0.5 + (j * width + c) as f64);
        let poisson = uniform_chain(k, PoissonEmission::new(rates).unwrap());
        let lengths = [1 + seed as usize % 7, 5];
        let mut rng = StdRng::seed_from_u64(seed);
        let x = categorical.sample_sequences(&lengths, &mut rng).unwrap().0;
        let s = categorical.e_step(&Sequences::new(x.as_ref(), &lengths).unwrap()).unwrap().stats;
        assert_flat_round_trip(&s);
        let x = poisson.sample_sequences(&lengths, &mut rng).unwrap().0;
        let s = poisson.e_step(&Sequences::new(x.as_ref(), &lengths).unwrap()).unwrap().stats;
        assert_flat_round_trip(&s);
    }
}
