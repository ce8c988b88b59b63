//! End-to-end test of `emfit demo`: the scenarios run, their summaries read
//! well, and the SVG plots are well-formed.

mod cli_support;

use cli_support::svg::check_svg;
use cli_support::{TempDir, emfit};

#[test]
fn demo_scenarios_1_and_2_with_plots() {
    let dir = TempDir::new("demo");
    let out = emfit(dir.path(), &["demo", "--only", "1,2", "--plots", "plots"]);
    let text = out.ok();
    for needle in [
        "Scenario 1",
        "iteration        log-likelihood   improvement",
        "never decreased",
        "transitions from state 1",
        "Viterbi accuracy on a fresh sample of 1000 points",
        "Scenario 2",
        "component 1 covariance",
        "covariances symmetric positive definite after all",
        "not symmetric positive definite",
        "demo finished",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // The fitted GMM-HMM decodes the fresh sample almost perfectly.
    let accuracy: f64 = text
        .lines()
        .find(|l| l.starts_with("Viterbi accuracy on a fresh sample"))
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.parse().ok())
        .expect("an accuracy");
    assert!(accuracy > 95.0, "{accuracy}");
    for (name, elements) in [
        ("scenario1_histogram.svg", &["rect", "polyline", "text"][..]),
        ("scenario1_series.svg", &["polyline", "clipPath"][..]),
        ("scenario2_mixture.svg", &["circle", "polyline"][..]),
    ] {
        let svg = dir.read(&format!("plots/{name}"));
        let seen = check_svg(&svg);
        for e in elements {
            assert!(seen.iter().any(|s| s == e), "{name} has no <{e}>");
        }
        assert!(text.contains(name), "the demo lists {name}");
    }
}

#[test]
fn demo_scenario_3_small() {
    let dir = TempDir::new("demo3");
    let out = emfit(
        dir.path(),
        &[
            "demo",
            "--only",
            "3",
            "--steps",
            "400",
            "--iterations",
            "20",
            "--plots",
            "p",
        ],
    );
    let text = out.ok();
    for needle in [
        "Scenario 3",
        "400 time steps x 21",
        "A block, position row",
        "diag Q by group",
        "per EM iteration",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let seen = check_svg(&dir.read("p/scenario3_smoothed.svg"));
    assert!(seen.iter().any(|s| s == "polygon"), "the +-2 sd bands");
}

#[test]
fn demo_rejects_unknown_scenarios() {
    let dir = TempDir::new("demobad");
    emfit(dir.path(), &["demo", "--only", "4"]).fails_with(&["scenario 4"]);
}
