//! Small dense products on padded column-major buffers.
//!
//! The per-step products of the Kalman filter and the RTS smoother are
//! n x n with n around 20 (the robot-arm scenario has n = 21). At that size
//! faer's matmul costs 0.7-9 µs depending on buffer addresses (measured:
//! its run time varies with the alignment of the operands) and its setup
//! dominates. These kernels keep
//! every matrix in a column-major buffer whose leading dimension is the row
//! count rounded up to a multiple of [`LANES`] (zero padding below the last
//! row), so a column is a whole number of 8-wide vectors and the product is
//! a register-blocked loop of broadcasts and fused multiply-adds.
//!
//! The same source is compiled three times (AVX-512, AVX2+FMA, baseline)
//! and the widest one the CPU supports is picked once at run time. The
//! instruction set changes rounding (FMA or not) but never the order of the
//! sums, so results are reproducible on one machine whatever the thread count.
//!
//! Contract of every function: the padded rows of the left operand are zero
//! (or at least finite), so the padded rows of the result are zero too.

use linalg_kernels::isa::mul_add;

/// Vector width in `f64` lanes that every leading dimension is a multiple
/// of (the padding of `linalg_kernels::padded`).
pub(crate) const LANES: usize = linalg_kernels::padded::PAD;

/// `n` rounded up to a multiple of [`LANES`] (at least [`LANES`]).
#[must_use]
pub(crate) fn pad(n: usize) -> usize {
    linalg_kernels::padded::padded_dim(n)
}

/// The shape of a product `C = A · B`: `C` is `rows x cols`, `A` is
/// `rows x inner`, `B` is `inner x cols`. `rows` is a padded row count (a
/// multiple of [`LANES`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Rows of `A` and `C`, padded.
    pub rows: usize,
    /// Columns of `B` and `C`.
    pub cols: usize,
    /// Columns of `A`, rows of `B`: the length of every sum.
    pub inner: usize,
}

impl Shape {
    /// A product of n x n matrices, the left one and the result stored with
    /// `rows` (padded) rows.
    #[inline]
    pub(crate) fn square(rows: usize, n: usize) -> Self {
        Self {
            rows,
            cols: n,
            inner: n,
        }
    }

    /// A matrix times a column: `rows x inner` times `inner x 1`.
    #[inline]
    pub(crate) fn column(rows: usize, inner: usize) -> Self {
        Self { rows, cols: 1, inner }
    }
}

/// How an [`Operand`]'s buffer holds the matrix.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Layout<'a> {
    /// As stored: `X(i, j) = data[j · ld + i]`.
    AsStored,
    /// The transpose of the stored matrix: `X(i, j) = data[i · ld + j]`.
    Transposed,
    /// As `Transposed`, with the pattern of its zeros (right operand only):
    /// only the rows of X that are not zero in a column tile enter that
    /// tile's sums.
    TransposedSparse(&'a ZeroPattern),
}

/// A matrix operand of [`gemm`]: a column-major padded buffer, its leading
/// dimension and how to read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operand<'a> {
    data: &'a [f64],
    ld: usize,
    layout: Layout<'a>,
}

impl<'a> Operand<'a> {
    /// The matrix as stored, with leading dimension `ld`.
    #[inline]
    pub(crate) fn new(data: &'a [f64], ld: usize) -> Self {
        Self {
            data,
            ld,
            layout: Layout::AsStored,
        }
    }

    /// The transpose of the matrix stored with leading dimension `ld`.
    #[inline]
    pub(crate) fn transposed(data: &'a [f64], ld: usize) -> Self {
        Self {
            data,
            ld,
            layout: Layout::Transposed,
        }
    }

    /// As [`Self::transposed`], skipping the zeros of `pattern`.
    #[inline]
    pub(crate) fn transposed_sparse(data: &'a [f64], ld: usize, pattern: &'a ZeroPattern) -> Self {
        Self {
            data,
            ld,
            layout: Layout::TransposedSparse(pattern),
        }
    }

    /// `(data, row stride, column stride)`.
    #[inline]
    fn strides(&self) -> (&'a [f64], usize, usize) {
        match self.layout {
            Layout::AsStored => (self.data, 1, self.ld),
            Layout::Transposed | Layout::TransposedSparse(_) => (self.data, self.ld, 1),
        }
    }

