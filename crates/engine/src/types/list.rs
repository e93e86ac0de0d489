//! The list value type (being written).

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListValue {}

impl ListValue {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        0
    }
}
