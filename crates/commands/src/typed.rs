//! Typed access to collection values: "the list/set/sorted set/hash at `key`, nothing, or
//! WRONGTYPE" in one place for every command family, with the lookup each kind of command needs
//! (a counted read, a write to an existing key, or a write that creates the key).

use crate::error::{CmdError, WRONG_TYPE};
use ringkv_engine::{DbRef, HashValue, ListValue, SetValue, Value, ValueRef, ZSetValue};

/// A value type stored boxed in a `Value` variant.
pub(crate) trait Collection: Sized {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
}

macro_rules! collection {
    ($ty:ty, $variant:ident) => {
        impl Collection for $ty {
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
        }
    };
}

collection!(ListValue, List);
collection!(SetValue, Set);
collection!(ZSetValue, ZSet);
collection!(HashValue, Hash);

/// Read lookup (hit/miss statistics): the value, None if absent, WRONGTYPE otherwise.
pub(crate) fn read<'a, T: Collection>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a T>, CmdError> {
    match db.get(key) {
        None => Ok(None),
        Some(ValueRef::Obj(v)) => T::of(v).map(Some).ok_or(WRONG_TYPE),
        Some(ValueRef::Str(_)) => Err(WRONG_TYPE),
    }
}

/// Write lookup of an existing value (None if absent): for commands that must not create the key.
pub(crate) fn existing_mut<'a, T: Collection>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a mut T>, CmdError> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => e
            .object_mut()
            .and_then(T::of_mut)
            .map(Some)
            .ok_or(WRONG_TYPE),
    }
}

/// Write lookup that creates the value with `make` if the key is absent (the caller adds to it).
pub(crate) fn get_or_create<'a, T: Collection>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
    make: impl FnOnce() -> T,
) -> Result<&'a mut T, CmdError> {
    let v = db.value_mut_or_insert(key, || make().into_value())?;
    T::of_mut(v).ok_or(WRONG_TYPE)
}