    #[inline]
    fn pattern(&self) -> Option<&'a ZeroPattern> {
        match self.layout {
            Layout::TransposedSparse(pattern) => Some(pattern),
            _ => None,
        }
    }
}

/// What the product is added to: `C = addend + alpha · A B`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Addend<'a> {
    /// Nothing: `C = alpha · A B`.
    Zero,
    /// The destination's own values: `C += alpha · A B`.
    Itself,
    /// Another buffer of the destination's layout, read instead of copied
    /// into `C` first.
    Buffer(&'a [f64]),
}

/// Which tiles of the destination [`gemm`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// Every tile.
    All,
    /// The tiles that meet the lower triangle (for a symmetric result the
    /// caller then mirrors); the others are left as they were.
    Lower,
}

/// The destination `C` of [`gemm`]: a column-major padded buffer, its
/// leading dimension, what the product is added to and which part is
/// computed.
#[derive(Debug)]
pub(crate) struct Destination<'a> {
    data: &'a mut [f64],
    ld: usize,
    addend: Addend<'a>,
    part: Part,
}

impl<'a> Destination<'a> {
    /// `C = alpha · A B` into `data` (leading dimension `ld`), every tile.
    #[inline]
    pub(crate) fn new(data: &'a mut [f64], ld: usize) -> Self {
        Self {
            data,
            ld,
            addend: Addend::Zero,
            part: Part::All,
        }
    }

    /// Adds the product to the values already there.
    #[inline]
    pub(crate) fn accumulate(mut self) -> Self {
        self.addend = Addend::Itself;
        self
    }

    /// Adds the product to `init` (same layout as the destination).
    #[inline]
    pub(crate) fn plus(mut self, init: &'a [f64]) -> Self {
        self.addend = Addend::Buffer(init);
        self
    }

    /// Computes only the tiles that meet the lower triangle.
    #[inline]
    pub(crate) fn lower(mut self) -> Self {
        self.part = Part::Lower;
        self
    }
}

/// Columns of one tile of [`gemm`].
const TILE_COLS: usize = 3;

/// Per column tile of [`gemm`] (every [`TILE_COLS`] columns of the product),
/// the rows `l` of the right operand that hold a non-zero entry in the
/// tile's columns. Structured transition matrices (the integrators of
/// kinematic models: the robot-arm scenario's A is 80% zeros) then cost what their
/// non-zeros cost; skipping an exact zero changes no sum.
#[derive(Debug, Clone)]
pub(crate) struct ZeroPattern {
    starts: Vec<usize>,
    rows: Vec<usize>,
}

impl ZeroPattern {
    /// The pattern of `B = Mᵀ` for the `n x n` matrix `M` in the padded
    /// buffer `m` (`B(l, j) = m[l · ld + j]`), or `None` when the tiles would
    /// keep more than three quarters of the rows (not worth the detour).
    pub(crate) fn of_transposed(m: &[f64], ld: usize, n: usize) -> Option<Self> {
        let mut starts = vec![0];
        let mut rows = Vec::new();
        for j0 in (0..n).step_by(TILE_COLS) {
            let cols = j0..(j0 + TILE_COLS).min(n);
            rows.extend((0..n).filter(|&l| cols.clone().any(|j| m[l * ld + j] != 0.0)));
            starts.push(rows.len());
        }
        (4 * rows.len() <= 3 * n * n.div_ceil(TILE_COLS)).then_some(Self { starts, rows })
    }

    fn rows(&self, tile: usize) -> &[usize] {
        &self.rows[self.starts[tile]..self.starts[tile + 1]]
    }
}

/// `C = addend + alpha · A · B` on padded column-major buffers (see
/// [`Shape`], [`Operand`], [`Destination`]); `A` is read as stored.
///
/// Sums over `l = 0..inner` in increasing order for every entry, so products
/// such as `U Uᵀ` are exactly symmetric.
///
/// Always inlined: the operand descriptions then dissolve into the caller's
/// registers (passed through memory they cost a store-forwarding stall per
/// call, +10% on the steady-state smoother).
#[inline(always)]
pub(crate) fn gemm(shape: Shape, alpha: f64, a: Operand<'_>, b: Operand<'_>, c: Destination<'_>) {
    gemm_with(run, shape, alpha, a, b, c);
}

