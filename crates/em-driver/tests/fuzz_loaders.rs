//! Fuzzing of every loader of the crate: valid CSV, `.npy`, lengths and model
//! files (of every kind, formats 1 and 2) are mutated (byte flips,
//! truncation, insertion of hostile tokens such as huge numbers, huge `.npy`
//! shapes, byte order marks and quotes, deletion and duplication of ranges,
//! which duplicates or removes fields) and loaded from a file. Each load must:
//!
//! - not panic;
//! - return `Ok` with values a model can use (finite, or NaN where missing
//!   values are allowed, and at most `MAX_ABS_VALUE` in magnitude; a model
//!   that writes back a file that loads again), or a typed error whose
//!   message names the file;
//! - allocate no single block larger than the input justifies:
//!   [`ALLOCATION_FACTOR`] bytes per input byte plus [`ALLOCATION_SLACK`] (a
//!   counting allocator records the largest allocation of the test's
//!   thread), so that, say, a `.npy` header declaring 10^12 elements in a
//!   100-byte file is refused before anything is allocated for them.
//!
//! The seed is the workspace's (`PROPTEST_RNG_SEED` in `.cargo/config.toml`),
//! so `cargo test` replays the same cases; each target runs 256 cases unless
//! `PROPTEST_CASES` says otherwise. A longer campaign with new cases:
//!
//! ```sh
//! PROPTEST_CASES=200000 PROPTEST_RNG_SEED=$RANDOM cargo test -p em-driver --release --test fuzz_loaders
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use em_driver::AnyModel;
use em_driver::faer::Mat;
use em_driver::io::{self, ColumnSelector, Header, MAX_ABS_VALUE, ReadOptions};
use proptest::prelude::*;

/// The largest single allocation allowed per byte of input: a JSON number
/// of 2 bytes (`1,`) becomes a 32-byte `serde_json::Value` in a vector that
/// may have doubled its capacity once.
const ALLOCATION_FACTOR: usize = 64;
/// Allocations allowed whatever the input's size (buffers of readers, paths,
/// messages).
const ALLOCATION_SLACK: usize = 64 * 1024;

/// The system allocator, recording the largest allocation of each thread.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: nothing to record while the thread is being torn down.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is forwarded to the system allocator with the same
// arguments; recording a size in a const-initialised thread-local neither
// allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `load` and returns its result with the largest allocation it made.
fn measured<T>(load: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = load();
    (out, LARGEST.with(Cell::get))
}

/// The allocation bound of the checks can fail: the counter sees a large
/// allocation.
#[test]
fn the_counter_sees_allocations() {
    let (block, largest) = measured(|| vec![1u8; 1 << 20]);
    assert!(largest >= 1 << 20 && block.len() == 1 << 20);
    let ((), largest) = measured(|| ());
    assert_eq!(largest, 0);
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 256;
    }
    config
}

