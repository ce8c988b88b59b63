//! Model files of variational Bayesian mixtures (`bgmm`): fitted posteriors
//! of every covariance type and weight prior round-trip bit for bit, and
//! bad files are refused with errors naming the field.

use em_driver::mixture::variational::{PriorSettings, VariationalInit, VariationalMixture, WeightPrior};
use em_driver::mixture::{
    Convergence, CovarianceType, MixtureError, PosteriorParam, Settings, Start, Tolerance,
};
use em_driver::mixture::{fit, scenario};
use em_driver::model_file::{AnyModel, read_kind};
use em_driver::{Error, ModelError, ModelFile, ModelKind};

fn fitted(t: CovarianceType, weight_prior: WeightPrior) -> VariationalMixture {
    let data = scenario::two_component_2d(3);
    let settings = Settings::builder()
        .max_iterations(200)
        .convergence(Convergence::LogLikelihood(Tolerance::absolute(1e-3)))
        .seed(5)
        .build()
        .unwrap();
    let prior = PriorSettings {
        weight_prior,
        ..PriorSettings::default()
    };
    let start = Start::FromData(VariationalInit::new(4, t).with_prior(prior));
    fit::<VariationalMixture>(data.x.as_ref(), start, &(), &settings)
        .unwrap()
        .model
}

#[test]
fn fitted_posteriors_round_trip_bit_for_bit() {
    for t in CovarianceType::ALL {
        for w in [WeightPrior::DirichletProcess, WeightPrior::DirichletDistribution] {
            let m = fitted(t, w);
            let text = m.to_json();
            assert_eq!(read_kind(&text).unwrap(), ModelKind::Bgmm);
            let back = VariationalMixture::from_json(&text).unwrap();
            // PartialEq compares every f64 of the posterior, the priors and
            // the expected mixture (with its Cholesky factors).
            assert_eq!(back, m, "{t} {w:?}");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&back.weights()), bits(&m.weights()));
            assert_eq!(back.lower_bound().to_bits(), m.lower_bound().to_bits());
            assert_eq!(
                back.log_weight_normaliser().to_bits(),
                m.log_weight_normaliser().to_bits()
            );
            assert_eq!(back.to_json(), text, "idempotent text for {t} {w:?}");
            match AnyModel::from_json(&text).unwrap() {
                AnyModel::Bgmm(any) => assert_eq!(any, m),
                other => panic!("loaded as {}", other.kind()),
            }
        }
    }
}

#[test]
fn files_have_scikit_learn_names_and_shapes() {
    let m = fitted(CovarianceType::Diagonal, WeightPrior::DirichletProcess);
    let v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
    assert_eq!(v["kind"], "bgmm");
    let p = &v["parameters"];
    assert_eq!(p["covariance_type"], "diag");
    assert_eq!(p["weight_concentration_prior_type"], "dirichlet_process");
    assert_eq!(p["weight_concentration"].as_array().unwrap().len(), 2);
    assert_eq!(p["weight_concentration"][1].as_array().unwrap().len(), 4);
    assert_eq!(p["covariances"].as_array().unwrap().len(), 4);
    assert_eq!(p["covariance_prior"].as_array().unwrap().len(), 2);
    let m = fitted(CovarianceType::Spherical, WeightPrior::DirichletDistribution);
    let v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
    assert_eq!(
        v["parameters"]["weight_concentration"].as_array().unwrap().len(),
        4
    );
    assert!(v["parameters"]["covariance_prior"].is_number());
}

/// The file of a fitted model with `edit` applied to its parameters.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<VariationalMixture, Error> {
    let m = fitted(CovarianceType::Full, WeightPrior::DirichletProcess);
    let mut v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
    edit(&mut v["parameters"]);
    VariationalMixture::from_json(&v.to_string())
}

fn field(e: &Error) -> String {
    match e {
        Error::InvalidModel { field: Some(f), .. } => f.to_string(),
        Error::MissingField { field } | Error::Shape { field, .. } => field.to_string(),
        other => panic!("no field in {other:?}"),
    }
}

#[test]
fn invalid_posteriors_name_the_field_and_component() {
    let e = edited(|p| p["degrees_of_freedom"][2] = 0.5.into()).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::InvalidModel {
                kind: ModelKind::Bgmm,
                source: ModelError::Mixture(MixtureError::InvalidPosterior {
                    parameter: PosteriorParam::DegreesOfFreedom,
                    component: 2,
                    ..
                }),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(field(&e), "parameters.degrees_of_freedom[2]");
    assert!(e.to_string().contains("component 3"), "{e}");
    let e = edited(|p| p["weight_concentration"][1][0] = (-1.0).into()).unwrap_err();
    assert_eq!(field(&e), "parameters.weight_concentration[1][0]", "{e}");
    let e = edited(|p| p["mean_precision"][3] = 0.0.into()).unwrap_err();
    assert_eq!(field(&e), "parameters.mean_precision[3]", "{e}");
    let e = edited(|p| p["covariances"][1][0][1] = 100.0.into()).unwrap_err();
    assert_eq!(field(&e), "parameters.covariances[1]", "{e}");
    let e = edited(|p| p["degrees_of_freedom_prior"] = 0.5.into()).unwrap_err();
    assert_eq!(field(&e), "parameters.degrees_of_freedom_prior", "{e}");
    let e = edited(|p| p["covariance_prior"][0][0] = (-1.0).into()).unwrap_err();
    assert_eq!(field(&e), "parameters.covariance_prior", "{e}");
    let e = edited(|p| p["reg_covar"] = (-1.0).into()).unwrap_err();
    assert_eq!(field(&e), "parameters.reg_covar", "{e}");
}

#[test]
fn shape_and_name_problems_are_refused() {
    let e = edited(|p| p["degrees_of_freedom"] = serde_json::json!([3.0])).unwrap_err();
    assert_eq!(field(&e), "parameters.degrees_of_freedom", "{e}");
    let e = edited(|p| p["weight_concentration"] = serde_json::json!([1.0, 1.0, 1.0, 1.0])).unwrap_err();
    assert!(field(&e).starts_with("parameters.weight_concentration"), "{e}");
    let e = edited(|p| {
        p.as_object_mut().unwrap().remove("lower_bound");
    })
    .unwrap_err();
    assert_eq!(field(&e), "parameters.lower_bound", "{e}");
    let e = edited(|p| p["weight_concentration_prior_type"] = "stick".into()).unwrap_err();
    assert!(matches!(e, Error::UnknownName { .. }), "{e:?}");
    let e = edited(|p| p["extra"] = 1.into()).unwrap_err();
    assert!(matches!(e, Error::UnknownField { .. }), "{e:?}");
}