/// [`gemm`] by `kernel` (the tests pass each instruction set's).
#[inline(always)]
fn gemm_with(
    kernel: fn(Args<'_>, &mut [f64]),
    shape: Shape,
    alpha: f64,
    a: Operand<'_>,
    b: Operand<'_>,
    c: Destination<'_>,
) {
    let Shape {
        rows: m,
        cols: nc,
        inner: k,
    } = shape;
    let Destination {
        data: c,
        ld: ldc,
        addend,
        part,
    } = c;
    debug_assert!(matches!(a.layout, Layout::AsStored));
    debug_assert_eq!(m % LANES, 0);
    debug_assert!(m <= a.ld && m <= ldc);
    if m == 0 || nc == 0 {
        return;
    }
    let (pattern, (b, rs, cs)) = (b.pattern(), b.strides());
    debug_assert!(k == 0 || a.data.len() >= (k - 1) * a.ld + m);
    debug_assert!(k == 0 || b.len() > (k - 1) * rs + (nc - 1) * cs);
    debug_assert!(c.len() >= (nc - 1) * ldc + m);
    let (accumulate, init) = match addend {
        Addend::Zero => (false, None),
        Addend::Itself => (true, None),
        Addend::Buffer(init) => {
            debug_assert!(init.len() >= (nc - 1) * ldc + m);
            (false, Some(init))
        }
    };
    kernel(
        Args {
            m,
            nc,
            k,
            alpha,
            a: a.data,
            lda: a.ld,
            b,
            rs,
            cs,
            pattern,
            accumulate,
            init,
            lower: part == Part::Lower,
            ldc,
        },
        c,
    );
}

fn run(args: Args<'_>, c: &mut [f64]) {
    let args = &args;
    linalg_kernels::isa_dispatch!(gemm(args, c));
}

/// The operands of one product.
struct Args<'a> {
    m: usize,
    nc: usize,
    k: usize,
    alpha: f64,
    a: &'a [f64],
    lda: usize,
    b: &'a [f64],
    rs: usize,
    cs: usize,
    pattern: Option<&'a ZeroPattern>,
    accumulate: bool,
    init: Option<&'a [f64]>,
    lower: bool,
    ldc: usize,
}

/// The lanes of the vectors a tile's rows are cut into for the
/// instruction set `isa` (a module name of `for_each_isa!`): a register's
/// width. A tile is up to [`tile_vectors`] such vectors by [`TILE_COLS`]
/// columns, its accumulators kept in registers.
///
/// A multiply-add has a latency of about 4 cycles and two issue per cycle,
/// so a tile needs 8 or more independent accumulators, and they, the
/// column of A and a broadcast must fit the registers. AVX-512 (32
/// registers of 8 lanes): `4 x 3` tiles. AVX2 (16 registers of 4 lanes)
/// and the baseline (16 SSE2 registers of 2 lanes; 32 on aarch64's NEON):
/// `3 x 3`, 9 accumulators in 13 registers. Measured on AMD Zen 4 (the
/// robot-arm filter, n = 21 padded to 24 rows): AVX2 tiles of one 8-lane
/// vector (two registers) by 3 had 6 accumulators and ran the filter 10%
/// slower, of two such vectors they spilled; baseline tiles of one 8-lane
/// vector by 3 ran it 13% slower than `3 x 3` of 2 lanes, `4 x 3` of 2
/// lanes 10% slower. The aarch64 tiles are not measured.
const fn tile_lanes(isa: &str) -> usize {
    match isa.as_bytes() {
        b"avx512" => 8,
        b"avx2" => 4,
        _ => 2,
    }
}

/// The most vectors of [`tile_lanes`] lanes a tile spans for `isa`.
const fn tile_vectors(isa: &str) -> usize {
    match isa.as_bytes() {
        b"avx512" => 4,
        _ => 3,
    }
}