/// A folder of this test binary's files (one per target: targets run in
/// parallel).
fn folder(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz_{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ------------------------------------------------------------- mutations

/// Tokens inserted into files: numbers whose squares or sizes overflow,
/// separators, quotes, brackets, byte order marks, invalid UTF-8, huge
/// `.npy` shapes and dtypes.
const TOKENS: &[&[u8]] = &[
    b"1e300",
    b"-1e200",
    b"1e400",
    b"99999999999999999999999",
    b"-0",
    b"nan",
    b"inf",
    b"NA",
    b",",
    b",,",
    b"\n",
    b"\r\n",
    b" ",
    b"\"",
    b"#",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\0",
    b"[",
    b"]",
    b"{",
    b"}",
    b":",
    b"null",
    b"[]",
    b"{}",
    b"\"kind\": \"gmm\", ",
    b"\"format_version\": 1, ",
    b"\"covariance_type\": \"tied\", ",
    b"(1000000000000,)",
    b"(4294967296, 4294967296)",
    b"(18446744073709551615, 2)",
    b"'<i4'",
    b"'>f4'",
    b"True",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// XOR the byte at a position (taken modulo the length) with a mask.
    Flip(usize, u8),
    /// Keep the first bytes only (a fraction of the length, in 1/256).
    Truncate(u8),
    /// Insert a token at a position.
    Insert(usize, usize),
    /// Remove a range (position, length).
    Delete(usize, usize),
    /// Copy a range (position, length) to just after itself.
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(p, m)| Mutation::Flip(p, m)),
        1 => any::<u8>().prop_map(Mutation::Truncate),
        3 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Insert(p, t)),
        2 => (any::<usize>(), 1usize..40).prop_map(|(p, n)| Mutation::Delete(p, n)),
        2 => (any::<usize>(), 1usize..60).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Flip(p, mask) if len > 0 => bytes[p % len] ^= mask,
            Mutation::Flip(..) => {}
            Mutation::Truncate(f) => bytes.truncate(len * usize::from(f) / 256),
            Mutation::Insert(p, t) => {
                let at = p % (len + 1);
                bytes.splice(at..at, TOKENS[t].iter().copied());
            }
            Mutation::Delete(p, n) => {
                let at = p % (len + 1);
                bytes.drain(at..(at + n).min(len));
            }
            Mutation::Duplicate(p, n) => {
                let at = p % (len + 1);
                let copy = bytes[at..(at + n).min(len)].to_vec();
                let end = at + copy.len();
                bytes.splice(end..end, copy);
            }
        }
    }
    bytes
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..5)
}

// ----------------------------------------------------------------- seeds

fn csv_seeds() -> Vec<Vec<u8>> {
    [
        "x,y\n1,2\n3.5,-4e-1\n# comment\n5,6\n",
        "1 2 3\n4\t5 6\n",
        "\u{feff}\"a\",\"b\"\r\n\"1\",2\r\n,3\r\n",
        "id,when,v\nq1,2024-01-01,1e-300\nq2,2024-01-02,7\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn npy_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let m = Mat::from_fn(3, 2, |i, j| (i * 2 + j) as f64 - 1.5);
    let mut bytes = Vec::new();
    io::write_npy(&mut bytes, m.as_ref()).unwrap();
    out.push(bytes);
    let mut bytes = Vec::new();
    io::write_npy_i64(&mut bytes, &[4], &[3, 1, 4, 1]).unwrap();
    out.push(bytes);
    let mut bytes = Vec::new();
    io::write_npy_f64(&mut bytes, &[1, 3], &[2.0, 5.0, 1.0]).unwrap();
    out.push(bytes);
    out
}

fn lengths_seeds() -> Vec<Vec<u8>> {
    vec![b"# lengths\n3\n2, 5\n\n".to_vec(), b"10 20 30".to_vec()]
}

/// Model files of every kind: the committed format-1 files and their
/// format-2 versions.
fn model_seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/v1");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let v1 = std::fs::read(&path).unwrap();
        let v2 = AnyModel::load(&path).unwrap().to_json();
        out.push(v1);
        out.push(v2.into_bytes());
    }
    out
}

fn seeded(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (0..seeds.len(), mutations()).prop_map(move |(i, m)| mutate(seeds[i].clone(), &m))
}

// ---------------------------------------------------------------- checks

/// Writes `bytes` to `path`, runs `load` on it, and checks the allocation
/// bound and that an error names the file.
fn check<T, E: std::fmt::Display>(
    path: &Path,
    bytes: &[u8],
    load: impl FnOnce(&Path) -> Result<T, E>,
) -> Result<Option<T>, TestCaseError> {
    std::fs::write(path, bytes).unwrap();
    let (result, largest) = measured(|| load(path));
    let bound = ALLOCATION_FACTOR * bytes.len() + ALLOCATION_SLACK;
    prop_assert!(
        largest <= bound,
        "an allocation of {largest} bytes for {} input bytes",
        bytes.len()
    );
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) => {
            let message = e.to_string();
            let name = path.file_name().unwrap().to_string_lossy();
            prop_assert!(
                message.contains(&*name),
                "the message does not name the file: {message}"
            );
            prop_assert!(message.len() < 600, "a message of {} bytes", message.len());
            Ok(None)
        }
    }
}

