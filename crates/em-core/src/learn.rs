//! Which parameter blocks an M-step updates: [`LearnSet`], over the blocks a
//! model names with [`Parameter`].
//!
//! Every model crate names its blocks once (an enum implementing
//! [`Parameter`]: the mixture's weights, means and covariances, the HMM's
//! start probabilities and transitions, the state-space model's A, Q, H, R,
//! m0, P0) and its M-step options carry a `LearnSet` of them. The blocks not
//! in the set keep their values; this is how a user fixes parameters.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// A parameter block of a model, named once.
///
/// `ALL` lists the blocks in a fixed order (at most 32); a block's position
/// in it is its bit in a [`LearnSet`].
pub trait Parameter: Copy + Eq + fmt::Debug + Send + Sync + 'static {
    /// Every block of the model, in the order of its documentation.
    const ALL: &'static [Self];

    /// The name of the block in text (`--learn` lists, reports), matched
    /// case-insensitively when parsed.
    fn name(self) -> &'static str;
}

/// A set of parameter blocks: the ones an M-step updates.
///
/// The default is every block. Parsed from and printed as a comma-separated
/// list of names, or `all` / `none`:
///
/// ```
/// # use em_core::{LearnSet, Parameter};
/// #[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// enum Block { Mean, Variance }
/// impl Parameter for Block {
///     const ALL: &'static [Self] = &[Block::Mean, Block::Variance];
///     fn name(self) -> &'static str {
///         match self { Block::Mean => "mean", Block::Variance => "variance" }
///     }
/// }
/// let set: LearnSet<Block> = "Mean".parse().unwrap();
/// assert!(set.contains(Block::Mean) && !set.contains(Block::Variance));
/// assert_eq!(set.with(Block::Variance), LearnSet::all());
/// assert_eq!(LearnSet::<Block>::none().to_string(), "none");
/// assert!("slope".parse::<LearnSet<Block>>().is_err());
/// ```
pub struct LearnSet<P> {
    bits: u32,
    blocks: PhantomData<P>,
}

impl<P: Parameter> LearnSet<P> {
    const fn from_bits(bits: u32) -> Self {
        Self {
            bits,
            blocks: PhantomData,
        }
    }

    fn bit(block: P) -> u32 {
        let index = P::ALL
            .iter()
            .position(|&b| b == block)
            .expect("Parameter::ALL lists every block");
        1 << index
    }

    /// Every block.
    #[must_use]
    pub fn all() -> Self {
        debug_assert!(P::ALL.len() <= 32, "a LearnSet holds at most 32 blocks");
        Self::from_bits(if P::ALL.len() >= 32 {
            u32::MAX
        } else {
            (1 << P::ALL.len()) - 1
        })
    }

    /// No block: the M-step returns the parameters it was given.
    #[must_use]
    pub const fn none() -> Self {
        Self::from_bits(0)
    }

    /// Exactly these blocks.
    #[must_use]
    pub fn only(blocks: &[P]) -> Self {
        blocks.iter().fold(Self::none(), |set, &b| set.with(b))
    }

    /// This set and `block`.
    #[must_use]
    pub fn with(self, block: P) -> Self {
        Self::from_bits(self.bits | Self::bit(block))
    }

    /// This set without `block`.
    #[must_use]
    pub fn without(self, block: P) -> Self {
        Self::from_bits(self.bits & !Self::bit(block))
    }

    /// This set with `block` in or out.
    #[must_use]
    pub fn set(self, block: P, learned: bool) -> Self {
        if learned {
            self.with(block)
        } else {
            self.without(block)
        }
    }

    /// Whether `block` is learned.
    #[must_use]
    pub fn contains(self, block: P) -> bool {
        self.bits & Self::bit(block) != 0
    }

    /// True when no block is learned.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    /// The learned blocks, in the order of [`Parameter::ALL`].
    pub fn iter(self) -> impl Iterator<Item = P> {
        P::ALL.iter().copied().filter(move |&b| self.contains(b))
    }
}

impl<P: Parameter> Default for LearnSet<P> {
    /// Every block.
    fn default() -> Self {
        Self::all()
    }
}

impl<P> Clone for LearnSet<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for LearnSet<P> {}

impl<P> PartialEq for LearnSet<P> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl<P> Eq for LearnSet<P> {}

impl<P> std::hash::Hash for LearnSet<P> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bits.hash(state);
    }
}

impl<P: Parameter> fmt::Debug for LearnSet<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<P: Parameter> fmt::Display for LearnSet<P> {
    /// `none`, or the names joined by commas (`A,Q`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, block) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(block.name())?;
        }
        Ok(())
    }
}

/// A name in a learn list that is not a block of the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown parameter `{name}` in a learn list (expected a comma-separated subset of {expected}, or all / none)"
)]
pub struct UnknownParameter {
    /// The name as given.
    pub name: String,
    /// The names of the model's blocks, comma-separated.
    pub expected: String,
}

impl<P: Parameter> FromStr for LearnSet<P> {
    type Err = UnknownParameter;

    /// A comma-separated list of block names (case-insensitive, spaces
    /// allowed), `all`, or `none` (also the empty string).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("all") {
            return Ok(Self::all());
        }
        if text.is_empty() || text.eq_ignore_ascii_case("none") {
            return Ok(Self::none());
        }
        text.split(',').try_fold(Self::none(), |set, name| {
            let name = name.trim();
            P::ALL
                .iter()
                .find(|b| b.name().eq_ignore_ascii_case(name))
                .map(|&b| set.with(b))
                .ok_or_else(|| UnknownParameter {
                    name: name.to_string(),
                    expected: P::ALL.iter().map(|b| b.name()).collect::<Vec<_>>().join(", "),
                })
        })
    }
}