/// One module per instruction set: the same loops, compiled with that
/// set's features. Each tile is its own (non-inlined) function, which keeps
/// LLVM's register allocation of the accumulators clean (inlined into one
/// big loop nest it shuffled them between registers every iteration, +30%).
macro_rules! isa_kernels {
    ($name:ident, $fma:literal $(, $features:literal)?) => {
        mod $name {
            use super::{Args, TILE_COLS, tile_body};

            const V: usize = super::tile_lanes(stringify!($name));
            const MAX_RB: usize = super::tile_vectors(stringify!($name));

            /// Column tiles of 3 (then 2, 1) columns; row panels of up to
            /// [`MAX_RB`] vectors of [`V`] lanes.
            $(#[target_feature(enable = $features)])?
            pub(super) fn gemm(args: &Args<'_>, c: &mut [f64]) {
                let mut j0 = 0;
                while j0 < args.nc {
                    let nb = (args.nc - j0).min(TILE_COLS);
                    let mut i0 = if args.lower { (j0 / V * V).min(args.m) } else { 0 };
                    while i0 < args.m {
                        let rb = ((args.m - i0) / V).min(MAX_RB);
                        match (rb, nb) {
                            (4, 3) => tile::<4, 3>(args, c, i0, j0),
                            (4, 2) => tile::<4, 2>(args, c, i0, j0),
                            (4, _) => tile::<4, 1>(args, c, i0, j0),
                            (3, 3) => tile::<3, 3>(args, c, i0, j0),
                            (3, 2) => tile::<3, 2>(args, c, i0, j0),
                            (3, _) => tile::<3, 1>(args, c, i0, j0),
                            (2, 3) => tile::<2, 3>(args, c, i0, j0),
                            (2, 2) => tile::<2, 2>(args, c, i0, j0),
                            (2, _) => tile::<2, 1>(args, c, i0, j0),
                            (_, 3) => tile::<1, 3>(args, c, i0, j0),
                            (_, 2) => tile::<1, 2>(args, c, i0, j0),
                            (_, _) => tile::<1, 1>(args, c, i0, j0),
                        }
                        i0 += rb * V;
                    }
                    j0 += nb;
                }
            }

            $(#[target_feature(enable = $features)])?
            #[inline(never)]
            fn tile<const RB: usize, const NB: usize>(args: &Args<'_>, c: &mut [f64], i0: usize, j0: usize) {
                if args.rs == 1 {
                    tile_body::<V, RB, NB, $fma, false>(args, c, i0, j0);
                } else {
                    tile_body::<V, RB, NB, $fma, true>(args, c, i0, j0);
                }
            }
        }
    };
}

linalg_kernels::for_each_isa!(isa_kernels);

/// `acc += A[i0.., l] · B[l, j0..]`: one column of the left operand (its
/// `RB·V` rows of the tile) times one row of the right one (its `NB`
/// columns of the tile, gathered into `row`), the column as `RB` vectors of
/// `V` lanes. The operands are read without bounds checks (see
/// [`tile_body`]).
///
/// # Safety
/// `l < args.k`, and `tile_body`'s assertion holds: A's column `k − 1`
/// (rows `i0..i0 + RB·V`) and B's entry `(k − 1, j0 + NB − 1)` lie within
/// their buffers. Every index read grows with `l` and `j`, so it is then in
/// bounds.
#[inline(always)]
unsafe fn add_term<const V: usize, const RB: usize, const NB: usize, const FMA: bool, const TB: bool>(
    acc: &mut [[[f64; V]; RB]; NB],
    row: &mut [f64; NB],
    args: &Args<'_>,
    i0: usize,
    j0: usize,
    l: usize,
) {
    let (a, lda, b, rs, cs) = (args.a, args.lda, args.b, args.rs, args.cs);
    // SAFETY: the caller's contract.
    let col = unsafe { a.get_unchecked(l * lda + i0..l * lda + i0 + RB * V) };
    for (jj, v) in row.iter_mut().enumerate() {
        let [outer, stride, inner] = right_position::<TB>(l, j0 + jj, rs, cs);
        // SAFETY: the caller's contract.
        *v = unsafe { *b.get_unchecked(outer * stride + inner) };
    }
    let mut av = [[0.0f64; V]; RB];
    for r in 0..RB {
        av[r].copy_from_slice(&col[r * V..(r + 1) * V]);
    }
    for jj in 0..NB {
        for r in 0..RB {
            for s in 0..V {
                acc[jj][r][s] = mul_add::<FMA>(av[r][s], row[jj], acc[jj][r][s]);
            }
        }
    }
}

/// Where `B(l, j)` is in the right operand's buffer, as `(outer, stride,
/// inner)` for the index `outer · stride + inner`: `(l, rs, j)` if `TB` (B
/// given transposed), else `(j, cs, l)`.
#[inline(always)]
fn right_position<const TB: bool>(l: usize, j: usize, rs: usize, cs: usize) -> [usize; 3] {
    if TB { [l, rs, j] } else { [j, cs, l] }
}

/// `outer · stride + inner`, `None` on overflow: the bounds that the
/// unchecked reads of [`tile_body`] rely on, where a wrapped index would let
/// them past the buffers.
#[inline(always)]
fn checked_index([outer, stride, inner]: [usize; 3]) -> Option<usize> {
    outer.checked_mul(stride)?.checked_add(inner)
}

/// One `RB·V x NB` tile of the product; `TB` says whether B is given
/// transposed (`B(l, j) = b[l·rs + j]`) or not (`B(l, j) = b[l + j·cs]`).
///
/// The sums check their operands' bounds once, before the loop, and read
/// them unchecked inside it ([`add_term`]; the sparse sums check only that
/// each row of the pattern is below `k`): with a check per entry (or an
/// iterator over chunks that can run out) the dense loop has more than one
/// exit, and LLVM kept a second copy of the accumulators for the other
/// exits, moving them between registers and spilling two every iteration
/// (AVX2, A·(PAᵀ) of the robot-arm filter: about 5.7 instead of 4.5 cycles
/// per column).
#[inline(always)]
fn tile_body<const V: usize, const RB: usize, const NB: usize, const FMA: bool, const TB: bool>(
    args: &Args<'_>,
    c: &mut [f64],
    i0: usize,
    j0: usize,
) {
    let (k, rs, cs) = (args.k, args.rs, args.cs);
    let mut acc = [[[0.0f64; V]; RB]; NB];
    let mut row = [0.0f64; NB];
    if k > 0 {
        let end_a = checked_index([k - 1, args.lda, i0 + RB * V]);
        let last_b = checked_index(right_position::<TB>(k - 1, j0 + NB - 1, rs, cs));
        assert!(
            end_a.is_some_and(|end| end <= args.a.len()) && last_b.is_some_and(|last| last < args.b.len())
        );
        match args.pattern {
            None => {
                for l in 0..k {
                    // SAFETY: `l < k` and the bounds asserted above.
                    unsafe { add_term::<V, RB, NB, FMA, TB>(&mut acc, &mut row, args, i0, j0, l) };
                }
            }
            Some(pattern) => {
                for &l in pattern.rows(j0 / TILE_COLS) {
                    assert!(l < k);
                    // SAFETY: `l < k` (checked) and the bounds asserted above.
                    unsafe { add_term::<V, RB, NB, FMA, TB>(&mut acc, &mut row, args, i0, j0, l) };
                }
            }
        }
    }
    for jj in 0..NB {
        let start = (j0 + jj) * args.ldc + i0;
        let dst = &mut c[start..start + RB * V];
        match args.init {
            Some(init) => {
                let init = &init[start..start + RB * V];
                for r in 0..RB {
                    for s in 0..V {
                        dst[r * V + s] = init[r * V + s] + args.alpha * acc[jj][r][s];
                    }
                }
            }
            None => {
                for r in 0..RB {
                    for s in 0..V {
                        let v = args.alpha * acc[jj][r][s];
                        let d = &mut dst[r * V + s];
                        *d = if args.accumulate { *d + v } else { v };
                    }
                }
            }
        }
    }
}

/// Copies the strictly lower triangle of the `n x n` matrix onto the upper
/// one, making it exactly symmetric.
pub(crate) fn mirror_lower(n: usize, c: &mut [f64], ldc: usize) {
    for j in 1..n {
        // Row j of the upper triangle, (j, 0..j) ← column j below... i.e.
        // c(i, j) = c(j, i) for i < j: read row j of the lower triangle.
        let (left, right) = c.split_at_mut(j * ldc);
        let col = &mut right[..j];
        for (i, dst) in col.iter_mut().enumerate() {
            *dst = left[i * ldc + j];
        }
    }
}

/// Largest `|x(i, j) − y(i, j)|` and largest `|y(i, j)|` over the `n x n`
/// lower triangles.
pub(crate) fn max_abs_diff_lower(n: usize, x: &[f64], y: &[f64], ld: usize) -> (f64, f64) {
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    for j in 0..n {
        let (xc, yc) = (&x[j * ld + j..j * ld + n], &y[j * ld + j..j * ld + n]);
        for (&u, &v) in xc.iter().zip(yc) {
            diff = diff.max((u - v).abs());
            scale = scale.max(v.abs());
        }
    }
    (diff, scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use linalg_kernels::isa::Isa;

    /// An `ld x cols` buffer holding `value(index)` in its first `rows` rows
    /// and zero padding below them.
    fn padded(ld: usize, rows: usize, cols: usize, value: impl Fn(usize) -> f64) -> Vec<f64> {
        (0..ld * cols)
            .map(|x| if x % ld < rows { value(x) } else { 0.0 })
            .collect()
    }

    fn naive(m: usize, nc: usize, k: usize, a: &[f64], lda: usize, b: &[f64], ldb: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * nc];
        for j in 0..nc {
            for i in 0..m {
                c[j * m + i] = (0..k).map(|l| a[l * lda + i] * b[j * ldb + l]).sum();
            }
        }
        c
    }

    #[test]
    fn gemm_matches_the_naive_product_for_many_shapes() {
        for &(rows, nc, k) in &[
            (1, 1, 1),
            (3, 2, 5),
            (8, 7, 8),
            (21, 21, 21),
            (21, 1, 21),
            (40, 9, 3),
            (33, 5, 0),
        ] {
            let m = pad(rows);
            let (lda, ldb, ldc) = (m + 8, k + 3, m);
            let a = padded(lda, rows, k.max(1), |x| ((x * 7) % 13) as f64 - 6.0);
            let b: Vec<f64> = (0..ldb * nc)
                .map(|x| ((x * 5) % 11) as f64 * 0.25 - 1.0)
                .collect();
            let shape = Shape {
                rows: m,
                cols: nc,
                inner: k,
            };
            let expected = naive(m, nc, k, &a, lda, &b, ldb);
            let mut c = vec![1.5; ldc * nc];
            let (a_op, b_op) = (Operand::new(&a, lda), Operand::new(&b, ldb));
            gemm(
                shape,
                -2.0,
                a_op,
                b_op,
                Destination::new(&mut c, ldc).accumulate(),
            );
            let mut c2 = vec![f64::NAN; ldc * nc];
            gemm(shape, 1.0, a_op, b_op, Destination::new(&mut c2, ldc));
            for j in 0..nc {
                for i in 0..m {
                    let want = 1.5 - 2.0 * expected[j * m + i];
                    assert!(
                        (c[j * ldc + i] - want).abs() < 1e-12,
                        "{rows} {nc} {k}: ({i},{j})"
                    );
                    assert!((c2[j * ldc + i] - expected[j * m + i]).abs() < 1e-12);
                }
            }
        }
    }

    /// Operands whose buffers end where the product's last read ends (A's
    /// last column `m` values long, B's last entry the last value): every
    /// instruction set gives the naive product, for B as stored and given
    /// transposed, so the bound the tiles check before their unchecked
    /// reads admits exactly the valid buffers.
    #[test]
    fn operands_may_end_where_their_last_read_ends() {
        for &(rows, nc, k) in &[(21, 7, 5), (8, 3, 1), (40, 10, 9), (3, 1, 2)] {
            let m = pad(rows);
            let (lda, ldb) = (m + 8, k + 3);
            let a: Vec<f64> = (0..(k - 1) * lda + m)
                .map(|x| {
                    if x % lda < rows {
                        ((x * 7) % 13) as f64 - 6.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let b_stored: Vec<f64> = (0..(nc - 1) * ldb + k)
                .map(|x| ((x * 5) % 11) as f64 * 0.25 - 1.0)
                .collect();
            // The same B given transposed: B(l, j) = b[l · ld + j].
            let ldt = nc + 2;
            let mut b_transposed = vec![f64::NAN; (k - 1) * ldt + nc];
            for l in 0..k {
                for j in 0..nc {
                    b_transposed[l * ldt + j] = b_stored[j * ldb + l];
                }
            }
            let expected = naive(m, nc, k, &a, lda, &b_stored, ldb);
            let shape = Shape {
                rows: m,
                cols: nc,
                inner: k,
            };
            for (isa, kernel) in kernels() {
                for b in [
                    Operand::new(&b_stored, ldb),
                    Operand::transposed(&b_transposed, ldt),
                ] {
                    let mut c = vec![f64::NAN; nc * m];
                    gemm_with(
                        kernel,
                        shape,
                        1.0,
                        Operand::new(&a, lda),
                        b,
                        Destination::new(&mut c, m),
                    );
                    for (index, (&got, &want)) in c.iter().zip(&expected).enumerate() {
                        assert!(
                            (got - want).abs() < 1e-12,
                            "{isa}, {rows} {nc} {k}: entry {index}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn transposed_and_lower_products() {
        let n = 21;
        let ld = pad(n);
        let a = padded(ld, n, n, |x| ((x * 7) % 13) as f64 - 6.0);
        let shape = Shape::square(ld, n);
        // a aᵀ through the transposed operand.
        let (a_op, at_op) = (Operand::new(&a, ld), Operand::transposed(&a, ld));
        let mut c = vec![0.0; ld * n];
        gemm(shape, 1.0, a_op, at_op, Destination::new(&mut c, ld));
        let mut lower = vec![f64::NAN; ld * n];
        gemm(shape, 1.0, a_op, at_op, Destination::new(&mut lower, ld).lower());
        for j in 0..n {
            for i in 0..n {
                let want: f64 = (0..n).map(|l| a[l * ld + i] * a[l * ld + j]).sum();
                assert!((c[j * ld + i] - want).abs() < 1e-9);
                assert_eq!(c[j * ld + i], c[i * ld + j], "exactly symmetric");
                if i >= j {
                    assert_eq!(lower[j * ld + i], c[j * ld + i]);
                }
            }
        }
    }

    #[test]
    fn products_with_an_addend() {
        let n = 11;
        let ld = pad(n);
        let a = padded(ld, n, n, |x| ((x * 3) % 7) as f64 - 3.0);
        let init = padded(ld, n, n, |x| x as f64);
        let shape = Shape::square(ld, n);
        let (a_op, at_op) = (Operand::new(&a, ld), Operand::transposed(&a, ld));
        let mut want = init.clone();
        gemm(
            shape,
            -0.5,
            a_op,
            at_op,
            Destination::new(&mut want, ld).accumulate(),
        );
        let mut got = vec![f64::NAN; ld * n];
        gemm(
            shape,
            -0.5,
            a_op,
            at_op,
            Destination::new(&mut got, ld).plus(&init),
        );
        assert_eq!(got, want);
    }

    #[test]
    fn mirror_and_diff() {
        let (n, ld) = (3, 8);
        let mut x = vec![0.0; ld * n];
        for j in 0..n {
            for i in 0..n {
                x[j * ld + i] = (i * 10 + j) as f64;
            }
        }
        let y = x.clone();
        mirror_lower(n, &mut x, ld);
        assert_eq!(x[2 * ld], x[2]);
        assert_eq!(x[2 * ld + 1], 21.0);
        let (d, s) = max_abs_diff_lower(n, &x, &y, ld);
        assert_eq!((d, s), (0.0, 22.0));
        for n in [8, 9, 17, 21, 24] {
            let ld = pad(n);
            let mut x: Vec<f64> = (0..ld * n).map(|v| v as f64).collect();
            let lower = x.clone();
            mirror_lower(n, &mut x, ld);
            for j in 0..n {
                for i in 0..ld {
                    let want = if i < j {
                        lower[i * ld + j]
                    } else {
                        lower[j * ld + i]
                    };
                    assert_eq!(x[j * ld + i], want, "n = {n}, ({i}, {j})");
                }
            }
        }
    }

    type Kernel = fn(Args<'_>, &mut [f64]);

    /// Every instruction set's kernel this CPU can run.
    fn kernels() -> Vec<(Isa, Kernel)> {
        Isa::available()
            .into_iter()
            .map(|isa| -> (Isa, Kernel) {
                match isa {
                    Isa::Baseline => (isa, |args, c| baseline::gemm(&args, c)),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => (isa, |args, c| {
                        // SAFETY: `Isa::available` lists only sets the CPU supports.
                        unsafe { avx2::gemm(&args, c) }
                    }),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => (isa, |args, c| {
                        // SAFETY: `Isa::available` lists only sets the CPU supports.
                        unsafe { avx512::gemm(&args, c) }
                    }),
                }
            })
            .collect()
    }

    /// The two products of the filter's prediction, `C = P Aᵀ` and the
    /// lower tiles of `Q + A C`, on every instruction set (each with its
    /// own tiles): the products to rounding, zero padding, the same bits
    /// from every set that fuses multiply-adds (their sums run in the same
    /// order), and the same bits when A's zeros are skipped.
    #[test]
    fn every_instruction_set_gives_the_products_of_the_prediction() {
        for n in [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 21, 24, 29] {
            let ld = pad(n);
            let shape = Shape::square(ld, n);
            // A kinematic integrator: A(j, j) = 1, A(j − 3, j) = j / 4.
            let mut a = vec![0.0; ld * n];
            for j in 0..n {
                a[j * ld + j] = 1.0;
                if j >= 3 {
                    a[j * ld + j - 3] = 0.25 * j as f64;
                }
            }
            let zeros = ZeroPattern::of_transposed(&a, ld, n);
            assert!(n < 8 || zeros.is_some(), "n = {n}");
            let p = padded(ld, n, n, |x| ((x * 7) % 13) as f64 * 0.37 - 2.0);
            let q = padded(ld, n, n, |x| (x % 5) as f64);
            let mut fused: Option<(Vec<f64>, Vec<f64>)> = None;
            for (isa, kernel) in kernels() {
                let mut ct = vec![f64::NAN; ld * n];
                let (p_op, at) = (Operand::new(&p, ld), Operand::transposed(&a, ld));
                gemm_with(kernel, shape, 1.0, p_op, at, Destination::new(&mut ct, ld));
                if let Some(zeros) = &zeros {
                    let mut skipped = vec![f64::NAN; ld * n];
                    let at = Operand::transposed_sparse(&a, ld, zeros);
                    gemm_with(kernel, shape, 1.0, p_op, at, Destination::new(&mut skipped, ld));
                    assert_eq!(skipped, ct, "{isa}, n = {n}: the zeros skipped");
                }
                let mut pp = vec![f64::NAN; ld * n];
                let (a_op, ct_op) = (Operand::new(&a, ld), Operand::new(&ct, ld));
                let dst = Destination::new(&mut pp, ld).plus(&q).lower();
                gemm_with(kernel, shape, 1.0, a_op, ct_op, dst);
                let mut lower = Vec::new();
                for j in 0..n {
                    for i in 0..ld {
                        let (want_ct, scale_ct) = (0..n)
                            .map(|l| p[l * ld + i] * a[l * ld + j])
                            .fold((0.0, 0.0), |(s, t), v: f64| (s + v, t + v.abs()));
                        let got = ct[j * ld + i];
                        assert!(
                            (got - want_ct).abs() <= 1e-14 * scale_ct,
                            "{isa}, n = {n}, C({i}, {j})"
                        );
                        if i < j {
                            continue;
                        }
                        let (want, scale) = (0..n)
                            .map(|l| a[l * ld + i] * ct[j * ld + l])
                            .fold((q[j * ld + i], q[j * ld + i].abs()), |(s, t), v: f64| {
                                (s + v, t + v.abs())
                            });
                        let got = pp[j * ld + i];
                        assert!(
                            (got - want).abs() <= 1e-14 * scale,
                            "{isa}, n = {n}, Q + A C ({i}, {j})"
                        );
                        lower.push(got);
                    }
                }
                if isa > Isa::Baseline {
                    match &fused {
                        Some(first) => assert_eq!(first, &(ct, lower), "{isa}, n = {n}: bits"),
                        None => fused = Some((ct, lower)),
                    }
                }
            }
        }
    }

    #[test]
    fn zero_patterns_skip_zero_rows_only() {
        let (n, ld) = (7, 8);
        let mut m = vec![0.0; ld * n];
        // M = 2 I + one entry: B = Mᵀ has B(l, j) = M(j, l).
        for i in 0..n {
            m[i * ld + i] = 2.0;
        }
        m[5 * ld + 1] = 3.0; // M(1, 5)
        let pattern = ZeroPattern::of_transposed(&m, ld, n).expect("sparse enough");
        assert_eq!(pattern.rows(0), &[0, 1, 2, 5]);
        assert_eq!(pattern.rows(2), &[6]);
        let a = padded(ld, n, n, |v| (v % 5) as f64 - 1.5);
        let shape = Shape::square(ld, n);
        let (mut dense, mut skipped) = (vec![0.0; ld * n], vec![0.0; ld * n]);
        let a_op = Operand::new(&a, ld);
        gemm(
            shape,
            1.0,
            a_op,
            Operand::transposed(&m, ld),
            Destination::new(&mut dense, ld),
        );
        let sparse = Operand::transposed_sparse(&m, ld, &pattern);
        gemm(shape, 1.0, a_op, sparse, Destination::new(&mut skipped, ld));
        assert_eq!(dense, skipped);
        let full = vec![1.0; ld * n];
        assert!(ZeroPattern::of_transposed(&full, ld, n).is_none());
    }
}
