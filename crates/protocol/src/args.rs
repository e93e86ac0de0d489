//! Command arguments as zero-copy views ([`Args`]) and as an owned copy ([`OwnedArgs`]).
//!
//! The parser never copies multibulk arguments: it records `(start, end)` spans into the
//! connection's read buffer, and [`Args`] pairs those spans with the buffer. That keeps the
//! pipelined hot path allocation-free. Commands that must keep their arguments beyond the
//! current request (MULTI queues, blocked clients, replication/AOF feeds) convert them once
//! with [`Args::to_owned_args`], which packs all arguments into a single allocation.

use std::fmt;
use std::iter::FusedIterator;

/// A borrowed list of arguments: `spans[i] = (start, end)` is the half-open byte range of
/// argument `i` inside `base`.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    base: &'a [u8],
    spans: &'a [(usize, usize)],
}

impl<'a> Args<'a> {
    /// Builds a view. Each span is a half-open `(start, end)` range into `base`; spans must
    /// satisfy `start <= end <= base.len()` or [`Args::arg`] and the iterator will panic
    /// ([`Args::get`] returns `None` instead).
    pub fn new(base: &'a [u8], spans: &'a [(usize, usize)]) -> Self {
        Args { base, spans }
    }

    /// Number of arguments (the command name included).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`. Panics if `i >= len()`: callers check arity first.
    #[inline]
    pub fn arg(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.spans[i];
        &self.base[start..end]
    }

    /// Argument `i`, or `None` when out of range.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let &(start, end) = self.spans.get(i)?;
        self.base.get(start..end)
    }

    /// Iterates the arguments in order (double-ended, exact size).
    pub fn iter(&self) -> ArgsIter<'a> {
        ArgsIter {
            base: self.base,
            spans: self.spans.iter(),
        }
    }

    /// Copies the arguments into one owned buffer.
    pub fn to_owned_args(&self) -> OwnedArgs {
        let total: usize = self.spans.iter().map(|&(s, e)| e.saturating_sub(s)).sum();
        let mut owned = OwnedArgs {
            buf: Vec::with_capacity(total),
            spans: Vec::with_capacity(self.spans.len()),
        };
        for arg in self.iter() {
            owned.push(arg);
        }
        owned
    }

    /// Copies the arguments into a `Vec` of `Vec`s (convenient in tests and slow paths).
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.iter().map(<[u8]>::to_vec).collect()
    }
}

impl<'a> IntoIterator for Args<'a> {
    type Item = &'a [u8];
    type IntoIter = ArgsIter<'a>;
    fn into_iter(self) -> ArgsIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Args<'a> {
    type Item = &'a [u8];
    type IntoIter = ArgsIter<'a>;
    fn into_iter(self) -> ArgsIter<'a> {
        self.iter()
    }
}

impl PartialEq for Args<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Args<'_> {}

impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Iterator over [`Args`]; yields each argument as a slice of the underlying buffer.
#[derive(Clone)]
pub struct ArgsIter<'a> {
    base: &'a [u8],
    spans: std::slice::Iter<'a, (usize, usize)>,
}

impl<'a> Iterator for ArgsIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let &(start, end) = self.spans.next()?;
        Some(&self.base[start..end])
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }

    #[inline]
    fn nth(&mut self, n: usize) -> Option<&'a [u8]> {
        let &(start, end) = self.spans.nth(n)?;
        Some(&self.base[start..end])
    }
}

impl<'a> DoubleEndedIterator for ArgsIter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<&'a [u8]> {
        let &(start, end) = self.spans.next_back()?;
        Some(&self.base[start..end])
    }
}

impl ExactSizeIterator for ArgsIter<'_> {}
impl FusedIterator for ArgsIter<'_> {}

/// Owned arguments: all bytes in one buffer plus `(start, end)` spans into it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedArgs {
    buf: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl OwnedArgs {
    /// An empty argument list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds from anything yielding byte strings, e.g. `OwnedArgs::from_slices(["SET", "k", "v"])`.
    pub fn from_slices<I, T>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut owned = Self::new();
        for item in items {
            owned.push(item.as_ref());
        }
        owned
    }

    /// Appends one argument.
    pub fn push(&mut self, arg: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(arg);
        self.spans.push((start, self.buf.len()));
    }

    /// A borrowed view of the arguments.
    pub fn args(&self) -> Args<'_> {
        Args::new(&self.buf, &self.spans)
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`; panics if out of range (like [`Args::arg`]).
    pub fn arg(&self, i: usize) -> &[u8] {
        self.args().arg(i)
    }

    /// Argument `i`, or `None` when out of range.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.args().get(i)
    }

    /// Iterates the arguments in order.
    pub fn iter(&self) -> ArgsIter<'_> {
        self.args().iter()
    }
}

impl<'a> From<Args<'a>> for OwnedArgs {
    fn from(args: Args<'a>) -> Self {
        args.to_owned_args()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_and_owned_copies_agree() {
        let base = b"SETkeyvalue";
        let spans = [(0, 3), (3, 6), (6, 11)];
        let args = Args::new(base, &spans);
        assert_eq!(args.len(), 3);
        assert!(!args.is_empty());
        assert_eq!(args.arg(0), b"SET");
        assert_eq!(args.get(2), Some(&b"value"[..]));
        assert_eq!(args.get(3), None);
        let it = args.iter();
        assert_eq!(it.len(), 3);
        let rev: Vec<&[u8]> = args.iter().rev().collect();
        assert_eq!(rev, vec![&b"value"[..], b"key", b"SET"]);
        assert_eq!(args.iter().nth(1), Some(&b"key"[..]));

        let owned = args.to_owned_args();
        assert_eq!(owned.len(), 3);
        assert_eq!(owned.args(), args);
        assert_eq!(owned, OwnedArgs::from_slices(["SET", "key", "value"]));
        assert_eq!(owned.arg(1), b"key");
        assert_eq!(owned.get(5), None);
        assert_eq!(format!("{:?}", args), r#"["SET", "key", "value"]"#);
        assert_eq!(
            args.to_vec(),
            vec![b"SET".to_vec(), b"key".to_vec(), b"value".to_vec()]
        );

        let empty = OwnedArgs::new();
        assert!(empty.is_empty());
        assert!(empty.args().is_empty());
        let mut o = OwnedArgs::new();
        o.push(b"");
        o.push(b"x");
        assert_eq!(o.args().to_vec(), vec![Vec::new(), b"x".to_vec()]);
    }

    #[test]
    fn get_never_panics_on_bad_spans() {
        let spans = [(2, 10), (5, 1)];
        let args = Args::new(b"abc", &spans);
        assert_eq!(args.get(0), None);
        assert_eq!(args.get(1), None);
    }
}
