//! Values that do not fit inline in an entry: long or mutable strings and the collection types.
//! Every variant knows its Redis type name, its encoding name for OBJECT ENCODING and its heap
//! footprint for MEMORY USAGE.

use crate::types::{HashValue, ListValue, SetValue, StreamValue, ZSetValue};

/// A boxed keyspace value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string stored out of line ("raw" encoding): long values, or values that were appended to
    /// or edited in place, so APPEND/SETRANGE/SETBIT are amortised O(1).
    Str(Vec<u8>),
    Hash(HashValue),
    List(ListValue),
    Set(SetValue),
    ZSet(ZSetValue),
    /// Streams are boxed once more: they are rare and large, and would otherwise widen every
    /// boxed value.
    Stream(Box<StreamValue>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(_) => "raw",
            Value::Hash(v) => v.encoding(),
            Value::List(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
            Value::Stream(v) => v.encoding(),
        }
    }

    /// Heap bytes owned by the value, excluding the box itself.
    pub fn heap_size(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::Str(s) => s.capacity(),
                Value::Hash(v) => v.heap_size(),
                Value::List(v) => v.heap_size(),
                Value::Set(v) => v.heap_size(),
                Value::ZSet(v) => v.heap_size(),
                Value::Stream(v) => v.heap_size(),
            }
    }

    /// Whether a collection became empty (the key must then be deleted, as Redis never keeps
    /// empty collections). Strings are never "empty" in this sense.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::Hash(v) => v.is_empty(),
            Value::List(v) => v.is_empty(),
            Value::Set(v) => v.is_empty(),
            Value::ZSet(v) => v.is_empty(),
            // A stream stays when its last entry goes (XDEL, XTRIM), as in Redis.
            Value::Stream(_) => false,
        }
    }
}
