//! Label matching for evaluation: hidden states are identified only up to a
//! relabelling, so a decoded path is compared with the truth under the best
//! permutation of the labels.

/// The best relabelling of `predicted` onto `truth` and the accuracy it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMatch {
    /// `mapping[p] = t`: predicted label `p` is read as true label `t`.
    pub mapping: Vec<usize>,
    /// Number of positions where `mapping[predicted[i]] == truth[i]`.
    pub matches: usize,
    /// `matches / n` (1 for empty inputs).
    pub accuracy: f64,
}

/// Largest number of labels for which [`match_labels`] enumerates all `K!`
/// permutations (8! = 40,320 candidate maps over a K x K confusion matrix).
pub const MAX_BRUTE_FORCE_LABELS: usize = 8;

/// Finds the permutation of labels `0..k` maximising the agreement of
/// `predicted` (relabelled) with `truth`, by brute force over all `k!`
/// permutations of the k x k confusion matrix (exact; cost `k! · k`).
///
/// Returns `None` if `k > MAX_BRUTE_FORCE_LABELS`, if the slices differ in
/// length, or if a label is `≥ k`.
#[must_use]
pub fn match_labels(predicted: &[usize], truth: &[usize], k: usize) -> Option<LabelMatch> {
    if k > MAX_BRUTE_FORCE_LABELS
        || predicted.len() != truth.len()
        || predicted.iter().chain(truth).any(|&l| l >= k)
    {
        return None;
    }
    let mut confusion = vec![0usize; k * k];
    for (&p, &t) in predicted.iter().zip(truth) {
        confusion[p * k + t] += 1;
    }
    let mut perm: Vec<usize> = (0..k).collect();
    let mut best = (0usize, perm.clone());
    let mut first = true;
    permute(&mut perm, 0, &mut |p| {
        let score: usize = (0..k).map(|i| confusion[i * k + p[i]]).sum();
        if first || score > best.0 {
            best = (score, p.to_vec());
            first = false;
        }
    });
    let n = predicted.len();
    Some(LabelMatch {
        mapping: best.1,
        matches: best.0,
        accuracy: if n == 0 { 1.0 } else { best.0 as f64 / n as f64 },
    })
}

/// Heap-free recursive enumeration of the permutations of `perm[start..]`.
fn permute(perm: &mut [usize], start: usize, visit: &mut impl FnMut(&[usize])) {
    if start == perm.len() {
        visit(perm);
        return;
    }
    for i in start..perm.len() {
        perm.swap(start, i);
        permute(perm, start + 1, visit);
        perm.swap(start, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_relabelling() {
        let truth = [0, 0, 1, 1, 2, 2, 2];
        let predicted = [2, 2, 0, 0, 1, 1, 0];
        let m = match_labels(&predicted, &truth, 3).unwrap();
        assert_eq!(m.mapping, vec![1, 2, 0]);
        assert_eq!(m.matches, 6);
        assert!((m.accuracy - 6.0 / 7.0).abs() < 1e-15);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(match_labels(&[0, 3], &[0, 1], 3).is_none());
        assert!(match_labels(&[0], &[0, 1], 3).is_none());
        assert!(match_labels(&[0], &[0], 9).is_none());
        assert_eq!(match_labels(&[], &[], 2).unwrap().accuracy, 1.0);
    }
}
