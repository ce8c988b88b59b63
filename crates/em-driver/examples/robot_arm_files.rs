//! Writes the robot-arm scenario (scenario 3: a 7-joint arm, n = p = 21) as
//! files for the `emfit` program: its true model (`robot_arm.json`) and `T`
//! steps drawn from it (`robot_arm.csv`, one row per step).
//!
//! ```text
//! cargo run --release -p em-driver --example robot_arm_files -- DIR [T] [SEED]
//! ```
//!
//! (T = 200 and SEED = 4242 by default.) The README's forecast plot is
//! `emfit forecast --model DIR/robot_arm.json --data DIR/robot_arm.csv
//! --horizon 40 --plots docs`.

use std::path::PathBuf;

use em_driver::ModelFile;
use em_driver::statespace::scenario::Scenario3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: robot_arm_files DIR [T] [SEED]")?);
    let steps: usize = args.next().map_or(Ok(200), |t| t.parse())?;
    let seed: u64 = args.next().map_or(Ok(4242), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;
    let data = Scenario3::new(steps, seed).with_coupling(true).generate();
    data.truth.save(&dir.join("robot_arm.json"))?;
    let header: Vec<String> = (0..data.observations.ncols()).map(|j| format!("y{j}")).collect();
    em_driver::io::write_matrix(
        &dir.join("robot_arm.csv"),
        data.observations.as_ref(),
        Some(&header),
    )?;
    println!(
        "wrote {}/robot_arm.json and robot_arm.csv ({steps} steps)",
        dir.display()
    );
    Ok(())
}
