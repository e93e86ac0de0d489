//! Values that do not fit inline in an entry: long or mutable strings and (as they are added) the
//! collection types. Every variant knows its Redis type name, its encoding name for OBJECT ENCODING
//! and its heap footprint for MEMORY USAGE.

/// A boxed keyspace value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string stored out of line ("raw" encoding): long values, or values that were appended to
    /// or edited in place, so APPEND/SETRANGE/SETBIT are amortised O(1).
    Str(Vec<u8>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(_) => "raw",
        }
    }

    /// Heap bytes owned by the value, excluding the box itself.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => std::mem::size_of::<Value>() + s.capacity(),
        }
    }
}
