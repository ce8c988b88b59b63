//! The shared vocabulary: learn sets over a model's blocks and the step
//! diagnostics every model crate reports.

use em_core::{Adjustment, Diagnostics, Event, LearnSet, Parameter, StepDiagnostics};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Weights,
    Means,
    Covariances,
}

impl Parameter for Block {
    const ALL: &'static [Self] = &[Block::Weights, Block::Means, Block::Covariances];

    fn name(self) -> &'static str {
        match self {
            Block::Weights => "weights",
            Block::Means => "means",
            Block::Covariances => "covariances",
        }
    }
}

#[test]
fn learn_sets_parse_print_and_combine() {
    let all = LearnSet::<Block>::all();
    assert_eq!(all, LearnSet::default());
    assert_eq!(all.iter().collect::<Vec<_>>(), Block::ALL);
    assert_eq!(all.to_string(), "weights,means,covariances");
    assert!(LearnSet::<Block>::none().is_empty());

    let set: LearnSet<Block> = " Means , COVARIANCES".parse().unwrap();
    assert_eq!(set, LearnSet::only(&[Block::Covariances, Block::Means]));
    assert!(!set.contains(Block::Weights));
    assert_eq!(set.to_string(), "means,covariances");
    assert_eq!(set.to_string().parse::<LearnSet<Block>>().unwrap(), set);
    assert_eq!(
        set.without(Block::Means).set(Block::Weights, true).to_string(),
        "weights,covariances"
    );
    assert_eq!("all".parse::<LearnSet<Block>>().unwrap(), all);
    assert_eq!("".parse::<LearnSet<Block>>().unwrap(), LearnSet::none());
    assert_eq!(format!("{:?}", LearnSet::only(&[Block::Means])), "{Means}");

    let err = "means,emissions".parse::<LearnSet<Block>>().unwrap_err();
    assert_eq!(err.name, "emissions");
    assert!(err.to_string().contains("weights, means, covariances"), "{err}");
}

#[test]
fn step_diagnostics_report_what_may_lower_the_likelihood() {
    let mut d = StepDiagnostics::<Block>::default();
    assert!(d.is_empty() && !d.expects_fall());
    assert_eq!(d.to_string(), "exact M-step");

    d.push(Event::new(Some(Block::Covariances), Adjustment::KeptDegenerate).in_component(2));
    d.push(Event::new(Some(Block::Means), Adjustment::KeptDegenerate).in_component(2));
    d.push(Event::new(Some(Block::Weights), Adjustment::ProbabilityFloored).in_component(1));
    assert!(
        !d.is_empty() && !d.expects_fall(),
        "keeping a value is a generalised EM step"
    );
    assert_eq!(
        d.components(Adjustment::KeptDegenerate),
        vec![2],
        "each component once"
    );

    let mut emission = StepDiagnostics::default();
    emission.push(Event::new(None, Adjustment::Reseeded).in_state(0).in_component(3));
    emission.objective_change = Some(-2.0);
    d.objective_change = Some(0.5);
    d.absorb(emission);
    assert!(d.expects_fall());
    assert_eq!(d.objective_change, Some(-1.5));
    assert_eq!(d.states(Adjustment::Reseeded), vec![0]);
    assert_eq!(
        d.to_string(),
        "covariances of component 3 kept (new value degenerate); means of component 3 kept (new value \
         degenerate); weights of component 2 floored; \
         parameters of state 1 component 4 re-seeded",
        "messages count from 1"
    );

    let mut floor = StepDiagnostics::<Block>::default();
    floor.push(Event::new(
        Some(Block::Covariances),
        Adjustment::Floored {
            jitter: 1e-9,
            attempts: 2,
        },
    ));
    assert!(floor.expects_fall());
    assert_eq!(
        floor
            .of_kind(Adjustment::Floored {
                jitter: 0.0,
                attempts: 0
            })
            .count(),
        1
    );
    assert_eq!(
        floor.to_string(),
        "covariances floored (+1.0e-9 on the diagonal, 2 attempts)"
    );

    let mut fell = StepDiagnostics::<Block>::default();
    fell.objective_change = Some(-3e-3);
    fell.objective_decreased = true;
    assert!(fell.expects_fall());
    assert_eq!(fell.to_string(), "objective fell by 3.000e-3");
}