fn check_matrix(m: &Mat<f64>, allow_missing: bool) -> Result<(), TestCaseError> {
    prop_assert!(m.nrows() > 0 && m.ncols() > 0);
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let v = m[(i, j)];
            prop_assert!(v.abs() <= MAX_ABS_VALUE || (allow_missing && v.is_nan()), "{v}");
        }
    }
    Ok(())
}

fn header() -> impl Strategy<Value = Header> {
    prop_oneof![Just(Header::Auto), Just(Header::Present), Just(Header::Absent)]
}

fn columns() -> impl Strategy<Value = Option<Vec<ColumnSelector>>> {
    prop_oneof![
        2 => Just(None),
        1 => prop::collection::vec(
            prop_oneof![
                (1usize..5).prop_map(ColumnSelector::Index),
                prop::sample::select(vec!["x", "y", "v", "a"]).prop_map(|n| ColumnSelector::Name(n.into())),
            ],
            1..3,
        )
        .prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_files(
        bytes in seeded(csv_seeds()),
        header in header(),
        allow_missing in any::<bool>(),
        columns in columns(),
    ) {
        let path = folder("csv").join("data.csv");
        let options = ReadOptions { header, allow_missing, columns };
        if let Some(m) = check(&path, &bytes, |p| io::read_matrix(p, &options))? {
            check_matrix(&m, allow_missing)?;
        }
    }

    #[test]
    fn npy_files(bytes in seeded(npy_seeds()), allow_missing in any::<bool>()) {
        let path = folder("npy").join("data.npy");
        let options = ReadOptions { allow_missing, ..ReadOptions::default() };
        if let Some(m) = check(&path, &bytes, |p| io::read_matrix(p, &options))? {
            check_matrix(&m, allow_missing)?;
        }
    }

    /// A valid `.npy` header with any shape and dtype in front of a little
    /// data: sizes that do not match the file are refused before allocating.
    #[test]
    fn npy_declared_shapes(
        dims in prop::collection::vec(
            prop_oneof![0u64..4, Just(1u64 << 32), Just(1_000_000_000_000), Just(u64::MAX)], 0..4),
        descr in prop::sample::select(vec!["<f8", "<f4", ">i8", "<i4", "|u1"]),
        data_len in 0usize..100,
    ) {
        let shape: Vec<String> = dims.iter().map(u64::to_string).collect();
        let shape = match shape.len() {
            1 => format!("({},)", shape[0]),
            _ => format!("({})", shape.join(", ")),
        };
        let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&u16::try_from(dict.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        bytes.extend(std::iter::repeat_n(0x3f, data_len));
        let path = folder("shape").join("shape.npy");
        if let Some(m) = check(&path, &bytes, |p| io::read_matrix(p, &ReadOptions::default()))? {
            check_matrix(&m, false)?;
        }
        check(&path, &bytes, io::read_lengths)?;
    }

    #[test]
    fn lengths_files(bytes in seeded(lengths_seeds()), npy in seeded(npy_seeds())) {
        let dir = folder("lengths");
        if let Some(lengths) = check(&dir.join("lengths.txt"), &bytes, io::read_lengths)? {
            prop_assert!(!lengths.is_empty() && lengths.iter().all(|&n| n > 0));
        }
        if let Some(lengths) = check(&dir.join("lengths.npy"), &npy, io::read_lengths)? {
            prop_assert!(!lengths.is_empty() && lengths.iter().all(|&n| n > 0));
        }
    }

    #[test]
    fn model_files(bytes in seeded(model_seeds())) {
        let dir = folder("model");
        let path = dir.join("model.json");
        if let Some(model) = check(&path, &bytes, AnyModel::load)? {
            // A model that loads writes a file that loads to the same text.
            let text = model.to_json();
            let back = AnyModel::from_json(&text);
            prop_assert!(back.is_ok(), "{:?}", back.err());
            prop_assert_eq!(back.unwrap().to_json(), text);
        }
    }
}
